"""Kinematic beats: the instants a motion stops and turns, where dancers put their accents.

The mean joint speed per frame (|p[t+1] − p[t]| averaged over joints, Bailando's `calc_db`
"kinetic velocity"), smoothed by a Gaussian, has its strict local minima at the motion beats.
BAS scores them against music beats (`metrics.beat_align`) and beat sync moves them onto the
music's (`sampling.beat_sync`); both read them here, so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np


def mean_joint_speed(positions: np.ndarray) -> np.ndarray:
    """Mean over joints of the per-frame displacement length, (T-1,), metres per frame."""
    return np.linalg.norm(positions[1:] - positions[:-1], axis=-1).mean(axis=-1)


def speed_minima(positions: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Indices (into the T-1 speed samples) of the strict minima of the mean joint speed
    smoothed with a Gaussian of `sigma_frames` (scipy's reflect mode, truncate 4)."""
    from scipy.ndimage import gaussian_filter1d

    smoothed = gaussian_filter1d(mean_joint_speed(positions), sigma_frames)
    inner = smoothed[1:-1]
    return np.flatnonzero((inner < smoothed[:-2]) & (inner < smoothed[2:])) + 1
