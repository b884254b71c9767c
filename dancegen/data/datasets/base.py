"""What every data source has in common: a list of clips (motion file + audio file + genre +
split), loaded on demand into `DanceSample`s at one frame rate and cut into windows.

A subclass only says how to find its clips (`scan`); loading, fps conversion, annotations,
audio features and windowing are shared.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np

from dancegen.data.annotations import Annotation, GlobalStyle, read_annotation
from dancegen.data.genres import find_genre
from dancegen.data.sample import DanceSample
from dancegen.data.windows import convert_fps, iter_windows
from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion.motion import Motion

# Most dance models (EDGE, LODGE, GCDance, LDA) train at 30 fps.
DEFAULT_FPS = 30.0
AUDIO_EXTENSIONS = (".wav", ".ogg", ".flac", ".mp3")
SPLITS = ("train", "val", "test")
# An annotation sidecar sits beside its motion: CLIP.annotation.json or CLIP.annotation.txt.
ANNOTATION_SUFFIXES = (".annotation.json", ".annotation.txt")


@dataclass(frozen=True)
class Clip:
    name: str
    motion_path: Path
    audio_path: Path | None
    genre: str | None = None  # canonical key (see data.genres)
    split: str | None = None
    annotation_path: Path | None = None
    extra: tuple[tuple[str, Any], ...] = ()  # source-specific facts for provenance


class MissingPairError(InputFileError):
    """A motion file whose music is not where the dataset's layout says it should be."""


def find_audio(stem: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        for extension in AUDIO_EXTENSIONS:
            candidate = folder / f"{stem}{extension}"
            if candidate.is_file():
                return candidate
    return None


def find_annotation(motion_path: Path) -> Path | None:
    for suffix in ANNOTATION_SUFFIXES:
        candidate = motion_path.with_name(motion_path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def read_name_list(path: Path) -> list[str]:
    """One name per line; blank lines and `#` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class DanceDataset(ABC):
    """A data source on disk. `clips` is filled by the subclass's `scan()`."""

    kind: ClassVar[str] = "dataset"

    def __init__(
        self,
        root: str | Path,
        fps: float = DEFAULT_FPS,
        feature_kind: str | None = None,
        to_smpl: bool = False,
        skip_missing: bool = False,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputFileError(self.root, "dataset folder not found")
        if fps <= 0:
            raise ArgumentError("--fps", f"must be positive, got {fps}")
        self.fps = float(fps)
        self.feature_kind = feature_kind
        self.to_smpl = to_smpl
        self.skip_missing = skip_missing
        self.skipped: list[tuple[str, str]] = []  # (clip, why) for clips left out with skip_missing
        self.clips: list[Clip] = self.scan()
        if not self.clips and not self.skipped:
            raise InputFileError(self.root, f"no {self.kind} clips found", self.layout_hint())

    # --- for subclasses -----------------------------------------------------------------

    @abstractmethod
    def scan(self) -> list[Clip]:
        """Find the clips under `self.root` (each source has its own layout)."""

    def layout_hint(self) -> str:
        return ""

    def load_motion(self, clip: Clip) -> Motion:
        from dancegen.motion.io import load_motion

        return load_motion(clip.motion_path)

    def missing_pair(self, motion_path: Path, expected: str) -> None:
        """A motion without its music: an error, or a note in `skipped` with skip_missing."""
        if not self.skip_missing:
            raise MissingPairError(motion_path, "no music for this motion", f"expected {expected}")
        self.skipped.append((motion_path.name, f"no music (expected {expected})"))

    # --- clips --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.clips)

    def clip(self, name: str) -> Clip:
        for clip in self.clips:
            if clip.name == name:
                return clip
        raise ArgumentError("clip", f"{name!r} is not in {self.root}")

    def select(self, split: str | None = None) -> list[Clip]:
        if split is not None and split not in SPLITS:
            raise ArgumentError("--split", f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
        return [c for c in self.clips if split is None or c.split == split]

    # --- loading ------------------------------------------------------------------------

    def load(self, clip: Clip | str) -> DanceSample:
        """One whole clip as a sample at the dataset's frame rate."""
        clip = self.clip(clip) if isinstance(clip, str) else clip
        motion = self.load_motion(clip)
        if self.to_smpl and motion.skeleton.name != "smpl24":
            from dancegen.motion.retarget import retarget

            motion = retarget(motion).motion
        sample = DanceSample(
            name=clip.name,
            motion=motion,
            annotation=self.load_annotation(clip),
            audio_path=clip.audio_path,
            split=clip.split,
            source={"dataset": self.kind, "motion": str(clip.motion_path),
                    "audio": None if clip.audio_path is None else str(clip.audio_path),
                    "source_fps": motion.fps, **dict(clip.extra)},
        )
        sample = convert_fps(sample, self.fps)
        if self.feature_kind is not None and clip.audio_path is not None:
            sample = self.attach_features(sample)
        return sample

    def load_annotation(self, clip: Clip) -> Annotation:
        if clip.annotation_path is None:
            return Annotation(GlobalStyle(genre=clip.genre))
        from dancegen.audio.io import audio_duration

        duration = None if clip.audio_path is None else audio_duration(clip.audio_path)
        annotation = read_annotation(clip.annotation_path, duration)
        # A sidecar may spell the genre any way (`Hip-hop`, `gMH`): keep the canonical key.
        genre = (find_genre(annotation.genre) if annotation.genre else None) or annotation.genre or clip.genre
        if genre != annotation.genre:
            annotation = replace(annotation, style=replace(annotation.style, genre=genre))
        return annotation

    def attach_features(self, sample: DanceSample) -> DanceSample:
        """Audio features at the motion's frame rate; motion and features are cut to the shorter."""
        from dancegen.audio import load_audio
        from dancegen.audio.features import extract_features

        audio = load_audio(sample.audio_path)
        features = extract_features(audio, self.feature_kind, fps=self.fps)
        count = min(len(features), sample.num_frames)
        return sample.with_changes(
            motion=sample.motion.slice_frames(0, count),
            audio_features=np.asarray(features[:count], dtype=np.float32),
            annotation=sample.annotation.window(0.0, count / self.fps),
        )

    def samples(self, split: str | None = None) -> Iterator[DanceSample]:
        for clip in self.select(split):
            yield self.load(clip)

    def windows(self, split: str | None = None, length_s: float = 5.0, stride_s: float = 0.5,
                max_stretch: float = 0.0, seed: int = 0) -> Iterator[DanceSample]:
        """Windows of `length_s` seconds every `stride_s`, optionally randomly time-stretched."""
        rng = np.random.default_rng(seed)
        yield from iter_windows(self.samples(split), length_s, stride_s, max_stretch, rng)

    # --- reporting ----------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "root": str(self.root),
            "clips": len(self.clips),
            "splits": dict(sorted(Counter(c.split or "none" for c in self.clips).items())),
            "genres": dict(sorted(Counter(c.genre or "unknown" for c in self.clips).items())),
            "with_annotation": sum(c.annotation_path is not None for c in self.clips),
            "skipped": [f"{name}: {why}" for name, why in self.skipped],
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, {len(self.clips)} clips @ {self.fps:g} fps)"


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(path, f"cannot read JSON: {error}") from None
