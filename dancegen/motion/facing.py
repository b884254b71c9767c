"""Which way a dancer faces: the horizontal direction of the chest's front, averaged over a clip.

The front is perpendicular to the line across the hips and shoulders (right minus left),
rotated about the up axis: forward = up × across. Averaging unit headings over frames gives the
way the dance is mostly performed (a dance that spins evenly has no front: +z is returned).
Cameras use it to look at the dancer's front whatever way the capture faced.
"""

from __future__ import annotations

import numpy as np

from dancegen.motion.motion import Motion

# Left/right joint pairs that span the body, by rig naming convention (SMPL first).
ACROSS_PAIRS = (
    (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")),  # SMPL-24, SMPL-X
    (("LeftUpLeg", "RightUpLeg"), ("LeftArm", "RightArm")),  # Mixamo, CMU BVH
    (("CC_Base_L_Thigh", "CC_Base_R_Thigh"), ("CC_Base_L_Upperarm", "CC_Base_R_Upperarm")),  # iClone
    (("UpperLeg_L", "UpperLeg_R"), ("UpperArm_L", "UpperArm_R")),  # Bandai Namco
)
MIN_CONSISTENCY = 0.2  # mean resultant length below this: no prevailing front


def front_direction(motion: Motion) -> np.ndarray:
    """Unit (x, z) of the dancer's prevailing front; (0, 1), i.e. +z, when it cannot tell."""
    names = motion.skeleton.joint_names
    pairs = next((pairs for pairs in ACROSS_PAIRS if all(n in names for pair in pairs for n in pair)), None)
    if pairs is None or motion.num_frames == 0:
        return np.array([0.0, 1.0])
    positions = motion.joint_positions()
    across = sum(positions[:, names.index(right)] - positions[:, names.index(left)] for left, right in pairs)
    forward = np.stack([across[:, 2], -across[:, 0]], axis=1)  # up × across, in (x, z)
    lengths = np.linalg.norm(forward, axis=1, keepdims=True)
    mean = (forward / np.maximum(lengths, 1e-9)).mean(axis=0)
    if np.linalg.norm(mean) < MIN_CONSISTENCY:
        return np.array([0.0, 1.0])
    return mean / np.linalg.norm(mean)
