import numpy as np
import pytest
import torch

from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion import Motion
from dancegen.motion.contacts import (
    FOOT_HEIGHT_THRESHOLD_M,
    FOOT_SPEED_THRESHOLD_MPS,
    contacts_from_feet,
    foot_contacts,
    foot_joint_indices,
)
from dancegen.motion.normalize import Normalizer
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.smplx import smplx52
from dancegen.skeleton.tree import Skeleton

# --- foot contacts -----------------------------------------------------------------------


def feet_track(frames: int, fps: float, speed: float, height: float) -> np.ndarray:
    """One foot joint gliding along x at `speed` m/s, `height` m above its lowest point."""
    x = speed * np.arange(frames) / fps
    track = np.stack([x, np.full(frames, height), np.zeros(frames)], axis=-1)
    track[0, 1] = 0.0  # the floor level: this joint's lowest point in the clip
    return track[:, None]


def test_planted_moving_and_lifted_feet():
    fps = 30.0
    planted = feet_track(40, fps, speed=0.0, height=0.01)
    sliding = feet_track(40, fps, speed=FOOT_SPEED_THRESHOLD_MPS * 2, height=0.01)
    hovering = feet_track(40, fps, speed=0.0, height=FOOT_HEIGHT_THRESHOLD_M * 4)
    labels = contacts_from_feet(np.concatenate([planted, sliding, hovering], axis=1), fps)
    assert labels.shape == (40, 3) and labels.dtype == np.float32
    np.testing.assert_array_equal(labels[1:], [[1.0, 0.0, 0.0]] * 39)
    # EDGE's rule (speed only) calls the still, lifted foot planted.
    edge = contacts_from_feet(hovering, fps, height_threshold=None)
    np.testing.assert_array_equal(edge[1:], 1.0)


def test_speed_threshold_is_per_second_not_per_frame():
    speed = FOOT_SPEED_THRESHOLD_MPS * 0.8  # just under the threshold at any frame rate
    for fps in (20.0, 30.0, 60.0):
        labels = contacts_from_feet(feet_track(30, fps, speed, 0.0), fps)
        np.testing.assert_array_equal(labels, 1.0)
        fast = contacts_from_feet(feet_track(30, fps, speed * 1.5, 0.0), fps)
        np.testing.assert_array_equal(fast, 0.0)


def test_last_frame_repeats_the_previous_speed():
    track = feet_track(5, 30.0, speed=1.0, height=0.0)
    np.testing.assert_array_equal(contacts_from_feet(track, 30.0)[:, 0], [0, 0, 0, 0, 0])


def still_motion(skeleton: Skeleton, frames: int, root_velocity: np.ndarray, fps: float = 30.0) -> Motion:
    quats = np.tile([0.0, 0.0, 0.0, 1.0], (frames, skeleton.num_joints, 1))
    root = np.array([0.0, 0.9, 0.0]) + np.arange(frames)[:, None] / fps * root_velocity
    return Motion(skeleton, fps, quats, root)


@pytest.mark.parametrize("make_skeleton", [smpl24, smplx52])
def test_contacts_of_motions_in_edge_order(make_skeleton):
    skeleton = make_skeleton()
    assert foot_joint_indices(skeleton) == (7, 8, 10, 11)
    standing = still_motion(skeleton, 20, np.zeros(3))
    np.testing.assert_array_equal(foot_contacts(standing), np.ones((20, 4)))
    running = still_motion(skeleton, 20, np.array([0.0, 0.0, 2.0]))
    np.testing.assert_array_equal(foot_contacts(running), np.zeros((20, 4)))

    # Only the left ankle moves: raise it, then swing it fast.
    positions = standing.joint_positions()
    positions[10:, 7, 1] += 0.2
    positions[10:, 7, 0] += np.linspace(0, 1.0, 10)
    labels = foot_contacts(positions, fps=30.0)
    assert labels[10:, 0].sum() == 0 and labels[:9, 0].all()
    np.testing.assert_array_equal(labels[:, 1:], 1.0)


def test_foot_joints_of_other_rigs_and_overrides():
    names = ("Hips", "LeftUpLeg", "LeftFoot", "LeftToeBase", "RightUpLeg", "RightFoot", "RightToeBase")
    rig = Skeleton("mixamo", names, (-1, 0, 1, 2, 0, 4, 5), np.zeros((7, 3)))
    assert foot_joint_indices(rig) == (2, 5, 3, 6)
    assert foot_joint_indices(rig, ["LeftFoot", "RightFoot", "LeftFoot", "RightFoot"]) == (2, 5, 2, 5)
    stranger = Skeleton("stranger", ("a", "b"), (-1, 0), np.zeros((2, 3)))
    with pytest.raises(ArgumentError, match="foot_joints"):
        foot_joint_indices(stranger)
    with pytest.raises(ArgumentError, match="no joint 'toe'"):
        foot_joint_indices(rig, ["toe", "b", "c", "d"])
    with pytest.raises(ArgumentError, match="fps"):
        foot_contacts(np.zeros((5, 24, 3)))
    with pytest.raises(ArgumentError, match="cannot tell the foot joints"):
        foot_contacts(np.zeros((5, 7, 3)), fps=30.0)
    np.testing.assert_array_equal(foot_contacts(np.zeros((5, 7, 3)), fps=30.0, foot_joints=(1, 2, 3, 4)), 1.0)


# --- normalisers -------------------------------------------------------------------------


def features(rng: np.random.Generator, rows: int = 500) -> np.ndarray:
    data = rng.normal([1.0, -3.0, 10.0, 0.0], [0.5, 2.0, 0.1, 1.0], size=(rows, 4))
    data[:, 3] = 7.0  # a constant channel
    return data.astype(np.float32)


def test_meanstd_standardises_and_inverts(rng):
    data = features(rng)
    normalizer = Normalizer("meanstd").fit(data)
    normalized = normalizer.transform(data)
    assert normalized.dtype == np.float32
    np.testing.assert_allclose(normalized[:, :3].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(normalized[:, :3].std(0), 1.0, atol=1e-4)
    np.testing.assert_allclose(normalized[:, 3], 0.0)  # constant: shifted, not divided by ~0
    np.testing.assert_allclose(normalizer.inverse(normalized), data, atol=1e-5)


def test_minmax_maps_onto_minus_one_one(rng):
    data = features(rng)
    normalizer = Normalizer("minmax").fit(data)
    normalized = normalizer.transform(data)
    np.testing.assert_allclose(normalized[:, :3].min(0), -1.0, atol=1e-5)
    np.testing.assert_allclose(normalized[:, :3].max(0), 1.0, atol=1e-5)
    np.testing.assert_allclose(normalized[:, 3], 0.0)
    np.testing.assert_allclose(normalizer.inverse(normalized), data, atol=1e-5)


def test_fit_on_a_list_or_batch_equals_fit_on_rows(rng):
    clips = [features(rng, rows) for rows in (30, 50, 20)]
    from_list = Normalizer().fit(clips)
    from_rows = Normalizer().fit(np.concatenate(clips))
    np.testing.assert_allclose(from_list.shift, from_rows.shift)
    np.testing.assert_allclose(from_list.scale, from_rows.scale)
    batch = np.stack([clips[0][:20], clips[1][:20]])  # (B, T, D)
    np.testing.assert_allclose(Normalizer().fit(batch).shift, np.concatenate([clips[0][:20], clips[1][:20]]).mean(0), atol=1e-6)


def test_torch_tensors_keep_device_dtype_and_gradients(rng):
    data = features(rng)
    normalizer = Normalizer().fit(data)
    x = torch.from_numpy(data).reshape(10, 50, 4).requires_grad_()
    y = normalizer.transform(x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == (10, 50, 4)
    np.testing.assert_allclose(y.detach().reshape(-1, 4).numpy(), normalizer.transform(data), atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad[0, 0].numpy(), 1.0 / normalizer.scale, rtol=1e-6)
    torch.testing.assert_close(normalizer.inverse(y), x)


def test_save_load_npz_and_state_dict(tmp_path, rng):
    data = features(rng)
    normalizer = Normalizer("minmax").fit(data)
    path = tmp_path / "stats" / "normalizer.npz"
    normalizer.save(path)
    with np.load(path, allow_pickle=False) as saved:  # plain arrays, no pickle
        assert str(saved["kind"]) == "minmax"
    loaded = Normalizer.load(path)
    assert loaded.kind == "minmax" and loaded.dim == 4
    np.testing.assert_array_equal(loaded.transform(data), normalizer.transform(data))

    checkpoint = tmp_path / "model.pt"
    torch.save({"normalizer": normalizer.state_dict()}, checkpoint)
    state = torch.load(checkpoint, weights_only=True)["normalizer"]
    restored = Normalizer.from_state_dict(state)
    np.testing.assert_array_equal(restored.inverse(restored.transform(data)), normalizer.inverse(normalizer.transform(data)))


def test_normalizer_errors(tmp_path, rng):
    with pytest.raises(ArgumentError, match="unknown normalizer 'zscore'"):
        Normalizer("zscore")
    with pytest.raises(ArgumentError, match="not fitted"):
        Normalizer().transform(np.zeros((2, 4)))
    normalizer = Normalizer().fit(features(rng))
    with pytest.raises(ArgumentError, match="last dimension is 5; the normalizer was fitted on 4"):
        normalizer.transform(np.zeros((2, 5)))
    with pytest.raises(ArgumentError, match="NaN"):
        Normalizer().fit(np.array([[1.0, np.nan]]))
    with pytest.raises(ArgumentError, match="empty list"):
        Normalizer().fit([])
    with pytest.raises(InputFileError, match="no such normalizer file"):
        Normalizer.load(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(InputFileError, match="cannot read normalizer"):
        Normalizer.load(garbage)
    other = tmp_path / "other.npz"
    np.savez(other, mean=np.zeros(3))
    with pytest.raises(InputFileError, match="not a dancegen normalizer"):
        Normalizer.load(other)
