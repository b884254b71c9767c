"""The data section every family's config shares: where the clips are and how they are cut.

A family's config holds `data: DataConfig` (or a subclass adding its own keys), so recipes and
the CLI set `data.root`, `data.split`, ... the same way for every family.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from dancegen.config import StrictConfig


class DataConfig(StrictConfig):
    root: Path | None = None
    kind: str = "auto"  # auto, aistpp, finedance, motorica, folder
    vocabulary: str = "all"  # genre vocabulary for the prompt table and the genre head
    fps: float = Field(30.0, gt=0)
    window_seconds: float = Field(4.0, gt=0)
    stride_seconds: float = Field(0.5, gt=0)
    split: str | None = "train"
    normalizer: Literal["meanstd", "minmax"] = "minmax"  # EDGE: MinMaxScaler to [-1, 1]
    text_encoder: str = "minilm"
    # Tempo augmentation: every clip is also trained at these playback speeds (motion and music
    # resampled together), so the model sees each move at several tempi. 1.0 = as paired.
    tempo_stretch: list[float] = [1.0]

    @model_validator(mode="after")
    def _stretches_are_playback_speeds(self) -> "DataConfig":
        if not self.tempo_stretch or any(not 0.5 <= factor <= 2.0 for factor in self.tempo_stretch):
            raise ValueError("data.tempo_stretch: give playback speeds between 0.5 and 2.0, e.g. [0.85, 1.0, 1.18]")
        return self

    @property
    def window_frames(self) -> int:
        return int(round(self.window_seconds * self.fps))
