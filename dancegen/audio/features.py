"""Hand-crafted music features at the motion frame rate.

`extract_features(audio, kind, fps)` returns (T, D) float32 with T == ceil(duration * fps), and
row i describes the music at time i / fps, the time of motion frame i. Kinds:

- `baseline35`: the 35 columns of EDGE / FineDance / LODGE (`extract_baseline_features`):
  onset envelope, 20 MFCC, 12 chroma CENS, onset peaks (one-hot), beats (one-hot), computed as
  they do at sr = fps * 512 with hop 512, so frame i is centred on i / fps.
- `lda3`: chroma (pitch class C), spectral flux and beat activation: the three music inputs of
  Listen-Denoise-Action's dance models (`ch0_spec_beatact_features.txt`) and of LRCM.
- `lda14`: the same with all 12 chroma bins.
- `stft`: GCDance's 193 STFT columns (n_fft 384, hop 512 at sr = fps * 512), log-magnitude.
- `beat_clock`: where each frame sits in its beat and its bar, as sin/cos of the two phases
  (4 columns), from `audio.beats.detect_beats`: a clock running at the music's tempo that a
  network can lock its movement to, where a one-hot beat column is one frame in fifteen.

Kinds combine with `+`: `baseline35+beat_clock` is the 35 columns followed by the 4.

docs/audio.md lists the references and every deviation from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from dancegen.audio.io import Audio
from dancegen.errors import ArgumentError

# EDGE/FineDance: SR = FPS * HOP_LENGTH with HOP_LENGTH = 512 (15360 Hz at 30 fps).
HOP_LENGTH = 512
# chroma_cens's constant-Q bank reaches B7 (3951 Hz): below 16 fps, sr = fps * 512 is too low,
# so low frame rates are computed at a whole multiple of fps and every k-th frame is kept.
MIN_EDGE_RATE = 10240
# EDGE estimates the starting tempo with librosa's default rate (librosa.load's 22050 Hz).
EDGE_TEMPO_RATE = 22050
EDGE_BEAT_TIGHTNESS = 100
EDGE_N_FFT = 2048  # librosa's default window for onset strength and MFCC
MIN_FPS, MAX_FPS = 1.0, 240.0
# GCDance: librosa.stft(y, n_fft=384, hop_length=512) at 15360 Hz: 193 frequency bins.
GCDANCE_N_FFT = 384
# Beat activation: a Gaussian bump of this width (s) at each detected beat, peak 1 (madmom's
# RNN activation, which LDA used, is a per-frame beat probability of about this sharpness).
BEAT_ACTIVATION_SIGMA_S = 0.04
LDA_CHROMA_RATE = 22050
LDA_CHROMA_HOP = 512


@dataclass(frozen=True)
class FeatureKind:
    name: str
    dim: int
    compute: Callable[[Audio, float], np.ndarray]
    description: str


def extract_features(audio: Audio, kind: str, fps: float = 30, cache=False) -> np.ndarray:
    """(T, D) float32 features of `kind` at `fps`, T == ceil(audio.duration * fps).

    `cache`: False (compute), True (the default on-disk cache) or a `FeatureCache`.
    """
    spec = feature_kind(kind)
    fps = _check_fps(fps)
    frames = num_frames(audio.duration, fps)

    def compute() -> np.ndarray:
        features = np.asarray(spec.compute(audio, fps), dtype=np.float32)
        assert features.shape == (frames, spec.dim), (kind, features.shape, frames)
        return features

    if cache is False or cache is None:
        return compute()
    from dancegen.audio.cache import FeatureCache

    store = FeatureCache() if cache is True else cache
    return store.get_or_compute(audio, kind, {"fps": fps}, compute)


def feature_kind(kind: str) -> FeatureKind:
    """The kind named `kind`, or the concatenation of `a+b+...` in that order."""
    parts = kind.split("+") if isinstance(kind, str) else [kind]
    unknown = [part for part in parts if part not in FEATURE_KINDS]
    if unknown:
        raise ArgumentError("--kind", f"unknown feature kind {unknown[0]!r}",
                            f"choose from {', '.join(FEATURE_KINDS)}, or join them with '+'")
    if len(parts) == 1:
        return FEATURE_KINDS[kind]
    kinds = [FEATURE_KINDS[part] for part in parts]

    def compute(audio: Audio, fps: float) -> np.ndarray:
        return np.concatenate([np.asarray(each.compute(audio, fps), np.float32) for each in kinds], axis=1)

    return FeatureKind(kind, sum(each.dim for each in kinds), compute, " + ".join(each.description for each in kinds))


def feature_dim(kind: str) -> int:
    return feature_kind(kind).dim


def num_frames(duration: float, fps: float) -> int:
    """Motion frames that cover `duration` seconds: frame i is shown at i / fps."""
    # The epsilon keeps 10.0 s at 30 fps at 300 frames despite float rounding.
    return max(1, math.ceil(duration * fps - 1e-9))


# --- baseline35 (EDGE / FineDance / LODGE) ---------------------------------------------------


def baseline35(audio: Audio, fps: float) -> np.ndarray:
    """EDGE's `extract` (data/audio_extraction/baseline_features.py), column for column.

    The onset envelope, onset peaks, tempo and beats come from `audio.onsets` (librosa's
    algorithms in numpy: librosa's onset and beat modules compile numba code at import); the
    mel spectrogram is computed once for the envelope and the MFCCs, as both use the same one.
    """
    import librosa

    from dancegen.audio import onsets

    sample_rate, step = _edge_rate(fps)
    data = audio.resampled(sample_rate).samples
    hop = HOP_LENGTH * step
    mel_db = _log_mel(data, sample_rate, hop)
    envelope = onsets.onset_strength(mel_db, EDGE_N_FFT, hop)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=20).T
    chroma = librosa.feature.chroma_cens(y=data, sr=sample_rate, hop_length=hop, n_chroma=12).T
    peaks = onsets.onset_detect(envelope, sample_rate, hop)
    start_bpm = 120.0
    if not audio.is_silent:
        # librosa.feature.tempo(y=...) at librosa's default rate and hop
        tempo_mel = _log_mel(audio.resampled(EDGE_TEMPO_RATE).samples, EDGE_TEMPO_RATE, HOP_LENGTH)
        tempo_envelope = onsets.onset_strength(tempo_mel, EDGE_N_FFT, HOP_LENGTH)
        start_bpm = onsets.tempo(tempo_envelope, EDGE_TEMPO_RATE, HOP_LENGTH)
    beats = onsets.beat_track(envelope, sample_rate, hop, start_bpm=start_bpm, tightness=EDGE_BEAT_TIGHTNESS)
    frames = min(len(envelope), len(mfcc), len(chroma))
    features = np.concatenate(
        [envelope[:frames, None], mfcc[:frames], chroma[:frames], _one_hot(peaks, frames), _one_hot(beats, frames)],
        axis=1,
    )
    return _at_motion_frames(features, sample_rate / hop, audio.duration, fps, one_hot_columns=(33, 34))


def _log_mel(samples: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """librosa's default log-power mel spectrogram (128 mels, n_fft 2048): what its
    `onset_strength` and `mfcc` both compute first."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=samples, sr=sample_rate, n_fft=EDGE_N_FFT, hop_length=hop, fmax=0.5 * sample_rate
    )
    return librosa.power_to_db(mel)


def _edge_rate(fps: float) -> tuple[int, int]:
    """(sample rate, k): EDGE's fps * 512 Hz, times the smallest k that is fast enough."""
    step = max(1, math.ceil(MIN_EDGE_RATE / (fps * HOP_LENGTH)))
    return int(round(fps * HOP_LENGTH * step)), step


# --- lda3 / lda14 (Listen-Denoise-Action, LRCM) ----------------------------------------------


def lda_features(audio: Audio, fps: float, chroma_bins: int) -> np.ndarray:
    """[chroma[:chroma_bins], spectral flux, beat activation] at each motion frame."""
    import librosa

    from dancegen.audio.beats import (
        ANALYSIS_RATE,
        ONSET_HOP,
        detect_beats,
        onset_strength,
    )

    frames = num_frames(audio.duration, fps)
    times = np.arange(frames) / fps

    resampled = audio.resampled(LDA_CHROMA_RATE)
    chroma = librosa.feature.chroma_stft(
        y=resampled.samples, sr=LDA_CHROMA_RATE, hop_length=LDA_CHROMA_HOP, tuning=0.0  # A440: no tuning search
    ).T
    chroma_times = np.arange(len(chroma)) * LDA_CHROMA_HOP / LDA_CHROMA_RATE
    chroma = np.stack([np.interp(times, chroma_times, chroma[:, k]) for k in range(chroma_bins)], axis=1)

    # Flux: the strongest onset frame within each motion frame's span, so no onset is lost.
    flux = onset_strength(audio)
    flux = _max_pool(flux, ANALYSIS_RATE / ONSET_HOP, times, 1.0 / fps)

    beats = detect_beats(audio).beat_times
    activation = np.zeros(frames)
    if len(beats):
        nearest = np.min(np.abs(times[:, None] - beats[None, :]), axis=1)
        activation = np.exp(-0.5 * (nearest / BEAT_ACTIVATION_SIGMA_S) ** 2)
    return np.concatenate([chroma, flux[:, None], activation[:, None]], axis=1)


# --- stft (GCDance) ----------------------------------------------------------------------------


def gcdance_stft(audio: Audio, fps: float) -> np.ndarray:
    """log(1 + |STFT|) with GCDance's n_fft 384 and hop 512 at sr = fps * 512."""
    import librosa

    sample_rate, step = _edge_rate(fps)
    hop = HOP_LENGTH * step
    spectrum = np.abs(librosa.stft(audio.resampled(sample_rate).samples, n_fft=GCDANCE_N_FFT, hop_length=hop)).T
    return _at_motion_frames(np.log1p(spectrum), sample_rate / hop, audio.duration, fps)


# --- frame bookkeeping -------------------------------------------------------------------------


def _one_hot(indices: np.ndarray, frames: int) -> np.ndarray:
    column = np.zeros((frames, 1), np.float32)
    indices = np.asarray(indices, dtype=int)
    column[indices[indices < frames], 0] = 1.0
    return column


def _at_motion_frames(
    features: np.ndarray, rate: float, duration: float, fps: float, one_hot_columns: tuple[int, ...] = ()
) -> np.ndarray:
    """Rows at i / rate (librosa's centred frames) -> rows at i / fps, i < ceil(duration * fps).

    When rate == fps (whenever fps * 512 is a whole number of Hz) this only crops the extra
    last frame librosa adds, or repeats the last one. Otherwise rows are interpolated in time;
    one-hot columns take the maximum over each motion frame's span, so no event is lost.
    """
    frames = num_frames(duration, fps)
    if abs(rate / fps - 1.0) < 1e-9:
        out = features[:frames]
        if len(out) < frames:
            out = np.concatenate([out, np.repeat(out[-1:], frames - len(out), axis=0)])
        return out
    times = np.arange(frames) / fps
    source_times = np.arange(len(features)) / rate
    out = np.stack([np.interp(times, source_times, features[:, k]) for k in range(features.shape[1])], axis=1)
    for column in one_hot_columns:
        out[:, column] = _max_pool(features[:, column], rate, times, 1.0 / fps)
    return out


def _max_pool(values: np.ndarray, rate: float, times: np.ndarray, span: float) -> np.ndarray:
    """Max of `values` (sampled at `rate`) over [t - span/2, t + span/2) for each t in `times`."""
    starts = np.clip(np.ceil((times - span / 2) * rate - 1e-9).astype(int), 0, len(values))
    stops = np.clip(np.ceil((times + span / 2) * rate - 1e-9).astype(int), 0, len(values))
    stops = np.maximum(stops, np.minimum(starts + 1, len(values)))
    padded = np.concatenate([values, [0.0]])
    return np.array([padded[a:b].max() if b > a else 0.0 for a, b in zip(starts, stops)])


# --- beat_clock ------------------------------------------------------------------------------

BEATS_PER_BAR = 4  # bars from downbeats; without them, every fourth beat from the first


def beat_clock(audio: Audio, fps: float) -> np.ndarray:
    """[sin, cos] of the beat phase and of the bar phase at each motion frame (zeros when no
    beat is found). Phases run linearly between beats and continue at the edge beats' period
    before the first and after the last beat."""
    from dancegen.audio.beats import detect_beats

    frames = num_frames(audio.duration, fps)
    info = detect_beats(audio)
    beats = np.asarray(info.beat_times, np.float64)
    if len(beats) < 2:
        return np.zeros((frames, 4), np.float32)
    times = np.arange(frames) / fps
    beat_phase = _phase(times, beats)
    downbeats = np.asarray(info.downbeat_times, np.float64)
    bars = downbeats if len(downbeats) >= 2 else beats[::BEATS_PER_BAR]
    bar_phase = _phase(times, bars) if len(bars) >= 2 else beat_phase / BEATS_PER_BAR
    angles = 2 * np.pi * np.stack([beat_phase, bar_phase], axis=1)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)[:, [0, 2, 1, 3]].astype(np.float32)


def _phase(times: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Event count at `times` (0 at the first event, 1 at the second, ...), linear in between
    and extrapolated with the first and last intervals."""
    index = np.arange(len(events), dtype=np.float64)
    phase = np.interp(times, events, index)
    before, after = times < events[0], times > events[-1]
    phase[before] = (times[before] - events[0]) / (events[1] - events[0])
    phase[after] = index[-1] + (times[after] - events[-1]) / (events[-1] - events[-2])
    return phase


PRECOMPILE_SECONDS = 2.0


def precompile() -> dict[str, tuple[int, int]]:
    """Compute every kind once on a short synthesized groove, so the numba functions librosa
    still compiles (MFCC, chroma: its `util` and `core` modules) land in numba's on-disk cache.
    `make install` runs this: otherwise the first generation after an install pays ≈ 15 CPU-s
    of compilation. Returns each kind's feature shape."""
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(120.0, PRECOMPILE_SECONDS, sample_rate=22050)
    audio = Audio(samples, 22050)
    return {name: extract_features(audio, name).shape for name in FEATURE_KINDS}


def _check_fps(fps: float) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not MIN_FPS <= fps <= MAX_FPS:
        raise ArgumentError("--fps", f"must be a frame rate between {MIN_FPS:g} and {MAX_FPS:g}, got {fps!r}")
    return float(fps)


FEATURE_KINDS: dict[str, FeatureKind] = {
    kind.name: kind
    for kind in (
        FeatureKind("baseline35", 35, baseline35, "EDGE/FineDance librosa features: envelope, MFCC, CENS, peaks, beats"),
        FeatureKind("lda3", 3, lambda a, f: lda_features(a, f, 1), "LDA/LRCM: chroma C, spectral flux, beat activation"),
        FeatureKind("lda14", 14, lambda a, f: lda_features(a, f, 12), "LDA features with all 12 chroma bins"),
        FeatureKind("stft", 193, gcdance_stft, "GCDance: log-magnitude STFT, n_fft 384, hop 512 at fps*512 Hz"),
        FeatureKind("beat_clock", 4, beat_clock, "sin/cos of beat phase and bar phase (a clock at the music's tempo)"),
    )
}
