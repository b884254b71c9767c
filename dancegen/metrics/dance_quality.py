"""Dance-quality diagnostics: seams, pelvis flips, keyframe pops, the floor, tempo and beats.

The field's metrics (FID, BAS, foot skating) say *that* a model is off; these say *where*: at a
long-form window seam, on one frame where the pelvis spins, at a keyframe that appears for a
single frame, below the floor, or at a tempo unrelated to the music's. Each is a small function
over SMPL-order joint positions (T, J, 3), metres, y-up (or root quaternions (T, 4), x y z w)
at a given frame rate, so generated and real motion are measured the same way.

- `seam_jerk_ratio`: mean jerk around given seam frames / mean jerk elsewhere (≈ 1 invisible).
- `pelvis_flips`: frames on which the root turns by more than a threshold in one frame.
- `keyframe_pop`: the fastest joint movement near each keyframe, to compare with
  `displacement_percentile` of real motion (a pop is far faster than anything real).
- `floor_penetration`, `floor_drift`: feet below the floor; how much the level the feet stand
  on wanders over a clip.
- `dominant_period`, `tempo_correlation`, `octave_error`: the dance's own tempo and whether it
  follows the music's, octave-insensitively.
- `bas_vs_shifted`: BAS against the beats and against the same grid shifted by half a beat;
  a dance that follows the beat scores clearly higher on the true grid.
- `average_joint_speed`: mean joint speed, m/s.

Jerk is `metrics.editing.jerk`, kinetic velocity `metrics.kinetic.mean_joint_speed` and BAS
`metrics.beat_align.beat_align_score`: the same definitions as the rest of `dancegen.metrics`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from dancegen.metrics.beat_align import beat_align_score
from dancegen.metrics.editing import JERK_SPAN, jerk
from dancegen.metrics.kinetic import check_positions, mean_joint_speed
from dancegen.skeleton.smpl import SMPL24_FOOT_JOINTS, SMPL24_JOINT_NAMES

UP = 1  # y-up
# Ankles and toes: the joints a standing SMPL figure touches the floor with.
FOOT_JOINTS = tuple(SMPL24_JOINT_NAMES.index(name) for name in SMPL24_FOOT_JOINTS)

# A pelvis that turns more than this in one frame is a glitch at any dance tempo: a fast
# pirouette (2 turns/s) is 24 degrees per frame at 30 fps.
FLIP_THRESHOLD_DEG = 30.0

# Contact level: a low percentile of the lowest foot's height over a sliding window. 2 s holds
# several steps at any dance tempo, and the 10th percentile is a planted foot as long as a foot
# is down for a tenth of the window (jumps and kicks lift the median, not the low tail).
CONTACT_WINDOW_S = 2.0
CONTACT_PERCENTILE = 10.0
PLANTED = 0.5  # a contact label (probability) above this means the foot is down

# Dominant movement period: one kinetic-velocity cycle (one motion beat) per beat of 30-300 BPM.
MIN_PERIOD_S = 0.2
MAX_PERIOD_S = 2.0
SECONDS_PER_MINUTE = 60.0
# Autocorrelation lags at 1/8 frame (4 ms at 30 fps): finer than any tempo difference that matters.
AUTOCORRELATION_UPSAMPLING = 8
DETREND_PERIODS = 2  # the speed's moving average spans two of the longest periods sought

# Half a beat: the control grid that a beat-following dance should score clearly worse on.
HALF_BEAT = 0.5


# --- seams -------------------------------------------------------------------------------

def window_seam_frames(starts: Sequence[int], overlap: int, num_frames: int) -> np.ndarray:
    """Frames where long-form stitching can kink: each later window's cross-fade starts at its
    first frame and ends `overlap` frames later (where the previous window stops).

    starts: first frame of every window (`sampling.longform.WindowPlan.starts`). With
    overlap = stride (GCDance's 2 s of a 4 s window) both sets are the multiples of the stride.
    """
    starts = np.asarray(starts, dtype=np.int64)[1:]
    seams = np.unique(np.concatenate([starts, starts + overlap]))
    return seams[(seams > 0) & (seams < num_frames)]


def seam_jerk_ratio(positions: np.ndarray, fps: float, seam_frames: Sequence[int], radius: int = 1) -> float:
    """Mean jerk around the seams / mean jerk everywhere else; ≈ 1 when seams do not show.

    A seam at frame s is the boundary between frames s − 1 and s. The jerk sample k
    (`metrics.editing.jerk`, frames k .. k + 3) is "around" it when k ≤ s − 1 + radius and
    k + 3 ≥ s − radius: it straddles the boundary (radius 0, as in
    `metrics.editing.seam_smoothness`) or would if moved by up to `radius` frames. The radius
    catches kinks that land a frame off the nominal seam (a cross-fade ramp reaches full
    weight one frame before the previous window ends).
    """
    magnitude = jerk(positions, fps)
    samples = np.arange(len(magnitude))
    near = np.zeros(len(magnitude), dtype=bool)
    for seam in np.asarray(seam_frames, dtype=np.int64):
        if not 0 < seam < len(positions):
            raise ValueError(f"seam {seam} is outside the motion's frames 1..{len(positions) - 1}")
        near |= (samples <= seam - 1 + radius) & (samples + JERK_SPAN - 1 >= seam - radius)
    if not near.any() or near.all():
        raise ValueError("seam_jerk_ratio needs at least one seam and frames away from the seams")
    elsewhere = magnitude[~near].mean()
    return float(magnitude[near].mean() / elsewhere) if elsewhere > 0 else float("inf")


def jerk_by_phase(positions: np.ndarray, fps: float, period: int) -> np.ndarray:
    """(period,) mean jerk by frame position modulo `period` (e.g. the window stride), divided
    by its median: a seam shows as a peak at phase 0. Sample k is placed at frame k + 2, the
    second frame of its central pair, so a kink between frames s − 1 and s lands at s."""
    magnitude = jerk(positions, fps)
    phase = (np.arange(len(magnitude)) + JERK_SPAN // 2) % period
    totals = np.bincount(phase, weights=magnitude, minlength=period)
    counts = np.bincount(phase, minlength=period)
    profile = totals / np.maximum(counts, 1)
    return profile / np.median(profile)


# --- pelvis flips ------------------------------------------------------------------------

def rotation_steps_deg(quaternions: np.ndarray) -> np.ndarray:
    """(T − 1,) geodesic angle (degrees) between consecutive unit quaternions (x, y, z, w);
    q and −q are the same rotation, so the sign of the quaternion does not matter."""
    q = np.asarray(quaternions, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != 4:
        raise ValueError(f"quaternions must have shape (frames, 4), got {q.shape}")
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    cosine_half = np.abs((q[1:] * q[:-1]).sum(axis=-1)).clip(0.0, 1.0)
    return np.degrees(2.0 * np.arccos(cosine_half))


def pelvis_flips(root_rotations_quat: np.ndarray, threshold_deg: float = FLIP_THRESHOLD_DEG) -> np.ndarray:
    """Frames t on which the root's orientation differs from frame t − 1 by more than
    `threshold_deg` (geodesic angle). A one-frame glitch shows as two frames (in and out)."""
    return np.flatnonzero(rotation_steps_deg(root_rotations_quat) > threshold_deg) + 1


# --- keyframe pops -----------------------------------------------------------------------

def joint_step_speeds(positions: np.ndarray, fps: float) -> np.ndarray:
    """(T − 1, J) per-frame joint displacement |p[t+1] − p[t]| as a speed, m/s, so numbers
    from motions at different frame rates compare."""
    p = check_positions(positions)
    return np.linalg.norm(p[1:] - p[:-1], axis=-1) * fps


def keyframe_pop(positions: np.ndarray, keyframe_frames: Sequence[int], fps: float, window_s: float = 1.0) -> np.ndarray:
    """(K,) the fastest per-frame joint displacement (m/s, any joint) within ±`window_s` of
    each keyframe. A pose that appears for one frame moves the joints there and back in two
    frames: far above `displacement_percentile` of real motion. A keyframe the dance reaches
    smoothly stays within real speeds."""
    speeds = joint_step_speeds(positions, fps).max(axis=1)
    reach = int(round(window_s * fps))
    pops = []
    for frame in np.asarray(keyframe_frames, dtype=np.int64):
        if not 0 <= frame < len(positions):
            raise ValueError(f"keyframe frame {frame} is outside the motion's {len(positions)} frames")
        # Step t moves frame t to t + 1: steps frame − reach − 1 .. frame + reach touch the window.
        first, last = max(0, frame - reach - 1), min(len(speeds), frame + reach + 1)
        pops.append(speeds[first:last].max())
    return np.asarray(pops)


def displacement_percentile(positions: np.ndarray, fps: float, percentile: float = 99.0) -> float:
    """A percentile (default 99th) of every joint's per-frame displacement, m/s: the fastest
    movement real motion shows, the yardstick for `keyframe_pop`."""
    return float(np.percentile(joint_step_speeds(positions, fps), percentile))


# --- the floor ---------------------------------------------------------------------------

def lowest_foot_height(positions: np.ndarray, foot_joints: Sequence[int] = FOOT_JOINTS) -> np.ndarray:
    """(T,) height (m) of the lowest ankle or toe joint on each frame."""
    p = check_positions(positions, min_frames=1)
    return p[:, list(foot_joints), UP].min(axis=1)


def floor_penetration(
    positions: np.ndarray, floor: float = 0.0, depth: float = 0.01, foot_joints: Sequence[int] = FOOT_JOINTS
) -> float:
    """Fraction of frames whose lowest foot joint is more than `depth` metres below `floor`."""
    return float((lowest_foot_height(positions, foot_joints) < floor - depth).mean())


def contact_level(
    positions: np.ndarray,
    fps: float,
    contacts: np.ndarray | None = None,
    window_s: float = CONTACT_WINDOW_S,
    percentile: float = CONTACT_PERCENTILE,
    foot_joints: Sequence[int] = FOOT_JOINTS,
) -> np.ndarray:
    """The height the feet stand on, over a sliding `window_s` window (one value per window
    position, hop 1 frame; a clip shorter than the window gives one value).

    Without `contacts`: the `percentile` of the lowest foot's height in the window. With
    contacts ((T,) or (T, C) labels, a frame is planted when any exceeds 0.5): the median
    lowest-foot height over the window's planted frames (NaN where none is planted).
    """
    height = lowest_foot_height(positions, foot_joints)
    length = min(len(height), max(1, int(round(window_s * fps))))
    windows = np.lib.stride_tricks.sliding_window_view(height, length)
    if contacts is None:
        return np.percentile(windows, percentile, axis=1)
    labels = np.asarray(contacts, dtype=np.float64)
    if labels.shape[0] != len(height):
        raise ValueError(f"contacts have {labels.shape[0]} frames, the positions {len(height)}")
    planted = (labels.reshape(len(height), -1) > PLANTED).any(axis=1)
    masked = np.lib.stride_tricks.sliding_window_view(np.where(planted, height, np.nan), length)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # windows with no planted frame: NaN
        return np.nanmedian(masked, axis=1)


def floor_drift(
    positions: np.ndarray,
    fps: float,
    contacts: np.ndarray | None = None,
    window_s: float = CONTACT_WINDOW_S,
    percentile: float = CONTACT_PERCENTILE,
    foot_joints: Sequence[int] = FOOT_JOINTS,
) -> float:
    """How far (m) the contact level (`contact_level`) wanders over the clip: its range,
    max − min. Real dancers on a flat floor stay within a centimetre or two; a figure whose
    root height is not tied to its feet sinks into the floor or floats above it."""
    level = contact_level(positions, fps, contacts, window_s, percentile, foot_joints)
    level = level[np.isfinite(level)]
    return float(level.max() - level.min()) if len(level) else float("nan")


# --- tempo -------------------------------------------------------------------------------

def dominant_period(positions: np.ndarray, fps: float, min_period_s: float = MIN_PERIOD_S,
                    max_period_s: float = MAX_PERIOD_S) -> float:
    """The dance's dominant movement period (s): the lag of the highest autocorrelation peak
    of its kinetic velocity (mean joint speed, `metrics.kinetic.mean_joint_speed`, whose minima
    are BAS's motion beats), detrended, between `min_period_s` and `max_period_s`. NaN when the
    speed has no periodicity peak there (or does not vary at all).

    It is the period of the *speed*: one cycle per stop-and-go, i.e. per motion beat. A limb
    swinging back and forth with period P stops twice per swing, so its speed has period P / 2.
    The autocorrelation is the biased one (no division by the overlap), which prefers the
    shortest of a series of harmonic lags (P over 2P, 3P, ...). It is evaluated between frames
    by band-limited interpolation (a zero-padded spectrum): a 0.35 s period at 30 fps falls
    between lags 10 and 11, whose sampled values are both lower than the peak at 2P = 21.
    """
    speed = mean_joint_speed(check_positions(positions, min_frames=3))
    # Phrase-level swells of energy (slow arms for a bar, then fast turns) would otherwise
    # dominate the autocorrelation with one monotone decay; a moving average twice the longest
    # period removes them and leaves every period of interest (the box averages it out whole).
    trend_frames = min(len(speed), max(1, int(round(DETREND_PERIODS * max_period_s * fps))))
    centred = speed - uniform_filter1d(speed, trend_frames, mode="nearest")
    count = len(centred)
    size = 1 << int(np.ceil(np.log2(2 * count)))  # zero padding: linear, not circular, correlation
    spectrum = np.fft.rfft(centred, size)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2, size * AUTOCORRELATION_UPSAMPLING)
    if not autocorrelation[0] > 0:
        return float("nan")  # constant speed: no rhythm
    autocorrelation /= autocorrelation[0]
    step = 1.0 / (fps * AUTOCORRELATION_UPSAMPLING)  # seconds per interpolated lag
    first = max(1, int(np.floor(min_period_s / step)))
    last = min((count - 2) * AUTOCORRELATION_UPSAMPLING, int(np.ceil(max_period_s / step)))
    lags = np.arange(first, last + 1)
    if len(lags) == 0:
        return float("nan")
    values = autocorrelation[lags]
    is_peak = (values > autocorrelation[lags - 1]) & (values >= autocorrelation[lags + 1]) & (values > 0)
    peaks = lags[is_peak]
    if len(peaks) == 0:
        return float("nan")
    return float(peaks[np.argmax(autocorrelation[peaks])] * step)


def fold_tempo(bpm: np.ndarray | float, centre_bpm: float) -> np.ndarray:
    """Tempi moved by whole octaves (× 2^k) into [centre / √2, centre · √2): 70, 140 and 280
    BPM are one tempo class (a dance may step on every beat, every other beat or twice a beat)."""
    octaves = np.log2(np.asarray(bpm, dtype=np.float64) / centre_bpm)
    return centre_bpm * 2.0 ** (octaves - np.round(octaves))


def octave_error(music_bpm: np.ndarray | float, dance_period_s: np.ndarray | float) -> np.ndarray:
    """Octave-insensitive tempo error per song: log2(dance tempo / music tempo) folded into
    [−0.5, 0.5]. 0 = the dance moves at the music's tempo, twice or half it; ±0.5 = as far
    from it as a tempo can be (a tritone of tempo, e.g. 100 vs 141 BPM). A dance whose tempo
    is unrelated to the music's has |error| ≈ 0.25 on average."""
    dance_bpm = SECONDS_PER_MINUTE / np.asarray(dance_period_s, dtype=np.float64)
    ratio = np.log2(dance_bpm / np.asarray(music_bpm, dtype=np.float64))
    return ratio - np.round(ratio)


def tempo_correlation(music_bpms: Sequence[float], dance_periods: Sequence[float]) -> float:
    """Pearson correlation, across songs, of log music tempo and log dance tempo (60 / period).

    Octaves: both tempi are folded (`fold_tempo`) into the octave centred on the geometric mean
    of the music tempi, the same octave for every song, so a dance at double or half tempo
    counts as following the music. Folding the dance towards *its own song's* tempo instead
    would manufacture correlation (every folded tempo would lie within half an octave of its
    song's); the shared octave cannot. Songs with no dance period (NaN) are left out; NaN when
    fewer than three songs remain or either side does not vary.
    """
    music = np.asarray(music_bpms, dtype=np.float64)
    periods = np.asarray(dance_periods, dtype=np.float64)
    if music.shape != periods.shape:
        raise ValueError(f"{len(music)} music tempi but {len(periods)} dance periods")
    keep = np.isfinite(music) & np.isfinite(periods) & (periods > 0) & (music > 0)
    if keep.sum() < 3:
        return float("nan")
    music, dance = music[keep], SECONDS_PER_MINUTE / periods[keep]
    centre = float(np.exp(np.log(music).mean()))
    x, y = np.log2(fold_tempo(music, centre)), np.log2(fold_tempo(dance, centre))
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


# --- beats -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BeatControl:
    """BAS on the music's beats and on a control grid shifted by half a beat."""

    bas: float  # against the annotated beats
    bas_shifted: float  # against the half-beat shifted grid
    margin: float  # bas − bas_shifted: > 0 when the dance follows the beat, not just a pulse


def shifted_beats(beat_times: np.ndarray, fraction: float = HALF_BEAT) -> np.ndarray:
    """Every beat moved `fraction` of the way to the next one (the last by the previous
    interval), so the grid follows tempo changes."""
    beats = np.asarray(beat_times, dtype=np.float64)
    if len(beats) < 2:
        raise ValueError("a shifted beat grid needs at least two beats")
    intervals = np.diff(beats)
    return beats + fraction * np.append(intervals, intervals[-1])


def bas_vs_shifted(positions: np.ndarray, beat_times: np.ndarray, fps: float, variant: str = "bailando") -> BeatControl:
    """BAS (`metrics.beat_align.beat_align_score`) against the beats and the half-beat shifted
    grid. A motion unrelated to the music scores about the same on both; a beat-following one
    clearly higher on the true beats."""
    bas = beat_align_score(positions, beat_times, fps, variant)
    control = beat_align_score(positions, shifted_beats(beat_times), fps, variant)
    return BeatControl(bas, control, bas - control)


# --- speed -------------------------------------------------------------------------------

def average_joint_speed(positions: np.ndarray, fps: float) -> float:
    """Mean joint speed over joints and frames, m/s."""
    return float(mean_joint_speed(check_positions(positions)).mean() * fps)
