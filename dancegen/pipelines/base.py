"""The pipeline protocol every model family implements.

    pipeline = SomePipeline.from_bundle(load_bundle("model.pt"))
    motion = pipeline("song.wav", prompt="smooth salsa", seconds=30, seed=0)

`__call__` turns its arguments into a `GenerationRequest`, checks it against the bundle header
(`GenerationRequest.checked`) and hands it to the family's `generate`, which reads top to
bottom: music → conditions → sampling → decoding → `Motion`. Pipelines write no files and
import nothing from training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.motion.motion import Motion
from dancegen.pipelines.request import GenerationRequest


class DancePipeline(ABC):
    """Base of the families' pipelines: `from_bundle`, `__call__(request) -> Motion`."""

    header: BundleHeader

    @classmethod
    @abstractmethod
    def from_bundle(cls, bundle: ModelBundle, device: str = "cpu") -> "DancePipeline":
        """Build the networks from the bundle's components and move them to `device`."""

    @classmethod
    def from_pretrained(cls, model: str | Path | None = None, device: str = "cpu") -> "DancePipeline":
        """A shipped model by name, or a bundle file (`dancegen.catalog.resolve_model`)."""
        from dancegen.bundle import load_bundle
        from dancegen.catalog import resolve_model

        return cls.from_bundle(load_bundle(resolve_model(model).path, map_location=device), device)

    from_checkpoint = from_pretrained

    @property
    def fps(self) -> float:
        return self.header.fps

    def __call__(
        self, music: str | Path | np.ndarray | GenerationRequest, *, progress: bool = False, **options: Any
    ) -> Motion:
        """One motion for the requested span of `music` (an audio file, raw (T, M) features at
        the model's fps, or a ready `GenerationRequest`); `options` are its fields."""
        request = music if isinstance(music, GenerationRequest) else GenerationRequest(music, **options)
        request = request.checked(self.header)
        motion = self.generate(request, progress=progress)
        if request.annotation is not None:  # the viewer shows each span at its time
            motion.metadata["annotation"] = request.annotation.to_dict()
        return lock_planted_feet(motion, request) if request.foot_lock else motion

    @abstractmethod
    def generate(self, request: GenerationRequest, progress: bool = False) -> Motion:
        """The family's generation for a checked request."""


def lock_planted_feet(motion: Motion, request: GenerationRequest) -> Motion:
    """The foot clean-up (`motion.footlock`), for every family, unless the user pinned the legs
    or the root (`lock_joints`, `keyframes`): those stay exactly as asked. Its report goes to
    `motion.metadata["foot_lock"]`."""
    from dancegen.motion.footlock import lock_feet
    from dancegen.sampling.editing import body_part_joints, resolve_joints

    legs = set(body_part_joints(motion.skeleton, "lower_body")) | {0}
    pinned = set(resolve_joints(request.lock_joints, motion.skeleton)) if request.lock_joints is not None else set()
    for keyframe in request.keyframes or ():
        pinned |= set(keyframe.rotations) | ({0} if keyframe.root is not None else set())
    if pinned & legs:
        summary = {"skipped": "the legs or the root are pinned by --lock-joints or --keyframes"}
    else:
        motion, report = lock_feet(motion)
        summary = report.summary()
    motion.metadata["foot_lock"] = summary
    return motion
