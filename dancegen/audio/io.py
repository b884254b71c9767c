"""Audio in and out: decode, mix stems to mono, trim, resample; write wav atomically.

Decoding goes through libsndfile (`soundfile`: wav, flac, ogg/vorbis, mp3, aiff, ...) and falls
back to `audioread` (ffmpeg / GStreamer / Core Audio, whichever is installed) for anything else.
Every problem a user can cause is an `InputFileError` or `ArgumentError` of one line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np

from dancegen.errors import ArgumentError, InputFileError
from dancegen.fileio import atomic_path

SUPPORTED_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
# What `write_wav` stores by default: 16-bit PCM plays everywhere (browsers, DAWs, players).
DEFAULT_WAV_SUBTYPE = "PCM_16"
# Peak amplitude below which audio counts as silent: -80 dBFS, under 16-bit dither noise.
SILENCE_PEAK = 1e-4


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono audio: float32 samples in [-1, 1] (nominally) at `sample_rate` Hz."""

    samples: np.ndarray  # (N,) float32
    sample_rate: int
    path: Path | None = None  # the file it came from (the first one, when stems were summed)

    def __post_init__(self) -> None:
        samples = np.ascontiguousarray(self.samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"Audio samples must be 1-D (mono); got shape {samples.shape}")
        if int(self.sample_rate) <= 0:
            raise ValueError(f"sample_rate must be positive; got {self.sample_rate}")
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def num_samples(self) -> int:
        return len(self.samples)

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.num_samples / self.sample_rate

    @property
    def is_silent(self) -> bool:
        """No sample louder than -80 dBFS: nothing to analyse."""
        return self.num_samples == 0 or float(np.max(np.abs(self.samples))) < SILENCE_PEAK

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the decoded samples and the rate: the key the feature cache files under."""
        digest = hashlib.sha256(self.samples.tobytes())
        digest.update(str(self.sample_rate).encode())
        return digest.hexdigest()

    def resampled(self, sample_rate: int) -> Audio:
        """This audio at another rate (soxr, high quality: what `librosa.load` uses)."""
        sample_rate = int(sample_rate)
        if sample_rate == self.sample_rate:
            return self
        import soxr

        samples = soxr.resample(self.samples, self.sample_rate, sample_rate, quality="HQ")
        return Audio(samples.astype(np.float32, copy=False), sample_rate, self.path)

    def __repr__(self) -> str:
        where = f", {self.path.name}" if self.path else ""
        return f"Audio({self.duration:.2f} s @ {self.sample_rate} Hz{where})"


def load_audio(
    path: str | Path,
    sample_rate: int | None = None,
    start: float | None = None,
    end: float | None = None,
    stems: Iterable[str | Path] = (),
) -> Audio:
    """Decode `path`, add `stems` (sample-aligned parts of the same song), mix to mono, keep
    [start, end) seconds and resample to `sample_rate` (None: the file's own rate).

    Relative stem paths are taken from `path`'s folder; a stem naming `path` itself is skipped,
    so the `stems` list of a kit `beats.json` (["song.ogg", "guitar.ogg"]) can be passed as is.
    Stems are summed as they are (no 1/n scaling), which is the mix a player would play.
    """
    path = Path(path)
    _check_window(start, end)
    if sample_rate is not None and (not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0):
        raise ArgumentError("sample_rate", f"must be a positive whole number of Hz, got {sample_rate!r}")
    parts = [path] + [p for p in _stem_paths(path, stems) if p.resolve() != path.resolve()]

    main, rate = _decode(path, start, end)
    for stem in parts[1:]:
        extra, stem_rate = _decode(stem, start, end)
        if stem_rate != rate:
            import soxr

            extra = soxr.resample(extra, stem_rate, rate, quality="HQ").astype(np.float32)
        if len(extra) > len(main):  # stems may differ by a few samples at the end: pad with silence
            main = np.pad(main, (0, len(extra) - len(main)))
        main[: len(extra)] += extra

    if len(main) == 0:
        if start:
            raise ArgumentError("start", f"{start:g} s is at or past the end of {path}")
        raise InputFileError(path, "the audio has no samples (zero length)", "give a file that contains sound")
    audio = Audio(main, rate, path)
    return audio.resampled(sample_rate) if sample_rate else audio


def audio_duration(path: str | Path) -> float:
    """Length in seconds, from the header when libsndfile can read it (no decoding)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "audio file not found", "check the path")
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except (RuntimeError, soundfile.LibsndfileError):
        return load_audio(path).duration


def write_wav(
    path: str | Path,
    audio: Audio | np.ndarray,
    sample_rate: int | None = None,
    subtype: str = DEFAULT_WAV_SUBTYPE,
) -> Path:
    """Write mono audio as a wav file, atomically (complete or absent, never half-written).

    `audio` is an `Audio` or a 1-D array of samples with `sample_rate`. PCM subtypes clip to
    [-1, 1]; pass `subtype="FLOAT"` to keep the samples exactly.
    """
    import soundfile

    if isinstance(audio, Audio):
        samples, rate = audio.samples, sample_rate or audio.sample_rate
    else:
        if sample_rate is None:
            raise ArgumentError("sample_rate", "is required when writing a bare sample array")
        samples, rate = np.asarray(audio, dtype=np.float32), int(sample_rate)
    if samples.ndim != 1:
        raise ArgumentError("audio", f"must be mono (1-D samples); got shape {samples.shape}")
    if subtype.startswith("PCM"):
        samples = np.clip(samples, -1.0, 1.0)
    path = Path(path)
    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), samples, int(rate), subtype=subtype, format="WAV")
    return path


# --- decoding -------------------------------------------------------------------------------


def _stem_paths(path: Path, stems: Iterable[str | Path]) -> list[Path]:
    if isinstance(stems, (str, Path)):  # a single stem given bare
        stems = [stems]
    return [Path(s) if Path(s).is_absolute() else path.parent / s for s in stems]


def _check_window(start: float | None, end: float | None) -> None:
    if start is not None and not (np.isfinite(start) and start >= 0):
        raise ArgumentError("start", f"must be a time >= 0 s, got {start!r}")
    if end is not None and not (np.isfinite(end) and end > (start or 0.0)):
        raise ArgumentError("end", f"must be later than start ({start or 0:g} s), got {end!r}")


def _decode(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [start, end) and the file's rate."""
    if not path.exists():
        raise InputFileError(path, "audio file not found", "check the path")
    if path.is_dir():
        raise InputFileError(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise InputFileError(path, "the audio file is empty (0 bytes)", "give a file that contains sound")
    try:
        samples, rate = _decode_soundfile(path, start, end)
    except _Undecodable:
        try:
            samples, rate = _decode_audioread(path, start, end)
        except _Undecodable:
            hint = f"convert it to one of {', '.join(SUPPORTED_SUFFIXES)}, or install ffmpeg for other formats"
            raise InputFileError(path, "cannot decode audio: not an audio file or an unsupported format", hint) from None
    if not np.all(np.isfinite(samples)):
        raise InputFileError(path, "the audio contains NaN or infinite samples", "re-export the file")
    return samples, rate


class _Undecodable(Exception):
    pass


def _decode_soundfile(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        with soundfile.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            first = int(round((start or 0.0) * rate))
            last = handle.frames if end is None else min(handle.frames, int(round(end * rate)))
            if first >= handle.frames:
                return np.zeros(0, np.float32), rate
            handle.seek(first)
            data = handle.read(max(last - first, 0), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError) as error:
        raise _Undecodable(_first_line(error)) from None
    return _to_mono(data), rate


def _decode_audioread(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    try:
        import audioread
    except ImportError:
        raise _Undecodable("audioread is not installed") from None
    try:
        with audioread.audio_open(str(path)) as handle:
            rate, channels = handle.samplerate, handle.channels
            chunks = [np.frombuffer(block, dtype="<i2") for block in handle]
    except Exception as error:  # audioread raises backend-specific errors
        raise _Undecodable(_first_line(error)) from None
    data = np.concatenate(chunks).astype(np.float32) / 32768.0 if chunks else np.zeros(0, np.float32)
    data = data[: len(data) // channels * channels].reshape(-1, channels)
    first = int(round((start or 0.0) * rate))
    last = len(data) if end is None else int(round(end * rate))
    return _to_mono(data[first:last]), rate


def _to_mono(data: np.ndarray) -> np.ndarray:
    # Mean over channels: librosa's `to_mono`, so features match reference extractors.
    return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

