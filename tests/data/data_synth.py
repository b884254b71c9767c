"""Synthetic fixtures for the data tests: motions with known beats and dataset folders laid out
like AIST++, FineDance, Motorica and a generic folder (tiny, deterministic, written by the tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from dancegen.audio.io import write_wav
from dancegen.audio.synth import drum_pattern
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import smpl24

SAMPLE_RATE = 22050
# Joints that swing with the beat: both shoulders and both hips.
SWINGING_JOINTS = {"left_shoulder": 1.0, "right_shoulder": -1.0, "left_hip": 0.6, "right_hip": -0.6}


def beat_motion(beat_times, duration: float, fps: float = 60.0, amplitude: float = 0.8, skeleton=None) -> Motion:
    """A dance whose limbs swing from one extreme to the other between consecutive beats
    (half-cosine easing), so the body stops exactly on each beat: mean joint speed has its
    minima at `beat_times`."""
    skeleton = skeleton or smpl24()
    times = np.arange(int(round(duration * fps))) / fps
    knots = np.concatenate([[0.0], np.asarray(beat_times, dtype=np.float64), [duration]])
    segment = np.clip(np.searchsorted(knots, times, side="right") - 1, 0, len(knots) - 2)
    phase = (times - knots[segment]) / (knots[segment + 1] - knots[segment])
    direction = np.where(segment % 2 == 0, 1.0, -1.0)
    swing = amplitude * direction * -np.cos(np.pi * phase)  # -A -> +A, then +A -> -A, ...
    rotvec = np.zeros((len(times), skeleton.num_joints, 3))
    for name, gain in SWINGING_JOINTS.items():
        rotvec[:, skeleton.index(name), 2] = gain * swing
    rotations = axis_angle_to_quat(torch.from_numpy(rotvec)).numpy()
    root = np.tile([0.0, 0.95, 0.0], (len(times), 1))
    return Motion(skeleton, fps, rotations, root)


def write_song(path: Path, bpm: float, seconds: float, seed: int = 0) -> np.ndarray:
    """A drum groove wav at `bpm`; returns its beat times."""
    samples, beats = drum_pattern(bpm, seconds, SAMPLE_RATE, seed=seed)
    write_wav(path, samples, SAMPLE_RATE)
    return beats


def write_beats_json(path: Path, beats: np.ndarray, bpm: float, audio: str, stems=()) -> None:
    """The kit's beats.json layout."""
    data = {"audio": audio, "stems": list(stems) or [audio], "bpm": bpm,
            "beats_s": [round(float(t), 3) for t in beats], "downbeats_s": [round(float(t), 3) for t in beats[::4]]}
    path.write_text(json.dumps(data))


def make_aistpp(root: Path, names: dict[str, str], ignore=(), seconds: float = 2.0) -> Path:
    """AIST++ layout: `names` maps sequence name -> split ("train", "val", "test" or None)."""
    from dancegen.motion.formats import write_aistpp

    (root / "motions").mkdir(parents=True)
    (root / "wav").mkdir()
    (root / "splits").mkdir()
    for index, name in enumerate(names):
        motion = beat_motion(np.arange(0.5, seconds, 0.5), seconds, fps=60.0)
        write_aistpp(motion, root / "motions" / f"{name}.pkl")
        music = name.split("_")[4]
        if not (root / "wav" / f"{music}.wav").exists():
            write_song(root / "wav" / f"{music}.wav", 120.0, seconds + 1, seed=index)
    for split, filename in (("train", "crossmodal_train.txt"), ("val", "crossmodal_val.txt"), ("test", "crossmodal_test.txt")):
        (root / "splits" / filename).write_text("\n".join(n for n, s in names.items() if s == split) + "\n")
    (root / "ignore_list.txt").write_text("\n".join(ignore) + "\n")
    return root


def make_finedance(root: Path, labels: dict[str, str], seconds: float = 1.0) -> Path:
    """FineDance layout: `labels` maps clip id -> style2 genre label."""
    from dancegen.motion.formats import write_finedance
    from dancegen.skeleton.smplx import smplx52

    for folder in ("motion", "music_wav", "label_json"):
        (root / folder).mkdir(parents=True)
    for index, (name, label) in enumerate(labels.items()):
        motion = beat_motion([0.5], seconds, fps=30.0, skeleton=smplx52())
        write_finedance(motion, root / "motion" / f"{name}.npy")
        write_song(root / "music_wav" / f"{name}.wav", 100.0, seconds, seed=index)
        (root / "label_json" / f"{name}.json").write_text(json.dumps({"name": name, "style1": "x", "style2": label}))
    return root
