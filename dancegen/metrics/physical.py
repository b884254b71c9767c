"""Physical plausibility: PFC (EDGE), PBC (GCDance) and the foot-skating ratio (LODGE).

All three take SMPL-order joint positions (T, J, 3), metres, **y-up**, and a frame rate. The
references ran at 30 fps on per-frame displacements; here displacements are rescaled to
"metres per 1/30 s" so a motion scores the same at any frame rate, and exactly as the
reference at 30 fps.

PFC, Physical Foot Contact (EDGE `eval/eval_pfc.py`, Stanford-TML/EDGE @17c3428; Tseng et al.
2023, Table 1). Per frame t = 1 .. T-2:
    a(t) = |root acceleration, up component clamped at >= 0| / max_t |...|
    s_l(t) = min(|Δ_xz left ankle|, |Δ_xz left toe|),  s_r(t) likewise,  Δ = p[t+1] - p[t]
    PFC = 1e4 * mean_t a(t) s_l(t) s_r(t)
A dancer must keep one foot planted unless the body is in free fall. EDGE's positions are z-up
(it rotates AIST++ by +90 degrees about x) and it clamps index 2; on dancegen's y-up positions
that is index 1, the same physical quantity. Joints: root 0, ankles 7/8, toes ("foot") 10/11.
A motion with no root acceleration at all scores 0 (EDGE divides 0 by 0).

PBC, Physical Body Consistency (GCDance `eval/eval_pbc.py`, XinranLiu7715/GC_Dance @c352754):
    PBC = 1e4 * mean_t [ 0.01 h_l(t) c_l(t) + 0.01 h_r(t) c_r(t) + 0.1 n(t) k(t) - a(t) s_l(t) s_r(t) ]
with h_l = min(|Δ left wrist|, |Δ left hand|) (3-D displacements), h_r likewise, n = |Δ head|,
c_l, c_r, k the accelerations of the left collar, right collar and neck, each divided by its own
maximum (kept at 0 if that is 0), and the PFC term subtracted. GCDance's indices (20, 22, 21,
23, 15) are SMPL-24's wrists, hands and head; on its 55-joint SMPL-X output they pick the jaw
and left eye instead of the hands, a reference quirk not reproduced here: the hand joints are
passed by the caller for each layout.

Foot-skating ratio (LODGE `metric/foot_skating.py`, li-ronghui/LODGE @a898e59; also the FSR of
DanceMosaic): the motion is grounded with the first frame's toe heights (their mean if they
differ by < 2 cm, else the lower one). A foot is in contact on frames where its ankle is
<= 8 cm and its toe <= 5 cm high; it slides on contact frames where its ankle or toe moves
horizontally more than 1 cm per (1/30 s) frame, Δ = p[t+1] - p[t] (0 on the last frame). Ratio
= sliding frames / contact frames per foot, averaged over both feet; a foot that never touches
the ground scores 0 (LODGE gives NaN). LODGE measures "horizontal movement" as
|mean(Δx, Δz)|, which misses diagonal slides and counts nothing when Δx = -Δz;
`reference_bugs=True` reproduces that, the default uses the horizontal length |Δ_xz|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dancegen.metrics.kinetic import check_positions
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES

# EDGE and LODGE evaluate 30-fps motion (EDGE `DT = 1 / 30`, FineDance at 30 fps).
PHYSICAL_REFERENCE_FPS = 30.0
# EDGE prints `np.mean(scores) * 10000`; GCDance does the same for PBC.
PFC_SCALE = 1e4
UP = 1  # y-up
HORIZONTAL = [0, 2]

# GCDance `eval_pbc.py` weights of the hand (x collar) and head (x neck) terms.
PBC_HAND_WEIGHT = 0.01
PBC_HEAD_WEIGHT = 0.1

# LODGE `foot_skating.py` thresholds (metres; slide threshold per 30-fps frame).
FSR_ANKLE_CONTACT_M = 0.08
FSR_TOE_CONTACT_M = 0.05
FSR_SLIDE_M_PER_FRAME = 0.01
FSR_LEVEL_TOES_M = 0.02  # toes closer than this in height ground at their mean


def _joint(name: str) -> int:
    return SMPL24_JOINT_NAMES.index(name)


@dataclass(frozen=True)
class PhysicalJoints:
    """Joint indices the physical metrics read; SMPL-24 by default (also valid for 22/52/55)."""

    root: int = _joint("pelvis")
    left_foot: tuple[int, int] = (_joint("left_ankle"), _joint("left_foot"))
    right_foot: tuple[int, int] = (_joint("right_ankle"), _joint("right_foot"))
    left_hand: tuple[int, int] = (_joint("left_wrist"), _joint("left_hand"))
    right_hand: tuple[int, int] = (_joint("right_wrist"), _joint("right_hand"))
    head: int = _joint("head")
    left_collar: int = _joint("left_collar")
    right_collar: int = _joint("right_collar")
    neck: int = _joint("neck")


SMPL24_PHYSICAL_JOINTS = PhysicalJoints()


def _normalised_acceleration(track: np.ndarray, clamp_up: bool) -> np.ndarray:
    """|second difference| (T-2,) divided by its maximum; the constant dt^2 cancels."""
    velocity = track[1:] - track[:-1]
    acceleration = velocity[1:] - velocity[:-1]
    if clamp_up:
        acceleration[:, UP] = np.maximum(acceleration[:, UP], 0)
    magnitude = np.linalg.norm(acceleration, axis=-1)
    peak = magnitude.max()
    return magnitude / peak if peak > 0 else magnitude


def _step(positions: np.ndarray, joints, fps: float, axes=None) -> np.ndarray:
    """|p[t+1] - p[t]| for t = 1 .. T-2 (EDGE's alignment), in metres per 30-fps frame."""
    delta = positions[2:, joints] - positions[1:-1, joints]
    if axes is not None:
        delta = delta[..., axes]
    return np.linalg.norm(delta, axis=-1) * (fps / PHYSICAL_REFERENCE_FPS)


def _foot_term(p: np.ndarray, fps: float, joints: PhysicalJoints) -> np.ndarray:
    root = _normalised_acceleration(p[:, joints.root], clamp_up=True)
    left = _step(p, list(joints.left_foot), fps, HORIZONTAL).min(axis=-1)
    right = _step(p, list(joints.right_foot), fps, HORIZONTAL).min(axis=-1)
    return root * left * right


def pfc(positions: np.ndarray, fps: float, joints: PhysicalJoints = SMPL24_PHYSICAL_JOINTS) -> float:
    """Physical Foot Contact score of one motion (lower is better; EDGE's x1e4 scale)."""
    p = check_positions(positions, min_frames=3)
    return float(_foot_term(p, fps, joints).mean() * PFC_SCALE)


def pbc(positions: np.ndarray, fps: float, joints: PhysicalJoints = SMPL24_PHYSICAL_JOINTS) -> float:
    """Physical Body Consistency of one motion (GCDance's definition and x1e4 scale)."""
    p = check_positions(positions, min_frames=3)
    hands_left = _step(p, list(joints.left_hand), fps).min(axis=-1)
    hands_right = _step(p, list(joints.right_hand), fps).min(axis=-1)
    head = _step(p, [joints.head], fps)[:, 0]
    body = (
        PBC_HAND_WEIGHT * hands_left * _normalised_acceleration(p[:, joints.left_collar], clamp_up=False)
        + PBC_HAND_WEIGHT * hands_right * _normalised_acceleration(p[:, joints.right_collar], clamp_up=False)
        + PBC_HEAD_WEIGHT * head * _normalised_acceleration(p[:, joints.neck], clamp_up=False)
    )
    return float((body - _foot_term(p, fps, joints)).mean() * PFC_SCALE)


def ground(positions: np.ndarray, joints: PhysicalJoints = SMPL24_PHYSICAL_JOINTS) -> np.ndarray:
    """Shift the motion vertically so the first frame's toes touch y = 0 (LODGE's grounding)."""
    left_toe, right_toe = positions[0, joints.left_foot[1], UP], positions[0, joints.right_foot[1], UP]
    if abs(left_toe - right_toe) < FSR_LEVEL_TOES_M:
        height = (left_toe + right_toe) / 2
    else:
        height = min(left_toe, right_toe)
    grounded = positions.copy()
    grounded[..., UP] -= height
    return grounded


def foot_skating_ratio(
    positions: np.ndarray,
    fps: float,
    joints: PhysicalJoints = SMPL24_PHYSICAL_JOINTS,
    reference_bugs: bool = False,
) -> float:
    """Fraction of foot-contact frames on which the foot slides, averaged over both feet."""
    p = ground(check_positions(positions, min_frames=2), joints)
    threshold = FSR_SLIDE_M_PER_FRAME * PHYSICAL_REFERENCE_FPS / fps
    ratios = []
    for ankle, toe in (joints.left_foot, joints.right_foot):
        contact = (p[:, ankle, UP] <= FSR_ANKLE_CONTACT_M) & (p[:, toe, UP] <= FSR_TOE_CONTACT_M)
        step = np.zeros((len(p), 2, 2))
        step[:-1] = p[1:][:, [ankle, toe]][..., HORIZONTAL] - p[:-1][:, [ankle, toe]][..., HORIZONTAL]
        if reference_bugs:
            moved = np.abs(step.mean(axis=-1))
        else:
            moved = np.linalg.norm(step, axis=-1)
        sliding = contact & (moved > threshold).any(axis=-1)
        contacts = contact.sum()
        ratios.append(sliding.sum() / contacts if contacts else 0.0)
    return float(np.mean(ratios))
