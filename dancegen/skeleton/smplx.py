"""The 52-joint SMPL-X body + hands skeleton used by FineDance and GCDance.

Layout: SMPL-X (Pavlakos et al. 2019) without its jaw and eye joints, which is what FineDance
`.npy` files store (global orient + 21 body joints + 15 left-hand + 15 right-hand joints, 52 in
all). The first 22 joints have the names and order of SMPL-24's first 22; the hands follow in
SMPL-X order: index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3, left hand before right.

Rest pose: the SMPL-X neutral template's joint positions (betas = 0, flat hands, T-pose) as
shipped by FineDance in `smplx_neu_J_1.npy` (github.com/li-ronghui/FineDance, commit 06a3dfc,
the `J` its `vis.py` forward kinematics uses; 55 joints, of which the jaw and eyes, rows 22-24,
are dropped here). Offsets are those positions differenced along the tree. Metres, y-up.
"""

from __future__ import annotations

import numpy as np

from dancegen.skeleton.smpl import (
    SMPL24_FOOT_JOINTS,
    SMPL24_JOINT_NAMES,
    SMPL24_PARENTS,
    SMPL_LOWER_BODY,
    SMPL_UPPER_BODY,
)
from dancegen.skeleton.tree import Skeleton

# SMPL-X hand joint order within one hand (smplx JOINT_NAMES, MANO order).
HAND_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
SEGMENTS_PER_FINGER = 3

SMPLX_BODY_JOINT_NAMES = SMPL24_JOINT_NAMES[:22]
SMPLX_LEFT_HAND = tuple(f"left_{f}{k}" for f in HAND_FINGERS for k in range(1, SEGMENTS_PER_FINGER + 1))
SMPLX_RIGHT_HAND = tuple(f"right_{f}{k}" for f in HAND_FINGERS for k in range(1, SEGMENTS_PER_FINGER + 1))
SMPLX_HANDS = SMPLX_LEFT_HAND + SMPLX_RIGHT_HAND
SMPLX52_JOINT_NAMES = SMPLX_BODY_JOINT_NAMES + SMPLX_HANDS

_LEFT_WRIST, _RIGHT_WRIST = SMPLX_BODY_JOINT_NAMES.index("left_wrist"), SMPLX_BODY_JOINT_NAMES.index("right_wrist")


def _hand_parents(wrist: int, first: int) -> list[int]:
    # Each finger is a chain wrist -> 1 -> 2 -> 3.
    parents = []
    for finger in range(len(HAND_FINGERS)):
        base = first + finger * SEGMENTS_PER_FINGER
        parents += [wrist, base, base + 1]
    return parents


SMPLX52_PARENTS = (
    SMPL24_PARENTS[:22]
    + tuple(_hand_parents(_LEFT_WRIST, 22))
    + tuple(_hand_parents(_RIGHT_WRIST, 22 + len(SMPLX_LEFT_HAND)))
)

# Source: FineDance `smplx_neu_J_1.npy` rows 0-21 and 25-54 (SMPL-X neutral template joints,
# metres, y-up, template-centred: the pelvis is 0.35 m below the origin).
SMPLX52_REST_POSITIONS = np.array(
    [
        [0.00312326, -0.35140747, 0.01203655],
        [0.06131266, -0.44417092, -0.01396464],
        [-0.06014422, -0.45531550, -0.00921382],
        [0.00036057, -0.24151686, -0.01558108],
        [0.11600812, -0.82292438, -0.02336070],
        [-0.10435417, -0.81769550, -0.02603770],
        [0.00980826, -0.10966361, -0.02152107],
        [0.07255466, -1.22598386, -0.05523665],
        [-0.08893737, -1.22842336, -0.04622997],
        [-0.00152215, -0.05742846, 0.00692583],
        [0.11981198, -1.28398108, 0.06297968],
        [-0.12774977, -1.28675175, 0.07281902],
        [-0.01368661, 0.10773861, -0.02468951],
        [0.04484200, 0.02751528, -0.00029465],
        [-0.04921708, 0.02691022, -0.00647407],
        [0.01109687, 0.26819038, -0.00395225],
        [0.16408104, 0.08524330, -0.01575559],
        [-0.15179482, 0.08043467, -0.01914260],
        [0.41820389, 0.01309278, -0.05821444],
        [-0.42294440, 0.04394219, -0.04560969],
        [0.67019063, 0.03631401, -0.06068652],
        [-0.67221183, 0.03940964, -0.06093487],
        # left hand: index, middle, pinky, ring, thumb (1-3 each)
        [0.77209264, 0.02762586, -0.04133539],
        [0.80404109, 0.02984413, -0.03832494],
        [0.82658601, 0.02749405, -0.03827037],
        [0.77958822, 0.02998634, -0.06466734],
        [0.81019944, 0.03079375, -0.06869000],
        [0.83371460, 0.02878500, -0.07280421],
        [0.75423747, 0.02177467, -0.10443614],
        [0.76970828, 0.02064310, -0.11643556],
        [0.78524160, 0.01897853, -0.12765253],
        [0.76763463, 0.02704637, -0.08803119],
        [0.79568172, 0.02853184, -0.09329713],
        [0.81850362, 0.02707355, -0.10039142],
        [0.71082652, 0.01833729, -0.03507564],
        [0.72784185, 0.01931310, -0.01009750],
        [0.74836522, 0.01415354, 0.00542557],
        # right hand
        [-0.77209240, 0.02762678, -0.04133492],
        [-0.80404079, 0.02984467, -0.03832409],
        [-0.82658565, 0.02749529, -0.03826869],
        [-0.77958810, 0.02998770, -0.06466869],
        [-0.81019932, 0.03079517, -0.06869151],
        [-0.83371472, 0.02878584, -0.07280558],
        [-0.75423843, 0.02177521, -0.10443778],
        [-0.76970887, 0.02064314, -0.11643656],
        [-0.78524232, 0.01897841, -0.12765285],
        [-0.76763511, 0.02704771, -0.08803362],
        [-0.79568177, 0.02853291, -0.09329949],
        [-0.81850386, 0.02707412, -0.10039224],
        [-0.71082497, 0.01833522, -0.03507352],
        [-0.72784036, 0.01931132, -0.01009594],
        [-0.74836576, 0.01415412, 0.00542560],
    ]
)

# Where the template's pelvis sits relative to the SMPL-X `transl` parameter: the model rotates
# about this point, so pelvis world position = transl + SMPLX_PELVIS_REST (zero betas).
SMPLX_PELVIS_REST = SMPLX52_REST_POSITIONS[0].copy()


def _offsets_from_positions(positions: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    offsets = positions.copy()
    for joint, parent in enumerate(parents):
        offsets[joint] = 0.0 if parent < 0 else positions[joint] - positions[parent]
    return offsets


# Root offset is zero as in `smpl24()`: the root's world position is the motion's translation.
SMPLX52_OFFSETS = _offsets_from_positions(SMPLX52_REST_POSITIONS, SMPLX52_PARENTS)

SMPLX_FOOT_JOINTS = SMPL24_FOOT_JOINTS

# Body-part groups for editing (joint locking). SMPL-24's `left_hand`/`right_hand` are replaced
# by the finger joints here.
SMPLX_LOWER_BODY = SMPL_LOWER_BODY
SMPLX_UPPER_BODY = tuple(n for n in SMPL_UPPER_BODY if n not in ("left_hand", "right_hand"))
SMPLX_BODY_PARTS = {
    "lower_body": SMPLX_LOWER_BODY,
    "upper_body": SMPLX_UPPER_BODY,
    "hands": SMPLX_HANDS,
    "left_hand": SMPLX_LEFT_HAND,
    "right_hand": SMPLX_RIGHT_HAND,
}


def smplx52() -> Skeleton:
    return Skeleton("smplx52", SMPLX52_JOINT_NAMES, SMPLX52_PARENTS, SMPLX52_OFFSETS.copy())
