"""Deterministic synthetic dances for the metric tests (and the reference cross-check).

Joint positions come from SMPL-24 forward kinematics of smooth, beat-locked joint rotations plus
a swaying, bouncing root, so every metric sees plausible numbers: feet near the floor, speeds
of a few metres per second, predicates of the geometric features that are sometimes true and
sometimes false. Everything is a pure function of the arguments (numpy PCG64 + float64 FK), so
the expected values frozen in the tests were produced from exactly these arrays.
"""

from __future__ import annotations

import numpy as np
import torch

from dancegen.skeleton.fk import skeleton_fk
from dancegen.skeleton.rotations import axis_angle_to_matrix
from dancegen.skeleton.smpl import smpl24

# Pelvis height that puts the SMPL template's toes just above y = 0.
STANDING_PELVIS_HEIGHT_M = 0.93


def synthetic_dance(
    seed: int,
    frames: int,
    fps: float = 60.0,
    bpm: float = 120.0,
    freezes: tuple[tuple[float, float], ...] = (),
    jitter_m: float = 0.002,
) -> np.ndarray:
    """SMPL-24 joint positions (frames, 24, 3), metres, y-up.

    `freezes` lists (start_s, duration_s) spans during which the dancer holds still.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    beat_hz = bpm / 60.0
    joints = 24

    # Each dancer has a style: overall energy, and bent elbows and knees at rest.
    amplitude = rng.uniform(0.1, 0.5, (joints, 3)) * rng.uniform(0.6, 1.6)
    amplitude[0] = (0.08, 0.5, 0.08)  # root: gentle tilt, free yaw
    frequency = beat_hz * rng.choice([0.25, 0.5, 1.0], (joints, 3))
    phase = rng.uniform(0.0, 2.0 * np.pi, (joints, 3))
    rotvec = amplitude * np.sin(2.0 * np.pi * frequency * t[:, None, None] + phase)
    rotvec[:, [18, 19], 1] += rng.uniform(-1.2, 1.2, 2)  # elbows
    rotvec[:, [4, 5], 0] += rng.uniform(0.0, 0.8, 2)  # knees

    sway = rng.uniform(0.1, 0.4, 2)
    root = np.stack(
        [
            sway[0] * np.sin(2.0 * np.pi * 0.25 * beat_hz * t + phase[0, 0]),
            STANDING_PELVIS_HEIGHT_M + 0.06 * np.abs(np.sin(np.pi * beat_hz * t)) - 0.03,
            sway[1] * np.cos(2.0 * np.pi * 0.125 * beat_hz * t + phase[0, 2]),
        ],
        axis=-1,
    )

    # Holding still: the time index stops advancing inside each freeze span.
    hold = np.arange(frames)
    for start_s, duration_s in freezes:
        start, stop = int(round(start_s * fps)), min(frames, int(round((start_s + duration_s) * fps)))
        hold[start:stop] = start
    rotvec, root = rotvec[hold], root[hold]

    _, positions = skeleton_fk(
        smpl24(), axis_angle_to_matrix(torch.from_numpy(rotvec)), torch.from_numpy(root)
    )
    positions = positions.numpy()
    if jitter_m:
        moving = np.ones(frames, dtype=bool)
        moving[1:] = hold[1:] != hold[:-1]
        positions = positions + moving[:, None, None] * rng.normal(0.0, jitter_m, positions.shape)
    return positions


def synthetic_set(first_seed: int, count: int, frames: int, fps: float = 60.0, bpm: float = 120.0) -> list[np.ndarray]:
    return [synthetic_dance(first_seed + i, frames, fps=fps, bpm=bpm) for i in range(count)]


def with_hands(body: np.ndarray, seed: int) -> np.ndarray:
    """Extend SMPL-24 positions to the 52-joint SMPL-H layout (22 body + 2 x 15 finger joints).

    Fingers are short wiggling chains hanging off each wrist, enough for the hand metrics.
    """
    rng = np.random.default_rng(seed)
    frames = body.shape[0]
    t = np.arange(frames)[:, None, None]
    out = [body[:, :22]]
    for wrist in (20, 21):  # left then right, as SMPL-H orders them
        base = rng.uniform(-0.05, 0.05, (1, 15, 3))
        wiggle = 0.02 * np.sin(0.2 * t * rng.uniform(0.5, 2.0, (1, 15, 1)) + rng.uniform(0, 6.28, (1, 15, 3)))
        out.append(body[:, wrist : wrist + 1] + base + wiggle)
    return np.concatenate(out, axis=1)


def click_track(seconds: float = 8.0, rate: int = 44100, period: float = 0.5, offset: float = 0.25) -> tuple[np.ndarray, int]:
    """1 kHz clicks every `period` seconds from `offset`, over a quiet 220 Hz tone (mono float32)."""
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.01 * np.sin(2 * np.pi * 220 * t)
    click = int(0.03 * rate)
    for start in np.arange(offset, seconds, period):
        i = int(start * rate)
        audio[i : i + click] += np.sin(2 * np.pi * 1000 * t[:click]) * np.exp(-t[:click] * 120)
    return audio.astype(np.float32), rate
