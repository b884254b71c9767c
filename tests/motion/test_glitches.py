"""Capture glitches repaired at import (`motion.glitches`): spikes and steps go, movement stays."""

from __future__ import annotations

import numpy as np
import pytest

from dancegen.metrics.dance_quality import pelvis_flips
from dancegen.motion.glitches import find_glitches, repair_glitches, step_angles_deg
from dancegen.motion.motion import Motion
from dancegen.skeleton import smpl24


def yaw_quaternions(degrees: np.ndarray) -> np.ndarray:
    half = np.radians(degrees) / 2
    return np.stack([np.zeros_like(half), np.sin(half), np.zeros_like(half), np.cos(half)], axis=-1)


def motion_with_root_yaw(yaw_deg: np.ndarray) -> Motion:
    skeleton = smpl24()
    rotations = np.tile([0.0, 0.0, 0.0, 1.0], (len(yaw_deg), skeleton.num_joints, 1))
    rotations[:, 0] = yaw_quaternions(yaw_deg)
    return Motion(skeleton, 30.0, rotations, np.tile([0.0, 0.9, 0.0], (len(yaw_deg), 1)))


def test_a_one_frame_flip_and_a_two_frame_flip_are_spikes_and_are_repaired():
    yaw = np.linspace(0, 90, 120)  # a slow quarter turn
    yaw[40] += 120  # one frame flipped
    yaw[80:82] -= 60  # two frames flipped
    motion = motion_with_root_yaw(yaw)
    assert len(pelvis_flips(motion.rotations[:, 0])) > 0

    fixed, glitches = repair_glitches(motion)
    assert [(g.joint, g.kind, g.first_frame, g.frames) for g in glitches] == [("pelvis", "spike", 40, 1), ("pelvis", "spike", 80, 2)]
    assert glitches[0].jump_deg == pytest.approx(120, abs=1.5)
    assert len(pelvis_flips(fixed.rotations[:, 0])) == 0
    assert step_angles_deg(fixed.rotations[:, 0]).max() < 1.0  # back on the slow turn
    untouched = np.setdiff1d(np.arange(120), [40, 80, 81])
    np.testing.assert_allclose(np.abs(np.sum(fixed.rotations[untouched, 0] * motion.rotations[untouched, 0], -1)), 1, atol=1e-9)


def test_an_isolated_step_is_spread_over_its_neighbours():
    yaw = np.r_[np.zeros(50), np.full(50, 57.0)]  # 005_16's kind of jump: 57° in one frame, for good
    fixed, glitches = repair_glitches(motion_with_root_yaw(yaw))
    assert [(g.kind, g.first_frame, g.frames) for g in glitches] == [("step", 47, 6)]
    assert step_angles_deg(fixed.rotations[:, 0]).max() == pytest.approx(57 / 7, rel=0.01)


def test_a_fast_spin_is_movement_not_a_glitch():
    spin = motion_with_root_yaw(np.arange(90) * 35.0)  # 35° every frame: > the threshold, always
    fixed, glitches = repair_glitches(spin)
    assert glitches == [] and fixed is spin
    assert find_glitches(spin.rotations[:, 0]) == []


def test_the_pairing_report_lists_what_was_repaired(tmp_path):
    import json

    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern
    from dancegen.data.pairing import pair_folders

    motion_dir, music_dir = tmp_path / "motion", tmp_path / "music" / "drums"
    motion_dir.mkdir()
    music_dir.mkdir(parents=True)
    t = np.arange(300) / 30.0
    yaw = 20 * np.sin(2 * np.pi * t)
    yaw[150] += 90
    clip = motion_with_root_yaw(yaw)
    clip.root_translation[:, 0] = 0.3 * np.sin(2 * np.pi * t)  # a sway with a beat to pair on
    clip.save_npz(motion_dir / "sway.npz")
    samples, _ = drum_pattern(120.0, 30.0)
    write_wav(music_dir / "song.wav", samples, sample_rate=22050)

    pair_folders(motion_dir, tmp_path / "music", tmp_path / "out")
    report = json.loads((tmp_path / "out" / "pairing_report.json").read_text())
    assert report["glitches_repaired"]["sway"] == [{"joint": "pelvis", "kind": "spike", "frame": 150, "frames": 1,
                                                    "jump_deg": pytest.approx(92, abs=3)}]  # 90 + the sway
    paired = Motion.load_npz(next((tmp_path / "out").glob("sway__*.npz")))
    assert len(pelvis_flips(paired.rotations[:, 0])) == 0
