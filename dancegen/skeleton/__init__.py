"""Kinematic trees, forward kinematics and rotation conversions."""

from dancegen.skeleton.fk import forward_kinematics, global_to_local_rotations, skeleton_fk
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.smplx import smplx52
from dancegen.skeleton.tree import Skeleton

# The skeletons a model can be built on, by the name configs and bundle headers use.
SKELETONS = {"smpl24": smpl24, "smplx52": smplx52}


def get_skeleton(name: str) -> Skeleton:
    if name not in SKELETONS:
        from dancegen.errors import ArgumentError

        raise ArgumentError("skeleton", f"unknown skeleton {name!r}", f"use one of {', '.join(SKELETONS)}")
    return SKELETONS[name]()


__all__ = ["SKELETONS", "Skeleton", "forward_kinematics", "get_skeleton", "global_to_local_rotations", "skeleton_fk",
           "smpl24", "smplx52"]
