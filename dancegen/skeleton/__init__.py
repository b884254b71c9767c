"""Kinematic trees, forward kinematics and rotation conversions."""

from dancegen.skeleton.fk import forward_kinematics, global_to_local_rotations, skeleton_fk
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.smplx import smplx52
from dancegen.skeleton.tree import Skeleton

__all__ = ["Skeleton", "forward_kinematics", "global_to_local_rotations", "skeleton_fk", "smpl24", "smplx52"]
