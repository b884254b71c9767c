"""Beat Align Score (BAS): how well motion beats line up with music beats. Three published variants.

Motion beats (all variants; Bailando/LODGE `calc_db`): the mean joint speed per frame
(|p[t+1] - p[t]| averaged over joints) is smoothed with a Gaussian of sigma = 5 frames
(`scipy.ndimage.gaussian_filter`, reflect mode, truncate 4) and its strict local minima
(`argrelextrema(np.less)`) are the beats; beat k sits at speed-sample index k.

Music beats are frame indices on the same clock: beat times in seconds (from a `beats.json` or
from librosa beat tracking, see `music_beats_from_audio`) times fps, rounded.

Score, with sigma = 3 frames:

- `bailando` (default; Bailando `utils/beat_align_score.py`, lisiyao21/Bailando @cc90b98, the
  BAS of Bailando, EDGE, LODGE and most later tables): mean over music beats of
  exp(-d^2 / 2 sigma^2), d = distance to the nearest motion beat. Music beats are those before
  the last speed sample (the reference truncates the beat track to the motion's length).
- `fact` (FACT / AIST++ paper, Li et al. 2021, eq. in Sec. 5.1; google-research/mint ships no
  code for it): the mirror image, mean over *motion* beats of the distance to the nearest
  music beat. Rewards motions with few beats less than `bailando` does.
- `lodge` (LODGE `metric/beat_align_score.py`, li-ronghui/LODGE @a898e59): Bailando's formula
  on 30-fps motion with music beats tracked by librosa at 30 fps.

Frame rates: each variant's sigmas are defined in frames at its native rate (60 fps for
bailando/fact, which ran on AIST++ at 60 fps; 30 fps for lodge on FineDance). Motions at another
rate have both sigmas rescaled by fps / native_fps, so the score measures the same tolerance
in seconds and is identical to the reference at the native rate.

Edge cases: no motion beat gives 0 (GCDance `eval_beat.py`; Bailando raises); no music beat
inside the motion gives NaN (undefined; the reference divides by zero).

`reference_bugs=True` (lodge only) keeps music beats past the end of the motion, as LODGE's
`librosa.load(...)[:length]` (which slices the returned tuple, not the samples) does, and
estimates its start tempo assuming librosa's default 22050 Hz for 15360-Hz audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dancegen.metrics.kinetic import check_positions
from dancegen.motion.kinematic_beats import speed_minima


@dataclass(frozen=True)
class BeatAlignVariant:
    name: str
    native_fps: float  # frame rate at which the sigmas below are defined
    speed_sigma_frames: float  # Gaussian smoothing of the speed curve
    align_sigma_frames: float  # tolerance of the alignment score
    average_over: str  # "music" or "motion" beats
    # How the reference tracked its music beats with librosa (hop 512, so sr = fps * 512 gives
    # one onset frame per motion frame):
    audio_sample_rate: int
    percussive_onsets: bool  # onsets of the HPSS percussive part, median over mel bands
    estimate_start_bpm: bool  # start beat_track at librosa's tempo estimate (else its 120 bpm)


# Bailando `_prepro_aistpp.py` + `extractor.py` (sr 15360 * 2, HPSS, median onsets, default
# beat_track); mint `tools/preprocessing.py` (sr 60 * 512, tightness 100, start tempo from the
# AIST++ file name, here estimated); LODGE `get_music_beat_fromwav` (sr 30 * 512, tightness 100,
# start tempo estimated). librosa's default tightness is also 100.
BAS_VARIANTS = {
    "bailando": BeatAlignVariant("bailando", 60.0, 5.0, 3.0, "music", 60 * 512, True, False),
    "fact": BeatAlignVariant("fact", 60.0, 5.0, 3.0, "motion", 60 * 512, False, True),
    "lodge": BeatAlignVariant("lodge", 30.0, 5.0, 3.0, "music", 30 * 512, False, True),
}
BEAT_TRACK_TIGHTNESS = 100.0
LIBROSA_DEFAULT_START_BPM = 120.0
LIBROSA_DEFAULT_RATE = 22050  # what librosa assumes when a call omits `sr`
ONSET_HOP_LENGTH = 512  # every reference tracks beats at hop 512 with sr = fps * 512


def get_variant(variant: str) -> BeatAlignVariant:
    try:
        return BAS_VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown BAS variant {variant!r}; choose one of {', '.join(BAS_VARIANTS)}") from None


def motion_beats(positions: np.ndarray, fps: float, variant: str = "bailando") -> np.ndarray:
    """Frame indices (into the T-1 speed samples) of the motion's kinematic beats."""
    protocol = get_variant(variant)
    return speed_minima(check_positions(positions, min_frames=3), protocol.speed_sigma_frames * fps / protocol.native_fps)


def beat_times_to_frames(beat_times_s: np.ndarray, fps: float) -> np.ndarray:
    return np.unique(np.round(np.asarray(beat_times_s, dtype=np.float64) * fps).astype(np.int64))


def _nearest_distance(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest target (both sorted integer frame indices)."""
    right = np.clip(np.searchsorted(targets, points), 0, len(targets) - 1)
    left = np.clip(right - 1, 0, len(targets) - 1)
    return np.minimum(np.abs(points - targets[left]), np.abs(points - targets[right]))


def alignment_score(music_frames: np.ndarray, motion_frames: np.ndarray, sigma_frames: float, average_over: str) -> float:
    """The BAS formula on integer beat frames."""
    if len(music_frames) == 0:
        return float("nan")
    if len(motion_frames) == 0:
        return 0.0
    if average_over == "music":
        distance = _nearest_distance(music_frames, motion_frames)
    else:
        distance = _nearest_distance(motion_frames, music_frames)
    return float(np.exp(-(distance.astype(np.float64) ** 2) / 2 / sigma_frames**2).mean())


def beat_align_score(
    positions: np.ndarray,
    music_beat_times_s: np.ndarray,
    fps: float,
    variant: str = "bailando",
    reference_bugs: bool = False,
) -> float:
    """BAS of one motion (T, J, 3) against music beat times in seconds."""
    protocol = get_variant(variant)
    motion = motion_beats(positions, fps, variant)
    music = beat_times_to_frames(music_beat_times_s, fps)
    speed_samples = len(positions) - 1
    if not (reference_bugs and variant == "lodge"):
        music = music[music < speed_samples]
    sigma = protocol.align_sigma_frames * fps / protocol.native_fps
    return alignment_score(music, motion, sigma, protocol.average_over)


# --- music beats from audio ----------------------------------------------------------------

def music_beats_from_samples(
    samples: np.ndarray, sample_rate: int, variant: str = "bailando", reference_bugs: bool = False
) -> np.ndarray:
    """Beat times (seconds) tracked the way the variant's reference preprocessed its music."""
    import librosa

    protocol = get_variant(variant)
    rate = protocol.audio_sample_rate
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim > 1:
        samples = samples.mean(axis=0)
    if sample_rate != rate:
        samples = librosa.resample(samples, orig_sr=sample_rate, target_sr=rate)
    if protocol.percussive_onsets:
        _, percussive = librosa.effects.hpss(samples)
        envelope = librosa.onset.onset_strength(y=percussive, sr=rate, aggregate=np.median)
    else:
        envelope = librosa.onset.onset_strength(y=samples, sr=rate)
    start_bpm = LIBROSA_DEFAULT_START_BPM
    if protocol.estimate_start_bpm:
        # LODGE estimates the start tempo without passing the sample rate, so librosa assumes
        # 22050 Hz for its 15360-Hz audio; the fixed version tells it the truth.
        tempo_rate = LIBROSA_DEFAULT_RATE if (reference_bugs and variant == "lodge") else rate
        start_bpm = float(np.atleast_1d(librosa.feature.tempo(y=samples, sr=tempo_rate))[0])
    _, frames = librosa.beat.beat_track(
        onset_envelope=envelope, sr=rate, hop_length=ONSET_HOP_LENGTH, start_bpm=start_bpm, tightness=BEAT_TRACK_TIGHTNESS
    )
    return np.asarray(frames, dtype=np.float64) * ONSET_HOP_LENGTH / rate


def music_beats_from_audio(path: str | Path, variant: str = "bailando", reference_bugs: bool = False) -> np.ndarray:
    """Load an audio file at the variant's sample rate (as its reference does) and track beats."""
    import librosa

    protocol = get_variant(variant)
    samples, rate = librosa.load(str(path), sr=protocol.audio_sample_rate, mono=True)
    return music_beats_from_samples(samples, rate, variant, reference_bugs)
