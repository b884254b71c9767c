"""Editing constraints: locked joints from a reference motion, and keyframes (in-betweening).

Constraints are stated on poses (`PoseConstraints`: which joints' local rotations and which
frames' root positions are pinned, in float64) and turned into an inpainting constraint on the
`smpl6d` feature layout (4 foot contacts, root xyz, then 6D per joint; EDGE/FineDance order):
`features()` gives the hard pins, `blend_features(fps)` the soft mask that also pulls each
pin's neighbourhood (`sampling.inbetween`). After sampling, `PoseConstraints.apply` writes the
pinned values back into the decoded motion, so locked joints and keyframes hold exactly, not
just to float32 precision, and fades the remaining correction in over the frames around each
pin, so a keyframe is reached, not jumped to.

Locking a joint pins its local rotation; locking the root joint also pins the root position
(so `lower_body` keeps the legs where the reference had them). Foot contacts are never pinned:
they are labels the model predicts, not pose.

Keyframe files are JSON: {"keyframes": [{"time": 1.5, "root": [x, y, z],
"rotations": {"left_elbow": [qx, qy, qz, qw], "head": [rx, ry, rz]}}, ...]}. `time` is in
seconds from the start of the generated span; a rotation is a unit quaternion (x, y, z, w) or an
axis-angle vector in radians; `root` (metres) and `rotations` are each optional, so a keyframe
may pin a whole pose or any part of one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion.codecs.smpl6d import (
    ROTATION_CHANNELS,
    root_channels,
    rotation_channels,
    smpl6d_dim,
)
from dancegen.motion.motion import Motion
from dancegen.sampling.inbetween import (
    InbetweenConfig,
    pin_reach,
    spread_offsets,
    spread_rotations,
)
from dancegen.skeleton.rotations import (
    axis_angle_to_quat,
    matrix_to_rot6d,
    quat_normalize,
    quat_to_matrix,
)
from dancegen.skeleton.smpl import SMPL_LOWER_BODY, SMPL_UPPER_BODY
from dancegen.skeleton.smplx import SMPLX_BODY_PARTS, SMPLX_HANDS
from dancegen.skeleton.tree import Skeleton

BODY_PARTS = ("upper_body", "lower_body", "hands", "left_hand", "right_hand")
WRISTS = ("left_wrist", "right_wrist")


# --- which joints --------------------------------------------------------------------------


def hand_joints(skeleton: Skeleton) -> list[int]:
    """Everything below the wrists: SMPL-24's two hand joints, SMPL-X's 30 finger joints."""
    joints: set[int] = set()
    for wrist in WRISTS:
        if wrist in skeleton.joint_names:
            joints.update(skeleton.descendants(skeleton.index(wrist))[1:])
    return sorted(joints)


def body_part_joints(skeleton: Skeleton, part: str) -> list[int]:
    """Joint indices of a body part: the skeleton module's groups (SMPL-X's for the 52-joint
    layout, where `upper_body` stops at the wrists), `hands` = everything below the wrists."""
    names = set(skeleton.joint_names)
    groups = SMPLX_BODY_PARTS if set(SMPLX_HANDS) <= names else {"lower_body": SMPL_LOWER_BODY, "upper_body": SMPL_UPPER_BODY}
    if part == "hands":
        return hand_joints(skeleton)
    if part not in groups:
        raise KeyError(part)
    return sorted(skeleton.index(n) for n in groups[part] if n in names)


def resolve_joints(spec: str | Sequence[str], skeleton: Skeleton, argument: str = "--lock-joints") -> list[int]:
    """`upper_body`, `lower_body`, `hands`, or a comma-separated list of joint and part names."""
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    joints: set[int] = set()
    for item in filter(None, items):
        if item in skeleton.joint_names:
            found = [skeleton.index(item)]
        elif item in BODY_PARTS:
            try:
                found = body_part_joints(skeleton, item)
            except KeyError:
                found = []
        else:
            raise ArgumentError(
                argument,
                f"{item!r} is neither a body part nor a joint of {skeleton.name}",
                f"use {', '.join(BODY_PARTS)} or joint names such as {', '.join(skeleton.joint_names[:3])}",
            )
        if not found:
            raise ArgumentError(argument, f"{item!r} names no joints of {skeleton.name}")
        joints.update(found)
    if not joints:
        raise ArgumentError(argument, "names no joints")
    return sorted(joints)


# --- pose constraints -----------------------------------------------------------------------


@dataclass
class PoseConstraints:
    """Pinned local rotations (T, J) and root positions (T,) of a motion to be generated, and
    how far each pin reaches into the frames around it (`inbetween`)."""

    skeleton: Skeleton
    rotation_mask: np.ndarray  # (T, J) bool
    rotations: np.ndarray  # (T, J, 4) unit quaternions (x, y, z, w) where pinned
    root_mask: np.ndarray  # (T,) bool
    root: np.ndarray  # (T, 3) metres where pinned
    sources: list[str] = field(default_factory=list)
    inbetween: InbetweenConfig = field(default_factory=InbetweenConfig)

    @classmethod
    def empty(cls, skeleton: Skeleton, num_frames: int) -> "PoseConstraints":
        rotations = np.zeros((num_frames, skeleton.num_joints, 4))
        rotations[..., 3] = 1.0
        return cls(
            skeleton,
            np.zeros((num_frames, skeleton.num_joints), dtype=bool),
            rotations,
            np.zeros(num_frames, dtype=bool),
            np.zeros((num_frames, 3)),
        )

    @property
    def num_frames(self) -> int:
        return self.rotation_mask.shape[0]

    def any(self) -> bool:
        return bool(self.rotation_mask.any() or self.root_mask.any())

    @classmethod
    def from_reference(cls, reference: Motion, joints: Sequence[int], num_frames: int) -> "PoseConstraints":
        """Pin `joints` to the reference for the frames it covers (from frame 0)."""
        constraints = cls.empty(reference.skeleton, num_frames)
        covered = min(num_frames, reference.num_frames)
        joints = list(joints)
        constraints.rotation_mask[:covered, joints] = True
        constraints.rotations[:covered, joints] = reference.rotations[:covered, joints]
        if 0 in joints:
            constraints.root_mask[:covered] = True
            constraints.root[:covered] = reference.root_translation[:covered]
        constraints.sources.append(f"reference joints {','.join(reference.skeleton.joint_names[j] for j in joints)}")
        return constraints

    @classmethod
    def from_keyframes(
        cls,
        keyframes: Sequence["Keyframe"],
        skeleton: Skeleton,
        num_frames: int,
        fps: float,
        inbetween: InbetweenConfig | None = None,
    ) -> "PoseConstraints":
        check_keyframe_times(keyframes, num_frames, fps)
        constraints = cls.empty(skeleton, num_frames)
        if inbetween is not None:
            constraints.inbetween = inbetween
        for keyframe in keyframes:
            frame = int(round(keyframe.time * fps))
            for joint, quaternion in keyframe.rotations.items():
                constraints.rotation_mask[frame, joint] = True
                constraints.rotations[frame, joint] = quaternion
            if keyframe.root is not None:
                constraints.root_mask[frame] = True
                constraints.root[frame] = keyframe.root
        constraints.sources.append(f"{len(keyframes)} keyframes")
        return constraints

    def merged(self, other: "PoseConstraints") -> "PoseConstraints":
        """Both sets of pins; where both pin a value, `other` wins (its in-betweening too)."""
        merged = PoseConstraints(
            self.skeleton,
            self.rotation_mask | other.rotation_mask,
            np.where(other.rotation_mask[..., None], other.rotations, self.rotations),
            self.root_mask | other.root_mask,
            np.where(other.root_mask[:, None], other.root, self.root),
            self.sources + other.sources,
            other.inbetween,
        )
        return merged

    def features(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(known, mask), both (T, D), on the smpl6d layout in unnormalised units: the pins only."""
        return self._layout(self._six_d(), self.rotation_mask, self.root, self.root_mask)

    def blend_features(self, fps: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(known, weights), both (T, D), for inpainting with a soft temporal mask.

        Every pinned value is extended over its neighbourhood (`inbetween.sampling_radius_seconds`)
        with a weight that falls off from 1 on the pin (`inbetween.falloff`; between two close
        pins the known value moves from one to the other): the model sees the pose coming
        instead of one frame it can ignore. Pins on every frame (locked joints) keep weight 1
        there, as in `features()`.
        """
        radius = self.inbetween.sampling_radius(fps)
        rotations, root = pin_reach(self.rotation_mask, radius), pin_reach(self.root_mask, radius)
        return self._layout(rotations.blend(self._six_d()), rotations.amount, root.blend(self.root), root.amount)

    def _six_d(self) -> np.ndarray:
        return matrix_to_rot6d(quat_to_matrix(torch.from_numpy(self.rotations))).numpy()  # (T, J, 6)

    @staticmethod
    def _layout(
        six_d: np.ndarray, rotation_mask: np.ndarray, root: np.ndarray, root_mask: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pose values and their masks (bool) or weights (float) on the smpl6d channels."""
        frames, joints = rotation_mask.shape
        dim = smpl6d_dim(joints)
        dtype = torch.bool if rotation_mask.dtype == bool else torch.float32
        known = torch.zeros(frames, dim, dtype=torch.float64)
        mask = torch.zeros(frames, dim, dtype=dtype)
        rotation_block = rotation_channels(joints)
        known[:, rotation_block] = torch.from_numpy(six_d).reshape(frames, -1)
        mask[:, rotation_block] = torch.from_numpy(rotation_mask).to(dtype).repeat_interleave(ROTATION_CHANNELS, dim=1)
        known[:, root_channels()] = torch.from_numpy(root)
        mask[:, root_channels()] = torch.from_numpy(root_mask).to(dtype)[:, None]
        return known.float(), mask

    def apply(self, motion: Motion) -> Motion:
        """Write the pinned values into a generated motion exactly, and fade what the sampler
        left to correct into the frames around each pin (`inbetween.spread_seconds`, at the
        motion's frame rate) so that nothing jumps. Unpinned joints are left as generated."""
        if motion.num_frames != self.num_frames or not motion.skeleton.same_topology(self.skeleton):
            raise ValueError("constraints and motion differ in length or skeleton")
        radius = self.inbetween.spread_radius(motion.fps)
        rotations = spread_rotations(motion.rotations, self.rotations, self.rotation_mask, radius)
        root = spread_offsets(motion.root_translation, self.root, self.root_mask, radius)
        return motion.copy(rotations=rotations, root_translation=root)


# --- keyframe files -------------------------------------------------------------------------


@dataclass
class Keyframe:
    time: float
    rotations: dict[int, np.ndarray]  # joint index -> unit quaternion (x, y, z, w)
    root: np.ndarray | None = None


def check_keyframe_times(keyframes: Sequence[Keyframe], num_frames: int, fps: float) -> None:
    """Every keyframe falls on a frame of the generated span."""
    for keyframe in keyframes:
        if not (math.isfinite(keyframe.time) and 0 <= int(round(keyframe.time * fps)) < num_frames):
            raise ArgumentError(
                "--keyframes",
                f"keyframe at {keyframe.time:g} s is outside the generated {num_frames / fps:g} s",
                "times count from the start of the generated span",
            )


def _vector(path: Path, where: str, value, lengths: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64) if isinstance(value, list) else None
    except (TypeError, ValueError, OverflowError):  # strings, nested lists of ragged lengths
        array = None
    if array is None or array.ndim != 1 or array.shape[0] not in lengths or not np.isfinite(array).all():
        raise InputFileError(path, f"{where} must be a list of {' or '.join(map(str, lengths))} finite numbers")
    return array


def load_keyframes(path: str | Path, skeleton: Skeleton) -> list[Keyframe]:
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "keyframe file not found")
    from dancegen.limits import load_json_file

    data = load_json_file(path, "keyframe file")  # no NaN, no numbers past float range, bounded
    entries = data.get("keyframes") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InputFileError(path, 'expected {"keyframes": [{"time": seconds, ...}, ...]} with at least one keyframe')
    keyframes = []
    for number, entry in enumerate(entries):
        where = f"keyframe {number}"
        time = entry.get("time") if isinstance(entry, dict) else None
        if not isinstance(time, (int, float)) or isinstance(time, bool) or not math.isfinite(time) or time < 0:
            raise InputFileError(path, f"{where} needs a finite, non-negative 'time' in seconds")
        unknown = set(entry) - {"time", "root", "rotations"}
        if unknown:
            raise InputFileError(path, f"{where} has unknown keys {', '.join(sorted(unknown))}", "use time, root, rotations")
        rotations: dict[int, np.ndarray] = {}
        given = entry.get("rotations", {})
        if not isinstance(given, dict):
            raise InputFileError(path, f"{where}: 'rotations' must map joint names to rotations")
        for name, value in given.items():
            if name not in skeleton.joint_names:
                raise InputFileError(path, f"{where}: {skeleton.name} has no joint {name!r}")
            vector = _vector(path, f"{where} rotation of {name}", value, (3, 4))
            quaternion = axis_angle_to_quat(torch.from_numpy(vector)) if vector.shape[0] == 3 else torch.from_numpy(vector)
            if vector.shape[0] == 4 and np.linalg.norm(vector) < 1e-6:
                raise InputFileError(path, f"{where} rotation of {name} is a zero quaternion")
            rotations[skeleton.index(name)] = quat_normalize(quaternion).numpy()
        root = _vector(path, f"{where} root", entry["root"], (3,)) if "root" in entry else None
        if not rotations and root is None:
            raise InputFileError(path, f"{where} pins nothing", "give 'root' and/or 'rotations'")
        keyframes.append(Keyframe(float(entry["time"]), rotations, root))
    return keyframes
