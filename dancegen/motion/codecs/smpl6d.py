"""`smpl6d`: foot contacts, root position and 6D joint rotations (the EDGE / FineDance layout).

Row layout, D = 4 + 3 + 6J:

    [0:4]  foot contacts: left ankle, right ankle, left toe, right toe (`motion.contacts`)
    [4:7]  root joint world position (x, y, z), metres
    [7:]   per joint in skeleton order, its rotation relative to its parent in 6D: the first two
           rows of the rotation matrix (PyTorch3D `matrix_to_rotation_6d`)

This is EDGE's `[contacts, root_pos, local_q]` vector (151-d on SMPL-24, `dataset/
dance_dataset.py`) and FineDance/GCDance's 319-d vector on the 52-joint SMPL-X layout (their
315-d motion files with the 4 contacts in front). The codec works on any skeleton.

Contacts: the motion's own (T, 4) labels when it has them, else `foot_contacts(motion)`
(EDGE's speed rule plus a height test; see `dancegen.motion.contacts`).

Axes: dancegen is y-up. EDGE turns AIST++ to z-up before encoding, so the root position and root
rotation in EDGE's own tensors are z-up; `dancegen.skeleton.axes` converts.
"""

from __future__ import annotations

import numpy as np
import torch

from dancegen.motion.codecs.base import MotionCodec, Tensor, motion_contacts
from dancegen.motion.motion import Motion
from dancegen.skeleton.fk import forward_kinematics
from dancegen.skeleton.rotations import matrix_to_quat, matrix_to_rot6d, quat_to_matrix, rot6d_to_matrix
from dancegen.skeleton.tree import Skeleton

# The layout, defined here only: editing masks (`sampling.editing`) and the GCDance loss index
# into these same channels.
CONTACT_CHANNELS = 4
ROOT_CHANNELS = 3
ROTATION_CHANNELS = 6
ROOT_OFFSET = CONTACT_CHANNELS
JOINTS_OFFSET = ROOT_OFFSET + ROOT_CHANNELS


def smpl6d_dim(num_joints: int) -> int:
    """Feature width for a skeleton of `num_joints` joints (151 for SMPL-24, 319 for SMPL-X 52)."""
    return JOINTS_OFFSET + ROTATION_CHANNELS * num_joints


def contact_channels() -> slice:
    return slice(0, CONTACT_CHANNELS)


def root_channels() -> slice:
    return slice(ROOT_OFFSET, ROOT_OFFSET + ROOT_CHANNELS)


def joint_channels(joint: int) -> slice:
    """The 6D rotation channels of joint index `joint`."""
    start = JOINTS_OFFSET + ROTATION_CHANNELS * joint
    return slice(start, start + ROTATION_CHANNELS)


def rotation_channels(num_joints: int) -> slice:
    """Every joint's 6D rotation, joint after joint."""
    return slice(JOINTS_OFFSET, smpl6d_dim(num_joints))


class Smpl6dCodec(MotionCodec):
    name = "smpl6d"

    def _layout(self) -> dict[str, slice]:
        joints = self.skeleton.num_joints
        return {"contacts": contact_channels(), "root_position": root_channels(), "rotations": rotation_channels(joints)}

    def encode(self, motion: Motion) -> np.ndarray:
        self.check_motion(motion)
        rot6d = matrix_to_rot6d(quat_to_matrix(torch.from_numpy(motion.rotations))).numpy()
        features = np.concatenate(
            [motion_contacts(motion), motion.root_translation, rot6d.reshape(motion.num_frames, -1)], axis=1
        )
        return features.astype(np.float32)

    def _unpack(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """(local rotation matrices (..., T, J, 3, 3), root position (..., T, 3))."""
        rot6d = features[..., self.groups["rotations"]].unflatten(-1, (self.skeleton.num_joints, ROTATION_CHANNELS))
        return rot6d_to_matrix(rot6d), features[..., self.groups["root_position"]]

    def decode(self, features: np.ndarray, fps: float, skeleton: Skeleton | None = None) -> Motion:
        skeleton = self.decode_skeleton(skeleton)
        features = self.check_features(features)
        rotations, root = self._unpack(torch.from_numpy(features))
        return self.make_motion(skeleton, fps, matrix_to_quat(rotations), root, features[:, self.groups["contacts"]])

    def decode_positions_torch(self, features: Tensor) -> Tensor:
        rotations, root = self._unpack(self.check_feature_tensor(features))
        return forward_kinematics(rotations, root, self.offsets, self.skeleton.parents)[1]
