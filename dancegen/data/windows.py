"""Cutting samples into training windows: frame-rate conversion, windows, time-stretch, splits.

Everything here maps a `DanceSample` to `DanceSample`s and keeps its parts in step: motion
frames, audio-feature rows, annotation spans and the offset into the audio file.
"""

from __future__ import annotations

import hashlib
import math
from typing import Iterable, Iterator, Mapping

import numpy as np

from dancegen.data.sample import DanceSample
from dancegen.errors import ArgumentError
from dancegen.motion.motion import Motion

# LDA / LRCM augment with a random stretch of up to ±10 % (LDA hparams `timestretch_factor: 0.1`).
DEFAULT_MAX_STRETCH = 0.1
DEFAULT_SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}


# --- resampling in time -----------------------------------------------------------------------

def _interpolation(times: np.ndarray, fps: float, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    position = np.clip(np.asarray(times, dtype=np.float64) * fps, 0, count - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, count - 1)
    return lower, upper, position - lower


def sample_motion_at(motion: Motion, source_times: np.ndarray, fps: float | None = None) -> Motion:
    """A motion whose frame k shows `motion` at `source_times[k]` seconds (slerp for rotations,
    linear for translation and contacts), played at `fps` (default: the source's)."""
    return motion.at_frames(np.asarray(source_times, dtype=np.float64) * motion.fps, fps=fps)


def sample_features_at(features: np.ndarray, fps: float, source_times: np.ndarray) -> np.ndarray:
    """Rows of a (T, D) feature array at arbitrary times, linearly interpolated."""
    lower, upper, weight = _interpolation(source_times, fps, len(features))
    return (features[lower] * (1 - weight)[:, None] + features[upper] * weight[:, None]).astype(features.dtype)


def _retime(sample: DanceSample, source_times: np.ndarray, fps: float) -> tuple[Motion, np.ndarray | None]:
    motion = sample_motion_at(sample.motion, source_times, fps)
    features = None
    if sample.audio_features is not None:
        features = sample_features_at(sample.audio_features, sample.fps, source_times)
    return motion, features


def convert_fps(sample: DanceSample, fps: float) -> DanceSample:
    """The same sample at another frame rate (60 -> 30 keeps every other frame exactly)."""
    if abs(fps - sample.fps) < 1e-9:
        return sample
    count = max(1, int(round(sample.duration * fps)))
    motion, features = _retime(sample, np.arange(count) / fps, fps)
    return sample.with_changes(motion=motion, audio_features=features)


def time_stretch(sample: DanceSample, factor: float) -> DanceSample:
    """Play the sample `factor` times slower (factor 1.1 = 10 % longer), audio features and
    annotation with it. The audio file itself is not rewritten: `source["time_stretch"]` says
    by how much its playback must be stretched to match."""
    if factor <= 0:
        raise ArgumentError("time stretch factor", f"must be positive, got {factor}")
    count = max(1, int(round(sample.num_frames * factor)))
    motion, features = _retime(sample, np.arange(count) / (sample.fps * factor), sample.fps)
    stretched = sample.with_changes(motion=motion, audio_features=features, annotation=sample.annotation.stretched(factor))
    stretched.source["time_stretch"] = stretched.source.get("time_stretch", 1.0) * factor
    return stretched


def random_time_stretch(sample: DanceSample, rng: np.random.Generator, max_change: float = DEFAULT_MAX_STRETCH) -> DanceSample:
    """`time_stretch` by a factor drawn uniformly from [1 - max_change, 1 + max_change]."""
    return time_stretch(sample, float(rng.uniform(1 - max_change, 1 + max_change)))


# --- windows ----------------------------------------------------------------------------------

def window(sample: DanceSample, start: int, length: int) -> DanceSample:
    """Frames [start, start + length) of a sample, every part cut to match."""
    stop = start + length
    if start < 0 or stop > sample.num_frames:
        raise ValueError(f"window [{start}, {stop}) outside {sample.num_frames} frames of {sample.name!r}")
    t0, t1 = start / sample.fps, stop / sample.fps
    stretch = sample.source.get("time_stretch", 1.0)
    piece = sample.with_changes(
        name=f"{sample.name}@{start}",
        motion=sample.motion.slice_frames(start, stop),
        audio_features=None if sample.audio_features is None else sample.audio_features[start:stop],
        annotation=sample.annotation.window(t0, t1),
        audio_start=sample.audio_start + t0 / stretch,
    )
    piece.source["window_frames"] = [start, stop]
    return piece


def window_starts(num_frames: int, fps: float, length_s: float, stride_s: float) -> list[int]:
    """First frames of the full windows of `length_s` seconds every `stride_s` seconds."""
    if length_s <= 0 or stride_s <= 0:
        raise ArgumentError("window", f"length ({length_s} s) and stride ({stride_s} s) must be positive")
    length, stride = int(round(length_s * fps)), max(1, int(round(stride_s * fps)))
    return list(range(0, num_frames - length + 1, stride))


def make_windows(sample: DanceSample, length_s: float, stride_s: float) -> list[DanceSample]:
    length = int(round(length_s * sample.fps))
    return [window(sample, start, length) for start in window_starts(sample.num_frames, sample.fps, length_s, stride_s)]


def iter_windows(
    samples: Iterable[DanceSample],
    length_s: float,
    stride_s: float,
    max_stretch: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Iterator[DanceSample]:
    """Windows of every sample; with `max_stretch` > 0 each one is randomly time-stretched.

    As in LDA, a stretched window is cut from a longer (or shorter) stretch of the source so
    that it still has exactly `length_s` seconds: source windows are laid out for the slowest
    factor so every window fits.
    """
    rng = rng or np.random.default_rng(0)
    for sample in samples:
        length = int(round(length_s * sample.fps))
        if max_stretch <= 0:
            yield from make_windows(sample, length_s, stride_s)
            continue
        longest = math.ceil(length / (1 - max_stretch)) + 1
        for start in window_starts(sample.num_frames, sample.fps, longest / sample.fps, stride_s):
            factor = float(rng.uniform(1 - max_stretch, 1 + max_stretch))
            source = window(sample, start, min(longest, math.ceil(length / factor) + 1))
            yield window(time_stretch(source, factor), 0, length)


# --- deterministic splits ---------------------------------------------------------------------

def split_for(name: str, fractions: Mapping[str, float] = DEFAULT_SPLIT_FRACTIONS, seed: int = 0) -> str:
    """The split a clip name falls in, from a hash of (seed, name): stable across machines,
    runs and dataset sizes, so adding clips never moves old ones between splits."""
    total = sum(fractions.values())
    if total <= 0 or any(f < 0 for f in fractions.values()):
        raise ArgumentError("split fractions", f"must be non-negative and not all zero, got {dict(fractions)}")
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * total
    for split, fraction in fractions.items():
        point -= fraction
        if point < 0:
            return split
    return list(fractions)[-1]


def deterministic_split(names: Iterable[str], fractions: Mapping[str, float] = DEFAULT_SPLIT_FRACTIONS,
                        seed: int = 0) -> dict[str, list[str]]:
    splits: dict[str, list[str]] = {split: [] for split in fractions}
    for name in sorted(names):
        splits[split_for(name, fractions, seed)].append(name)
    return splits
