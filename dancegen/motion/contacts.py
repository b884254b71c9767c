"""Foot-contact labels from foot-joint speed and height.

Four labels per frame in EDGE's order: left ankle, right ankle, left toe, right toe. A foot joint
is in contact when it is both slow and low:

- slow: its speed, a forward difference |p[t+1] - p[t]| * fps, is below
  `FOOT_SPEED_THRESHOLD_MPS`. EDGE (Tseng et al. 2023, `dataset/dance_dataset.py`) labels contact
  when a foot moves less than 0.01 m between frames at 30 fps, i.e. 0.3 m/s; we keep that speed
  but state it per second so the label does not change with the frame rate.
- low: its height above the floor is below `FOOT_HEIGHT_THRESHOLD_M`. EDGE has no height test; we
  add it so that a foot held still in the air (a slow développé, a pose on one leg) is not
  labelled as planted. The floor for each joint is its own low point in the clip (the
  `FLOOR_PERCENTILE`-th percentile of its height, robust to a few glitched frames), because an
  ankle stands higher off the ground than a toe. Pass `height_threshold=None` for EDGE's
  speed-only rule.

EDGE gives the last frame speed 0 (always in contact); we repeat the previous frame's speed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dancegen.errors import ArgumentError
from dancegen.motion.motion import Motion
from dancegen.skeleton.smpl import SMPL24_FOOT_JOINTS
from dancegen.skeleton.tree import Skeleton

# EDGE's threshold, 0.01 m per frame at its 30 fps, expressed per second.
FOOT_SPEED_THRESHOLD_MPS = 0.3
# A planted heel or toe stays within a few centimetres of its lowest point; 5 cm separates that
# from a foot lifted off the floor (our choice; EDGE has no height test).
FOOT_HEIGHT_THRESHOLD_M = 0.05
# Percentile of each foot joint's height taken as its floor level (1 = ignore the lowest 1%).
FLOOR_PERCENTILE = 1.0

# Joint indices of (left ankle, right ankle, left toe, right toe) in the SMPL family: SMPL-24,
# the 52-joint SMPL-X layout and HumanML3D's 22 joints share their first 22 joints.
SMPL_FOOT_INDICES = (7, 8, 10, 11)

# Foot joints of the rigs dancegen meets, in EDGE order (left ankle, right ankle, left toe,
# right toe). A rig without toe joints repeats its foot joints.
KNOWN_FOOT_JOINT_NAMES = (
    SMPL24_FOOT_JOINTS,  # SMPL-24, SMPL-X 52
    ("LeftFoot", "RightFoot", "LeftToeBase", "RightToeBase"),  # Mixamo, CMU, LDA/Motorica
    ("CC_Base_L_Foot", "CC_Base_R_Foot", "CC_Base_L_ToeBase", "CC_Base_R_ToeBase"),  # iClone (CMU 05)
    ("Foot_L", "Foot_R", "Toes_L", "Toes_R"),  # Bandai Namco
    ("lFoot", "rFoot", "lFoot", "rFoot"),  # CMU salsa rig (no toe joints)
)


def foot_joint_indices(skeleton: Skeleton, foot_joints: Sequence[int | str] | None = None) -> tuple[int, ...]:
    """Indices of (left ankle, right ankle, left toe, right toe) in `skeleton`.

    `foot_joints` overrides the lookup with four joint names or indices.
    """
    if foot_joints is not None:
        if len(foot_joints) != 4:
            raise ArgumentError("foot_joints", f"needs 4 joints (left/right ankle, left/right toe), got {len(foot_joints)}")
        try:
            indices = tuple(int(j) if isinstance(j, (int, np.integer)) else skeleton.index(j) for j in foot_joints)
        except KeyError as error:
            raise ArgumentError("foot_joints", str(error.args[0])) from None
        if not all(0 <= j < skeleton.num_joints for j in indices):
            raise ArgumentError("foot_joints", f"indices {indices} out of range for {skeleton.num_joints} joints")
        return indices
    names = set(skeleton.joint_names)
    for candidate in KNOWN_FOOT_JOINT_NAMES:
        if names.issuperset(candidate):
            return tuple(skeleton.indices(candidate))
    raise ArgumentError(
        "foot_joints",
        f"skeleton {skeleton.name!r} has none of the known foot joint names",
        "pass foot_joints=(left_ankle, right_ankle, left_toe, right_toe) names or indices",
    )


def contacts_from_feet(
    feet: np.ndarray,
    fps: float,
    speed_threshold: float = FOOT_SPEED_THRESHOLD_MPS,
    height_threshold: float | None = FOOT_HEIGHT_THRESHOLD_M,
) -> np.ndarray:
    """Contact labels (T, F) float32 in {0, 1} from foot-joint positions (T, F, 3), y-up metres."""
    feet = np.asarray(feet, dtype=np.float64)
    if feet.ndim != 3 or feet.shape[-1] != 3:
        raise ArgumentError("feet", f"positions have shape {feet.shape}; expected (T, F, 3)")
    if not fps > 0:
        raise ArgumentError("fps", f"must be positive, got {fps}")
    frames = feet.shape[0]
    speed = np.zeros(feet.shape[:2])
    if frames > 1:
        speed[:-1] = np.linalg.norm(feet[1:] - feet[:-1], axis=-1) * fps
        speed[-1] = speed[-2]
    contact = speed < speed_threshold
    if height_threshold is not None and frames > 0:
        heights = feet[..., 1]
        floor = np.percentile(heights, FLOOR_PERCENTILE, axis=0)
        contact &= heights - floor < height_threshold
    return contact.astype(np.float32)


def foot_contacts(
    source: Motion | np.ndarray,
    fps: float | None = None,
    *,
    skeleton: Skeleton | None = None,
    foot_joints: Sequence[int | str] | None = None,
    speed_threshold: float = FOOT_SPEED_THRESHOLD_MPS,
    height_threshold: float | None = FOOT_HEIGHT_THRESHOLD_M,
) -> np.ndarray:
    """Foot-contact labels (T, 4) float32, EDGE order (left ankle, right ankle, left toe, right toe).

    `source` is a `Motion` (its fps is used unless `fps` is given) or joint positions (T, J, 3)
    with `fps`. For positions, the foot joints come from `foot_joints`, else from `skeleton`,
    else the SMPL-family indices (7, 8, 10, 11) when J is 22, 24 or 52.
    """
    if isinstance(source, Motion):
        positions = source.joint_positions()
        skeleton = source.skeleton
        fps = source.fps if fps is None else fps
    else:
        positions = np.asarray(source)
        if positions.ndim != 3 or positions.shape[-1] != 3:
            raise ArgumentError("positions", f"have shape {positions.shape}; expected (T, J, 3)")
        if fps is None:
            raise ArgumentError("fps", "is required when contacts are computed from joint positions")
    if skeleton is not None:
        indices = foot_joint_indices(skeleton, foot_joints)
    elif foot_joints is not None:
        indices = tuple(foot_joints)
        valid = all(isinstance(j, (int, np.integer)) and 0 <= j < positions.shape[1] for j in indices)
        if len(indices) != 4 or not valid:
            raise ArgumentError("foot_joints", f"without a skeleton, give 4 joint indices below {positions.shape[1]}")
    elif positions.shape[1] in (22, 24, 52):
        indices = SMPL_FOOT_INDICES
    else:
        raise ArgumentError(
            "foot_joints", f"cannot tell the foot joints of a {positions.shape[1]}-joint skeleton",
            "pass skeleton= or foot_joints=",
        )
    return contacts_from_feet(positions[:, list(indices)], fps, speed_threshold, height_threshold)
