"""Freezing analysis (LRCM, Duan et al. 2026, appendix C.4): how much, when and how regularly a
dance holds still.

LRCM publishes the three scores but no code, so the definitions below are dancegen's reading
of its appendix, with every free constant named:

- speed(t) = mean joint speed between frames t and t+1 (m/s), T-1 samples.
- A freeze is a maximal run of consecutive samples with speed at or below the motion's own
  25th-percentile speed (at or below, so a dance that is still more than a quarter of the
  time, whose percentile is then 0, still shows its freezes) ("adaptive": the threshold follows each dance's energy) that lasts between
  `min_s` and `max_s` seconds. Shorter dips are passing stops; longer ones are stalls, which
  FID and the foot metrics already punish.
- Adaptive PFF = (samples inside freezes) / (all T-1 samples).
- Rhythmic Score = mean over freezes of exp(-d^2 / 2 sigma^2), d = frames from the freeze's
  first frame to the nearest expected (music) beat, sigma = 30 frames at LRCM's 30 fps (1 s),
  rescaled to the motion's frame rate. Freezes that land on beats score near 1.
- Length Regularity = 1 / (1 + std of freeze durations in seconds): 1 when all freezes last
  equally long.

Without freezes RS and LR are undefined (None); without beats RS is None.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dancegen.metrics.beat_align import beat_times_to_frames
from dancegen.metrics.kinetic import check_positions, mean_joint_speed

FREEZE_SPEED_PERCENTILE = 25.0  # LRCM C.4: "below the 25th-percentile speed"
# dancegen's choice of LRCM's [t_min, t_max]: a quarter-second hold up to a two-bar stop at 120 bpm.
FREEZE_MIN_S = 0.25
FREEZE_MAX_S = 4.0
# LRCM C.4: sigma = 30 frames, at the 30 fps of its Motorica data.
RHYTHM_SIGMA_FRAMES = 30.0
RHYTHM_NATIVE_FPS = 30.0


@dataclass(frozen=True)
class FreezingScores:
    pff: float
    rs: float | None
    lr: float | None
    freezes: list[tuple[int, int]]  # [start, stop) frame spans


def freeze_spans(
    positions: np.ndarray, fps: float, min_s: float = FREEZE_MIN_S, max_s: float = FREEZE_MAX_S,
    percentile: float = FREEZE_SPEED_PERCENTILE,
) -> list[tuple[int, int]]:
    """[start, stop) spans of speed samples that form freezes."""
    speed = mean_joint_speed(check_positions(positions, min_frames=3))
    slow = speed <= np.percentile(speed, percentile)
    edges = np.diff(np.concatenate([[0], slow.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    seconds = (stops - starts) / fps
    keep = (seconds >= min_s) & (seconds <= max_s)
    return [(int(a), int(b)) for a, b in zip(starts[keep], stops[keep])]


def freezing_scores(
    positions: np.ndarray,
    fps: float,
    beat_times_s: np.ndarray | None = None,
    min_s: float = FREEZE_MIN_S,
    max_s: float = FREEZE_MAX_S,
) -> FreezingScores:
    """Adaptive PFF, Rhythmic Score and Length Regularity of one motion."""
    spans = freeze_spans(positions, fps, min_s, max_s)
    samples = len(positions) - 1
    frozen = sum(stop - start for start, stop in spans)
    pff = frozen / samples
    if not spans:
        return FreezingScores(pff, None, None, spans)

    durations_s = np.array([stop - start for start, stop in spans]) / fps
    lr = float(1.0 / (1.0 + durations_s.std()))
    rs = None
    if beat_times_s is not None and len(beat_times_s):
        beats = beat_times_to_frames(beat_times_s, fps)
        onsets = np.array([start for start, _ in spans])
        distance = np.abs(onsets[:, None] - beats[None, :]).min(axis=1)
        sigma = RHYTHM_SIGMA_FRAMES * fps / RHYTHM_NATIVE_FPS
        rs = float(np.exp(-(distance**2) / (2 * sigma**2)).mean())
    return FreezingScores(float(pff), rs, lr, spans)
