"""The `MotionCodec` interface: canonical `Motion` <-> model feature vectors.

A codec is built for one skeleton (`get_codec(name, skeleton)`) and maps a motion on that
skeleton to a float32 matrix (T, dim), one row per frame, and back:

- `encode(motion) -> np.ndarray (T, dim) float32`;
- `decode(features, fps, skeleton=None) -> Motion`, the inverse of `encode` (to float32);
- `decode_positions_torch(features (..., T, dim)) -> joint positions (..., T, J, 3)`,
  differentiable, for FK losses on model predictions; `decode_positions` is its numpy twin;
- `groups`: named channel ranges (`contacts`, `rotations`, ...) for losses and inspection.

Codecs that store the root trajectory as velocities (`TrajectoryCodec`: expmap, hml263)
integrate it on decoding from a start pose, `PlanarPose(x, z, yaw)` of frame 0. The default is
the origin facing +z, the frame generative models work in; `trajectory_start(motion)` returns
the pose that makes `decode(encode(motion), start=...)` reproduce the motion exactly.

Shared trajectory convention: headings are yaw angles about +y, 0 facing +z. A trajectory
step from frame t-1 to t is the yaw change wrapped to [-pi, pi) and the planar displacement
turned into frame t's heading frame; integration inverts exactly that.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from dancegen.errors import ArgumentError
from dancegen.motion.contacts import foot_contacts
from dancegen.motion.motion import Motion
from dancegen.skeleton.tree import Skeleton

Tensor = torch.Tensor


class PlanarPose(NamedTuple):
    """Where a trajectory starts: root x, z on the floor (metres) and heading yaw (radians)."""

    x: float = 0.0
    z: float = 0.0
    yaw: float = 0.0


# --- planar trajectory helpers (torch, batched over leading dimensions) -------------------

def wrap_angle(angle: Tensor) -> Tensor:
    """Wrap radians into [-pi, pi)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def rotate_about_y(vectors: Tensor, yaw: Tensor) -> Tensor:
    """Rotate (..., 3) vectors, or (..., 2) floor-plane (x, z) pairs, by `yaw` about +y.

    `yaw` broadcasts against `vectors[..., 0]`. Yaw 0 faces +z; yaw pi/2 turns +z into +x.
    """
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    x, z = vectors[..., 0], vectors[..., -1]
    turned_x, turned_z = cos * x + sin * z, cos * z - sin * x
    if vectors.shape[-1] == 2:
        return torch.stack([turned_x, turned_z], dim=-1)
    return torch.stack([turned_x, vectors[..., 1].expand_as(turned_x), turned_z], dim=-1)


def planar_steps(yaw: Tensor, floor_xz: Tensor) -> tuple[Tensor, Tensor]:
    """Per-step yaw change (T-1,) and displacement in the arrival frame's heading (T-1, 2)."""
    yaw_step = wrap_angle(yaw[1:] - yaw[:-1])
    body_step = rotate_about_y(floor_xz[1:] - floor_xz[:-1], -yaw[1:])
    return yaw_step, body_step


def integrate_planar(yaw_step: Tensor, body_step: Tensor, start: PlanarPose | None = None) -> tuple[Tensor, Tensor]:
    """Invert `planar_steps`: yaw (..., T) and floor position (..., T, 2) from T-1 steps."""
    start = start or PlanarPose()
    # Prepend a zero step (frame 0 sits at the start) and sum; F.pad copes with zero steps.
    yaw = start.yaw + torch.cumsum(F.pad(yaw_step, (1, 0)), dim=-1)
    world_step = rotate_about_y(body_step, yaw[..., 1:])
    origin = torch.tensor([start.x, start.z], dtype=body_step.dtype, device=body_step.device)
    floor_xz = origin + torch.cumsum(F.pad(world_step, (0, 0, 1, 0)), dim=-2)
    return yaw, floor_xz


def pad_steps(steps: Tensor, frames: int, at_end: bool) -> Tensor:
    """Give T-1 per-step values T rows by repeating the last (`at_end`) or first step.

    The repeated row is padding the decoder never reads; repeating keeps the channel's
    statistics free of an artificial zero. A single frame gets one zero row.
    """
    if frames == 1:
        return torch.zeros((1, *steps.shape[1:]), dtype=steps.dtype)
    return torch.cat([steps, steps[-1:]]) if at_end else torch.cat([steps[:1], steps])


def layout(**sizes: int) -> dict[str, slice]:
    """Consecutive named channel ranges from their sizes, in order."""
    groups, start = {}, 0
    for group, size in sizes.items():
        groups[group] = slice(start, start + size)
        start += size
    return groups


# --- the interface -----------------------------------------------------------------------

class MotionCodec(ABC):
    """Encode a `Motion` on `skeleton` into (T, dim) float32 features and decode them back."""

    name: ClassVar[str]

    def __init__(self, skeleton: Skeleton):
        self.skeleton = skeleton
        self.offsets = torch.from_numpy(skeleton.offsets)
        self.groups: dict[str, slice] = self._layout()
        self.dim: int = max(group.stop for group in self.groups.values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.skeleton.name!r}, dim={self.dim})"

    @abstractmethod
    def _layout(self) -> dict[str, slice]:
        """Named channel ranges, in order, covering 0..dim."""

    @abstractmethod
    def encode(self, motion: Motion) -> np.ndarray:
        """Features (T, dim) float32 of `motion`, whose skeleton must match the codec's."""

    @abstractmethod
    def decode(self, features: np.ndarray, fps: float, skeleton: Skeleton | None = None) -> Motion:
        """The motion (on `skeleton`, default the codec's) that `features` (T, dim) encode."""

    @abstractmethod
    def decode_positions_torch(self, features: Tensor) -> Tensor:
        """Differentiable joint positions (..., T, J, 3) from features (..., T, dim)."""

    def decode_positions(self, features: np.ndarray, **options: Any) -> np.ndarray:
        """Joint positions (T, J, 3) float64 from features (T, dim)."""
        return self.decode_positions_torch(torch.from_numpy(self.check_features(features)), **options).numpy()

    # --- checks shared by the codecs ------------------------------------------------

    def check_motion(self, motion: Motion) -> None:
        if not motion.skeleton.same_topology(self.skeleton):
            raise ArgumentError(
                "motion",
                f"skeleton {motion.skeleton.name!r} ({motion.num_joints} joints) does not match the "
                f"{self.name} codec's {self.skeleton.name!r} ({self.skeleton.num_joints} joints)",
                "retarget the motion first (dancegen.motion.retarget)",
            )

    def check_features(self, features: np.ndarray | Tensor) -> np.ndarray:
        """Features as float64 (T, dim), or an `ArgumentError` naming what is wrong."""
        if isinstance(features, torch.Tensor):
            features = features.detach().cpu().numpy()
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.dim or features.shape[0] == 0:
            raise ArgumentError(
                "features", f"have shape {features.shape}; the {self.name} codec expects (T, {self.dim}) with T >= 1"
            )
        if not np.isfinite(features).all():
            raise ArgumentError("features", "contain NaN or infinite values")
        return features

    def check_feature_tensor(self, features: Tensor) -> Tensor:
        if features.ndim < 2 or features.shape[-1] != self.dim:
            raise ArgumentError(
                "features", f"have shape {tuple(features.shape)}; the {self.name} codec expects (..., T, {self.dim})"
            )
        return features

    def decode_skeleton(self, skeleton: Skeleton | None) -> Skeleton:
        if skeleton is None:
            return self.skeleton
        if not skeleton.same_topology(self.skeleton):
            raise ArgumentError(
                "skeleton", f"{skeleton.name!r} does not have the joints of the codec's {self.skeleton.name!r}"
            )
        return skeleton

    def make_motion(
        self, skeleton: Skeleton, fps: float, rotations: Tensor, root: Tensor, contacts: np.ndarray | None
    ) -> Motion:
        if not fps > 0:
            raise ArgumentError("fps", f"must be positive, got {fps}")
        return Motion(
            skeleton,
            float(fps),
            rotations.numpy(),
            root.numpy(),
            contacts=None if contacts is None else np.clip(contacts, 0.0, 1.0),
            metadata={"codec": self.name},
        )


def motion_contacts(motion: Motion, positions: np.ndarray | None = None) -> np.ndarray:
    """The motion's own (T, 4) contact labels if it has them, else `foot_contacts`, from its
    joint `positions` (T, J, 3) when the caller has them already."""
    if motion.contacts is not None and motion.contacts.shape[1] == 4:
        return motion.contacts.astype(np.float32)
    if positions is None:
        return foot_contacts(motion)
    return foot_contacts(positions, motion.fps, skeleton=motion.skeleton)


class TrajectoryCodec(MotionCodec):
    """A codec whose root trajectory is stored as per-frame velocities and integrated back."""

    @abstractmethod
    def trajectory_start(self, motion: Motion) -> PlanarPose:
        """The start pose that makes decoding reproduce `motion`'s own trajectory."""

    @abstractmethod
    def decode(
        self, features: np.ndarray, fps: float, skeleton: Skeleton | None = None, start: PlanarPose | None = None
    ) -> Motion:
        """As `MotionCodec.decode`, the trajectory integrated from `start` (default origin, +z)."""

    @abstractmethod
    def decode_positions_torch(self, features: Tensor, start: PlanarPose | None = None) -> Tensor:
        """As `MotionCodec.decode_positions_torch`, integrated from `start`."""
