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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.errors import ArgumentError
from dancegen.motion.motion import Motion
from dancegen.pipelines.request import GenerationRequest

if TYPE_CHECKING:
    from dancegen.sampling.beat_sync import BeatSyncConfig
    from dancegen.sampling.editing import PoseConstraints


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
        sync = self.beat_sync(request) if request.beat_sync else None
        motion = self.generate(request if sync is None else sync.request, progress=progress)
        if sync is not None:
            motion = sync.finish(motion, request)
        if request.annotation is not None:  # the viewer shows each span at its time
            motion.metadata["annotation"] = request.annotation.to_dict()
        return lock_planted_feet(motion, request) if request.foot_lock else motion

    @abstractmethod
    def generate(self, request: GenerationRequest, progress: bool = False) -> Motion:
        """The family's generation for a checked request."""

    # --- steps every family shares (they read `config.music`, `music_normalizer`, `skeleton`,
    # `device` and, where the family has one, `config.sampling.inbetween`) ------------------

    def music_features(self, request: GenerationRequest):
        """Normalised (T, M) music features of the span as a tensor, T = `request.frames`."""
        import torch

        if isinstance(request.music, Path):
            raw = self.audio_features(request.music, request.start, request.seconds)
        else:
            first = int(round(request.start * self.fps))
            raw = np.asarray(request.music, dtype=np.float32)[first : first + request.frames]
        raw = raw[: request.frames]
        if raw.shape[1] != self.music_columns:
            raise ArgumentError("music", f"has {raw.shape[1]} feature columns; this model takes {self.music_columns}")
        normalised = self.music_normalizer.transform(raw.astype(np.float64)).astype(np.float32)
        return torch.from_numpy(normalised).to(self.device)

    @property
    def music_columns(self) -> int:
        return self.config.music.dim

    def audio_features(self, path: Path, start: float, seconds: float | None) -> np.ndarray:
        """(T, M) raw features of the song's span, of the kind the model was trained on."""
        from dancegen.audio import load_audio
        from dancegen.audio.features import extract_features

        audio = load_audio(path, start=start, end=None if seconds is None else start + seconds)
        return np.asarray(extract_features(audio, self.config.music.features, fps=self.fps), np.float32)

    def edit_constraints(self, frames: int, request: GenerationRequest) -> "PoseConstraints | None":
        """Locked joints from a reference motion and keyframes, as pinned poses."""
        from dancegen.sampling.editing import PoseConstraints, resolve_joints

        constraints = None
        if request.reference is not None:
            reference = self.reference_motion(request.reference)
            constraints = PoseConstraints.from_reference(reference, resolve_joints(request.lock_joints, self.skeleton), frames)
        if request.keyframes is not None:
            inbetween = getattr(self.config.sampling, "inbetween", None)
            pinned = PoseConstraints.from_keyframes(request.keyframes, self.skeleton, frames, self.fps, inbetween=inbetween)
            constraints = pinned if constraints is None else constraints.merged(pinned)
        return constraints

    def beat_sync(self, request: GenerationRequest) -> "BeatSync":
        """The request to sample so that the dance follows the song's tempo, and how to put
        its accents on the beats afterwards (`sampling.beat_sync`)."""
        from dancegen.sampling.beat_sync import (
            BeatSyncConfig,
            stretch_features,
            tempo_rate,
        )

        family_config = getattr(self, "config", None)
        config = getattr(getattr(family_config, "sampling", None), "beat_sync", None) or BeatSyncConfig()
        if getattr(family_config, "music", None) is None:  # e.g. a plugin family with its own music input
            return BeatSync(request, config, skipped=f"the {self.header.family} pipeline takes no music features to stretch")
        if not isinstance(request.music, Path):
            return BeatSync(request, config, skipped="the music is given as features: no audio to find beats in")
        if request.keyframes is not None or request.reference is not None:
            return BeatSync(request, config, skipped="--keyframes and --lock-joints fix the timing")
        beats = self.song_beats(request)
        if len(beats) < config.min_beats:
            return BeatSync(request, config, skipped=f"only {len(beats)} beats found in the span: no steady beat")
        period = float(np.median(np.diff(beats)))
        rate = tempo_rate(period, config)
        features = stretch_features(self.audio_features(request.music, request.start, request.seconds), rate)
        seconds = len(features) / self.fps
        stretched = replace(
            request, music=features, start=0.0, seconds=seconds, music_seconds=seconds, frames=len(features),
            annotation=None if request.annotation is None else request.annotation.stretched(rate),
        )
        return BeatSync(stretched, config, beats=beats, rate=rate, bpm=60.0 / period, frames=request.frames)

    def song_beats(self, request: GenerationRequest) -> np.ndarray:
        """Beat times (s from the span's start): the request's (song time), or detected in the span."""
        from dancegen.audio.beats import detect_beats_in_file, load_beats_json

        end = request.start + request.seconds if request.seconds is not None else request.music_seconds
        if request.beats is None:
            return np.asarray(detect_beats_in_file(request.music, request.start, end).info.beat_times, np.float64)
        given = load_beats_json(request.beats).beat_times if isinstance(request.beats, Path) else request.beats
        given = np.asarray(given, np.float64)
        if given.ndim != 1 or not np.isfinite(given).all():
            raise ArgumentError("--beats", "must be a list of finite beat times in seconds")
        return given[(given >= request.start) & (given <= end)] - request.start

    def reference_motion(self, reference: Motion) -> Motion:
        """The reference on the model's skeleton (retargeted from another SMPL-24-mappable rig)
        at the model's frame rate."""
        if not reference.skeleton.same_topology(self.skeleton):
            if self.skeleton.name != "smpl24":
                raise ArgumentError(
                    "--reference", f"is on {reference.skeleton.name!r}; this model needs {self.skeleton.name!r} motion"
                )
            from dancegen.motion.retarget import retarget

            reference = retarget(reference, self.skeleton).motion
        return reference.resample(self.fps)


@dataclass
class BeatSync:
    """Beat sync for one request: the (stretched) `request` the family samples, and `finish`,
    which plays the sampled motion back on the song's clock with its beats on the music's."""

    request: GenerationRequest
    config: "BeatSyncConfig"
    beats: np.ndarray | None = None
    rate: float = 1.0
    bpm: float = float("nan")
    frames: int | None = None
    skipped: str | None = None

    def finish(self, motion: Motion, original: GenerationRequest) -> Motion:
        from dancegen.sampling.beat_sync import retime

        if self.skipped is not None:
            motion.metadata["beat_sync"] = {"skipped": self.skipped}
            return motion
        motion, report = retime(motion, self.beats, self.frames, self.rate, self.bpm, self.config)
        motion.metadata.update(music=str(original.music), start=original.start, beat_sync=report.summary())
        return motion


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
