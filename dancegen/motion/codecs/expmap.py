"""`expmap`: joint exponential maps plus a root trajectory in the body's heading frame (LDA).

After "Listen, denoise, action!" (Alexanderson et al. 2023) and the pymo pipeline of its
repository (`RootTransformer("pos_rot_deltas")` then `MocapParameterizer("expmap")`). Row layout,
D = 3J + 4:

    [0:3J]       per joint in skeleton order, the exponential map (axis * angle, radians) of its
                 rotation relative to its parent; the root's is relative to its heading frame
                 (R_root = R_y(heading) @ R_body, the root's own tilt and twist)
    [3J]         root height y, metres
    [3J+1:3J+3]  root floor velocity (x, z) in the heading frame, metres per frame
    [3J+3]       yaw rate, radians per frame

Heading: the root's forward direction on the floor, taken as pymo takes it: up x (the root's
side axis, -x), which is +z for SMPL's rest pose.

Trajectory: the velocity and yaw rate in row t are the step from frame t-1 to t, the
displacement turned into frame t's heading frame (pymo's indexing). Row 0 repeats row 1, as pymo
does, and the decoder ignores it. Decoding integrates from `start` (default: origin facing +z,
where pymo's inverse starts); `trajectory_start(motion)` is the start for an exact round trip.
Units are per frame as in pymo; multiply by fps for m/s and rad/s. pymo's optional trajectory
smoothing is not applied: the root's floor position is the reference itself.

Continuity: quaternions are sign-aligned along time and the angle may pass pi, so a joint
turning through pi keeps a continuous expmap instead of jumping to the opposite axis (pymo's
`unroll` does the same on the expmaps). Like pymo's, this holds within one full turn of the
clip's first frame: a joint (or the heading-free root, in a flip) that turns a full 2 pi crosses
the 2 pi sphere, where the expmap jumps between equivalent antipodal vectors.
"""

from __future__ import annotations

import numpy as np
import torch

from dancegen.motion.codecs.base import (
    PlanarPose,
    Tensor,
    TrajectoryCodec,
    integrate_planar,
    layout,
    pad_steps,
    planar_steps,
)
from dancegen.motion.motion import Motion
from dancegen.skeleton.fk import forward_kinematics
from dancegen.skeleton.rotations import (
    expmap_to_matrix,
    matrix_to_quat,
    quat_canonical,
    quat_normalize,
    quat_to_matrix,
    yaw_matrix,
)
from dancegen.skeleton.tree import Skeleton

# Below this |sin(angle / 2)| the expmap scale uses its small-angle limit 2 / w.
SMALL_SINE = 1e-12


def root_heading(root_rotations: Tensor) -> Tensor:
    """Heading yaw (...,) of root rotation matrices (..., 3, 3): forward = up x (R @ -x)."""
    side_x, side_z = -root_rotations[..., 0, 0], -root_rotations[..., 2, 0]
    # up x side = (side_z, 0, -side_x); yaw = atan2(forward_x, forward_z)
    return torch.atan2(side_z, -side_x)


def continuous_quaternions(quats: Tensor) -> Tensor:
    """Flip quaternion signs (T, ..., 4) so consecutive frames have non-negative dot products.

    Frame 0 starts in the w >= 0 hemisphere. Vectorised: the sign of frame t is the product of
    the flips of every step before it.
    """
    quats = quat_canonical(quats)
    step_flips = torch.where((quats[1:] * quats[:-1]).sum(-1) < 0, -1.0, 1.0).to(quats.dtype)
    signs = torch.cat([torch.ones_like(quats[:1, ..., 0]), torch.cumprod(step_flips, dim=0)])
    return quats * signs[..., None]


def quat_to_expmap_unwrapped(quats: Tensor) -> Tensor:
    """Expmap of unit quaternions with the angle in [0, 2 pi), so q and -q give different
    (equivalent) expmaps: v and v - 2 pi v / |v|."""
    sine = quats[..., :3].norm(dim=-1, keepdim=True)
    cosine = quats[..., 3:]
    angle = 2 * torch.atan2(sine, cosine)
    scale = torch.where(sine > SMALL_SINE, angle / sine.clamp_min(SMALL_SINE), 2 / cosine)
    return quats[..., :3] * scale


class ExpmapCodec(TrajectoryCodec):
    name = "expmap"

    def _layout(self) -> dict[str, slice]:
        return layout(rotations=3 * self.skeleton.num_joints, root_height=1, root_velocity=2, yaw_rate=1)

    def trajectory_start(self, motion: Motion) -> PlanarPose:
        heading = root_heading(quat_to_matrix(torch.from_numpy(motion.rotations[0, 0])))
        x, _, z = motion.root_translation[0]
        return PlanarPose(float(x), float(z), float(heading))

    def encode(self, motion: Motion) -> np.ndarray:
        self.check_motion(motion)
        frames = motion.num_frames
        quats = quat_normalize(torch.from_numpy(motion.rotations))
        root_rotation = quat_to_matrix(quats[:, 0])
        heading = root_heading(root_rotation)
        body = matrix_to_quat(yaw_matrix(-heading) @ root_rotation)
        quats = torch.cat([body[:, None], quats[:, 1:]], dim=1)
        expmaps = quat_to_expmap_unwrapped(continuous_quaternions(quats))

        root = torch.from_numpy(motion.root_translation)
        yaw_step, body_step = planar_steps(heading, root[:, [0, 2]])
        features = torch.cat(
            [
                expmaps.reshape(frames, -1),
                root[:, 1:2],
                pad_steps(body_step, frames, at_end=False),
                pad_steps(yaw_step, frames, at_end=False)[:, None],
            ],
            dim=1,
        )
        return features.numpy().astype(np.float32)

    def _unpack(self, features: Tensor, start: PlanarPose | None) -> tuple[Tensor, Tensor]:
        """(local rotation matrices (..., T, J, 3, 3), root position (..., T, 3))."""
        expmaps = features[..., self.groups["rotations"]].unflatten(-1, (self.skeleton.num_joints, 3))
        rotations = expmap_to_matrix(expmaps)
        # Row 0's step is padding: the steps that move the trajectory are rows 1..T-1.
        velocity = features[..., 1:, self.groups["root_velocity"]]
        yaw_rate = features[..., 1:, self.groups["yaw_rate"]].squeeze(-1)
        heading, floor_xz = integrate_planar(yaw_rate, velocity, start)
        root_rotation = yaw_matrix(heading) @ rotations[..., 0, :, :]
        rotations = torch.cat([root_rotation.unsqueeze(-3), rotations[..., 1:, :, :]], dim=-3)
        height = features[..., self.groups["root_height"]]
        root = torch.cat([floor_xz[..., :1], height, floor_xz[..., 1:]], dim=-1)
        return rotations, root

    def decode(
        self, features: np.ndarray, fps: float, skeleton: Skeleton | None = None, start: PlanarPose | None = None
    ) -> Motion:
        skeleton = self.decode_skeleton(skeleton)
        rotations, root = self._unpack(torch.from_numpy(self.check_features(features)), start)
        return self.make_motion(skeleton, fps, matrix_to_quat(rotations), root, contacts=None)

    def decode_positions_torch(self, features: Tensor, start: PlanarPose | None = None) -> Tensor:
        rotations, root = self._unpack(self.check_feature_tensor(features), start)
        return forward_kinematics(rotations, root, self.offsets, self.skeleton.parents)[1]
