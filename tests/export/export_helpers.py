"""Test material for the export and viewer tests: a dance, a click-track song, page data."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import soundfile
import torch

from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.tree import Skeleton

CLICK_HZ = 1000.0
CLICK_S = 0.03


def make_dance(skeleton: Skeleton | None = None, frames: int = 48, fps: float = 24.0, seed: int = 7) -> Motion:
    """Every joint swings about all three axes at its own slow rate; the root sways, bobs and
    walks forward. Smooth (no jumps between frames), so keyframe interpolation is exact enough."""
    skeleton = skeleton or smpl24()
    rng = np.random.default_rng(seed)
    joints = skeleton.num_joints
    seconds = np.arange(frames) / fps
    rate = rng.uniform(0.2, 1.0, size=(joints, 3))
    phase = rng.uniform(0.0, 2 * np.pi, size=(joints, 3))
    swing = rng.uniform(0.1, 0.7, size=(joints, 3))
    rotvec = swing * np.sin(2 * np.pi * rate * seconds[:, None, None] + phase)
    quats = axis_angle_to_quat(torch.from_numpy(rotvec)).numpy()
    root = np.stack([0.2 * np.sin(2 * seconds), 0.92 + 0.04 * np.sin(6 * seconds), 0.25 * seconds], axis=-1)
    return Motion(skeleton, fps, quats, root, metadata={"name": "synthetic", "seed": seed})


def write_click_track(path: Path, seconds: float, bpm: float = 120.0, sample_rate: int = 16000) -> list[float]:
    """A WAV of decaying clicks on every beat; returns the beat times."""
    samples = np.zeros(int(seconds * sample_rate), dtype=np.float32)
    beats = list(np.arange(0.0, seconds, 60.0 / bpm))
    click_t = np.arange(int(CLICK_S * sample_rate)) / sample_rate
    click = (0.8 * np.sin(2 * np.pi * CLICK_HZ * click_t) * np.exp(-click_t / (CLICK_S / 4))).astype(np.float32)
    for beat in beats:
        start = int(beat * sample_rate)
        end = min(start + len(click), len(samples))
        samples[start:end] += click[: end - start]
    soundfile.write(str(path), samples, sample_rate)
    return [float(b) for b in beats]


def read_page_data(page: Path) -> dict:
    """The JSON a viewer page embeds, each dance's `positions` decoded to a (T, J, 3) array;
    the first dance's fields are also at the top level (what one-dance tests read)."""
    match = re.search(r'<script type="application/json" id="dancegen-data">(.*?)</script>', page.read_text(encoding="utf-8"), re.S)
    data = json.loads(match[1])
    for dance in data["dances"]:
        raw = np.frombuffer(base64.b64decode(dance["positions"]), dtype="<f4")
        dance["positions"] = raw.reshape(dance["num_frames"], len(dance["parents"]), 3)
    return {**data["dances"][0], **data}
