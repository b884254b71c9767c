"""librosa's onset envelope, onset picking, tempo estimate and beat tracker in numpy.

`baseline35` (EDGE's features) needs `librosa.onset.onset_strength`, `onset_detect`,
`feature.tempo` and `beat.beat_track`. librosa's onset and beat modules compile numba
functions when they are imported (one of them, the beat tracker's local score, on every
import): ≈ 2 CPU-s per process, ≈ 35 CPU-s on the first run after an install. These are the
same computations, step for step, in numpy, so generation never imports those modules; the
results equal librosa 0.11's (tests/audio/test_onsets_match_librosa.py checks it).

Every function takes what librosa computes first — a log-power mel spectrogram, an onset
envelope — so the mel spectrogram is computed once and shared with the MFCCs.
"""

from __future__ import annotations

import math

import numpy as np

# onset_detect's defaults, "found by large-scale search" (in seconds, then frames).
PEAK_PRE_MAX_S = 0.03
PEAK_POST_MAX_S = 0.0
PEAK_AVERAGE_S = 0.10
PEAK_WAIT_S = 0.03
PEAK_DELTA = 0.07
# tempo's defaults: log2-Gaussian prior of 1 octave around the start tempo, 8-s autocorrelation.
TEMPO_STD_OCTAVES = 1.0
TEMPO_WINDOW_S = 8.0
MAX_TEMPO = 320.0
TEMPOGRAM_SCALE = 1e6  # argmax of log1p(1e6 · tempogram) + log prior
# beat_track: the local score is the envelope smoothed by a Gaussian of period / 32 ...
BEAT_WINDOW_DIVISOR = 32.0
BEAT_SCORE_FLOOR = 0.01  # ... beats start where it first exceeds 1 % of its maximum
TRIM_WINDOW = 5  # Hann window over beat strengths: weak leading/trailing beats are trimmed


def onset_strength(mel_db: np.ndarray, n_fft: int, hop_length: int, lag: int = 1) -> np.ndarray:
    """`librosa.onset.onset_strength(S=mel_db, ...)` for a (mels, frames) log-power mel
    spectrogram: mean positive spectral flux, delayed to centred frames."""
    flux = np.maximum(0.0, mel_db[:, lag:] - mel_db[:, :-lag])
    envelope = np.mean(flux, axis=0)
    pad = lag + n_fft // (2 * hop_length)
    return np.pad(envelope, (pad, 0))[: mel_db.shape[1]]


def onset_detect(envelope: np.ndarray, sample_rate: float, hop_length: int) -> np.ndarray:
    """`librosa.onset.onset_detect(onset_envelope=envelope, sr, hop_length)`: frame indices."""
    envelope = envelope - np.min(envelope)
    envelope = envelope / (np.max(envelope) + np.finfo(_float_dtype(envelope)).tiny)
    if not envelope.any() or not np.all(np.isfinite(envelope)):
        return np.array([], dtype=int)
    # librosa's defaults in frames: ceil(seconds * sr // hop_length (+ 1 for the "post" ones)).
    return peak_pick(
        envelope,
        pre_max=math.ceil(PEAK_PRE_MAX_S * sample_rate // hop_length),
        post_max=math.ceil(PEAK_POST_MAX_S * sample_rate // hop_length + 1),
        pre_avg=math.ceil(PEAK_AVERAGE_S * sample_rate // hop_length),
        post_avg=math.ceil(PEAK_AVERAGE_S * sample_rate // hop_length + 1),
        delta=PEAK_DELTA,
        wait=math.ceil(PEAK_WAIT_S * sample_rate // hop_length),
    )


def peak_pick(
    x: np.ndarray, pre_max: int, post_max: int, pre_avg: int, post_avg: int, delta: float, wait: int
) -> np.ndarray:
    """`librosa.util.peak_pick` (sparse): frame n is a peak if it is the maximum of
    [n - pre_max, n + post_max) and at least `delta` above the mean of [n - pre_avg, n + post_avg);
    after a peak the next `wait` frames are skipped."""
    delta = x.dtype.type(np.float32(delta))  # librosa's kernel takes delta as float32
    total = len(x)
    peaks = []
    first = x[0] >= np.max(x[: min(post_max, total)]) and x[0] >= _kernel_mean(x[: min(post_avg, total)]) + delta
    if first:
        peaks.append(0)
    # Only frames equal to their window's maximum can be peaks: test those in order.
    edges = np.full(pre_max, -np.inf, x.dtype), np.full(post_max, -np.inf, x.dtype)
    window_max = np.lib.stride_tricks.sliding_window_view(np.concatenate([edges[0], x, edges[1]]), pre_max + post_max)
    candidates = np.flatnonzero(x == window_max[:total].max(axis=1))
    n = wait + 1 if first else 1
    for candidate in candidates[candidates >= 1]:
        if candidate < n:
            continue
        average = _kernel_mean(x[max(0, candidate - pre_avg) : min(candidate + post_avg, total)])
        if x[candidate] >= average + delta:
            peaks.append(int(candidate))
            n = candidate + wait + 1
    return np.array(peaks, dtype=int)


def _kernel_mean(values: np.ndarray):
    """np.mean as librosa's numba kernel computes it: a running sum in the array's precision,
    divided in float64, rounded back."""
    running = np.cumsum(values, dtype=values.dtype)[-1]
    return values.dtype.type(float(running) / len(values))


def tempo(envelope: np.ndarray, sample_rate: float, hop_length: int, start_bpm: float = 120.0) -> float:
    """`librosa.feature.tempo(onset_envelope=envelope, sr, hop_length, start_bpm)`."""
    win_length = int(np.floor(TEMPO_WINDOW_S * sample_rate / hop_length))
    strength = np.mean(tempogram(envelope, win_length), axis=1)
    bpms = np.full(win_length, np.inf)
    bpms[1:] = 60.0 * sample_rate / (hop_length * np.arange(1.0, win_length))
    log_prior = -0.5 * ((np.log2(bpms) - np.log2(start_bpm)) / TEMPO_STD_OCTAVES) ** 2
    log_prior[: int(np.argmax(bpms < MAX_TEMPO))] = -np.inf
    return float(bpms[np.argmax(np.log1p(TEMPOGRAM_SCALE * strength) + log_prior)])


def tempogram(envelope: np.ndarray, win_length: int) -> np.ndarray:
    """`librosa.feature.tempogram(onset_envelope=envelope, win_length=...)`: (lags, frames)
    windowed autocorrelation, each frame scaled to maximum 1."""
    from scipy.fft import next_fast_len

    frames = len(envelope)
    half = win_length // 2
    padded = np.pad(envelope, (half, half), mode="linear_ramp", end_values=(0, 0))
    if len(padded) < win_length:
        raise ValueError(f"envelope of {frames} frames is too short for a {win_length}-frame tempogram")
    windows = np.lib.stride_tricks.sliding_window_view(padded, win_length).T[:, :frames]
    windows = windows * _periodic_hann(win_length)[:, None]
    n_pad = next_fast_len(2 * win_length - 1, real=True)
    spectrum = np.fft.rfft(windows, n=n_pad, axis=0)
    power = spectrum.real**2 + spectrum.imag**2
    autocorrelation = np.fft.irfft(power, n=n_pad, axis=0)[:win_length]
    if not np.all(np.isfinite(autocorrelation)):
        raise ValueError("tempogram input must be finite")
    length = np.max(np.abs(autocorrelation), axis=0, keepdims=True)
    length[length < np.finfo(autocorrelation.dtype).tiny] = 1.0
    return autocorrelation / length


def _periodic_hann(length: int) -> np.ndarray:
    """scipy.signal.get_window("hann", length, fftbins=True), without importing scipy.signal."""
    if length == 1:
        return np.ones(1)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


def beat_track(
    envelope: np.ndarray, sample_rate: float, hop_length: int, start_bpm: float = 120.0, tightness: float = 100.0
) -> np.ndarray:
    """`librosa.beat.beat_track(onset_envelope=envelope, ...)[1]`: beat frame indices (trimmed).

    Ellis (2007): a dynamic programme picks the beats that maximise the smoothed onset
    strength at each beat minus `tightness` · log(interval / period)² between beats.
    """
    if not envelope.any():
        return np.array([], dtype=int)
    bpm = tempo(envelope, sample_rate, hop_length, start_bpm)
    period = float(np.round(sample_rate / hop_length * 60.0 / bpm))
    normalised = envelope / (envelope.std(ddof=1) + np.finfo(_float_dtype(envelope)).tiny)
    local = _local_score(normalised.astype(np.float64), period)
    backlink, cumulative = _beat_programme(local, period, float(np.float32(tightness)))
    beats = np.zeros(len(envelope), dtype=bool)
    n = _last_beat(cumulative)
    while n >= 0:
        beats[n] = True
        n = backlink[n]
    return np.flatnonzero(_trim_beats(local, beats))


def _local_score(envelope: np.ndarray, period: float) -> np.ndarray:
    """The envelope convolved with a Gaussian of σ = period / 32 over ±1 period. As librosa's
    kernel does, the first frame never contributes."""
    window = np.exp(-0.5 * (np.arange(-period, period + 1) * BEAT_WINDOW_DIVISOR / period) ** 2)
    shifted = envelope.copy()
    shifted[0] = 0.0
    return np.convolve(shifted, window, mode="full")[len(window) // 2 : len(window) // 2 + len(envelope)]


def _beat_programme(local: np.ndarray, period: float, tightness: float) -> tuple[np.ndarray, np.ndarray]:
    """(backlink, cumulative score): each frame's best previous beat, 1/2 to 2 periods back."""
    frames = len(local)
    threshold = BEAT_SCORE_FLOOR * local.max()
    nearest = int(np.round(period / 2))
    farthest = int(2 * period)
    gaps = np.arange(nearest, farthest + 1)
    # math.log, as numba's kernel uses libm's log: numpy's SIMD log may differ by an ulp.
    log_period = math.log(period)
    penalty = np.array([tightness * (math.log(gap) - log_period) ** 2 if gap > 0 else np.nan for gap in gaps])
    backlink = np.full(frames, -1, dtype=np.int64)
    cumulative = np.empty(frames, dtype=np.float64)
    started = False
    for i in range(frames):
        reach = min(len(gaps), max(0, i - nearest + 1))  # previous frames i - gap ≥ 0
        best = -1
        if reach:
            scores = cumulative[i - gaps[:reach]] - penalty[:reach]
            k = int(np.argmax(scores))  # first maximum = the latest frame, as librosa's loop
            best = i - int(gaps[k])
            cumulative[i] = local[i] + scores[k]
        else:
            cumulative[i] = local[i]
        if started or local[i] >= threshold:
            backlink[i] = best
            started = True
    return backlink, cumulative


def _last_beat(cumulative: np.ndarray) -> int:
    """The last local maximum of the cumulative score above half the median of all of them."""
    peaks = _local_max(cumulative)
    threshold = 0.5 * np.median(cumulative[peaks]) if peaks.any() else np.nan
    for n in range(len(cumulative) - 1, -1, -1):
        if peaks[n] and cumulative[n] >= threshold:
            return n
    return len(cumulative) - 1


def _local_max(x: np.ndarray) -> np.ndarray:
    """`librosa.util.localmax`: x[n] > x[n-1] and x[n] >= x[n+1]; the first frame is never one,
    the last one is if it rises."""
    peaks = np.zeros(len(x), dtype=bool)
    if len(x) >= 3:
        peaks[1:-1] = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])
    if len(x) >= 2:
        peaks[-1] = x[-1] > x[-2]
    return peaks


def _trim_beats(local: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Drop leading and trailing beats weaker than half the RMS of the smoothed beat strengths."""
    trimmed = beats.copy()
    window = np.hanning(TRIM_WINDOW)
    smooth = np.convolve(local[beats], window)[len(window) // 2 : len(local) + len(window) // 2]
    threshold = 0.5 * np.sqrt(np.mean(smooth**2))
    n = 0
    while n < len(local) and local[n] <= threshold:
        trimmed[n] = False
        n += 1
    n = len(local) - 1
    while n >= 0 and local[n] <= threshold:
        trimmed[n] = False
        n -= 1
    return trimmed


def _float_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)
