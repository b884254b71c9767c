"""`hml263`: HumanML3D's redundant 263-d features of the 22-joint SMPL body.

Layout of a row (Guo et al. 2022, `motion_representation.py` of EricGuo5513/HumanML3D):

    [0]        root angular velocity about +y: HumanML3D stores the half-angle of the step of its
               world-to-facing rotation, i.e. -(heading[t+1] - heading[t]) / 2, radians per frame
    [1:3]      root floor velocity (x, z), p[t+1] - p[t] turned into frame t+1's facing frame
    [3]        root height y, metres
    [4:67]     "ric": joints 1..21 relative to the root's floor point (x, z relative, y absolute),
               turned into frame t's facing frame
    [67:193]   joints 1..21, 6D rotations (first two matrix rows, dancegen's layout; HumanML3D's
               own files hold columns); see below for the frame
    [193:259]  joints 0..21 velocity p[t+1] - p[t] turned into frame t's facing frame
    [259:263]  foot contacts in HumanML3D's order: left ankle, left toe, right ankle, right toe

Facing (heading): as HumanML3D, forward = up x ((r_hip - l_hip) + (r_shoulder - l_shoulder)),
unsmoothed (HumanML3D's IK smooths it with a Gaussian of 20 frames).

Rotations: HumanML3D derives them by IK with chains starting from the facing rotation, so each
slot is a joint's rotation relative to the frame before it in its chain. dancegen stores the
motion's true rotations with the same rule: for the root's children (hips, spine1), the joint's
world rotation in the facing frame (it carries the pelvis tilt); for every other joint, its
rotation relative to its parent. The root's own rotation is not stored: `decode` recovers it
from the ric positions of the root's children by orthogonal Procrustes (exact for data encoded
from a motion on the same skeleton), then the others follow.

Frames: HumanML3D drops the last frame (its velocities are forward differences). We keep all T
rows; the velocity channels of row T-1 repeat row T-2 and are never read. The root position
integrates from `start` (default: origin facing +z, HumanML3D's canonical start); HumanML3D also
drops the clip onto the floor, which we do not (dancegen motions are y-up with the floor at 0).
The skeleton's first 22 joints must be SMPL's (SMPL-24, SMPL-X 52); further joints (hands) are
not encoded and decode at rest.
"""

from __future__ import annotations

import numpy as np
import torch

from dancegen.errors import ArgumentError
from dancegen.motion.codecs.base import (
    PlanarPose,
    Tensor,
    TrajectoryCodec,
    integrate_planar,
    layout,
    motion_contacts,
    pad_steps,
    planar_steps,
    rotate_about_y,
)
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import (
    matrix_to_quat,
    matrix_to_rot6d,
    nearest_rotation,
    quat_to_matrix,
    rot6d_to_matrix,
    yaw_matrix,
)
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, SMPL24_PARENTS
from dancegen.skeleton.tree import Skeleton

BODY_JOINTS = 22
# HumanML3D `face_joint_indx`: right hip, left hip, right shoulder, left shoulder.
FACE_JOINTS = (2, 1, 17, 16)
# HumanML3D's contact order (fid_l = [7, 10], fid_r = [8, 11]) as indices into EDGE-order labels.
CONTACT_ORDER = (0, 2, 1, 3)
# Children of the root among the body joints: their slots hold facing-frame rotations.
ROOT_CHILDREN = tuple(j for j in range(1, BODY_JOINTS) if SMPL24_PARENTS[j] == 0)


def facing_heading(positions: Tensor) -> Tensor:
    """HumanML3D's facing yaw (...,) from joint positions (..., J, 3)."""
    right_hip, left_hip, right_shoulder, left_shoulder = FACE_JOINTS
    across = (positions[..., right_hip, :] - positions[..., left_hip, :]) + (
        positions[..., right_shoulder, :] - positions[..., left_shoulder, :]
    )
    # forward = up x across = (across_z, 0, -across_x); yaw = atan2(forward_x, forward_z)
    return torch.atan2(across[..., 2], -across[..., 0])


def floor_point(points: Tensor) -> Tensor:
    """Points (..., 3) dropped onto the floor (y = 0)."""
    return points * points.new_tensor([1.0, 0.0, 1.0])


class Hml263Codec(TrajectoryCodec):
    name = "hml263"

    def __init__(self, skeleton: Skeleton):
        body_names, body_parents = skeleton.joint_names[:BODY_JOINTS], skeleton.parents[:BODY_JOINTS]
        if body_names != SMPL24_JOINT_NAMES[:BODY_JOINTS] or body_parents != SMPL24_PARENTS[:BODY_JOINTS]:
            raise ArgumentError(
                "skeleton",
                f"hml263 needs the 22 SMPL body joints first; {skeleton.name!r} does not have them",
                "retarget to smpl24 or smplx52 first",
            )
        super().__init__(skeleton)

    def _layout(self) -> dict[str, slice]:
        return layout(
            root_angular_velocity=1,
            root_velocity=2,
            root_height=1,
            ric=3 * (BODY_JOINTS - 1),
            rotations=6 * (BODY_JOINTS - 1),
            local_velocity=3 * BODY_JOINTS,
            contacts=4,
        )

    def trajectory_start(self, motion: Motion) -> PlanarPose:
        positions = torch.from_numpy(motion.slice_frames(0, 1).joint_positions()[0])
        x, _, z = positions[0].tolist()
        return PlanarPose(x, z, float(facing_heading(positions)))

    def encode(self, motion: Motion) -> np.ndarray:
        self.check_motion(motion)
        frames = motion.num_frames
        world_rotations, all_positions = motion.forward_kinematics()
        world_rotations, positions = (torch.from_numpy(a[:, :BODY_JOINTS]) for a in (world_rotations, all_positions))
        heading = facing_heading(positions)
        root = positions[:, 0]

        yaw_step, body_step = planar_steps(heading, root[:, [0, 2]])
        angular_velocity = pad_steps(-yaw_step / 2, frames, at_end=True)[:, None]
        root_velocity = pad_steps(body_step, frames, at_end=True)

        ric = rotate_about_y(positions[:, 1:] - floor_point(root)[:, None], -heading[:, None])

        slots = quat_to_matrix(torch.from_numpy(motion.rotations[:, :BODY_JOINTS]))
        children = list(ROOT_CHILDREN)
        slots[:, children] = yaw_matrix(-heading)[:, None] @ world_rotations[:, children]
        rot6d = matrix_to_rot6d(slots[:, 1:])

        local_velocity = rotate_about_y(positions[1:] - positions[:-1], -heading[:-1, None])
        local_velocity = pad_steps(local_velocity, frames, at_end=True)

        contacts = torch.from_numpy(motion_contacts(motion, all_positions)[:, list(CONTACT_ORDER)]).double()
        features = torch.cat(
            [
                angular_velocity,
                root_velocity,
                root[:, 1:2],
                ric.reshape(frames, -1),
                rot6d.reshape(frames, -1),
                local_velocity.reshape(frames, -1),
                contacts,
            ],
            dim=1,
        )
        return features.numpy().astype(np.float32)

    def _trajectory(self, features: Tensor, start: PlanarPose | None) -> tuple[Tensor, Tensor, Tensor]:
        """(heading (..., T), root position (..., T, 3), ric in the facing frame (..., T, 21, 3))."""
        # The last row's steps are padding: rows 0..T-2 carry the T-1 steps.
        yaw_step = -2 * features[..., :-1, self.groups["root_angular_velocity"]].squeeze(-1)
        heading, floor_xz = integrate_planar(yaw_step, features[..., :-1, self.groups["root_velocity"]], start)
        height = features[..., self.groups["root_height"]]
        root = torch.cat([floor_xz[..., :1], height, floor_xz[..., 1:]], dim=-1)
        ric = features[..., self.groups["ric"]].unflatten(-1, (BODY_JOINTS - 1, 3))
        return heading, root, ric

    def decode_positions_torch(self, features: Tensor, start: PlanarPose | None = None) -> Tensor:
        """Body joint positions (..., T, 22, 3) from the ric channels (HumanML3D's recover_from_ric)."""
        heading, root, ric = self._trajectory(self.check_feature_tensor(features), start)
        joints = rotate_about_y(ric, heading.unsqueeze(-1)) + floor_point(root).unsqueeze(-2)
        return torch.cat([root.unsqueeze(-2), joints], dim=-2)

    def decode(
        self, features: np.ndarray, fps: float, skeleton: Skeleton | None = None, start: PlanarPose | None = None
    ) -> Motion:
        """The motion on `skeleton` (default the codec's): body rotations from the 6D channels,
        the root's from Procrustes on the ric positions, non-body joints at rest."""
        skeleton = self.decode_skeleton(skeleton)
        features = self.check_features(features)
        data = torch.from_numpy(features)
        heading, root, ric = self._trajectory(data, start)
        frames = features.shape[0]

        # Root orientation in the facing frame: the rotation taking the rest offsets of its
        # children onto their ric positions relative to the root (at height y on the axis).
        children = list(ROOT_CHILDREN)
        root_in_facing = torch.zeros(frames, 1, 3, dtype=data.dtype)
        root_in_facing[..., 1] = root[:, None, 1]
        arms = ric[:, [c - 1 for c in children]] - root_in_facing
        rest = torch.from_numpy(skeleton.offsets[children])
        facing_root = nearest_rotation(torch.einsum("tci,cj->tij", arms, rest))

        body = torch.empty(frames, BODY_JOINTS, 3, 3, dtype=data.dtype)
        body[:, 0] = yaw_matrix(heading) @ facing_root
        body[:, 1:] = rot6d_to_matrix(data[:, self.groups["rotations"]].unflatten(-1, (BODY_JOINTS - 1, 6)))
        body[:, children] = facing_root.transpose(-1, -2)[:, None] @ body[:, children]
        rotations = torch.zeros(frames, skeleton.num_joints, 4, dtype=data.dtype)
        rotations[..., 3] = 1.0  # joints past the body (hands) rest at identity
        rotations[:, :BODY_JOINTS] = matrix_to_quat(body)

        contacts = np.empty((frames, 4))
        contacts[:, list(CONTACT_ORDER)] = features[:, self.groups["contacts"]]
        return self.make_motion(skeleton, fps, rotations, root, contacts)
