"""Explicit up-axis conversions. dancegen is y-up internally; some data (AMP, Blender) is z-up.

z-up to y-up is a -90 degree rotation about +X: (x, y, z) -> (x, z, -y). Both directions keep
the coordinate system right-handed.
"""

from __future__ import annotations

import numpy as np

# Rotation taking z-up coordinates to y-up coordinates (column-vector convention).
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
Y_UP_TO_Z_UP = Z_UP_TO_Y_UP.T


def z_up_to_y_up(points: np.ndarray) -> np.ndarray:
    """Convert points or vectors (..., 3) from z-up to y-up."""
    return np.asarray(points) @ Z_UP_TO_Y_UP.T


def y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """Convert points or vectors (..., 3) from y-up to z-up."""
    return np.asarray(points) @ Y_UP_TO_Z_UP.T


def z_up_to_y_up_rotations(matrices: np.ndarray) -> np.ndarray:
    """Re-express world-frame rotation matrices (..., 3, 3) given in z-up in y-up axes."""
    return Z_UP_TO_Y_UP @ np.asarray(matrices) @ Z_UP_TO_Y_UP.T


def y_up_to_z_up_rotations(matrices: np.ndarray) -> np.ndarray:
    return Y_UP_TO_Z_UP @ np.asarray(matrices) @ Y_UP_TO_Z_UP.T
