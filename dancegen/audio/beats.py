"""Tempo, beats and downbeats: detection from audio, and reading `beats.json` annotations.

How `detect_beats` works (docs/audio.md has the evaluation and the reasoning):

1. Onset strength: spectral flux of a log-mel spectrogram at ~172 frames/s.
2. Tempo: the global autocorrelation of the onset strength peaks at the beat period and its
   multiples, a Fourier tempogram at the period and its fractions; their product peaks at the
   period itself (Peeters 2007). Tempi at 200 bpm or above are read as eighth notes and halved,
   and so is a pulse weaker below 1 kHz than half its rate (hi-hats, not kick and snare).
3. The period is refined to 0.05 % on a comb whose phase is fitted per 12-s window.
4. Beats: Ellis' dynamic programme (2007) on a 4x finer grid. Steady music (a smoothed tempo
   curve within 3 % of the global tempo) is tracked with a very tight tempo prior, so that a
   section whose off-beats are louder cannot pull the grid half a beat off; music with a moving
   tempo keeps a loose prior.
5. Half-time check: if chord changes mark every second beat as a bar start far more clearly
   (4-beat bars of the half tempo), the half tempo is the beat and the fast pulse its eighths.
6. Downbeats (4/4 assumed): the bar phase where chroma change and low-frequency onsets peak.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dancegen.audio.io import SILENCE_PEAK, STREAM_BLOCK_S, Audio
from dancegen.errors import InputFileError
from dancegen.limits import load_json_file

# --- analysis constants ---------------------------------------------------------------------
ANALYSIS_RATE = 22050  # Hz: librosa's default, enough bandwidth for onsets
ONSET_FFT = 1024  # 46 ms window: sharp onsets, measured 0 ms late against the kit's grids
ONSET_HOP = 128  # 5.8 ms frames (~172 fps)
ONSET_MELS = 96
ONSET_TOP_DB = 80.0  # floor of the log-mel spectrogram below its peak
CHROMA_FFT = 4096  # chroma needs frequency resolution more than time resolution
CHROMA_HOP = 512
CHROMA_MAX_HZ = 2000.0  # bass and chords; above, cymbal and snare noise smear the pitch classes

# Tempo search range and the octave rules (bpm).
MIN_BPM, MAX_BPM = 40.0, 400.0
TEMPO_BINS = 640  # log-spaced candidates over [MIN_BPM, MAX_BPM]: 0.36 % apart
FAST_LIMIT = 200.0  # a pulse at or above this is read as eighth notes: halve it
SLOW_LIMIT = 70.0  # a pulse below this is read as half notes or bars: double it
# Kick, snare and bass (below 1 kHz) carry the beat: when the pulse found is weaker there than
# half its rate is, it is a treble subdivision (hi-hats on eighths) and the beat is half.
BEAT_BAND_MAX_HZ = 1000.0
TREBLE_PULSE_RATIO = 1.0
TEMPOGRAM_WINDOW_S = 8.0  # local Fourier tempogram window
REFINE_SPAN = 0.01  # period refinement: +-1 % around the estimate ...
REFINE_STEPS = 41  # ... in 0.05 % steps ...
REFINE_WINDOW_S = 12.0  # ... fitting the grid's phase separately in each 12 s window

# Beat tracking (Ellis 2007): transition cost = tightness * log(interval / period)^2.
MAX_TRANSITION_COST = 200.0  # more than the onset score of many bars: dearer intervals never win
LOOSE_TIGHTNESS = 400.0  # follows tempo changes of a few percent within a few beats
STRICT_TIGHTNESS = 20000.0  # steady music: holds the phase through sections of loud off-beats
# The programme runs on a 4x finer grid than the onset frames: with whole-frame intervals only,
# a strict prior prefers the interval nearest the period and drifts where the music pauses.
DP_UPSAMPLE = 4
STEADY_TOLERANCE = 0.03  # music is steady when the smoothed local tempo stays within 3 % ...
STEADY_FRACTION = 0.9  # ... of the global tempo for 90 % of its beats
STEADY_SMOOTHING_BEATS = 9  # median window (beats) of the local tempo curve

# Half-time test: chord-change contrast of 4-beat bars (mean at the bar's strongest position
# over the mean at all four) at half tempo must be clear on its own and beat the tempo found.
HALF_TIME_CONTRAST = 1.3
HALF_TIME_RATIO = 1.15
HALF_TIME_MIN_BARS = 16  # fewer bars of evidence leave the contrast to chance
HALF_TIME_MIN_BPM = 60.0

BASS_MAX_HZ = 200.0  # kick drum and bass: the onsets that mark bar starts
BASS_REACH_S = 0.012  # +-2 onset frames
BEATS_PER_BAR = 4  # downbeats assume 4/4, the MIDI default and nearly all dance music


@dataclass(frozen=True)
class BeatInfo:
    """Tempo (None when unknown or no beats), beat and downbeat times in seconds."""

    bpm: float | None
    beat_times: np.ndarray
    downbeat_times: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "beat_times", np.asarray(self.beat_times, dtype=np.float64).reshape(-1))
        object.__setattr__(self, "downbeat_times", np.asarray(self.downbeat_times, dtype=np.float64).reshape(-1))

    @property
    def found(self) -> bool:
        return len(self.beat_times) > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "bpm": None if self.bpm is None else round(float(self.bpm), 3),
            "beats_s": [round(float(t), 4) for t in self.beat_times],
            "downbeats_s": [round(float(t), 4) for t in self.downbeat_times],
        }


# --- reading annotations ----------------------------------------------------------------------


def load_beats_json(path: str | Path) -> BeatInfo:
    """Beats from a `beats.json`: the kit's layout (`bpm`, `beats_s`, `downbeats_s`), or the
    short keys `beats` / `downbeats` / `tempo`. `beats_s: null` (tempo unknown) gives no beats."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "beats file not found", "check the path")
    data = load_json_file(path, "beats file")  # no NaN, no numbers past float range, bounded
    if not isinstance(data, dict):
        raise InputFileError(path, "must be a JSON object with a 'beats_s' list")
    beats = _times(path, data, ("beats_s", "beats"))
    downbeats = _times(path, data, ("downbeats_s", "downbeats"))
    bpm = data.get("bpm", data.get("tempo"))
    if bpm is not None and (isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not bpm > 0):
        raise InputFileError(path, f"'bpm' must be a positive number or null, got {bpm!r}")
    if bpm is None and len(beats) > 1:
        bpm = 60.0 / float(np.median(np.diff(beats)))
    return BeatInfo(None if bpm is None else float(bpm), beats, downbeats)


def _times(path: Path, data: dict, keys: tuple[str, ...]) -> np.ndarray:
    key = next((k for k in keys if k in data), None)
    values = data.get(key) if key else None
    if values is None:
        return np.zeros(0)
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise InputFileError(path, f"'{key}' must be a list of times in seconds")
    times = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(times)) or np.any(times < 0) or np.any(np.diff(times) <= 0):
        raise InputFileError(path, f"'{key}' must hold increasing, non-negative times in seconds")
    return times


# --- detection --------------------------------------------------------------------------------


def detect_beats(audio: Audio) -> BeatInfo:
    """Tempo, beats and downbeats of `audio`. Silent audio gives `BeatInfo(None, [], [])`."""
    if audio.is_silent:
        return _no_beats()
    samples = audio.resampled(ANALYSIS_RATE).samples
    step = int(STREAM_BLOCK_S * ANALYSIS_RATE)
    return _beats_from(_Spectra.of(samples[first : first + step] for first in range(0, len(samples), step)))


@dataclass(frozen=True)
class BeatAnalysis:
    """What `detect_beats_in_file` found, with the facts `dancegen audio beats` reports."""

    info: BeatInfo
    duration: float  # seconds analysed
    is_silent: bool


def detect_beats_in_file(path: str | Path, start: float | None = None, end: float | None = None,
                         stems=()) -> BeatAnalysis:
    """`detect_beats(load_audio(path, start=, end=, stems=))`, streamed: the song is decoded and
    analysed in blocks, so an hour-long file needs a few hundred MB, not gigabytes. (Stems are
    mixed in memory: they are the parts of one short song.)"""
    from dancegen.audio.io import load_audio, span_duration, stream_audio

    if stems:
        audio = load_audio(path, start=start, end=end, stems=stems)
        return BeatAnalysis(detect_beats(audio), audio.duration, audio.is_silent)
    meter = _Meter(stream_audio(path, ANALYSIS_RATE, start, end))
    spectra = _Spectra.of(meter)
    duration = span_duration(path, start, end)
    if duration is None:
        duration = meter.samples / ANALYSIS_RATE
    silent = meter.samples == 0 or meter.peak < SILENCE_PEAK
    return BeatAnalysis(_no_beats() if silent else _beats_from(spectra), duration, silent)


class _Meter:
    """Passes blocks through, counting the samples and keeping the peak."""

    def __init__(self, blocks):
        self.blocks, self.samples, self.peak = blocks, 0, 0.0

    def __iter__(self):
        for block in self.blocks:
            self.samples += len(block)
            if len(block):
                self.peak = max(self.peak, float(np.max(np.abs(block))))
            yield block


def _no_beats() -> BeatInfo:
    return BeatInfo(None, np.zeros(0), np.zeros(0))


def _beats_from(spectra: "_Spectra") -> BeatInfo:
    log_mel = spectra.log_mel()
    onsets = _band_flux(log_mel)
    fps = ANALYSIS_RATE / ONSET_HOP
    if not np.any(onsets > 0):
        return _no_beats()

    bpm = estimate_tempo(onsets, fps, _band_flux(log_mel, BEAT_BAND_MAX_HZ))
    beats = track_beats(onsets, fps, bpm)
    if len(beats) < 2 * BEATS_PER_BAR:  # too short for the bar-level checks below
        times = beats / fps
        return BeatInfo(bpm, times, times[:1])

    novelty = _novelty(spectra.chroma(), ANALYSIS_RATE / CHROMA_HOP, bpm)
    if bpm / 2 >= HALF_TIME_MIN_BPM and _is_half_time(novelty, beats / fps):
        bpm = refine_tempo(onsets, fps, bpm / 2)
        beats = track_beats(onsets, fps, bpm)
    times = beats / fps
    bass = _band_flux(log_mel, BASS_MAX_HZ)
    return BeatInfo(bpm, times, downbeats(times, novelty, (bass, fps)))


def onset_strength(audio: Audio, max_hz: float | None = None) -> np.ndarray:
    """Log-mel spectral flux at ANALYSIS_RATE / ONSET_HOP frames/s (of the mel bands below
    `max_hz` if given); frame i is centred at i * ONSET_HOP / ANALYSIS_RATE s and holds the rise
    of energy from frame i-1 to i."""
    return _band_flux(_log_mel(audio.resampled(ANALYSIS_RATE)), max_hz)


def _log_mel(audio: Audio) -> np.ndarray:
    samples = audio.samples
    step = int(STREAM_BLOCK_S * ANALYSIS_RATE)
    return _Spectra.of(samples[first : first + step] for first in range(0, len(samples), step)).log_mel()


# --- spectra of a stream ------------------------------------------------------------------------

# Floor of the power spectrum before the log (librosa.power_to_db's amin).
POWER_FLOOR = 1e-10
# Columns converted at a time when the whole spectrogram is transformed in place.
_COLUMNS_PER_BLOCK = 65536


class _FrameStream:
    """librosa.stft(y, center=True) of a signal given in blocks: frame i covers samples
    [i * hop - n_fft / 2, i * hop + n_fft / 2), zeros beyond both ends. Each batch of finished
    frames' power spectrum goes to `consume` (no frame is ever held twice)."""

    def __init__(self, n_fft: int, hop: int, consume):
        self.n_fft, self.hop, self.consume = n_fft, hop, consume
        self.buffer = np.zeros(n_fft // 2, np.float32)  # the leading zero padding

    def push(self, block: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, block.astype(np.float32, copy=False)])
        self._frames()

    def close(self) -> None:
        self.buffer = np.concatenate([self.buffer, np.zeros(self.n_fft // 2, np.float32)])
        self._frames()

    def _frames(self) -> None:
        import librosa

        count = 1 + (len(self.buffer) - self.n_fft) // self.hop if len(self.buffer) >= self.n_fft else 0
        if count <= 0:
            return
        used = (count - 1) * self.hop + self.n_fft
        spectrum = librosa.stft(self.buffer[:used], n_fft=self.n_fft, hop_length=self.hop, center=False)
        self.consume(np.abs(spectrum) ** 2)
        self.buffer = self.buffer[count * self.hop :]


@functools.lru_cache(maxsize=1)
def _filter_banks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mel and chroma filter banks and the chroma's frequency mask (computed once)."""
    import librosa

    mel = librosa.filters.mel(sr=ANALYSIS_RATE, n_fft=ONSET_FFT, n_mels=ONSET_MELS)
    chroma = librosa.filters.chroma(sr=ANALYSIS_RATE, n_fft=CHROMA_FFT, tuning=0.0)
    low = librosa.fft_frequencies(sr=ANALYSIS_RATE, n_fft=CHROMA_FFT) <= CHROMA_MAX_HZ
    for bank in (mel, chroma, low):
        bank.setflags(write=False)
    return mel, chroma, low


class _Spectra:
    """The two spectrograms beat analysis reads, built from a stream of ANALYSIS_RATE samples:
    the mel power spectrum (onsets) and the low-frequency chroma (chord changes)."""

    def __init__(self):
        self.mel_basis, self.chroma_basis, self.low = _filter_banks()
        self.mel_blocks: list[np.ndarray] = []
        self.chroma_blocks: list[np.ndarray] = []

    @classmethod
    def of(cls, blocks) -> "_Spectra":
        spectra = cls()
        onset_frames = _FrameStream(ONSET_FFT, ONSET_HOP, spectra._add_mel)
        chroma_frames = _FrameStream(CHROMA_FFT, CHROMA_HOP, spectra._add_chroma)
        for block in blocks:
            onset_frames.push(block)
            chroma_frames.push(block)
        onset_frames.close()
        chroma_frames.close()
        return spectra

    def _add_mel(self, power: np.ndarray) -> None:
        self.mel_blocks.append((self.mel_basis @ power).astype(np.float32, copy=False))

    def _add_chroma(self, power: np.ndarray) -> None:
        import librosa

        power[~self.low] = 0.0  # bass and chords only: cymbals smear the pitch classes
        self.chroma_blocks.append(librosa.util.normalize(self.chroma_basis @ power, norm=np.inf, axis=-2))

    def log_mel(self) -> np.ndarray:
        """librosa.power_to_db(mel, ref=np.max, top_db=ONSET_TOP_DB), in place, a block at a time."""
        mel = np.concatenate(self.mel_blocks, axis=1) if len(self.mel_blocks) != 1 else self.mel_blocks[0]
        self.mel_blocks = []
        reference = 10.0 * np.log10(max(POWER_FLOOR, float(mel.max())))
        for first in range(0, mel.shape[1], _COLUMNS_PER_BLOCK):
            block = mel[:, first : first + _COLUMNS_PER_BLOCK]
            np.maximum(block, POWER_FLOOR, out=block)
            np.log10(block, out=block)
            block *= 10.0
            block -= reference
        np.maximum(mel, mel.max() - ONSET_TOP_DB, out=mel)
        return mel

    def chroma(self) -> np.ndarray:
        return np.concatenate(self.chroma_blocks, axis=1)


def _band_flux(log_mel: np.ndarray, max_hz: float | None = None) -> np.ndarray:
    """Mean positive rise of the (band-limited) log-mel spectrum from each frame to the next,
    computed a block of frames at a time (a whole-song difference array would be as large as
    the spectrogram)."""
    import librosa

    rows = np.arange(len(log_mel))
    if max_hz is not None:
        centres = librosa.mel_frequencies(ONSET_MELS + 2, fmax=ANALYSIS_RATE / 2)[1:-1]
        rows = np.flatnonzero(centres < max_hz)
    blocks = range(0, log_mel.shape[1], _COLUMNS_PER_BLOCK)
    # Silence before the first frame, so that a hit at t = 0 counts as an onset.
    lowest = min(float(log_mel[rows, first : first + _COLUMNS_PER_BLOCK].min()) for first in blocks)
    previous = np.full((len(rows), 1), lowest, dtype=log_mel.dtype)
    flux = np.empty(log_mel.shape[1])
    for first in blocks:
        block = log_mel[rows, first : first + _COLUMNS_PER_BLOCK]
        flux[first : first + block.shape[1]] = np.maximum(np.diff(block, axis=1, prepend=previous), 0.0).mean(axis=0)
        previous = block[:, -1:]
    return flux


def estimate_tempo(onsets: np.ndarray, fps: float, low_onsets: np.ndarray | None = None) -> float:
    """Global tempo in bpm (module docstring, steps 2-3). `low_onsets`, the flux below
    BEAT_BAND_MAX_HZ, lets a pulse heard only in the treble (hi-hats) count as eighth notes."""
    bpms, salience = tempo_salience(onsets, fps)
    bpm = _peak_bpm(bpms, salience, int(np.argmax(salience)))
    while bpm >= FAST_LIMIT:
        bpm = _nearest_peak(bpms, salience, bpm / 2)
    while bpm < SLOW_LIMIT:
        bpm = _nearest_peak(bpms, salience, bpm * 2)
    if low_onsets is not None and bpm / 2 >= SLOW_LIMIT:
        low_bpms, low_salience = tempo_salience(low_onsets, fps)
        fast, slow = (np.interp(np.log(b), np.log(low_bpms), low_salience) for b in (bpm, bpm / 2))
        if fast < TREBLE_PULSE_RATIO * slow:
            bpm = _nearest_peak(bpms, salience, bpm / 2)
    return refine_tempo(onsets, fps, bpm)


def tempo_salience(onsets: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(bpm candidates, salience): autocorrelation x Fourier tempogram, each scaled to max 1."""
    pulses = _pulses(onsets, fps)
    bpms = np.geomspace(MIN_BPM, MAX_BPM, TEMPO_BINS)
    lags = 60.0 * fps / bpms

    # Autocorrelation of the whole song (FFT, zero-padded so it is not circular).
    spectrum = np.fft.rfft(pulses - pulses.mean(), 2 * len(pulses))
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2)[: len(pulses)]
    autocorr = np.maximum(np.interp(lags, np.arange(len(autocorr)), autocorr), 0.0)

    # Fourier tempogram: magnitude at each tempo in Hann windows, averaged over the song.
    window = min(len(pulses), int(TEMPOGRAM_WINDOW_S * fps))
    t = np.arange(window) / fps
    basis = np.exp(-2j * np.pi * np.outer(bpms / 60.0, t)) * np.hanning(window)
    starts = range(0, max(len(pulses) - window, 0) + 1, max(window // 2, 1))
    segments = np.stack([pulses[s : s + window] - pulses[s : s + window].mean() for s in starts])
    fourier = np.abs(segments @ basis.T).mean(axis=0)

    salience = _unit_max(autocorr) * _unit_max(fourier)
    return bpms, salience


def refine_tempo(onsets: np.ndarray, fps: float, bpm: float) -> float:
    """The tempo near `bpm` whose beat grid collects the most onset strength.

    The grid's phase is fitted per REFINE_WINDOW_S window, so a song whose accents move from
    beats to off-beats halfway cannot bend the period towards a grid that drifts across both.
    """
    pulses = _smooth(_pulses(onsets, fps), 2.0)
    frames = np.arange(len(pulses))
    window = frames // max(1, int(REFINE_WINDOW_S * fps))
    windows = int(window[-1]) + 1
    best, best_score = bpm, -np.inf
    for candidate in bpm * (1.0 + np.linspace(-REFINE_SPAN, REFINE_SPAN, REFINE_STEPS)):
        period = 60.0 * fps / candidate
        bins = int(np.ceil(period))
        key = window * bins + np.floor(np.mod(frames, period)).astype(int)
        totals = np.bincount(key, weights=pulses, minlength=windows * bins).reshape(windows, bins)
        counts = np.bincount(key, minlength=windows * bins).reshape(windows, bins)
        score = np.sum(np.max(totals / np.maximum(counts, 1), axis=1))
        if score > best_score:
            best, best_score = float(candidate), score
    return best


def track_beats(onsets: np.ndarray, fps: float, bpm: float) -> np.ndarray:
    """Beat positions in onset frames (fractional) by dynamic programming around `bpm`."""
    period = 60.0 * fps / bpm
    local = _smooth(onsets / (onsets.std() + 1e-12), period / 32)  # Ellis' local score
    fine = np.interp(np.arange(len(local) * DP_UPSAMPLE) / DP_UPSAMPLE, np.arange(len(local)), local)
    beats = _dynamic_programme(fine, period * DP_UPSAMPLE, LOOSE_TIGHTNESS)
    if _is_steady(beats, period * DP_UPSAMPLE):
        beats = _dynamic_programme(fine, period * DP_UPSAMPLE, STRICT_TIGHTNESS)
    return _trim_silent_ends(beats / DP_UPSAMPLE, onsets, period)


def chord_change(audio: Audio, bpm: float) -> tuple[np.ndarray, float]:
    """(novelty, frames per second): how much the chroma of the next half beat differs from
    the previous half beat, at every chroma frame; mean 1."""
    samples = audio.resampled(ANALYSIS_RATE).samples
    step = int(STREAM_BLOCK_S * ANALYSIS_RATE)
    spectra = _Spectra.of(samples[first : first + step] for first in range(0, len(samples), step))
    return _novelty(spectra.chroma(), ANALYSIS_RATE / CHROMA_HOP, bpm)


def _novelty(chroma: np.ndarray, fps: float, bpm: float) -> tuple[np.ndarray, float]:
    chroma = chroma / (chroma.sum(axis=0, keepdims=True) + 1e-9)
    width = max(1, int(round(30.0 / bpm * fps)))  # half a beat
    cumulative = np.pad(np.cumsum(chroma, axis=1), ((0, 0), (1, 0)))
    frames = chroma.shape[1]
    novelty = np.zeros(frames)
    centre = np.arange(width, frames - width)
    if len(centre):
        before = (cumulative[:, centre] - cumulative[:, centre - width]) / width
        after = (cumulative[:, centre + width] - cumulative[:, centre]) / width
        novelty[centre] = np.abs(after - before).sum(axis=0)
    return novelty / (novelty.mean() + 1e-12), fps


def downbeats(
    beat_times: np.ndarray, novelty: tuple[np.ndarray, float], bass: tuple[np.ndarray, float]
) -> np.ndarray:
    """Every BEATS_PER_BAR-th beat, from the bar phase where chord changes and bass onsets,
    each `(values, frames per second)`, are strongest on average."""
    if len(beat_times) < BEATS_PER_BAR:
        return beat_times[:1]
    from scipy.ndimage import maximum_filter1d

    values, rate = bass  # a bass onset may peak a frame or two off the tracked beat
    bass_peaks = maximum_filter1d(values, 2 * int(round(BASS_REACH_S * rate)) + 1)
    evidence = _zscore(_sample(*novelty, beat_times)) + _zscore(_sample(bass_peaks, rate, beat_times))
    phase = int(np.argmax([evidence[k::BEATS_PER_BAR].mean() for k in range(BEATS_PER_BAR)]))
    return beat_times[phase::BEATS_PER_BAR]


# --- helpers ----------------------------------------------------------------------------------


def _pulses(onsets: np.ndarray, fps: float) -> np.ndarray:
    """Onset strength above its one-second moving average: the pulses, without loudness drift."""
    from scipy.ndimage import uniform_filter1d

    return np.maximum(onsets - uniform_filter1d(onsets, max(1, int(fps))), 0.0)


def _smooth(signal: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(signal, max(sigma, 0.5), mode="constant")


def _unit_max(values: np.ndarray) -> np.ndarray:
    peak = values.max()
    return values / peak if peak > 0 else values


def _nearest_peak(bpms: np.ndarray, salience: np.ndarray, target: float, span: float = 0.04) -> float:
    near = np.flatnonzero(np.abs(np.log(bpms / target)) <= span)
    if len(near) == 0:
        return target
    return _peak_bpm(bpms, salience, int(near[np.argmax(salience[near])]))


def _peak_bpm(bpms: np.ndarray, salience: np.ndarray, index: int) -> float:
    """The peak's tempo between grid points: a parabola through it and its neighbours (log bpm)."""
    if not 0 < index < len(bpms) - 1:
        return float(bpms[index])
    left, middle, right = salience[index - 1 : index + 2]
    curvature = left - 2 * middle + right
    shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    step = np.log(bpms[1] / bpms[0])
    return float(bpms[index] * np.exp(np.clip(shift, -0.5, 0.5) * step))


def _dynamic_programme(local: np.ndarray, period: float, tightness: float) -> np.ndarray:
    """Ellis (2007): score(t) = local(t) + max_tau [score(tau) - tightness * log((t-tau)/P)^2].

    Predecessors lie at least P/2 frames back, so a block of P/2 frames depends only on frames
    already scored: each block is one vectorised step.
    """
    n = len(local)
    # Intervals from P/2 to 2P, less those whose cost no onset evidence could ever repay.
    reach = min(np.log(2.0), np.sqrt(MAX_TRANSITION_COST / tightness))
    shortest = max(1, int(np.floor(period * np.exp(-reach))))
    offsets = np.arange(shortest, int(np.ceil(period * np.exp(reach))) + 1)
    penalty = -tightness * np.log(offsets / period) ** 2
    score = local.astype(np.float64).copy()
    previous = np.full(n, -1)
    for start in range(0, n, shortest):
        frames = np.arange(start, min(start + shortest, n))
        candidates = frames[:, None] - offsets[None, :]
        gain = np.where(candidates >= 0, score[np.maximum(candidates, 0)] + penalty, -np.inf)
        pick = np.argmax(gain, axis=1)
        best = gain[np.arange(len(frames)), pick]
        chained = best > 0
        score[frames] = local[frames] + np.where(chained, best, 0.0)
        previous[frames] = np.where(chained, candidates[np.arange(len(frames)), pick], -1)
    last_period = max(0, n - int(round(period)))
    beat = last_period + int(np.argmax(score[last_period:]))
    path = [beat]
    while previous[path[-1]] >= 0:
        path.append(previous[path[-1]])
    return np.array(path[::-1])


def _is_steady(beats: np.ndarray, period: float) -> bool:
    if len(beats) < 2 * STEADY_SMOOTHING_BEATS:
        return False
    from scipy.ndimage import median_filter

    intervals = median_filter(np.diff(beats).astype(np.float64), STEADY_SMOOTHING_BEATS, mode="nearest")
    return bool(np.mean(np.abs(intervals / period - 1.0) <= STEADY_TOLERANCE) >= STEADY_FRACTION)


def _trim_silent_ends(beats: np.ndarray, onsets: np.ndarray, period: float) -> np.ndarray:
    """Drop beats before the music starts and after it ends (no onsets within a beat)."""
    level = _smooth(onsets, period / 4)
    active = np.flatnonzero(level > 0.1 * np.percentile(level, 95))
    if len(active) == 0:
        return beats[:0]
    keep = (beats >= active[0] - period / 2) & (beats <= active[-1] + period / 2)
    return beats[keep]


def _is_half_time(novelty: tuple[np.ndarray, float], beat_times: np.ndarray) -> bool:
    """Whether chord changes make 4-beat bars of every second beat far more clearly than of
    every beat: the beat is then half the pulse, which is eighth notes."""
    values, fps = novelty

    def bar_contrast(times: np.ndarray) -> float:
        at_beats = _sample(values, fps, times)
        profile = [at_beats[k::BEATS_PER_BAR].mean() for k in range(BEATS_PER_BAR)]
        return max(profile) / (np.mean(profile) + 1e-12)

    if len(beat_times) < 2 * BEATS_PER_BAR * HALF_TIME_MIN_BARS:
        return False
    half = max(bar_contrast(beat_times[parity::2]) for parity in (0, 1))
    return bool(half >= HALF_TIME_CONTRAST and half > HALF_TIME_RATIO * bar_contrast(beat_times))


def _sample(values: np.ndarray, fps: float, times: np.ndarray) -> np.ndarray:
    index = np.clip(np.round(np.asarray(times) * fps).astype(int), 0, len(values) - 1)
    return values[index]


def _zscore(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-12)
