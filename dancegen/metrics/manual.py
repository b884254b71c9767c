"""Geometric ("manual") features: the "g" of FID_g / Div_g (FID_m in Bailando's tables).

Reference: AIST++ API `aist_plusplus/features/manual.py` + `utils.py` (google/aistplusplus_api
@2dd7b3e), identical to Bailando `utils/features/manual_new.py` and LODGE
`metric/features/manual_new.py`. These are the 32 boolean pose and velocity predicates of
Müller et al. (2005, "Efficient content-based retrieval of motion capture data"), evaluated on
frames 1 .. T-1 and averaged over frames, so each feature is the fraction of frames for which
its predicate holds.

Constants and assumptions, all as in the reference:
- Thresholds are multiples of the SMPL template's humerus length (hl), shoulder width (sw) and
  hip width (hw), measured on the template joint positions below.
- Velocities are per-frame displacements divided by 1/120 s whatever the frame rate (the
  fairmotion default), so at 60 fps they read twice the physical speed.
- y is up: "y_unit" is (0, 1, 0) and "y_min" is (0, lowest joint height this frame, 0).
- Joint order is SMPL's (24 joints, or its first 22: the predicates only use joints 0-21).

The fairmotion version used by the AIChoreographer paper had a bug in these predicates
(facebookresearch/fairmotion#50); the AIST++ API version reproduced here is the fixed one.
"""

from __future__ import annotations

import numpy as np

from dancegen.metrics.kinetic import check_positions
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES

# SMPL template joint positions used to scale the thresholds (AIST++ API `ManualFeatures`).
TEMPLATE_LEFT_SHOULDER = np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02])
TEMPLATE_LEFT_ELBOW = np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02])
TEMPLATE_RIGHT_SHOULDER = np.array([-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])
TEMPLATE_LEFT_HIP = np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02])
TEMPLATE_RIGHT_HIP = np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])

HUMERUS_LENGTH = float(np.linalg.norm(TEMPLATE_LEFT_SHOULDER - TEMPLATE_LEFT_ELBOW))
SHOULDER_WIDTH = float(np.linalg.norm(TEMPLATE_LEFT_SHOULDER - TEMPLATE_RIGHT_SHOULDER))
HIP_WIDTH = float(np.linalg.norm(TEMPLATE_LEFT_HIP - TEMPLATE_RIGHT_HIP))
SCALES = {"hl": HUMERUS_LENGTH, "sw": SHOULDER_WIDTH, "hw": HIP_WIDTH}

# fairmotion's `time_per_frame=1/120` default, used for every velocity predicate.
MANUAL_TIME_PER_FRAME_S = 1 / 120

# The 32 predicates in the reference's order: (kind, four points, threshold or angle range).
# Thresholds are (multiplier, scale); points are SMPL joint names or the virtual points
# "zero", "y_unit", "minus_y_unit", "y_min". Argument meaning per kind:
#   nmove  j1 j2 j3 p : velocity of p relative to j1 along the normal of plane (j1, j2, j3)
#   move   j1 j2 p  _ : velocity of p relative to j1 along the direction j1 -> j2
#   plane  a  b  c  p : signed distance of p from the plane through a, b, c
#   nplane n1 n2 a  p : signed distance of p from the plane through a with normal n1 -> n2
#   angle  a1 a2 b1 b2: angle (degrees) between a1 -> a2 and b1 -> b2 inside the open range
#   fast   p          : speed of p
PREDICATES: tuple[tuple[str, tuple[str, ...], tuple], ...] = (
    ("nmove", ("neck", "right_hip", "left_hip", "right_wrist"), (1.8, "hl")),
    ("nmove", ("neck", "left_hip", "right_hip", "left_wrist"), (1.8, "hl")),
    ("nplane", ("spine3", "neck", "neck", "right_wrist"), (0.2, "hl")),
    ("nplane", ("spine3", "neck", "neck", "left_wrist"), (0.2, "hl")),
    ("move", ("spine1", "spine3", "spine3", "right_wrist"), (1.8, "hl")),
    ("move", ("spine1", "spine3", "spine3", "left_wrist"), (1.8, "hl")),
    ("angle", ("right_elbow", "right_shoulder", "right_elbow", "right_wrist"), (0, 110)),
    ("angle", ("left_elbow", "left_shoulder", "left_elbow", "left_wrist"), (0, 110)),
    ("nplane", ("left_shoulder", "right_shoulder", "left_wrist", "right_wrist"), (2.5, "sw")),
    ("move", ("left_wrist", "right_wrist", "right_wrist", "left_wrist"), (1.4, "hl")),
    ("move", ("right_wrist", "pelvis", "left_wrist", "pelvis"), (1.4, "hl")),
    ("move", ("left_wrist", "pelvis", "right_wrist", "pelvis"), (1.4, "hl")),
    ("fast", ("right_wrist",), (2.5, "hl")),
    ("fast", ("left_wrist",), (2.5, "hl")),
    ("plane", ("pelvis", "left_hip", "left_foot", "right_ankle"), (0.38, "hl")),
    ("plane", ("pelvis", "right_hip", "right_foot", "left_ankle"), (0.38, "hl")),
    ("nplane", ("zero", "y_unit", "y_min", "right_ankle"), (1.2, "hl")),
    ("nplane", ("zero", "y_unit", "y_min", "left_ankle"), (1.2, "hl")),
    ("nplane", ("left_hip", "right_hip", "left_ankle", "right_ankle"), (2.1, "hw")),
    ("angle", ("right_knee", "right_hip", "right_knee", "right_ankle"), (0, 110)),
    ("angle", ("left_knee", "left_hip", "left_knee", "left_ankle"), (0, 110)),
    ("fast", ("right_ankle",), (2.5, "hl")),
    ("fast", ("left_ankle",), (2.5, "hl")),
    ("angle", ("neck", "pelvis", "right_shoulder", "right_elbow"), (25, 180)),
    ("angle", ("neck", "pelvis", "left_shoulder", "left_elbow"), (25, 180)),
    ("angle", ("neck", "pelvis", "right_hip", "right_knee"), (50, 180)),
    ("angle", ("neck", "pelvis", "left_hip", "left_knee"), (50, 180)),
    ("plane", ("right_ankle", "neck", "left_ankle", "pelvis"), (0.5, "hl")),
    ("angle", ("neck", "pelvis", "zero", "y_unit"), (70, 110)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "right_wrist"), (-1.2, "hl")),
    ("nplane", ("zero", "minus_y_unit", "y_min", "left_wrist"), (-1.2, "hl")),
    ("fast", ("pelvis",), (2.3, "hl")),
)
NUM_MANUAL_FEATURES = len(PREDICATES)
VIRTUAL_POINTS = {"zero": (0.0, 0.0, 0.0), "y_unit": (0.0, 1.0, 0.0), "minus_y_unit": (0.0, -1.0, 0.0)}
# The predicates reach joint 21 (right_wrist) at most.
MANUAL_MIN_JOINTS = 22


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1)


def _projected_velocity(relative: np.ndarray, relative_prev: np.ndarray, direction: np.ndarray) -> np.ndarray:
    velocity = relative - relative_prev
    return _dot(velocity, direction) / np.linalg.norm(direction, axis=-1) / MANUAL_TIME_PER_FRAME_S


def manual_predicates(positions: np.ndarray) -> np.ndarray:
    """(T-1, 32) booleans: every predicate on every frame 1 .. T-1."""
    p = check_positions(positions, min_frames=2)
    if p.shape[1] < MANUAL_MIN_JOINTS:
        raise ValueError(f"geometric features need the SMPL joint order (>= 22 joints), got {p.shape[1]}")
    current, previous = p[1:], p[:-1]
    frames = len(current)
    lowest = np.zeros((frames, 3))
    lowest[:, 1] = current[..., 1].min(axis=1)

    def point(name: str) -> np.ndarray:
        if name == "y_min":
            return lowest
        if name in VIRTUAL_POINTS:
            return np.broadcast_to(np.array(VIRTUAL_POINTS[name]), (frames, 3))
        return current[:, SMPL24_JOINT_NAMES.index(name)]

    def before(name: str) -> np.ndarray:
        return previous[:, SMPL24_JOINT_NAMES.index(name)]

    # Silence arccos/division warnings: NaN compares False, which is what the reference returns.
    columns = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for kind, names, limits in PREDICATES:
            a = [point(n) for n in names]
            threshold = limits[0] * SCALES[limits[1]] if kind != "angle" else None
            if kind == "nmove":
                normal = np.cross(a[2] - a[0], a[1] - a[0])
                value = _projected_velocity(a[3] - a[0], before(names[3]) - before(names[0]), normal)
            elif kind == "move":
                value = _projected_velocity(a[2] - a[0], before(names[2]) - before(names[0]), a[1] - a[0])
            elif kind == "plane":
                normal = np.cross(a[2] - a[0], a[1] - a[0])
                value = _dot(normal, a[3] - a[0]) / np.linalg.norm(normal, axis=-1)
            elif kind == "nplane":
                normal = a[1] - a[0]
                value = _dot(normal, a[3] - a[2]) / np.linalg.norm(normal, axis=-1)
            elif kind == "angle":
                u, v = a[1] - a[0], a[3] - a[2]
                cosine = _dot(u, v) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
                angle = np.degrees(np.arccos(cosine))
                columns.append((angle > limits[0]) & (angle < limits[1]))
                continue
            else:  # fast
                value = np.linalg.norm(a[0] - before(names[0]), axis=-1) / MANUAL_TIME_PER_FRAME_S
            columns.append(value > threshold)
    return np.stack(columns, axis=-1)


def manual_features(positions: np.ndarray) -> np.ndarray:
    """(32,) float32: the fraction of frames on which each predicate holds (reference dtype)."""
    return manual_predicates(positions).astype(np.float32).mean(axis=0)
