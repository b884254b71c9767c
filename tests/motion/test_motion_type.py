import json

import numpy as np
import pytest
import torch

from dancegen.errors import InputFileError
from dancegen.motion import Motion
from dancegen.skeleton.rotations import axis_angle_to_quat, quat_to_axis_angle
from dancegen.skeleton.smpl import smpl24


def smooth_motion(frames: int = 60, fps: float = 30.0, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / fps
    amplitude = rng.uniform(0.1, 0.5, size=(1, 24, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(1, 24, 3))
    axis_angle = amplitude * np.sin(2 * np.pi * 0.5 * t + phase)
    root = np.stack([np.sin(t[:, 0, 0]), 0.9 + 0.05 * np.cos(t[:, 0, 0]), 0.3 * t[:, 0, 0]], axis=-1)
    quats = axis_angle_to_quat(torch.from_numpy(axis_angle)).numpy()
    return Motion(smpl24(), fps, quats, root, metadata={"source": "synthetic"})


def test_shapes_duration_and_repr():
    motion = smooth_motion(90, 30.0)
    assert motion.num_frames == 90 and motion.num_joints == 24
    assert motion.duration == pytest.approx(3.0)
    assert "90 frames" in repr(motion)
    positions = motion.joint_positions()
    assert positions.shape == (90, 24, 3)
    np.testing.assert_allclose(positions[:, 0], motion.root_translation)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="expected"):
        Motion(smpl24(), 30, np.zeros((5, 23, 4)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="root_translation"):
        Motion(smpl24(), 30, np.tile([0, 0, 0, 1.0], (5, 24, 1)), np.zeros((4, 3)))


def test_npz_round_trip_is_exact(tmp_path):
    motion = smooth_motion()
    motion.contacts = np.zeros((motion.num_frames, 4))
    path = tmp_path / "m.npz"
    motion.save_npz(path)
    back = Motion.load_npz(path)
    assert back.skeleton.same_topology(motion.skeleton)
    np.testing.assert_array_equal(back.rotations, motion.rotations)
    np.testing.assert_array_equal(back.root_translation, motion.root_translation)
    np.testing.assert_array_equal(back.contacts, motion.contacts)
    assert back.fps == motion.fps and back.metadata == {"source": "synthetic"}
    # The file holds no pickled objects.
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["metadata"]))["source"] == "synthetic"


def test_load_npz_errors_are_one_line(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        Motion.load_npz(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(InputFileError, match="not a dancegen motion") as info:
        Motion.load_npz(other)
    assert "\n" not in str(info.value)


def test_resample_keeps_duration_and_interpolates():
    motion = smooth_motion(120, 60.0)
    half = motion.resample(30.0)
    assert half.num_frames == 60 and half.duration == pytest.approx(motion.duration)
    # Every 2nd frame of the 60 fps motion is a 30 fps frame.
    np.testing.assert_allclose(half.joint_positions(), motion.joint_positions()[::2], atol=1e-9)
    up = half.resample(60.0)
    assert up.num_frames == 120
    # Slerp between smooth frames stays close to the original motion.
    err = np.abs(up.joint_positions()[:-2] - motion.joint_positions()[:-2]).max()
    assert err < 0.01


def test_slerp_resampling_interpolates_the_rotation_angle():
    q = axis_angle_to_quat(torch.tensor([[[0.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]], dtype=torch.float64)).numpy()
    skeleton = smpl24()
    rotations = np.tile(np.array([0, 0, 0, 1.0]), (2, 24, 1))
    rotations[:, 0] = q[:, 0]
    motion = Motion(skeleton, 1.0, rotations, np.zeros((2, 3)))
    up = motion.resample(4.0)  # 2 s at 4 fps = 8 frames; frame 2 is t = 0.5 s, halfway
    angle = quat_to_axis_angle(torch.from_numpy(up.rotations[2, 0])).numpy()
    np.testing.assert_allclose(angle, [0.0, 0.5, 0.0], atol=1e-9)


def test_slicing_and_copy_are_independent():
    motion = smooth_motion(60, 30.0)
    part = motion.slice_seconds(0.5, 1.5)
    assert part.num_frames == 30
    np.testing.assert_array_equal(part.rotations, motion.rotations[15:45])
    clone = motion.copy()
    clone.rotations[0, 0] = [0, 0, 0, 1]
    clone.metadata["source"] = "changed"
    assert motion.metadata["source"] == "synthetic"
    assert not np.array_equal(clone.rotations[0, 0], motion.rotations[0, 0])
