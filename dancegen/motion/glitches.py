"""Capture glitches: joint rotations that snap in one frame, repaired at import.

Some capture clips hold single-frame flips (`docs/quality_diagnosis.md` §2: CMU 005_16 turns its
root 57° in one frame and back; 60_04 26° then 61°). A model trained on them learns that bodies
can snap. `repair_glitches` finds two kinds per joint and replaces the bad frames by a slerp
between the good frames around them:

- **spike**: the rotation jumps by more than `threshold_deg` and, within `max_frames`, comes
  back to within `threshold_deg / 2` of where it was;
- **step**: one frame-to-frame change above `threshold_deg` with calm frames on both sides
  (every other change within `calm_frames` below a third of the threshold): a discontinuity,
  not a movement. It is spread over `calm_frames` frames on each side.

A fast movement is neither: a spin at 2 turns per second is 24°/frame at 30 fps, every frame,
and never comes back in a frame or two. Every repair is reported (`Glitch`), so a dataset's
pairing report lists what was changed where.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import quat_make_continuous, quat_slerp

THRESHOLD_DEG = 30.0  # the flip threshold of `metrics.dance_quality.pelvis_flips`
MAX_SPIKE_FRAMES = 3
CALM_FRAMES = 3


@dataclass(frozen=True)
class Glitch:
    joint: str
    kind: str  # "spike" or "step"
    first_frame: int  # first frame replaced
    frames: int  # how many were replaced
    jump_deg: float  # the largest frame-to-frame change it had

    def summary(self) -> dict:
        return {"joint": self.joint, "kind": self.kind, "frame": self.first_frame, "frames": self.frames,
                "jump_deg": round(self.jump_deg, 1)}


def step_angles_deg(quaternions: np.ndarray) -> np.ndarray:
    """(T-1,) rotation angle between consecutive unit quaternions (x, y, z, w), degrees."""
    dots = np.abs(np.sum(quaternions[1:] * quaternions[:-1], axis=-1))
    return np.degrees(2 * np.arccos(np.clip(dots, -1.0, 1.0)))


def angle_between_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(2 * np.arccos(min(1.0, abs(float(np.dot(a, b)))))))


def find_glitches(quaternions: np.ndarray, threshold_deg: float = THRESHOLD_DEG,
                  max_frames: int = MAX_SPIKE_FRAMES, calm_frames: int = CALM_FRAMES) -> list[tuple[str, int, int, float]]:
    """(kind, first bad frame, end frame (exclusive), jump) of one joint's glitches."""
    steps = step_angles_deg(quaternions)
    found, t = [], 0
    while t < len(steps):
        if steps[t] <= threshold_deg:
            t += 1
            continue
        before = t  # last good frame
        back = next((end for end in range(before + 2, min(before + 2 + max_frames, len(quaternions)))
                     if angle_between_deg(quaternions[before], quaternions[end]) < threshold_deg / 2), None)
        if back is not None:
            found.append(("spike", before + 1, back, float(steps[before:back].max())))
            t = back
            continue
        around = np.r_[steps[max(0, t - calm_frames):t], steps[t + 1:t + 1 + calm_frames]]
        if len(around) and (around < threshold_deg / 3).all() and calm_frames <= t < len(steps) - calm_frames:
            found.append(("step", t + 1 - calm_frames, t + 1 + calm_frames, float(steps[t])))
        t += 1
    return found


def repair_glitches(motion: Motion, threshold_deg: float = THRESHOLD_DEG) -> tuple[Motion, list[Glitch]]:
    """The motion with every joint's spikes and steps replaced by slerps, and what was done."""
    rotations = quat_make_continuous(torch.from_numpy(motion.rotations), dim=0).numpy().copy()
    glitches = []
    for joint, name in enumerate(motion.skeleton.joint_names):
        for kind, first, end, jump in find_glitches(rotations[:, joint], threshold_deg):
            before, after = first - 1, end
            weights = (np.arange(first, end) - before) / (after - before)
            start = torch.from_numpy(np.repeat(rotations[before:before + 1, joint], len(weights), axis=0))
            stop = torch.from_numpy(np.repeat(rotations[after:after + 1, joint], len(weights), axis=0))
            rotations[first:end, joint] = quat_slerp(start, stop, torch.from_numpy(weights)).numpy()
            glitches.append(Glitch(name, kind, first, end - first, jump))
    if not glitches:
        return motion, []
    return motion.copy(rotations=rotations), glitches
