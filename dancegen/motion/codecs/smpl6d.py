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
from dancegen.skeleton.rotations import matrix_to_quat, matrix_to_rot6d, quat_slerp, quat_to_matrix, rot6d_to_matrix
from dancegen.skeleton.tree import Skeleton

# The layout, defined here only: editing masks (`sampling.editing`) and the GCDance loss index
# into these same channels.
CONTACT_CHANNELS = 4
ROOT_CHANNELS = 3
ROTATION_CHANNELS = 6
ROOT_OFFSET = CONTACT_CHANNELS
JOINTS_OFFSET = ROOT_OFFSET + ROOT_CHANNELS


# A 6D rotation is two rows of a rotation matrix: unit length and orthogonal for real motion.
# A generated row far shorter than that is the network hedging between directions (its x0
# estimate is the mean of several): for the root it is the facing direction, and normalising
# a near-zero row snaps the whole body round in one frame (the single-frame pelvis "flips" of
# dancegen 0.1's model: root rows of length 0.02–0.17 at every flip). Such frames take their
# rotation from the nearest sound frames instead (slerp in time).
DEGENERATE_ROW_NORM = 0.4
DEGENERATE_ROW_COSINE = 0.7  # rows this far from orthogonal (|cos| above it) are hedges too


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
        """The motion of `features`; degenerate 6D rotations (see DEGENERATE_ROW_NORM) are filled
        in from their sound neighbours in time. Encoded motion is never degenerate, so
        `decode(encode(m))` is `m`."""
        skeleton = self.decode_skeleton(skeleton)
        features = self.check_features(features)
        rotations, root = self._unpack(torch.from_numpy(features))
        quaternions = fill_degenerate_rotations(matrix_to_quat(rotations), sound_rotations(features, skeleton.num_joints))
        return self.make_motion(skeleton, fps, quaternions, root, features[:, self.groups["contacts"]])

    def decode_positions_torch(self, features: Tensor) -> Tensor:
        rotations, root = self._unpack(self.check_feature_tensor(features))
        return forward_kinematics(rotations, root, self.offsets, self.skeleton.parents)[1]


def sound_rotations(features: np.ndarray, num_joints: int) -> np.ndarray:
    """(T, J) True where a frame's 6D rotation of a joint has two long, near-orthogonal rows."""
    rows = features[:, rotation_channels(num_joints)].reshape(len(features), num_joints, 2, 3)
    lengths = np.linalg.norm(rows, axis=-1)
    cosine = np.abs((rows[..., 0, :] * rows[..., 1, :]).sum(-1)) / np.maximum(lengths.prod(-1), 1e-12)
    return (lengths.min(-1) >= DEGENERATE_ROW_NORM) & (cosine <= DEGENERATE_ROW_COSINE)


def fill_degenerate_rotations(quaternions: Tensor, sound: np.ndarray) -> Tensor:
    """(T, J, 4) rotations with each unsound frame replaced by the slerp, at its place in time,
    between the nearest sound frames before and after it (the nearest one at either end). A
    joint with no sound frame at all is left as it is."""
    filled = quaternions.clone()
    for joint in np.flatnonzero(~sound.all(axis=0) & sound.any(axis=0)):
        good = np.flatnonzero(sound[:, joint])
        bad = np.flatnonzero(~sound[:, joint])
        after = np.searchsorted(good, bad).clip(max=len(good) - 1)
        before = (after - (good[after] > bad)).clip(min=0)
        previous, following = good[before], good[after]
        span = np.maximum(following - previous, 1)
        weight = torch.from_numpy(np.clip((bad - previous) / span, 0.0, 1.0)).to(quaternions.dtype)
        filled[bad, joint] = quat_slerp(quaternions[previous, joint], quaternions[following, joint], weight)
    return filled
