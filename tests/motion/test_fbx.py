"""FBX in and out (`dancegen.motion.fbx`): the maths without Blender, the files through it.

Tests that run Blender need `bpy` (`pip install 'dancegen[fbx]'` or `make fbx`) and skip with
that reason without it; the kit tests also need the shared data kit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import run_cli

from dancegen.errors import ArgumentError, DanceGenError
from dancegen.motion import fbx
from dancegen.motion.fbx import (
    FbxUnavailableError,
    bone_frames,
    bone_keys,
    read_fbx,
    rest_positions,
    write_fbx,
)
from dancegen.motion.io import load_motion
from dancegen.motion.motion import Motion
from dancegen.motion.retarget import detect_preset, retarget
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.tree import Skeleton

MM = 1e-3
KIT_FBX = {
    # file: (joints, fps, frames) as Blender reads the file's take
    "cmu_breakdance/85_03.fbx": (22, 30.0, 813),
    "cmu_breakdance/85_04.fbx": (22, 30.0, 617),
    "cmu_breakdance/85_12.fbx": (22, 30.0, 1097),
    "cmu_breakdance/85_14.fbx": (22, 30.0, 700),
    "isaacgym_amp/55_01_cmu.fbx": (31, 120.0, 1807),
}


def dance(skeleton: Skeleton | None = None, frames: int = 40, fps: float = 30.0, seed: int = 5) -> Motion:
    """Every joint swinging about all axes; the root travelling, bobbing and turning."""
    skeleton = skeleton or smpl24()
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / fps
    rotvec = rng.uniform(0.1, 0.8, (skeleton.num_joints, 3)) * np.sin(2 * np.pi * rng.uniform(0.3, 1.2, (skeleton.num_joints, 3)) * t)
    root = np.concatenate([0.3 * np.sin(t[:, 0]), 0.9 + 0.05 * np.sin(4 * t[:, 0]), 0.4 * t[:, 0]], axis=1)
    quats = axis_angle_to_quat(torch.from_numpy(rotvec)).numpy()
    return Motion(skeleton, fps, quats, root, metadata={"name": "test_dance"})


def character_rig() -> Skeleton:
    """A small non-SMPL rig: a root offset, a spine, two arms and legs, End Sites."""
    names = ["Hips", "Spine", "Head", "LeftArm", "LeftHand", "RightArm", "RightHand", "LeftLeg", "LeftFoot", "RightLeg", "RightFoot"]
    parents = [-1, 0, 1, 1, 3, 1, 5, 0, 7, 0, 9]
    offsets = [[0.0, 0.95, 0.02], [0, 0.3, 0], [0, 0.3, 0.02], [0.15, 0.2, 0], [0.3, 0, 0], [-0.15, 0.2, 0], [-0.3, 0, 0],
               [0.1, -0.05, 0], [0, -0.85, 0], [-0.1, -0.05, 0], [0, -0.85, 0]]
    ends = {2: np.array([0, 0.15, 0.0]), 4: np.array([0.1, 0, 0]), 6: np.array([-0.1, 0, 0]),
            8: np.array([0, -0.05, 0.15]), 10: np.array([0, -0.05, 0.15])}
    return Skeleton("character", names, parents, np.array(offsets), ends)


# --- without Blender -------------------------------------------------------------------------


def test_bone_axes_are_right_handed_along_the_bone_and_face_forward():
    skeleton = smpl24()
    axes, lengths = bone_frames(skeleton)
    np.testing.assert_allclose(axes.transpose(0, 2, 1) @ axes, np.broadcast_to(np.eye(3), axes.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(axes), 1.0, atol=1e-12)
    index = skeleton.index
    # Y runs to the child that continues the chain: pelvis -> spine1, spine3 -> neck, elbow -> wrist.
    for joint, child in (("pelvis", "spine1"), ("spine3", "neck"), ("left_elbow", "left_wrist")):
        offset = skeleton.offsets[index(child)]
        np.testing.assert_allclose(axes[index(joint)][:, 1], offset / np.linalg.norm(offset), atol=1e-12)
        assert lengths[index(joint)] == pytest.approx(np.linalg.norm(offset))
    # Z as forward as the bone allows: the thigh's Z is almost +z, the foot (pointing forward) gets up.
    assert axes[index("left_hip")][2, 2] > 0.95
    assert axes[index("left_ankle")][:, 2] @ np.array([0.0, 1.0, 0.0]) > 0.5


def test_bone_keys_pose_the_armature_as_blender_would():
    """Blender's rule M = M_parent B_parent^-1 B basis, applied to the keys, gives the joints back."""
    motion = dance(frames=6)
    axes, _ = bone_frames(motion.skeleton)
    locations, quats_wxyz = bone_keys(motion, axes)
    rest = np.zeros((motion.num_joints, 4, 4))
    rest[:, :3, :3], rest[:, :3, 3], rest[:, 3, 3] = axes, rest_positions(motion.skeleton) * 100, 1.0
    basis = np.zeros(locations.shape[:2] + (4, 4))
    basis[..., :3, :3] = Motion(motion.skeleton, 1.0, quats_wxyz[..., [1, 2, 3, 0]], np.zeros((6, 3))).rotation_matrices()
    basis[..., :3, 3], basis[..., 3, 3] = locations, 1.0
    posed = np.zeros_like(basis)
    for j, parent in enumerate(motion.skeleton.parents):
        above = np.eye(4) if parent < 0 else posed[:, parent] @ np.linalg.inv(rest[parent])
        posed[:, j] = above @ rest[j] @ basis[:, j]
    np.testing.assert_allclose(posed[..., :3, 3] / 100, motion.joint_positions(), atol=1e-12)
    # Keys are continuous in time: no quaternion sign flips for Blender's curves to interpolate.
    assert (np.einsum("tjk,tjk->tj", quats_wxyz[1:], quats_wxyz[:-1]) > 0).all()


def _fake_read(motion: Motion, end_bones: bool = True) -> tuple[dict, dict]:
    """What the Blender process returns for `motion` (armature-space matrices, metres, z-up)."""
    skeleton = motion.skeleton
    axes, _ = bone_frames(skeleton)
    g, p = motion.forward_kinematics()
    to_blender = fbx.BLENDER_TO_DANCEGEN.T
    names, parents = list(skeleton.joint_names), list(skeleton.parents)
    rest_rot, rest_pos, pose_rot, pose_pos = [*axes], [*rest_positions(skeleton)], [*np.moveaxis(g @ axes, 1, 0)], [*np.moveaxis(p, 1, 0)]
    if end_bones:
        for joint, offset in sorted(skeleton.end_sites.items()):
            names.append(f"{names[joint]}_end")
            parents.append(joint)
            rest_rot.append(axes[joint])
            rest_pos.append(rest_positions(skeleton)[joint] + offset)
            pose_rot.append(g[:, joint] @ axes[joint])
            pose_pos.append(p[:, joint] + np.einsum("tij,j->ti", g[:, joint], offset))

    def blender(rotation, position):
        out = np.zeros(np.shape(rotation)[:-2] + (4, 4))
        out[..., :3, :3] = to_blender @ rotation @ to_blender.T
        out[..., :3, 3] = np.einsum("ij,...j->...i", to_blender, position)
        out[..., 3, 3] = 1
        return out

    arrays = {
        "names": np.array(names), "parents": np.array(parents),
        "rest": blender(np.array(rest_rot), np.array(rest_pos)), "rest_object": np.eye(4),
        "pose": blender(np.stack(pose_rot, 1), np.stack(pose_pos, 1)), "object": np.broadcast_to(np.eye(4), (motion.num_frames, 4, 4)),
    }
    facts = {"fps": motion.fps, "take": "t", "takes": ["t"], "animated": True, "other_armatures": [], "properties": {}}
    return arrays, facts


def test_bone_matrices_become_the_motion_with_end_sites():
    motion = dance(character_rig())
    arrays, facts = _fake_read(motion)
    back = fbx._motion_from_bones(Path("x.fbx"), arrays, facts, None, 1.0)
    assert back.skeleton.joint_names == motion.skeleton.joint_names  # `*_end` leaves became End Sites
    assert sorted(back.skeleton.end_sites) == sorted(motion.skeleton.end_sites)
    for joint, offset in motion.skeleton.end_sites.items():
        np.testing.assert_allclose(back.skeleton.end_sites[joint], offset, atol=1e-12)
    np.testing.assert_allclose(back.skeleton.offsets, motion.skeleton.offsets, atol=1e-12)
    np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=1e-12)
    assert back.metadata["end_site_bones"] == sorted(f"{n}_end" for n in ("Head", "LeftHand", "RightHand", "LeftFoot", "RightFoot"))


def test_smpl_bones_go_back_to_the_canonical_order_and_scale_applies():
    motion = dance(frames=5)
    arrays, facts = _fake_read(motion, end_bones=False)
    # A depth-first file order (parents still first): the canonical SMPL order comes back.
    depth_first = [0]
    stack = list(reversed(motion.skeleton.children(0)))
    while stack:
        joint = stack.pop()
        depth_first.append(joint)
        stack.extend(reversed(motion.skeleton.children(joint)))
    assert depth_first != list(range(24))
    position = {old: new for new, old in enumerate(depth_first)}
    shuffled = {
        "names": arrays["names"][depth_first],
        "parents": np.array([-1 if arrays["parents"][b] < 0 else position[int(arrays["parents"][b])] for b in depth_first]),
        "rest": arrays["rest"][depth_first], "rest_object": arrays["rest_object"],
        "pose": arrays["pose"][:, depth_first], "object": arrays["object"],
    }
    back = fbx._motion_from_bones(Path("x.fbx"), shuffled, facts, 24.0, 2.0)
    assert back.skeleton.joint_names == SMPL24_JOINT_NAMES and back.fps == 24.0
    np.testing.assert_allclose(back.joint_positions(), 2.0 * motion.joint_positions(), atol=1e-12)


def test_without_blender_fbx_is_one_line_saying_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fbx, "blender_python", lambda: None)
    path = tmp_path / "take.fbx"
    path.write_bytes(b"Kaydara FBX Binary  \x00")
    with pytest.raises(FbxUnavailableError) as caught:
        load_motion(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "pip install 'dancegen[fbx]'" in message
    with pytest.raises(FbxUnavailableError):
        write_fbx(dance(frames=2), tmp_path / "out.fbx")
    assert not (tmp_path / "out.fbx").exists()
    status, out, err = run_cli(["motion", "info", path], capsys)
    assert status == 2 and "dancegen[fbx]" in err and len(err.strip().splitlines()) == 1


def test_a_python_without_bpy_is_reported_not_crashed_on(tmp_path, monkeypatch):
    path = tmp_path / "take.fbx"
    path.write_bytes(b"Kaydara FBX Binary  \x00")
    monkeypatch.setenv(fbx.PYTHON_VARIABLE, str(tmp_path / "no-such-python"))
    with pytest.raises(FbxUnavailableError, match="does not exist"):
        read_fbx(path)
    monkeypatch.setenv(fbx.PYTHON_VARIABLE, sys.executable)
    if fbx.importlib.util.find_spec("bpy") is None:  # this Python really has no bpy
        with pytest.raises(FbxUnavailableError, match="has no bpy module"):
            read_fbx(path)


def test_bad_arguments_are_refused_before_blender_runs(tmp_path):
    motion = dance(frames=2)
    with pytest.raises(ArgumentError, match="not unique"):
        write_fbx(motion, tmp_path / "a.fbx", joint_names=["same"] * motion.num_joints)
    with pytest.raises(ArgumentError, match="63 bytes"):
        write_fbx(motion, tmp_path / "a.fbx", joint_names=["x" * 64] + list(SMPL24_JOINT_NAMES[1:]))
    with pytest.raises(ArgumentError, match="numbers or strings"):
        write_fbx(motion, tmp_path / "a.fbx", properties={"bad": [1, 2]})
    broken = motion.copy()
    broken.root_translation[0, 0] = np.nan
    with pytest.raises(ArgumentError, match="NaN"):
        write_fbx(broken, tmp_path / "a.fbx")
    assert not list(tmp_path.iterdir())


# --- through Blender -------------------------------------------------------------------------


def fbx_facts(python: str, path: Path) -> dict:
    """The file's global settings, nodes and takes, as Blender's own FBX parser reads them."""
    script = r"""
import json, sys
import bpy, addon_utils
addon_utils.enable("io_scene_fbx")
from io_scene_fbx import parse_fbx
root, version = parse_fbx.parse(sys.argv[1])
def text(v): return v.decode("utf-8", "replace") if isinstance(v, bytes) else v
out = {"version": version, "settings": {}, "models": {}, "stacks": []}
for e in root.elems:
    if e.id == b"GlobalSettings":
        for p in e.elems:
            for pp in p.elems:
                out["settings"][text(pp.props[0])] = text(pp.props[-1])
    if e.id == b"Objects":
        for o in e.elems:
            if o.id == b"Model":
                props = {text(pp.props[0]): [text(v) for v in pp.props[4:]] for p in o.elems if p.id == b"Properties70" for pp in p.elems}
                out["models"][text(o.props[1]).split("\x00")[0]] = {"type": text(o.props[2]), **props}
            if o.id == b"AnimationStack":
                out["stacks"].append(text(o.props[1]).split("\x00")[0])
print("FACTS" + json.dumps(out))
"""
    done = subprocess.run([python, "-c", script, str(path)], capture_output=True, text=True, timeout=300)
    line = next(line for line in done.stdout.splitlines() if line.startswith("FACTS"))
    return json.loads(line[len("FACTS"):])


@pytest.fixture(scope="module")
def smpl_round_trip(blender, tmp_path_factory) -> tuple[Motion, Motion, Path]:
    motion = dance(frames=60, fps=30.0)
    path = tmp_path_factory.mktemp("fbx") / "dance.fbx"
    names = [f"mixamorig:{n}" for n in SMPL24_JOINT_NAMES]
    write_fbx(motion, path, joint_names=names, properties={"dancegen_music": "song.wav", "dancegen_music_offset_s": 12.5})
    return motion, read_fbx(path), path


def test_round_trip_keeps_joint_positions_within_a_millimetre(smpl_round_trip):
    motion, back, _ = smpl_round_trip
    error = np.linalg.norm(back.joint_positions() - motion.joint_positions(), axis=-1)
    assert error.max() < MM  # measured: about 0.01 mm (float32 centimetres and degrees)
    np.testing.assert_allclose(back.skeleton.offsets, motion.skeleton.offsets, atol=1e-5)  # the T-pose rest
    assert (back.fps, back.num_frames, back.duration) == (motion.fps, motion.num_frames, motion.duration)


def test_round_trip_restores_smpl_names_take_and_music_offset(smpl_round_trip):
    motion, back, _ = smpl_round_trip
    assert back.skeleton.joint_names == SMPL24_JOINT_NAMES and back.skeleton.name == "smpl24"
    assert back.metadata["take"] == "test_dance" and back.metadata["takes"] == ["test_dance"]
    assert back.metadata["music_offset_s"] == 12.5
    assert back.metadata["fbx_properties"]["dancegen_music"] == "song.wav"
    assert back.metadata["fbx_properties"]["dancegen_fps"] == 30.0


def test_the_file_follows_unity_unreal_and_mixamo_conventions(blender, smpl_round_trip):
    _, _, path = smpl_round_trip
    facts = fbx_facts(blender, path)
    settings = facts["settings"]
    assert facts["version"] == 7400
    assert (settings["UpAxis"], settings["UpAxisSign"], settings["FrontAxis"], settings["FrontAxisSign"]) == (1, 1, 2, 1)
    assert settings["UnitScaleFactor"] == 1.0  # centimetres
    assert settings["CustomFrameRate"] == 30.0
    root = facts["models"]["Armature"]
    assert root["type"] == "Null"
    np.testing.assert_allclose(root.get("Lcl Rotation", [0, 0, 0]), 0.0, atol=1e-4)
    np.testing.assert_allclose(root.get("Lcl Scaling", [1, 1, 1]), 1.0, atol=1e-6)
    assert root["dancegen_music_offset_s"] == [12.5]
    hips, thigh = facts["models"]["mixamorig:pelvis"], facts["models"]["mixamorig:left_hip"]
    assert hips["type"] == thigh["type"] == "LimbNode"
    # Bone defaults are the rest pose in centimetres: the thigh hangs from the hips by SMPL's offset.
    assert np.linalg.norm(thigh["Lcl Translation"]) == pytest.approx(100 * np.linalg.norm(smpl24().offsets[1]), abs=1e-3)
    assert facts["stacks"] == ["test_dance"]


@pytest.mark.parametrize("fps", [24.0, 60.0, 29.97, 12.5])
def test_frame_rates_and_durations_survive(blender, tmp_path, fps):
    motion = dance(character_rig(), frames=int(round(2 * fps)), fps=fps)
    write_fbx(motion, tmp_path / "c.fbx", take="spin")
    back = read_fbx(tmp_path / "c.fbx")
    assert back.fps == pytest.approx(fps, rel=1e-6) and back.num_frames == motion.num_frames
    assert back.duration == pytest.approx(motion.duration, rel=1e-6)
    assert back.skeleton.joint_names == motion.skeleton.joint_names and back.metadata["take"] == "spin"
    for joint, offset in motion.skeleton.end_sites.items():
        np.testing.assert_allclose(back.skeleton.end_sites[joint], offset, atol=1e-5)
    assert np.abs(back.joint_positions() - motion.joint_positions()).max() < MM


def test_a_file_without_animation_is_its_bind_pose(blender, tmp_path):
    """A character FBX (no take) reads as one frame of its rest pose: what `--rig` needs."""
    motion = dance(frames=1)
    motion.rotations[:] = [0.0, 0.0, 0.0, 1.0]
    motion.root_translation[:] = 0.0
    write_fbx(motion, tmp_path / "rig.fbx")
    back = read_fbx(tmp_path / "rig.fbx")
    assert back.num_frames == 1
    np.testing.assert_allclose(back.joint_positions()[0], motion.joint_positions()[0], atol=1e-5)


def test_a_broken_file_is_one_line_naming_it(blender, tmp_path):
    path = tmp_path / "broken.fbx"
    path.write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00" + b"\xff" * 64)
    with pytest.raises(DanceGenError) as caught:
        load_motion(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


# --- the kit's FBX clips -----------------------------------------------------------------


@pytest.mark.kit
@pytest.mark.parametrize("name", sorted(KIT_FBX))
def test_kit_fbx_clips_import_and_retarget(blender, kit, name):
    joints, fps, frames = KIT_FBX[name]
    motion = load_motion(kit / "motion" / name)
    assert (motion.num_joints, motion.fps, motion.num_frames) == (joints, fps, frames)
    assert motion.metadata["animated"] and motion.metadata["take"]
    result = retarget(motion)  # preset detected from the names (Neo_ prefix ignored)
    assert result.mean_error_m < 0.05
    assert np.isfinite(result.motion.joint_positions()).all()


@pytest.mark.kit
def test_kit_breakdance_is_a_person_sized_y_up_figure(blender, kit):
    from dancegen.motion.io import estimate_height

    motion = load_motion(kit / "motion" / "cmu_breakdance" / "85_03.fbx")
    assert 1.4 < estimate_height(motion) < 1.9
    assert detect_preset(motion.skeleton).name in ("mixamo", "motorica")  # the same joint names
    positions = motion.joint_positions()
    head = motion.skeleton.index("Neo_Head")
    assert np.median(positions[:, head, 1] - positions[:, 0, 1]) > 0.3  # the head is above the hips (y up)


@pytest.mark.kit
def test_kit_cmu_fbx_is_in_asf_units_and_scale_fixes_it(blender, kit):
    """55_01_cmu.fbx says centimetres but holds CMU ASF units (0.0564 m): `scale=` corrects it."""
    from dancegen.motion.io import estimate_height

    path = kit / "motion" / "isaacgym_amp" / "55_01_cmu.fbx"
    raw = read_fbx(path)
    assert estimate_height(raw) > 20
    fixed = read_fbx(path, scale=0.0564444)
    assert 1.4 < estimate_height(fixed) < 1.9
    assert fixed.duration == pytest.approx(15.06, abs=0.01)


def test_an_unknown_take_is_refused_naming_the_ones_there(smpl_round_trip):
    _, _, path = smpl_round_trip
    with pytest.raises(DanceGenError, match=r"no take named 'nope' \(takes: test_dance\)"):
        read_fbx(path, take="nope")
    assert read_fbx(path, take="test_dance").num_frames == 60


TWO_TAKES = r"""
import sys
import bpy
from bpy_extras import anim_utils
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.fbx(filepath=sys.argv[1])
first = bpy.data.actions[0]
first.name = "walk|loop"  # take names may hold "|", which Blender also uses in action names
second = first.copy()
second.name, second.use_fake_user = "jump", True
for curve in anim_utils.action_get_channelbag_for_slot(second, second.slots[0]).fcurves:
    if curve.data_path.endswith("location"):
        for key in curve.keyframe_points:
            key.co[1] += 10.0  # 10 cm higher, in the bones' centimetres
bpy.ops.export_scene.fbx(filepath=sys.argv[2], bake_anim_use_all_actions=True, add_leaf_bones=False,
                         bake_anim_simplify_factor=0.0)
"""


def test_takes_are_listed_under_their_own_names_and_chosen_by_name(blender, smpl_round_trip, tmp_path):
    _, one, path = smpl_round_trip
    two = tmp_path / "two.fbx"
    subprocess.run([blender, "-c", TWO_TAKES, str(path), str(two)], capture_output=True, timeout=300, check=True)
    first = read_fbx(two)  # no take asked for: the file's first (Blender wrote them by name)
    assert first.metadata["takes"] == ["Armature|jump", "Armature|walk|loop"]
    assert first.metadata["take"] == "Armature|jump"
    walk = read_fbx(two, take="Armature|walk|loop")
    assert walk.metadata["take"] == "Armature|walk|loop" and walk.num_frames == first.num_frames
    # Blender's own export dropped dancegen's properties: the bones keep the file's names.
    order = [walk.skeleton.index(f"mixamorig:{name}") for name in one.skeleton.joint_names]
    np.testing.assert_allclose(walk.joint_positions()[:, order], one.joint_positions(), atol=1e-5)
    lift = first.joint_positions()[:, 0, 1] - walk.joint_positions()[:, 0, 1]
    assert np.abs(lift).max() > 0.05  # the other take's motion, not the same one again
