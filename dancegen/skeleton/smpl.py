"""SMPL-family skeletons as published constants.

SMPL-24: joint order and names of the SMPL model (Loper et al. 2015) as used by AIST++ and EDGE.
Rest offsets are the neutral SMPL template's joint positions (J_regressor applied to the mean
shape), differenced along the tree; these exact numbers are the `smpl_offsets` table in EDGE's
`vis.py` (Tseng et al. 2023), which AIST++-trained models assume. Metres, y-up, T-pose.
"""

from __future__ import annotations

import numpy as np

from dancegen.skeleton.tree import Skeleton

SMPL24_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)

SMPL24_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# Source: SMPL neutral template via EDGE vis.py `smpl_offsets` (metres, y-up).
SMPL24_OFFSETS = np.array([
    [0.0, 0.0, 0.0],
    [0.05858135, -0.08228004, -0.01766408],
    [-0.06030973, -0.09051332, -0.01354254],
    [0.00443945, 0.12440352, -0.03838522],
    [0.04345142, -0.38646945, 0.008037],
    [-0.04325663, -0.38368791, -0.00484304],
    [0.00448844, 0.1379564, 0.02682033],
    [-0.01479032, -0.42687458, -0.037428],
    [0.01905555, -0.4200455, -0.03456167],
    [-0.00226458, 0.05603239, 0.00285505],
    [0.04105436, -0.06028581, 0.12204243],
    [-0.03483987, -0.06210566, 0.13032329],
    [-0.0133902, 0.21163553, -0.03346758],
    [0.07170245, 0.11399969, -0.01889817],
    [-0.08295366, 0.11247234, -0.02370739],
    [0.01011321, 0.08893734, 0.05040987],
    [0.12292141, 0.04520509, -0.019046],
    [-0.11322832, 0.04685326, -0.00847207],
    [0.2553319, -0.01564902, -0.02294649],
    [-0.26012748, -0.01436928, -0.03126873],
    [0.26570925, 0.01269811, -0.00737473],
    [-0.26910836, 0.00679372, -0.00602676],
    [0.08669055, -0.01063603, -0.01559429],
    [-0.0887537, -0.00865157, -0.01010708],
])

# Feet used for contact labels (EDGE order: left ankle, right ankle, left toe, right toe).
SMPL24_FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")


def smpl24() -> Skeleton:
    return Skeleton("smpl24", SMPL24_JOINT_NAMES, SMPL24_PARENTS, SMPL24_OFFSETS.copy())


# Body-part groups for editing (joint locking) on any SMPL-family skeleton; hand joints are
# added by the 52-joint layout.
SMPL_LOWER_BODY = (
    "pelvis", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_foot", "right_foot",
)
SMPL_UPPER_BODY = (
    "spine1", "spine2", "spine3", "neck", "head", "left_collar", "right_collar",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)
