"""Dataset formats, safe unpickling and format dispatch, on synthesized files (no kit)."""

from __future__ import annotations

import collections
import json
import os
import pickle
import pickletools
import types

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion.formats import (
    DEEPMIMIC_FRAME_SIZE,
    deepmimic_humanoid,
    portable_pickle,
    read_aistpp,
    read_deepmimic,
    read_finedance,
    write_aistpp,
    write_finedance,
)
from dancegen.motion.io import estimate_height, load_motion, save_motion
from dancegen.motion.motion import Motion
from dancegen.safe_pickle import safe_load
from dancegen.skeleton.axes import z_up_to_y_up
from dancegen.skeleton.rotations import axis_angle_to_quat, quat_to_axis_angle
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.smplx import SMPLX_HANDS, SMPLX_PELVIS_REST, smplx52
from dancegen.skeleton.tree import Skeleton


def random_motion(skeleton: Skeleton, frames: int = 6, seed: int = 0, fps: float = 30.0) -> Motion:
    rng = np.random.default_rng(seed)
    quats = axis_angle_to_quat(torch.from_numpy(rng.normal(0, 0.8, (frames, skeleton.num_joints, 3)))).numpy()
    return Motion(skeleton, fps, quats, rng.normal(0, 0.3, (frames, 3)) + [0, 0.9, 0])


def globals_in(data: bytes) -> set[str]:
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            names.add(".".join(strings[-2:]))
    return names


# --- safe_pickle -------------------------------------------------------------------------


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "motion.pkl"
    path.write_bytes(pickle.dumps({"smpl_poses": np.zeros((1, 72)), "x": _Hostile(marker)}))
    with pytest.raises(InputFileError) as caught:
        safe_load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: refused to unpickle global ") and ".system" in message
    assert not marker.exists()
    # The same file through the AIST++ reader and load_motion: refused the same way.
    with pytest.raises(InputFileError, match="refused to unpickle"):
        load_motion(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(eval),
        pickle.dumps(collections.Counter("ab")),
        pickle.dumps(types.SimpleNamespace(a=1)),
        b"cbuiltins\nexec\n(Vprint('x')\ntR.",
    ],
)
def test_other_globals_are_refused(payload):
    with pytest.raises(InputFileError, match=r"^<bytes>: refused to unpickle global "):
        safe_load(payload)


def test_hostile_object_inside_an_object_npy_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "motion.npy"
    np.save(path, np.array({"rotation": _Hostile(marker)}, dtype=object), allow_pickle=True)
    with pytest.raises(InputFileError, match="refused to unpickle global"):
        safe_load(path)
    with pytest.raises(InputFileError, match="refused to unpickle global"):
        load_motion(path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_arrays_scalars_and_containers_load(protocol):
    data = {
        "poses": np.arange(12.0).reshape(3, 4),
        "ints": np.arange(3, dtype=np.int32),
        "scale": np.float32(2.5),
        "nested": [("a", 1, None, True), {"b": np.array(["x", "y"])}],
        "ordered": collections.OrderedDict(k=np.ones(2)),
        "raw": b"\x00\x01",
    }
    loaded = safe_load(pickle.dumps(data, protocol=protocol))
    np.testing.assert_array_equal(loaded["poses"], data["poses"])
    assert loaded["ints"].dtype == np.int32 and loaded["scale"] == np.float32(2.5)
    assert loaded["nested"][0] == ("a", 1, None, True) and loaded["nested"][1]["b"].tolist() == ["x", "y"]
    assert isinstance(loaded["ordered"], collections.OrderedDict) and loaded["raw"] == b"\x00\x01"


def test_corrupt_pickle_and_numeric_npy(tmp_path):
    with pytest.raises(InputFileError, match="not a readable pickle"):
        safe_load(pickle.dumps({"a": np.ones(3)})[:-9], source="cut.pkl")
    path = tmp_path / "plain.npy"
    np.save(path, np.eye(3))
    np.testing.assert_array_equal(safe_load(path), np.eye(3))
    with pytest.raises(InputFileError, match="no such file"):
        safe_load(tmp_path / "absent.pkl")


def test_portable_pickle_names_only_ndarray_and_bytearray():
    data = {"smpl_poses": np.random.default_rng(0).normal(size=(4, 72)), "smpl_scaling": np.array([1.0])}
    blob = portable_pickle(data)
    assert globals_in(blob) == {"numpy.ndarray", "builtins.bytearray"}
    loaded = safe_load(blob)
    np.testing.assert_array_equal(loaded["smpl_poses"], data["smpl_poses"])
    loaded["smpl_poses"][0, 0] = 7.0  # writable, as readers like EDGE's preprocessing need


# --- AIST++ ------------------------------------------------------------------------------


def test_reads_aistpp_dividing_translation_by_scaling(tmp_path):
    rng = np.random.default_rng(1)
    poses, trans = rng.normal(0, 0.5, (5, 72)), rng.normal(0, 50, (5, 3))
    path = tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.pkl"
    path.write_bytes(pickle.dumps({"smpl_poses": poses, "smpl_trans": trans, "smpl_scaling": np.array([93.5])}))

    motion = read_aistpp(path)
    assert motion.skeleton.joint_names == SMPL24_JOINT_NAMES and motion.fps == 60.0
    np.testing.assert_allclose(motion.root_translation, trans / 93.5)
    expected = Rotation.from_rotvec(poses.reshape(-1, 3)).as_quat().reshape(5, 24, 4)
    dots = np.abs((motion.rotations * expected).sum(-1))
    np.testing.assert_allclose(dots, 1.0, atol=1e-12)
    assert motion.metadata["smpl_scaling"] == 93.5 and read_aistpp(path, fps=30).fps == 30.0


def test_aistpp_round_trip(tmp_path):
    motion = random_motion(smpl24(), fps=60.0)
    write_aistpp(motion, tmp_path / "out.pkl")
    data = safe_load(tmp_path / "out.pkl")
    assert data["smpl_poses"].shape == (6, 72) and data["smpl_scaling"].tolist() == [1.0]
    back = read_aistpp(tmp_path / "out.pkl")
    np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=1e-10)


@pytest.mark.parametrize(
    "broken, problem",
    [
        ({"smpl_trans": np.zeros((2, 3))}, "not an AIST\\+\\+ motion"),
        ({"smpl_poses": np.zeros((2, 70)), "smpl_trans": np.zeros((2, 3))}, "smpl_poses has shape \\(2, 70\\)"),
        (
            {"smpl_poses": np.zeros((2, 72)), "smpl_trans": np.zeros((3, 3))},
            "smpl_trans has shape \\(3, 3\\); expected \\(2, 3\\)",
        ),
        ({"smpl_poses": np.full((2, 72), np.nan), "smpl_trans": np.zeros((2, 3))}, "smpl_poses contains NaN"),
        (
            {"smpl_poses": np.zeros((2, 72)), "smpl_trans": np.zeros((2, 3)), "smpl_scaling": np.array([0.0])},
            "smpl_scaling must be one positive",
        ),
    ],
)
def test_bad_aistpp_files(tmp_path, broken, problem):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(broken))
    with pytest.raises(InputFileError, match=f"^{path}: {problem}"):
        read_aistpp(path)


# --- FineDance ---------------------------------------------------------------------------


def finedance_array(frames: int = 5, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    matrices = Rotation.from_rotvec(rng.normal(0, 0.7, (frames * 52, 3))).as_matrix().reshape(frames, 52, 3, 3)
    rot6d = matrices[:, :, :2, :].reshape(frames, 312)  # PyTorch3D layout: first two rows
    transl = rng.normal(0, 0.5, (frames, 3)) + [0, 1.2, 0]
    return np.concatenate([transl, rot6d], axis=1), matrices


def test_reads_finedance_315(tmp_path):
    array, matrices = finedance_array()
    np.save(tmp_path / "001.npy", array)
    motion = read_finedance(tmp_path / "001.npy")
    assert motion.skeleton.name == "smplx52" and motion.fps == 30.0 and motion.contacts is None
    np.testing.assert_allclose(motion.rotation_matrices(), matrices, atol=1e-12)
    np.testing.assert_allclose(motion.root_translation, array[:, :3] + SMPLX_PELVIS_REST)


def test_reads_finedance_319_contacts_and_round_trips(tmp_path):
    array, _ = finedance_array(seed=3)
    contacts = (np.random.default_rng(0).random((5, 4)) > 0.5).astype(float)
    np.save(tmp_path / "feat.npy", np.concatenate([contacts, array], axis=1))
    motion = load_motion(tmp_path / "feat.npy")
    np.testing.assert_array_equal(motion.contacts, contacts)

    save_motion(motion, tmp_path / "again.npy")
    written = np.load(tmp_path / "again.npy")
    assert written.shape == (5, 315) and written.dtype == np.float32
    np.testing.assert_allclose(written, array, atol=1e-6)
    back = load_motion(tmp_path / "again.npy")
    np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=1e-5)


def test_smpl_layouts_convert_through_their_shared_body(tmp_path):
    body = random_motion(smpl24(), seed=4)
    write_finedance(body, tmp_path / "from_smpl.npy")
    as_smplx = read_finedance(tmp_path / "from_smpl.npy")
    ours = quat_to_axis_angle(torch.from_numpy(body.rotations[:, :22])).numpy()
    theirs = quat_to_axis_angle(torch.from_numpy(as_smplx.rotations[:, :22])).numpy()
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    fingers = as_smplx.rotations[:, smplx52().indices(SMPLX_HANDS)]
    np.testing.assert_allclose(np.abs(fingers[..., 3]), 1.0, atol=1e-6)  # flat hands
    np.testing.assert_allclose(as_smplx.root_translation, body.root_translation, atol=1e-6)

    write_aistpp(as_smplx, tmp_path / "to_smpl.pkl")
    back = read_aistpp(tmp_path / "to_smpl.pkl")  # at AIST++'s 60 fps: every other frame is the 30 fps one
    np.testing.assert_allclose(np.abs((back.rotations[::2, :22] * body.rotations[:, :22]).sum(-1)), 1.0, atol=1e-6)

    toy = Motion(
        Skeleton("toy", ("a", "b"), (-1, 0), np.eye(2, 3)), 30.0, np.tile([0, 0, 0, 1.0], (2, 2, 1)), np.zeros((2, 3))
    )
    with pytest.raises(ArgumentError, match="not SMPL-family.*retarget"):
        write_finedance(toy, tmp_path / "toy.npy")
    assert not (tmp_path / "toy.npy").exists()


def test_bad_finedance_shape(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((4, 300)))
    with pytest.raises(InputFileError, match=r"array has shape \(4, 300\); a FineDance motion is \(T, 315\)"):
        load_motion(tmp_path / "bad.npy")


# --- DeepMimic ---------------------------------------------------------------------------


def deepmimic_frames(count: int = 4, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = rng.normal(0, 0.4, (count, DEEPMIMIC_FRAME_SIZE))
    frames[:, 0] = 1 / 60
    frames[-1, 0] = 0.0  # DeepMimic's last frame may carry no duration
    for start in (4, 8, 12, 16, 21, 25, 30, 34, 39):  # quaternion slots (w, x, y, z)
        frames[:, start : start + 4] /= np.linalg.norm(frames[:, start : start + 4], axis=1, keepdims=True)
    return frames


def test_reads_deepmimic_json(tmp_path):
    frames = deepmimic_frames()
    path = tmp_path / "dance.txt"
    path.write_text(json.dumps({"Loop": "wrap", "Frames": frames.tolist()}))
    motion = load_motion(path)
    skeleton = motion.skeleton
    assert skeleton.name == "deepmimic_humanoid3d" and skeleton.num_joints == 15 and motion.fps == 60.0
    np.testing.assert_allclose(motion.root_translation, frames[:, 1:4])
    # Root quaternion arrives as (w, x, y, z).
    np.testing.assert_allclose(motion.rotations[:, 0], frames[:, [5, 6, 7, 4]], atol=1e-12)
    # The right knee (column 20) is one angle about z.
    knee = Rotation.from_quat(motion.rotations[:, skeleton.index("right_knee")]).as_rotvec()
    np.testing.assert_allclose(
        knee, np.stack([0 * frames[:, 20], 0 * frames[:, 20], frames[:, 20]], axis=1), atol=1e-12
    )
    assert np.allclose(motion.rotations[:, skeleton.index("left_wrist")], [0, 0, 0, 1])
    assert motion.metadata["loop"] == "wrap"


def test_bad_deepmimic_files(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text('{"Frames": [[1, 2, 3]]}')
    with pytest.raises(InputFileError, match=f"frame 0 has 3 values; the humanoid3d layout has {DEEPMIMIC_FRAME_SIZE}"):
        read_deepmimic(path)
    path.write_text('{"Frames": [\n[1, 2,\n')
    with pytest.raises(InputFileError, match=rf"^{path}:3: not valid JSON"):
        read_deepmimic(path)


# --- AMP poselib -------------------------------------------------------------------------


def test_reads_amp_poselib_and_converts_to_y_up(tmp_path):
    rng = np.random.default_rng(6)
    names = ["pelvis", "torso", "head", "thigh", "shin"]
    parents = np.array([-1, 0, 1, 0, 3])
    offsets = np.array([[0, 0, 1.0], [0, 0, 0.24], [0, 0, 0.22], [0, -0.08, 0], [0, 0, -0.42]], dtype=np.float32)
    local = Rotation.from_rotvec(rng.normal(0, 0.5, (7 * 5, 3))).as_quat().reshape(7, 5, 4).astype(np.float32)
    root = (rng.normal(0, 0.2, (7, 3)) + [0, 0, 0.85]).astype(np.float32)
    wrap = lambda a: {"arr": a, "context": {"dtype": str(a.dtype)}}  # noqa: E731
    motion_dict = collections.OrderedDict(
        rotation=wrap(local),
        root_translation=wrap(root),
        skeleton_tree=collections.OrderedDict(
            node_names=names, parent_indices=wrap(parents), local_translation=wrap(offsets)
        ),
        is_local=True,
        fps=np.array(60),
        __name__="SkeletonMotion",
    )
    path = tmp_path / "amp_dance.npy"
    np.save(path, np.array(motion_dict, dtype=object), allow_pickle=True)

    motion = load_motion(path)
    assert motion.skeleton.joint_names == tuple(names) and motion.fps == 60.0
    # Reference FK in z-up with scipy, then rotate the world to y-up.
    world = [None] * 5
    positions = np.zeros((7, 5, 3))
    for j, p in enumerate(parents):
        rotation = Rotation.from_quat(local[:, j])
        if p < 0:
            world[j], positions[:, j] = rotation, root
        else:
            world[j] = world[p] * rotation
            positions[:, j] = positions[:, p] + world[p].apply(offsets[j])
    np.testing.assert_allclose(motion.joint_positions(), z_up_to_y_up(positions), atol=1e-5)
    assert motion.metadata["up_axis_in_file"] == "z"


# --- dispatch and height -----------------------------------------------------------------


def test_load_and_save_dispatch_on_extension(tmp_path):
    motion = random_motion(smpl24(), fps=60.0)
    for suffix in (".bvh", ".npz", ".pkl"):
        save_motion(motion, tmp_path / f"m{suffix}")
        back = load_motion(tmp_path / f"m{suffix}")
        names = back.skeleton.joint_names
        order = [names.index(n) for n in motion.skeleton.joint_names]
        np.testing.assert_allclose(back.joint_positions()[:, order], motion.joint_positions(), atol=1e-5)
    assert load_motion(tmp_path / "m.npz", fps=24).fps == 24.0
    with pytest.raises(ArgumentError, match=r"unknown motion file type '\.c3d'.*\.bvh \(BVH\), \.npz"):
        load_motion(tmp_path / "m.c3d")
    with pytest.raises(ArgumentError, match=r"cannot save motion as '\.txt'.*supported: \.bvh"):
        save_motion(motion, tmp_path / "m.txt")
    with pytest.raises(InputFileError, match="no such file"):
        load_motion(tmp_path / "absent.bvh")


def test_load_motion_reads_glb_and_smpl_parameter_files(tmp_path):
    from dancegen.export.gltf import write_glb

    motion = random_motion(smpl24())
    write_glb(motion, tmp_path / "m.glb")
    back = load_motion(tmp_path / "m.glb")
    assert back.fps == 30.0 and back.skeleton.joint_names == SMPL24_JOINT_NAMES
    np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=1e-5)
    assert load_motion(tmp_path / "m.glb", fps=24).fps == 24.0

    # A plain SMPL parameter file (no dancegen arrays), as body-model tools write them.
    poses = quat_to_axis_angle(torch.from_numpy(motion.rotations)).numpy().reshape(motion.num_frames, -1)
    np.savez(tmp_path / "smpl.npz", poses=poses, trans=motion.root_translation, mocap_framerate=np.array(60.0))
    smpl = load_motion(tmp_path / "smpl.npz")
    assert smpl.fps == 60.0
    np.testing.assert_allclose(smpl.joint_positions(), motion.joint_positions(), atol=1e-9)

    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(InputFileError, match="neither a dancegen motion .* nor SMPL parameters") as raised:
        load_motion(tmp_path / "other.npz")
    assert "\n" not in str(raised.value)
    with pytest.raises(ArgumentError, match=r"\.glb \(glTF binary\)"):
        load_motion(tmp_path / "m.c3d")


def _stand(skeleton: Skeleton, frames: int, local: np.ndarray) -> Motion:
    return Motion(skeleton, 30.0, np.tile(local, (frames, 1, 1)), np.tile([0.0, 0.0, 0.0], (frames, 1)))


def test_estimate_height_uses_posed_frames_not_the_rest_pose():
    # A rig whose bones lie along +x at rest (bone-local axes): rotating z by +90 deg stands it up.
    names = ("hips", "spine", "head", "thigh", "shin", "arm")
    parents = (-1, 0, 1, 0, 3, 1)
    offsets = np.array([[0, 0, 0], [0.5, 0, 0], [0.4, 0, 0], [0, 0, 0.1], [-0.9, 0, 0], [0.3, 0, 0]])
    skeleton = Skeleton("lying", names, parents, offsets, {2: np.array([0.2, 0.0, 0.0])})
    up = Rotation.from_rotvec([0, 0, np.pi / 2]).as_quat()
    local = np.tile([0, 0, 0, 1.0], (6, 1))
    local[0] = up
    standing = _stand(skeleton, 10, local)
    # head top = 0.5 + 0.4 + 0.2 above the hips, foot 0.9 below
    assert estimate_height(standing) == pytest.approx(2.0, abs=1e-9)

    arms_up = standing.copy()
    arms_up.rotations[:, 5] = up  # the arm points at the sky, above the head: not counted
    assert estimate_height(arms_up) == pytest.approx(2.0, abs=1e-9)

    crouched = standing.copy()
    crouched.rotations[:3, 3] = Rotation.from_rotvec([0, 0, 1.2]).as_quat()  # a few bent frames
    assert estimate_height(crouched) == pytest.approx(2.0, abs=1e-9)


def test_estimate_height_of_the_smpl_templates():
    for skeleton in (smpl24(), smplx52()):
        height = estimate_height(_stand(skeleton, 1, np.tile([0, 0, 0, 1.0], (skeleton.num_joints, 1))))
        rest = skeleton.rest_positions()
        assert height == pytest.approx(rest[skeleton.index("head"), 1] - rest[:, 1].min())
        assert 1.5 < height < 1.6
    # Without a joint named like "head", the highest end point is used (DeepMimic: head top).
    humanoid = deepmimic_humanoid()
    height = estimate_height(_stand(humanoid, 1, np.tile([0, 0, 0, 1.0], (humanoid.num_joints, 1))))
    assert height == pytest.approx(0.236151 + 0.223894 + 0.2775 + 0.421546 + 0.409870)
