"""The audio feature cache: features keyed by audio content, extractor and parameters.

Built on the generic on-disk array cache in `dancegen.cache`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from dancegen.audio.io import Audio
from dancegen.cache import ArrayCache, cache_key, cache_root

__all__ = ["ArrayCache", "FeatureCache", "cache_key", "cache_root"]


class FeatureCache:
    """Audio features keyed by the decoded samples' sha256, the extractor and its parameters."""

    def __init__(self, directory: str | Path | None = None):
        self.arrays = ArrayCache("features", directory)

    @property
    def directory(self) -> Path:
        return self.arrays.directory

    def key(self, audio: Audio, extractor: str, params: dict[str, Any]) -> str:
        return cache_key(audio.fingerprint, extractor, params)

    def get_or_compute(
        self, audio: Audio, extractor: str, params: dict[str, Any], compute: Callable[[], np.ndarray]
    ) -> np.ndarray:
        return self.arrays.get_or_compute(self.key(audio, extractor, params), compute)
