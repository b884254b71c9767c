"""Beat sync: the dance takes the song's tempo and puts its accents on the beats.

Dance models trained on a few minutes of capture move at one tempo whatever the music
(`docs/quality_diagnosis.md` §5: the shipped model's motion beats come every ~0.53 s on songs
from 80 to 170 BPM). A dancer adapts to a song in two ways, and so does this step, which every
family shares (`pipelines.base`):

1. **Tempo.** Before sampling, the song's features are time-stretched (`stretch_features`) so
   that its beat, or every second or fourth beat, comes at the model's own motion-beat
   interval (`BeatSyncConfig.natural_beat_s`): the model hears the song at the tempo it
   dances to. The stretch is the `tempo_rate`, motion frames per song frame.
2. **Accents.** After sampling, the motion's kinematic beats (the speed minima that BAS counts)
   are matched to the music's beats by dynamic programming (`match_beats`), and a smooth
   monotone time warp through the matched pairs (`time_warp`) plays the motion back on the
   song's clock, each matched motion beat exactly on its music beat, and the playback easing
   into every beat (`groove`).

The warp only changes *when* poses happen, never the poses: bone lengths, joint limits and
contact labels only move in time, and between matched beats the playback rate stays within
`local_tolerance` of the tempo rate and inside [`slowest_local_rate`, `fastest_local_rate`].
Keyframes and locked joints fix times, so requests with them skip this step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from dancegen.config import StrictConfig
from dancegen.motion.kinematic_beats import speed_minima
from dancegen.motion.motion import Motion


class BeatSyncConfig(StrictConfig):
    """How far the motion may be re-timed to follow the song (every family's `sampling`)."""

    # The model's own interval between motion beats, s (measured on its dances to drum grooves;
    # each family's config sets its shipped model's). The song is stretched so its beats come this often.
    natural_beat_s: float = Field(0.53, gt=0.05, le=4.0)
    # Playback rate limits (motion seconds per song second): slower than 0.7× looks like slow
    # motion, faster than 1.5× like a sped-up tape.
    min_rate: float = Field(0.7, gt=0)
    max_rate: float = Field(1.5, gt=0)
    # Between two matched beats the rate may differ from the tempo rate by this factor, and never
    # leave [slowest_local_rate, fastest_local_rate]: a 155 BPM song at tempo rate 1.37 reached
    # 2.3× locally without the cap (p99 joint speed 4.7 m/s against the capture's 3.4).
    local_tolerance: float = Field(1.5, gt=1.0)
    slowest_local_rate: float = Field(0.5, gt=0)
    fastest_local_rate: float = Field(1.7, gt=0)
    # Beats of either side that may go unmatched between two matched ones.
    max_skip: int = Field(2, ge=0, le=8)
    # A motion beat is matched only within this many seconds of where the tempo rate puts it.
    band_s: float = Field(1.0, gt=0)
    # Score terms: each matched beat counts 1; an unmatched motion beat between two matched
    # ones (an accent off the beat) costs `off_beat_cost`; a local rate ρ costs
    # `rate_cost` · log(ρ / tempo rate)².
    off_beat_cost: float = Field(0.5, ge=0)
    rate_cost: float = Field(2.0, ge=0)
    # How much the playback eases into every beat (0: only the matched motion beats are moved).
    groove: float = Field(0.25, ge=0, lt=1)
    # Smoothing of the joint speed before its minima are read (Bailando's 5 frames at 60 fps).
    speed_sigma_s: float = Field(5.0 / 60.0, gt=0)
    # Fewer detected beats than this: no steady beat to follow, the motion is left as sampled.
    min_beats: int = Field(4, ge=2)


@dataclass(frozen=True)
class BeatSyncReport:
    """What beat sync did to one dance (`motion.metadata["beat_sync"]`)."""

    music_bpm: float
    tempo_rate: float  # motion frames per song frame, overall
    music_beats: int
    motion_beats: int
    matched: int  # music beats with a motion beat on them
    min_local_rate: float
    max_local_rate: float

    def summary(self) -> dict[str, float | int]:
        return {name: (round(value, 4) if isinstance(value, float) else value) for name, value in self.__dict__.items()}


# --- 1. tempo -----------------------------------------------------------------------------

def tempo_rate(beat_period_s: float, config: BeatSyncConfig) -> float:
    """Motion seconds per song second that put the model's motion beat on every beat, or on
    every second or fourth beat, whichever rate lies in [min_rate, max_rate] closest to 1.

    Never a motion beat *between* beats (rate below the octave): those accents would land on
    the off-beats. Outside the limits (very slow songs) the nearest limit is taken.
    """
    candidates = [config.natural_beat_s / (beat_period_s * 2**k) for k in range(3)]
    inside = [rate for rate in candidates if config.min_rate <= rate <= config.max_rate]
    if inside:
        return min(inside, key=lambda rate: abs(math.log(rate)))
    return float(np.clip(candidates[0], config.min_rate, config.max_rate))


def stretch_features(features: np.ndarray, rate: float) -> np.ndarray:
    """(T, M) song features played `rate` times slower: round(T · rate) rows, row τ read at
    song frame τ / rate by linear interpolation."""
    frames = len(features)
    count = max(1, int(round(frames * rate)))
    source = np.minimum(np.arange(count) / rate, frames - 1)
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, frames - 1)
    weight = (source - lower)[:, None]
    stretched = features[lower] * (1 - weight) + features[upper] * weight
    return stretched.astype(features.dtype, copy=False)


# --- 2. accents ---------------------------------------------------------------------------

def kinematic_beats(positions: np.ndarray, fps: float, sigma_s: float) -> np.ndarray:
    """Frames of the motion's beats, the motion beats of BAS (`motion.kinematic_beats`), with
    the smoothing given in seconds."""
    return speed_minima(positions, sigma_s * fps)


def match_beats(music: np.ndarray, motion: np.ndarray, rate: float, fps: float,
                config: BeatSyncConfig) -> list[tuple[float, float]]:
    """Monotone pairs (music frame, motion frame) of beats to put on top of each other.

    `music` are song frames of the beats, `motion` the motion's beat frames, both sorted. A
    dynamic programme over pairs finds the chain with the best score (`BeatSyncConfig`): as
    many matched beats as possible, few accents off the beat, local rates near `rate`.
    """
    band = config.band_s * fps
    step = config.max_skip + 1
    candidates = [np.flatnonzero(np.abs(motion - rate * b) <= band) for b in music]
    score: dict[tuple[int, int], float] = {}
    previous: dict[tuple[int, int], tuple[int, int] | None] = {}
    for j, motion_indices in enumerate(candidates):
        for i in motion_indices:
            best, best_from = 1.0, None  # a chain may start anywhere
            for j0 in range(max(0, j - step), j):
                for i0 in range(max(0, i - step), i):
                    if (j0, i0) not in score:
                        continue
                    local = (motion[i] - motion[i0]) / (music[j] - music[j0])
                    if not (1 / config.local_tolerance <= local / rate <= config.local_tolerance
                            and config.slowest_local_rate <= local <= config.fastest_local_rate):
                        continue
                    value = (score[(j0, i0)] + 1.0 - config.off_beat_cost * (i - i0 - 1)
                             - config.rate_cost * math.log(local / rate) ** 2)
                    if value > best:
                        best, best_from = value, (j0, i0)
            score[(j, int(i))], previous[(j, int(i))] = best, best_from
    if not score:
        return []
    state: tuple[int, int] | None = max(score, key=score.get)
    chain = []
    while state is not None:
        chain.append((float(music[state[0]]), float(motion[state[1]])))
        state = previous[state]
    return chain[::-1]


def time_warp(pairs: list[tuple[float, float]], frames: int, source_frames: int, rate: float,
              tolerance: float, beats: np.ndarray | None = None, groove: float = 0.0) -> np.ndarray:
    """Motion frame to show at each of `frames` song frames: a monotone C¹ curve through the
    matched pairs, continued at the tempo rate before the first and after the last, inside
    [0, source_frames − 1].

    The curve is a cubic Hermite spline whose slope at each pair is the *smaller* of the two
    neighbouring secants, so the playback rate is lowest exactly on the beats and rises
    between them. The motion's speed is its own speed times that rate: its accents (speed
    minima) on the beats get deeper and no new one appears between beats, which a spline with
    the usual slopes (PCHIP) makes wherever a short secant sits between two long ones.
    With `groove` > 0 every one of the song's `beats` becomes a knot whose slope is eased by
    that fraction: a pulse on each beat, matched or not.
    """
    last = float(source_frames - 1)
    song = np.arange(frames, dtype=np.float64)
    knots = _warp_knots(pairs, frames, last, rate, tolerance)
    if len(knots) < 2:
        return np.minimum(song * rate, last)
    x, y = np.array(knots).T
    warp = _hermite(x, y, np.ones(len(x)))
    if groove > 0 and beats is not None:
        # Every beat becomes a knot, on the curve through the matched ones, and the playback
        # eases into each: a pulse at the beat whether or not a motion beat was matched to it.
        inner = beats[(beats > x[0]) & (beats < x[-1])]
        x_all = np.union1d(x, inner)
        y_all = warp(x_all)
        ease = np.where(np.isin(x_all, inner) | np.isin(x_all, x[1:-1]), 1.0 - groove, 1.0)
        warp = _hermite(x_all, y_all, ease)
    return np.clip(warp(song), 0.0, last)


def _hermite(x: np.ndarray, y: np.ndarray, ease: np.ndarray):
    from scipy.interpolate import CubicHermiteSpline

    secants = np.diff(y) / np.diff(x)
    slopes = np.concatenate([secants[:1], np.minimum(secants[:-1], secants[1:]), secants[-1:]])
    return CubicHermiteSpline(x, y, slopes * ease)


def _warp_knots(pairs: list[tuple[float, float]], frames: int, last: float, rate: float,
                tolerance: float) -> list[tuple[float, float]]:
    """The pairs plus the clip's two ends, continued from the outer pairs at the tempo rate.
    Outer pairs that would force the ends to play slower than `rate / tolerance` (the motion
    runs out) are dropped."""
    pairs = list(pairs)
    slowest = rate / tolerance
    while pairs and pairs[0][0] > 0 and pairs[0][1] / pairs[0][0] < slowest:
        pairs.pop(0)
    while pairs and pairs[-1][0] < frames - 1 and (last - pairs[-1][1]) / (frames - 1 - pairs[-1][0]) < slowest:
        pairs.pop()
    if not pairs:
        return [(0.0, 0.0), (float(frames - 1), min(last, rate * (frames - 1)))]
    (x0, y0), (xn, yn) = pairs[0], pairs[-1]
    knots = pairs
    if x0 > 0:
        knots = [(0.0, max(0.0, y0 - rate * x0)), *knots]
    if xn < frames - 1:
        knots = [*knots, (float(frames - 1), min(last, yn + rate * (frames - 1 - xn)))]
    return knots


def retime(motion: Motion, music_beats_s: np.ndarray, frames: int, rate: float, music_bpm: float,
           config: BeatSyncConfig) -> tuple[Motion, BeatSyncReport]:
    """`motion` (sampled on the stretched song, about `frames · rate` frames) played back on the
    song's clock, `frames` frames, its beats on `music_beats_s` (span seconds)."""
    fps = motion.fps
    motion_beats = kinematic_beats(motion.joint_positions(), fps, config.speed_sigma_s)
    music = np.asarray(music_beats_s, dtype=np.float64) * fps
    music = music[(music >= 0) & (music <= frames - 1)]
    pairs = match_beats(music, motion_beats.astype(np.float64), rate, fps, config)
    warp = time_warp(pairs, frames, motion.num_frames, rate, config.local_tolerance, music, config.groove)
    local = np.diff(warp)
    report = BeatSyncReport(
        music_bpm=float(music_bpm),
        tempo_rate=float(rate),
        music_beats=int(len(music)),
        motion_beats=int(len(motion_beats)),
        matched=len(pairs),
        min_local_rate=float(local.min()) if len(local) else float(rate),
        max_local_rate=float(local.max()) if len(local) else float(rate),
    )
    return motion.at_frames(warp), report
