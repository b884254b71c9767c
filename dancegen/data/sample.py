"""`DanceSample`: the one sample type every data source becomes (LRCM's decoupled triple).

Motion + audio (the file it comes from, where this sample starts in it, and optionally features
at the motion's frame rate) + the text `Annotation` + where it all came from. Windows, stretched
copies and fps conversions of a sample are samples too (see `data.windows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dancegen.data.annotations import Annotation
from dancegen.motion.motion import Motion


@dataclass
class DanceSample:
    name: str
    motion: Motion
    annotation: Annotation = field(default_factory=Annotation)
    audio_path: Path | None = None
    audio_start: float = 0.0  # seconds into `audio_path` where this sample's frame 0 plays
    audio_features: np.ndarray | None = None  # (T, D), row i aligned with motion frame i
    split: str | None = None  # "train", "val", "test" or None
    source: dict[str, Any] = field(default_factory=dict)  # provenance, JSON-serialisable

    def __post_init__(self) -> None:
        if self.audio_path is not None:
            self.audio_path = Path(self.audio_path)
        if self.audio_features is not None and len(self.audio_features) != self.motion.num_frames:
            raise ValueError(
                f"sample {self.name!r}: {len(self.audio_features)} audio feature frames for "
                f"{self.motion.num_frames} motion frames"
            )

    @property
    def fps(self) -> float:
        return self.motion.fps

    @property
    def num_frames(self) -> int:
        return self.motion.num_frames

    @property
    def duration(self) -> float:
        return self.motion.duration

    @property
    def genre(self) -> str | None:
        return self.annotation.genre

    def with_changes(self, **changes: Any) -> "DanceSample":
        changes.setdefault("source", dict(self.source))
        return replace(self, **changes)

    def __repr__(self) -> str:
        audio = self.audio_path.name if self.audio_path else "no audio"
        return (f"DanceSample({self.name!r}, {self.num_frames} frames @ {self.fps:g} fps, "
                f"genre={self.genre!r}, {audio} from {self.audio_start:.2f} s, split={self.split!r})")
