import math

import numpy as np
import pytest
import torch

from dancegen.errors import ArgumentError
from dancegen.motion import Motion
from dancegen.motion.codecs import CODEC_NAMES, PlanarPose, TrajectoryCodec, get_codec
from dancegen.motion.codecs.hml263 import facing_heading
from dancegen.motion.codecs.smpl6d import (
    contact_channels,
    joint_channels,
    root_channels,
    rotation_channels,
    smpl6d_dim,
)
from dancegen.motion.contacts import foot_contacts
from dancegen.skeleton.rotations import axis_angle_to_quat, matrix_to_quat, quat_to_matrix
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.smplx import smplx52
from dancegen.skeleton.tree import Skeleton

TOLERANCE = 1e-5
SKELETONS = {"smpl24": smpl24, "smplx52": smplx52}
EXPECTED_DIMS = {
    ("smpl6d", "smpl24"): 151,  # EDGE: 4 + 3 + 24 * 6
    ("smpl6d", "smplx52"): 319,  # FineDance / GCDance: 4 + 3 + 52 * 6
    ("expmap", "smpl24"): 76,  # 24 * 3 + 4
    ("expmap", "smplx52"): 160,
    ("hml263", "smpl24"): 263,
    ("hml263", "smplx52"): 263,
}


def yaw_rotations(yaw: np.ndarray) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.zeros((len(yaw), 3, 3))
    R[:, 0, 0], R[:, 0, 2], R[:, 1, 1], R[:, 2, 0], R[:, 2, 2] = c, s, 1.0, -s, c
    return R


def dance(skeleton: Skeleton, frames: int = 48, fps: float = 30.0, seed: int = 0) -> Motion:
    """Smooth random joint rotations, a body spinning 1.5 turns while walking a curve, and
    quaternion signs flipped at random (the codecs must not care)."""
    rng = np.random.default_rng(seed)
    joints = skeleton.num_joints
    t = np.arange(frames)[:, None, None] / fps
    amplitude = rng.uniform(0.2, 1.2, (1, joints, 3))
    frequency = rng.uniform(0.2, 1.5, (1, joints, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, joints, 3))
    local = quat_to_matrix(axis_angle_to_quat(torch.from_numpy(amplitude * np.sin(2 * np.pi * frequency * t + phase)))).numpy()
    local[:, 0] = yaw_rotations(3 * np.pi * np.arange(frames) / frames) @ local[:, 0]
    quats = matrix_to_quat(torch.from_numpy(local)).numpy()
    quats[rng.random(quats.shape[:2]) < 0.3] *= -1
    seconds = t[:, 0, 0]
    root = np.stack([1.5 * np.sin(seconds), 0.9 + 0.05 * np.cos(3 * seconds), 0.8 * seconds], axis=-1)
    return Motion(skeleton, fps, quats, root)


def pose_sequence(skeleton: Skeleton, root: np.ndarray, root_yaw: np.ndarray, fps: float = 30.0) -> Motion:
    """Rest pose carried along `root` (T, 3), turned by `root_yaw` (T,)."""
    quats = np.tile([0.0, 0.0, 0.0, 1.0], (len(root), skeleton.num_joints, 1))
    quats[:, 0] = matrix_to_quat(torch.from_numpy(yaw_rotations(root_yaw))).numpy()
    return Motion(skeleton, fps, quats, root)


def decode_options(codec, motion: Motion) -> dict:
    return {"start": codec.trajectory_start(motion)} if isinstance(codec, TrajectoryCodec) else {}


def encoded_joints(codec) -> int:
    return 22 if codec.name == "hml263" else codec.skeleton.num_joints


def test_registry_names_and_unknown_codec():
    assert CODEC_NAMES == ("smpl6d", "expmap", "hml263")
    assert get_codec("smpl6d").skeleton.name == "smpl24"
    with pytest.raises(ArgumentError, match="unknown codec 'bvh'.*smpl6d, expmap, hml263"):
        get_codec("bvh", smpl24())


@pytest.mark.parametrize("name, skeleton", EXPECTED_DIMS)
def test_dimensions_and_channel_groups(name, skeleton):
    codec = get_codec(name, SKELETONS[skeleton]())
    assert codec.dim == EXPECTED_DIMS[name, skeleton]
    groups = list(codec.groups.values())
    assert groups[0].start == 0 and groups[-1].stop == codec.dim
    assert all(a.stop == b.start for a, b in zip(groups, groups[1:]))


@pytest.mark.parametrize("name, skeleton", EXPECTED_DIMS)
def test_round_trip_is_exact(name, skeleton):
    motion = dance(SKELETONS[skeleton]())
    codec = get_codec(name, motion.skeleton)
    features = codec.encode(motion)
    assert features.shape == (motion.num_frames, codec.dim) and features.dtype == np.float32

    options = decode_options(codec, motion)
    decoded = codec.decode(features, motion.fps, **options)
    body = encoded_joints(codec)
    assert decoded.skeleton is codec.skeleton and decoded.fps == motion.fps
    np.testing.assert_allclose(decoded.root_translation, motion.root_translation, atol=TOLERANCE)
    np.testing.assert_allclose(
        decoded.rotation_matrices()[:, :body], motion.rotation_matrices()[:, :body], atol=TOLERANCE
    )
    positions = motion.joint_positions()
    np.testing.assert_allclose(decoded.joint_positions()[:, :body], positions[:, :body], atol=TOLERANCE)
    np.testing.assert_allclose(codec.decode_positions(features, **options), positions[:, :body], atol=TOLERANCE)
    np.testing.assert_allclose(codec.encode(decoded), features, atol=TOLERANCE)


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_torch_positions_are_batched_and_differentiable(name):
    motion = dance(smpl24(), frames=16)
    codec = get_codec(name, motion.skeleton)
    features = torch.from_numpy(codec.encode(motion))
    batch = torch.stack([features, features.flip(0)]).requires_grad_()
    positions = codec.decode_positions_torch(batch)
    assert positions.shape == (2, 16, encoded_joints(codec), 3) and positions.dtype == torch.float32
    expected = codec.decode_positions(features.numpy())
    np.testing.assert_allclose(positions[0].detach().numpy(), expected, atol=TOLERANCE)
    positions.square().sum().backward()
    assert torch.isfinite(batch.grad).all() and batch.grad.abs().sum() > 0


def test_smpl6d_layout_matches_edge():
    motion = dance(smpl24(), frames=10)
    motion.contacts = np.tile([1.0, 0.0, 0.0, 1.0], (10, 1))
    features = get_codec("smpl6d", motion.skeleton).encode(motion)
    np.testing.assert_array_equal(features[:, :4], motion.contacts)
    np.testing.assert_allclose(features[:, 4:7], motion.root_translation, atol=1e-6)
    matrices = motion.rotation_matrices()
    for joint in (0, 5, 23):
        rows = features[:, 7 + 6 * joint : 13 + 6 * joint].reshape(10, 2, 3)
        np.testing.assert_allclose(rows, matrices[:, joint, :2, :], atol=1e-6)


def test_smpl6d_layout_helpers_name_the_codecs_channels():
    codec = get_codec("smpl6d", smplx52())
    assert smpl6d_dim(52) == codec.dim == 319 and smpl6d_dim(24) == 151
    assert codec.groups == {"contacts": contact_channels(), "root_position": root_channels(),
                            "rotations": rotation_channels(52)}
    assert (contact_channels(), root_channels()) == (slice(0, 4), slice(4, 7))
    assert joint_channels(0) == slice(7, 13) and joint_channels(51).stop == codec.dim


def test_smpl6d_computes_contacts_when_the_motion_has_none():
    motion = dance(smpl24(), frames=30)
    features = get_codec("smpl6d", motion.skeleton).encode(motion)
    np.testing.assert_array_equal(features[:, :4], foot_contacts(motion))


def test_smpl6d_works_on_any_skeleton_and_decodes_onto_another_size():
    names = ("Hips", "Spine", "Head", "LeftUpLeg", "LeftFoot", "LeftToeBase", "RightUpLeg", "RightFoot", "RightToeBase")
    parents = (-1, 0, 1, 0, 3, 4, 0, 6, 7)
    offsets = np.array([[0, 1, 0], [0, 0.2, 0], [0, 0.4, 0], [0.1, -0.1, 0], [0, -0.8, 0], [0, -0.05, 0.1],
                        [-0.1, -0.1, 0], [0, -0.8, 0], [0, -0.05, 0.1]], dtype=float)
    rig = Skeleton("mixamo-like", names, parents, offsets)
    motion = dance(rig, frames=12)
    codec = get_codec("smpl6d", rig)
    assert codec.dim == 4 + 3 + 6 * 9
    tall = rig.scaled(1.2)
    decoded = codec.decode(codec.encode(motion), motion.fps, skeleton=tall)
    assert decoded.skeleton is tall
    np.testing.assert_allclose(decoded.rotation_matrices(), motion.rotation_matrices(), atol=TOLERANCE)


def test_expmap_trajectory_channels_are_per_frame_in_the_heading_frame():
    fps, frames, speed = 30.0, 20, 1.2
    seconds = np.arange(frames) / fps
    # Facing +x (yaw pi/2) and walking forward along +x.
    walk = pose_sequence(smpl24(), np.stack([speed * seconds, np.full(frames, 0.9), np.zeros(frames)], -1),
                         np.full(frames, np.pi / 2), fps)
    codec = get_codec("expmap", walk.skeleton)
    features = codec.encode(walk)
    np.testing.assert_allclose(features[:, codec.groups["root_velocity"]], [[0.0, speed / fps]] * frames, atol=1e-6)
    np.testing.assert_allclose(features[:, codec.groups["yaw_rate"]], 0.0, atol=1e-6)
    np.testing.assert_allclose(features[:, codec.groups["root_height"]], 0.9, atol=1e-6)
    np.testing.assert_allclose(features[:, :3], 0.0, atol=1e-6)  # root relative to heading: upright
    assert codec.trajectory_start(walk) == pytest.approx(PlanarPose(0.0, 0.0, np.pi / 2))

    rate = 2.0  # rad/s, turning on the spot through more than a full turn
    spin = pose_sequence(smpl24(), np.tile([0.3, 0.9, -0.2], (frames * 4, 1)), rate * np.arange(frames * 4) / fps, fps)
    features = codec.encode(spin)
    np.testing.assert_allclose(features[:, codec.groups["yaw_rate"]], rate / fps, atol=1e-6)
    decoded = codec.decode(features, fps, start=codec.trajectory_start(spin))
    np.testing.assert_allclose(decoded.joint_positions(), spin.joint_positions(), atol=TOLERANCE)


def test_expmap_default_start_is_origin_facing_z():
    motion = dance(smpl24(), frames=30)
    codec = get_codec("expmap", motion.skeleton)
    start = codec.trajectory_start(motion)
    positions = codec.decode_positions(codec.encode(motion))
    # The same motion, moved so that frame 0 stands at the origin facing +z.
    placed = motion.joint_positions() - np.array([start.x, 0.0, start.z])
    placed = placed @ yaw_rotations(np.array([-start.yaw]))[0].T
    np.testing.assert_allclose(positions, placed, atol=TOLERANCE)


def test_expmap_stays_continuous_through_half_turns():
    frames = 60
    motion = pose_sequence(smpl24(), np.tile([0.0, 0.9, 0.0], (frames, 1)), np.zeros(frames))
    # The left elbow twists steadily to 1.8 pi about a tilted axis.
    axis = np.array([0.6, 0.8, 0.0])
    angles = np.linspace(0, 1.8 * np.pi, frames)
    elbow = motion.skeleton.index("left_elbow")
    motion.rotations[:, elbow] = axis_angle_to_quat(torch.from_numpy(angles[:, None] * axis)).numpy()
    codec = get_codec("expmap", motion.skeleton)
    expmaps = codec.encode(motion)[:, 3 * elbow : 3 * elbow + 3]
    assert np.abs(np.diff(expmaps, axis=0)).max() < 0.2
    np.testing.assert_allclose(np.linalg.norm(expmaps, axis=1), angles, atol=1e-5)
    decoded = codec.decode(codec.encode(motion), motion.fps, start=codec.trajectory_start(motion))
    np.testing.assert_allclose(decoded.rotation_matrices(), motion.rotation_matrices(), atol=TOLERANCE)


def test_hml263_layout_follows_humanml3d():
    fps, frames, speed, rate = 20.0, 12, 1.0, 1.5
    seconds = np.arange(frames) / fps
    walk = pose_sequence(smpl24(), np.stack([np.zeros(frames), np.full(frames, 0.95), speed * seconds], -1),
                         np.zeros(frames), fps)
    walk.contacts = np.tile([0.0, 1.0, 0.0, 0.0], (frames, 1))  # EDGE order: right ankle down
    codec = get_codec("hml263", walk.skeleton)
    features = codec.encode(walk)
    groups = codec.groups
    assert [groups[g].start for g in ("root_height", "ric", "rotations", "local_velocity", "contacts")] == [3, 4, 67, 193, 259]
    # The SMPL rest pose faces a little off +z by HumanML3D's hips-and-shoulders rule.
    rest = walk.skeleton.rest_positions()
    to_facing = yaw_rotations(-facing_heading(torch.from_numpy(rest)).numpy()[None])[0]
    step = to_facing @ [0.0, 0.0, speed / fps]
    np.testing.assert_allclose(features[:, groups["root_velocity"]], [step[[0, 2]]] * frames, atol=1e-6)
    np.testing.assert_allclose(features[:, groups["root_height"]], 0.95, atol=1e-6)
    # ric: joints relative to the root's floor point in the facing frame, heights absolute.
    ric = features[:, groups["ric"]].reshape(frames, 21, 3)
    np.testing.assert_allclose(ric[..., 1], walk.joint_positions()[:, 1:22, 1], atol=1e-6)
    np.testing.assert_allclose(ric[0, :, [0, 2]], ((rest[1:22] - rest[0] * [1, 0, 1]) @ to_facing.T)[:, [0, 2]].T, atol=1e-6)
    velocity = features[:, groups["local_velocity"]].reshape(frames, 22, 3)
    np.testing.assert_allclose(velocity, np.tile(step, (frames, 22, 1)), atol=1e-6)
    # HumanML3D contact order: left ankle, left toe, right ankle, right toe.
    np.testing.assert_array_equal(features[:, groups["contacts"]], np.tile([0.0, 0.0, 1.0, 0.0], (frames, 1)))
    np.testing.assert_array_equal(codec.decode(features, fps).contacts, walk.contacts)

    spin = pose_sequence(smpl24(), np.tile([0.0, 0.95, 0.0], (frames, 1)), rate * seconds, fps)
    features = codec.encode(spin)
    # Half the step of HumanML3D's world-to-facing rotation: -(yaw step) / 2.
    np.testing.assert_allclose(features[:, groups["root_angular_velocity"]], -rate / fps / 2, atol=1e-6)


def test_hml263_default_start_is_origin_facing_z():
    motion = dance(smpl24(), frames=30)
    codec = get_codec("hml263", motion.skeleton)
    positions = codec.decode_positions(codec.encode(motion))
    np.testing.assert_allclose(positions[0, 0, [0, 2]], 0.0, atol=1e-7)
    start = codec.trajectory_start(motion)
    again = codec.decode_positions(codec.encode(motion), start=start)
    np.testing.assert_allclose(again, motion.joint_positions()[:, :22], atol=TOLERANCE)
    across = positions[0, 2] - positions[0, 1] + positions[0, 17] - positions[0, 16]
    assert abs(across[2]) < 1e-5 and across[0] < 0  # facing +z: the right side is -x


def test_hml263_needs_the_smpl_body():
    rig = Skeleton("chain", ("a", "b", "c"), (-1, 0, 1), np.eye(3))
    with pytest.raises(ArgumentError, match="22 SMPL body joints"):
        get_codec("hml263", rig)


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_single_frame_round_trip(name):
    motion = dance(smpl24(), frames=1)
    codec = get_codec(name, motion.skeleton)
    features = codec.encode(motion)
    assert features.shape == (1, codec.dim)
    decoded = codec.decode(features, motion.fps, **decode_options(codec, motion))
    body = encoded_joints(codec)
    np.testing.assert_allclose(decoded.joint_positions()[:, :body], motion.joint_positions()[:, :body], atol=TOLERANCE)


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_user_errors_are_one_line_argument_errors(name):
    codec = get_codec(name, smpl24())
    with pytest.raises(ArgumentError, match="retarget"):
        codec.encode(dance(smplx52(), frames=4))
    with pytest.raises(ArgumentError, match=rf"shape \(4, 7\).*\(T, {codec.dim}\)"):
        codec.decode(np.zeros((4, 7)), 30.0)
    bad = np.zeros((4, codec.dim))
    bad[2, 5] = math.nan
    with pytest.raises(ArgumentError, match="NaN"):
        codec.decode(bad, 30.0)
    features = codec.encode(dance(smpl24(), frames=4))
    with pytest.raises(ArgumentError, match="fps"):
        codec.decode(features, 0.0)
    with pytest.raises(ArgumentError, match="skeleton"):
        codec.decode(features, 30.0, skeleton=smplx52())
    with pytest.raises(ArgumentError, match="expects"):
        codec.decode_positions_torch(torch.zeros(2, 4, codec.dim + 1))


def test_smpl6d_decode_fills_degenerate_rotations_from_their_neighbours():
    """A near-zero 6D row (the network hedging between facing directions) would snap the body
    round in one frame; decoding takes such frames from the sound frames around them."""
    from dancegen.motion.codecs.smpl6d import joint_channels
    from dancegen.skeleton.rotations import axis_angle_to_quat

    frames = 40
    yaw = np.linspace(0.0, np.pi, frames)  # a half turn over 40 frames: 4.6° per frame
    rotations = np.tile([0.0, 0.0, 0.0, 1.0], (frames, 24, 1))
    rotations[:, 0] = axis_angle_to_quat(torch.from_numpy(np.stack([0 * yaw, yaw, 0 * yaw], 1))).numpy()
    motion = Motion(smpl24(), 30.0, rotations, np.tile([0.0, 0.9, 0.0], (frames, 1)))
    codec = get_codec("smpl6d")
    features = codec.encode(motion)
    np.testing.assert_allclose(np.abs((codec.decode(features, 30.0).rotations * rotations).sum(-1)), 1.0, atol=1e-6)

    hedged = features.copy()
    root = joint_channels(0)
    hedged[18:23, root.start : root.start + 3] *= 0.03  # the first row collapses, the second stays
    hedged[20, root.start : root.start + 3] = [-0.02, 0.0, 0.01]  # and points anywhere
    decoded = codec.decode(hedged, 30.0)
    steps = np.degrees(2 * np.arccos(np.clip(np.abs((decoded.rotations[1:, 0] * decoded.rotations[:-1, 0]).sum(-1)), 0, 1)))
    assert steps.max() < 6.0  # no snap: the filled frames turn like their neighbours
    sound = np.r_[0:18, 23:frames]
    np.testing.assert_array_equal(decoded.rotations[sound], codec.decode(features, 30.0).rotations[sound])
