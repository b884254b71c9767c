"""Editing and long-form metrics: how well constraints are met, and whether seams show.

Constraint distance (DanceMosaic's joint-control error; no public code, so dancegen's
definition): mean Euclidean distance, in metres, between constrained joints and their targets
over every constrained (frame, joint) entry. Lower is better; 0 means every constraint is met.

Seam smoothness (long-form stitching): jerk = |third difference of positions| * fps^3 (m/s^3),
averaged over joints. Jerk samples whose four frames straddle a seam (segment boundary) are
"at the seam", the others "inside". Ratio = mean jerk at seams / mean jerk inside: about 1 when
the stitch is invisible, much larger when segments jump or kink at their boundaries.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dancegen.metrics.kinetic import check_positions

# A jerk sample k uses frames k .. k+3.
JERK_SPAN = 4


def constraint_distance(positions: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean distance (m) to pose constraints.

    targets: (T, J, 3) target positions; unconstrained entries are NaN, or given by `mask`.
    mask: optional (T, J) booleans, True where a joint is constrained.
    """
    p = check_positions(positions, min_frames=1)
    targets = np.asarray(targets, dtype=np.float64)
    if targets.shape != p.shape:
        raise ValueError(f"targets have shape {targets.shape}; expected {p.shape} like the positions")
    constrained = np.isfinite(targets).all(axis=-1)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != p.shape[:2]:
            raise ValueError(f"mask has shape {mask.shape}; expected {p.shape[:2]}")
        constrained &= mask
    if not constrained.any():
        raise ValueError("no joint is constrained: give finite targets (and a mask) for at least one joint")
    return float(np.linalg.norm(p[constrained] - targets[constrained], axis=-1).mean())


def jerk(positions: np.ndarray, fps: float) -> np.ndarray:
    """(T-3,) mean joint jerk magnitude, m/s^3."""
    p = check_positions(positions, min_frames=JERK_SPAN)
    third = p[3:] - 3 * p[2:-1] + 3 * p[1:-2] - p[:-3]
    return np.linalg.norm(third, axis=-1).mean(axis=-1) * fps**3


def seam_smoothness(positions: np.ndarray, fps: float, seams: Sequence[int]) -> float:
    """Mean jerk at segment boundaries / mean jerk inside segments.

    seams: first frame index of every segment after the first (e.g. [120, 240] for three
    120-frame segments).
    """
    magnitude = jerk(positions, fps)
    at_seam = np.zeros(len(magnitude), dtype=bool)
    for seam in seams:
        if not 0 < seam < len(positions):
            raise ValueError(f"seam {seam} is outside the motion's frames 1..{len(positions) - 1}")
        at_seam[max(0, seam - JERK_SPAN + 1) : seam] = True  # samples k with k < seam <= k + 3
    if not at_seam.any() or at_seam.all():
        raise ValueError("seam smoothness needs at least one seam and frames away from seams")
    inside = magnitude[~at_seam].mean()
    return float(magnitude[at_seam].mean() / inside) if inside > 0 else float("inf")
