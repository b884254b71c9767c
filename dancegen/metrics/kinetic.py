"""Kinetic features (the "k" of FID_k / Div_k) and the joint-position checks every metric shares.

Reference: AIST++ API `aist_plusplus/features/kinetic.py` + `utils.py` (google/aistplusplus_api
@2dd7b3e, itself from fairmotion), copied unchanged into Bailando `utils/features/` and LODGE
`metric/features/`. For every joint, three numbers averaged over frames i = 1 .. T-1:

- horizontal kinetic energy  mean_i |v_xz(i)|^2
- vertical kinetic energy    mean_i |v_y(i)|^2
- energy expenditure         mean_i |a(i)|

v(i) is the mean velocity over a sliding window of +-2 frames around i (per-frame displacements
p[k] - p[k-1] for k = i-2 .. i+2 that exist), a(i) the mean of the second differences
(p[k+1] - 2 p[k] + p[k-1]) / dt^2 for k = i-2 .. i+2 that exist. dt = 1/60 s whatever the
data's frame rate (AIST++ is 60 fps); y is up. 24 joints give the published 72-d vector.

The reference's acceleration has an operator-precedence bug, `v1 = p[k] - p[k-1] / dt`, in
every published copy (so in every FID_k table built on it: FACT, Bailando, EDGE, LODGE, ...).
`reference_bugs=True` reproduces it; the default computes the intended `(p[k] - p[k-1]) / dt`.
"""

from __future__ import annotations

import numpy as np

# The "kinetic velocity" whose smoothed minima are motion beats (Bailando `calc_db`).
from dancegen.motion.kinematic_beats import mean_joint_speed  # noqa: F401  (re-exported)

# AIST++ API `KineticFeatures(frame_time=1./60, sliding_window=2)` defaults.
KINETIC_FRAME_TIME_S = 1.0 / 60.0
KINETIC_WINDOW = 2


# --- shared input handling -------------------------------------------------------------

def check_positions(positions: np.ndarray, min_frames: int = 2, name: str = "positions") -> np.ndarray:
    """Validate joint positions (T, J, 3) and return them as float64.

    Raises ValueError (callers that know the file turn it into a one-line user error).
    """
    positions = np.asarray(positions)
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (frames, joints, 3), got {positions.shape}")
    if positions.shape[0] < min_frames:
        raise ValueError(f"{name} has {positions.shape[0]} frames; at least {min_frames} are needed")
    if not np.isfinite(positions).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return positions.astype(np.float64, copy=False)


def root_relative(positions: np.ndarray) -> np.ndarray:
    """Subtract the first frame's root position from every joint (Bailando `metrics_new.py`)."""
    return positions - positions[:1, :1]


# --- kinetic features ------------------------------------------------------------------

def _window_sum(values: np.ndarray, centres: np.ndarray, window: int, valid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sum of values[c + o] over the offsets |o| <= window whose index lies in `valid`, and their count.

    `centres` are consecutive. Entries of `values` outside `valid` must be 0: the sum adds zero
    padding where the reference's per-frame loop skips, in the same offset order, so the result
    is bit-identical to it.
    """
    low, high = valid
    right = max(0, centres[-1] + window - (len(values) - 1))
    padded = np.concatenate(
        [np.zeros((window,) + values.shape[1:]), values, np.zeros((right,) + values.shape[1:])]
    )
    start = centres[0] + window
    total = np.zeros((len(centres),) + values.shape[1:])
    count = np.zeros(len(centres))
    for offset in range(-window, window + 1):
        total += padded[start + offset : start + offset + len(centres)]
        index = centres + offset
        count += (index >= low) & (index <= high)
    return total, count


def kinetic_features(
    positions: np.ndarray,
    frame_time: float = KINETIC_FRAME_TIME_S,
    window: int = KINETIC_WINDOW,
    reference_bugs: bool = False,
) -> np.ndarray:
    """(J * 3,) float32: per joint [horizontal KE, vertical KE, energy expenditure], y-up.

    float32 like the reference, so FID inputs match it bit for bit where the values do.
    """
    p = check_positions(positions, min_frames=3)
    frames = len(p)
    centres = np.arange(1, frames)  # the reference's frame loop, i = 1 .. T-1

    # Velocity: displacement d[k] = p[k+1] - p[k] enters frame i's window for k = i + j - 1.
    displacement = p[1:] - p[:-1]
    total, count = _window_sum(displacement, centres - 1, window, (0, frames - 2))
    scale = (count * frame_time)[:, None]
    horizontal = np.linalg.norm(total[..., [0, 2]] / scale[..., None], axis=-1)
    vertical = np.abs(total[..., 1] / scale)

    # Acceleration at k (1 <= k <= T-2) from the forward velocities around it.
    forward = displacement[1:] / frame_time  # (p[k+1] - p[k]) / dt for k = 1 .. T-2
    if reference_bugs:
        backward = p[1:-1] - p[:-2] / frame_time  # the published precedence bug
    else:
        backward = displacement[:-1] / frame_time
    acceleration = np.concatenate([np.zeros_like(forward[:1]), (forward - backward) / frame_time])
    total_a, count_a = _window_sum(acceleration, centres, window, (1, frames - 2))
    expenditure = np.linalg.norm(total_a / count_a[:, None, None], axis=-1)

    per_joint = np.stack(
        [(horizontal**2).sum(0), (vertical**2).sum(0), expenditure.sum(0)], axis=-1
    ) / (frames - 1.0)
    return per_joint.reshape(-1).astype(np.float32)
