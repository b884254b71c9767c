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
from typing import Iterable, Iterator

import numpy as np

from dancegen.console import native_stderr_silenced
from dancegen.errors import ArgumentError, InputFileError
from dancegen.fileio import atomic_path
from dancegen.limits import LIMITS_ENV, limits

SUPPORTED_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
# What `write_wav` stores by default: 16-bit PCM plays everywhere (browsers, DAWs, players).
DEFAULT_WAV_SUBTYPE = "PCM_16"
# Peak amplitude below which audio counts as silent: -80 dBFS, under 16-bit dither noise.
SILENCE_PEAK = 1e-4
# `stream_audio` decodes and resamples this much at a time: memory stays bounded for long songs.
STREAM_BLOCK_S = 30.0


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
            raise ArgumentError("--start", f"{start:g} s is at or past the end of {path}")
        raise InputFileError(path, "the audio has no samples (zero length)", "give a file that contains sound")
    audio = Audio(main, rate, path)
    return audio.resampled(sample_rate) if sample_rate else audio


def audio_duration(path: str | Path) -> float:
    """Length in seconds, from the header when libsndfile can read it (no decoding); a header
    with no channels, no sample rate or a length past the limits is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "audio file not found" if not path.exists() else "is a folder, not an audio file",
                             "check the path")
    if path.stat().st_size == 0:
        raise InputFileError(path, "the audio file is empty (0 bytes)", "give a file that contains sound")
    import soundfile

    try:
        with native_stderr_silenced():
            info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError, ZeroDivisionError, ValueError, TypeError) as error:
        _refuse_header_problem(path, error)
        return load_audio(path).duration
    check_audio_format(path, info.channels, info.samplerate, info.frames)
    return float(info.duration)


def check_audio_format(path: Path, channels: int, rate: int, frames: int | None = None) -> None:
    """Channels, sample rate and length a song can have (`dancegen.limits`), else one line."""
    settings = limits()
    if channels < 1:
        raise InputFileError(path, "the audio header declares zero channels", "re-export the file")
    if channels > settings.max_audio_channels:
        raise InputFileError(path, f"{channels} audio channels is more than the limit of {settings.max_audio_channels}",
                             f"mix it down, or raise max_audio_channels ({LIMITS_ENV})")
    if rate <= 0:
        raise InputFileError(path, f"the audio header declares a sample rate of {rate} Hz", "re-export the file")
    if rate > settings.max_sample_rate:
        raise InputFileError(path, f"sample rate {rate} Hz is more than the limit of {settings.max_sample_rate}",
                             "re-export the file at 48 kHz or less")
    if frames is not None and frames / rate > settings.max_audio_seconds:
        raise InputFileError(path, f"{frames / rate:.0f} s of audio is longer than the limit of "
                             f"{settings.max_audio_seconds:.0f} s", f"cut the song, or raise max_audio_seconds ({LIMITS_ENV})")


def _refuse_header_problem(path: Path, error: BaseException) -> None:
    """libsndfile's complaints that mean a broken header (not merely a format it lacks)."""
    text = str(error).lower()
    if "channel count is zero" in text or isinstance(error, ZeroDivisionError):
        raise InputFileError(path, "the audio header declares zero channels", "re-export the file") from None
    if "sf_info struct incomplete" in text:
        raise InputFileError(path, "the audio header is incomplete (no sample rate or channels)", "re-export the file") from None


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
    # Named as the options that set them (`--start`, `--end`): the API shares their names.
    if start is not None and not (np.isfinite(start) and start >= 0):
        raise ArgumentError("--start", f"must be a time >= 0 s, got {start!r}")
    if end is not None and not (np.isfinite(end) and end > (start or 0.0)):
        raise ArgumentError("--end", f"must be later than --start ({start or 0:g} s), got {end!r}")


def _check_audio_file(path: Path) -> None:
    if not path.exists():
        raise InputFileError(path, "audio file not found", "check the path")
    if path.is_dir():
        raise InputFileError(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise InputFileError(path, "the audio file is empty (0 bytes)", "give a file that contains sound")


def _decode(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [start, end) and the file's rate."""
    _check_audio_file(path)
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

    # libmpg123 prints "Note: Illegal Audio-MPEG-Header" lines itself, straight to fd 2.
    try:
        with native_stderr_silenced(), soundfile.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            check_audio_format(path, handle.channels, rate, handle.frames)
            first = int(round((start or 0.0) * rate))
            last = handle.frames if end is None else min(handle.frames, int(round(end * rate)))
            if first >= handle.frames:
                return np.zeros(0, np.float32), rate
            handle.seek(first)
            data = _read_mono(handle, max(last - first, 0))
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ZeroDivisionError, ValueError) as error:
        _refuse_header_problem(path, error)
        raise _Undecodable(_first_line(error)) from None
    return data, rate


def _read_mono(handle, frames: int) -> np.ndarray:
    """`frames` frames from an open SoundFile, mixed to mono a block at a time (a stereo hour
    would otherwise sit in memory twice over before the mix)."""
    out = np.empty(frames, np.float32)
    done = 0
    block = max(1, int(STREAM_BLOCK_S * handle.samplerate))
    while done < frames:
        data = handle.read(min(block, frames - done), dtype="float32", always_2d=True)
        if len(data) == 0:
            break
        out[done : done + len(data)] = _to_mono(data)
        done += len(data)
    return out[:done]


def _decode_audioread(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    try:
        import audioread
    except ImportError:
        raise _Undecodable("audioread is not installed") from None
    try:
        with native_stderr_silenced(), audioread.audio_open(str(path)) as handle:
            rate, channels = handle.samplerate, handle.channels
            check_audio_format(path, channels, rate)
            chunks = [np.frombuffer(block, dtype="<i2") for block in handle]
    except InputFileError:
        raise
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


# --- streaming ------------------------------------------------------------------------------


def span_duration(path: str | Path, start: float | None = None, end: float | None = None) -> float | None:
    """Seconds of [start, end) that `path` holds, from its header (None when libsndfile cannot
    read the header): what `load_audio(path, start=, end=).duration` would be."""
    import soundfile

    try:
        with native_stderr_silenced():
            info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError, ZeroDivisionError, ValueError, TypeError):
        return None
    rate = info.samplerate
    first = int(round((start or 0.0) * rate))
    last = info.frames if end is None else min(info.frames, int(round(end * rate)))
    return max(last - first, 0) / rate if rate > 0 else None


def stream_audio(path: str | Path, sample_rate: int, start: float | None = None, end: float | None = None,
                 block_seconds: float = STREAM_BLOCK_S) -> Iterator[np.ndarray]:
    """Mono float32 blocks of `path` at `sample_rate`, [start, end) seconds, about
    `block_seconds` each: for analyses of long songs that must not hold the whole decoded file.

    Same samples as `load_audio(path, sample_rate, start, end)` (soxr resamples a stream
    exactly as it resamples the whole). Formats libsndfile cannot read are decoded whole
    (audioread) and then given out in blocks.
    """
    path = Path(path)
    _check_window(start, end)
    _check_audio_file(path)
    import soundfile

    try:
        with native_stderr_silenced():
            handle = soundfile.SoundFile(str(path))
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ZeroDivisionError, ValueError) as error:
        _refuse_header_problem(path, error)
        audio = load_audio(path, sample_rate=sample_rate, start=start, end=end)
        step = max(1, int(block_seconds * sample_rate))
        for first in range(0, audio.num_samples, step):
            yield audio.samples[first : first + step]
        return
    with handle:
        rate = handle.samplerate
        check_audio_format(path, handle.channels, rate, handle.frames)
        first = int(round((start or 0.0) * rate))
        last = handle.frames if end is None else min(handle.frames, int(round(end * rate)))
        if first >= last:
            if start:
                raise ArgumentError("--start", f"{start:g} s is at or past the end of {path}")
            raise InputFileError(path, "the audio has no samples (zero length)", "give a file that contains sound")
        yield from _resampled_blocks(path, handle, first, last, sample_rate, block_seconds)


def _resampled_blocks(path: Path, handle, first: int, last: int, sample_rate: int, block_seconds: float):
    import soundfile
    import soxr

    rate = handle.samplerate
    resampler = None if rate == sample_rate else soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")
    handle.seek(first)
    block = max(1, int(block_seconds * rate))
    position = first
    while position < last:
        count = min(block, last - position)
        try:
            with native_stderr_silenced():
                data = handle.read(count, dtype="float32", always_2d=True)
        except (RuntimeError, soundfile.LibsndfileError) as error:
            raise InputFileError(path, f"cannot decode audio: {_first_line(error)}", "re-export the file") from None
        if len(data) == 0:
            break
        position += len(data)
        mono = _to_mono(data)
        if not np.all(np.isfinite(mono)):
            raise InputFileError(path, "the audio contains NaN or infinite samples", "re-export the file")
        final = position >= last
        out = mono if resampler is None else resampler.resample_chunk(mono, last=final)
        if len(out):
            yield out.astype(np.float32, copy=False)
    if resampler is not None and position < last:  # the file ended early: flush the resampler
        tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        if len(tail):
            yield tail.astype(np.float32, copy=False)
