"""`.fbx` exports (`dancegen.export.fbx`): Mixamo names on SMPL, the user's rig, the music
offset, the command line, and one clear line when Blender is not installed."""

from __future__ import annotations

import numpy as np
import pytest
from cli_runner import run_cli
from export_helpers import make_dance

from dancegen.errors import DanceGenError
from dancegen.export import export_motion, formats_for
from dancegen.export.fbx import export_fbx, mixamo_names
from dancegen.motion import fbx
from dancegen.motion.bvh import write_bvh
from dancegen.motion.io import load_motion
from dancegen.motion.motion import Motion
from dancegen.motion.retarget import retarget_to_rig
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.smplx import SMPLX52_JOINT_NAMES
from dancegen.skeleton.tree import Skeleton

MM = 1e-3


def test_mixamo_names_cover_smpl_and_smplx_one_to_one():
    names = mixamo_names(SMPL24_JOINT_NAMES)
    assert names[:3] == ["mixamorig:Hips", "mixamorig:LeftUpLeg", "mixamorig:RightUpLeg"] and len(set(names)) == 24
    hands = mixamo_names(SMPLX52_JOINT_NAMES)
    assert "mixamorig:LeftHandIndex1" in hands and "mixamorig:RightHandThumb3" in hands and len(set(hands)) == 52
    assert mixamo_names(("hips", "head")) is None


def test_fbx_is_asked_for_by_name_only_and_checked_before_anything_is_written(tmp_path, monkeypatch):
    dance = make_dance(frames=4)
    assert ".fbx" not in formats_for(dance)  # a folder export never needs Blender
    monkeypatch.setattr(fbx, "blender_python", lambda: None)
    with pytest.raises(fbx.FbxUnavailableError, match=r"pip install 'dancegen\[fbx\]'"):
        export_motion(dance, tmp_path / "out", formats=["glb", "fbx"])
    assert not (tmp_path / "out").exists()


def test_smpl_dance_gets_mixamo_names_and_reads_back_as_smpl(blender, tmp_path):
    dance = make_dance(frames=30, fps=30.0)
    [written] = export_motion(dance, tmp_path / "dance.fbx")
    data = written.read_bytes()
    # Binary FBX names a node "<name>\x00\x01Model": the bones are Mixamo's, not SMPL's.
    assert b"mixamorig:LeftUpLeg\x00\x01Model" in data and b"left_hip\x00\x01Model" not in data
    back = load_motion(written)
    assert back.skeleton.joint_names == SMPL24_JOINT_NAMES
    assert np.abs(back.joint_positions() - dance.joint_positions()).max() < MM
    export_fbx(dance, tmp_path / "smpl.fbx", names="smpl")
    assert b"mixamorig" not in (tmp_path / "smpl.fbx").read_bytes()


def test_music_name_and_offset_travel_as_custom_properties(blender, tmp_path):
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")
    dance = make_dance(frames=12)
    [written] = export_motion(dance, tmp_path / "dance.fbx", music=song, music_start=3.25)
    back = load_motion(written)
    assert back.metadata["music_offset_s"] == 3.25
    assert back.metadata["fbx_properties"]["dancegen_music"] == "song.wav"
    assert back.metadata["take"] == "synthetic"


def _mixamo_rig_bvh(path) -> Motion:
    """A centimetre BVH character with Mixamo names (SMPL's proportions, one T-pose frame)."""
    skeleton = smpl24()
    rig = Skeleton("hero", mixamo_names(skeleton.joint_names), skeleton.parents, skeleton.offsets * 1.1)
    frame = Motion(rig, 30.0, np.tile([0.0, 0.0, 0.0, 1.0], (1, 24, 1)), np.array([[0.0, 1.0, 0.0]]))
    write_bvh(frame, path, units="cm")
    return load_motion(path)


def test_a_dance_on_the_users_rig_keeps_its_names_and_proportions(blender, tmp_path):
    rig_path = tmp_path / "hero.bvh"
    rig = _mixamo_rig_bvh(rig_path)
    dance = make_dance(frames=24, fps=24.0)
    [written] = export_motion(dance, tmp_path / "hero_dance.fbx", rig=rig_path)
    back = load_motion(written)
    expected = retarget_to_rig(dance, rig)
    assert back.skeleton.joint_names == rig.skeleton.joint_names
    np.testing.assert_allclose(back.skeleton.offsets[1:], rig.skeleton.offsets[1:], atol=1e-5)
    assert np.abs(back.joint_positions() - expected.joint_positions()).max() < MM
    assert back.duration == pytest.approx(dance.duration)


def test_the_command_line_converts_to_and_from_fbx(blender, tmp_path, capsys):
    dance = make_dance(frames=30, fps=30.0)
    dance.save_npz(tmp_path / "dance.npz")
    status, out, err = run_cli(["motion", "convert", tmp_path / "dance.npz", tmp_path / "dance.fbx"], capsys)
    assert status == 0, err
    status, out, err = run_cli(["motion", "info", tmp_path / "dance.fbx", "--json"], capsys)
    assert status == 0, err
    assert '"format": "fbx"' in out and '"frames": 30' in out and '"rig_preset": "smpl"' in out
    status, out, err = run_cli(["motion", "convert", tmp_path / "dance.fbx", tmp_path / "back.bvh"], capsys)
    assert status == 0, err
    back = load_motion(tmp_path / "back.bvh")
    assert np.abs(back.joint_positions() - dance.joint_positions()).max() < MM


def test_a_motion_blender_cannot_take_is_refused_with_one_line(blender, tmp_path):
    dance = make_dance(frames=3)
    with pytest.raises(DanceGenError) as caught:
        fbx.write_fbx(dance, tmp_path / "x.fbx", joint_names=["a" * 70] * 24)
    assert "\n" not in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_an_fbx_character_serves_as_rig_for_bvh_and_fbx(blender, tmp_path, capsys):
    rig = _mixamo_rig_bvh(tmp_path / "hero.bvh")
    fbx.write_fbx(rig, tmp_path / "hero.fbx", take="bind")  # the character as an FBX
    dance = make_dance(frames=20, fps=20.0)
    dance.save_npz(tmp_path / "dance.npz")
    for out in ("on_hero.fbx", "on_hero.bvh"):
        status, _, err = run_cli(["motion", "convert", tmp_path / "dance.npz", tmp_path / out, "--rig", tmp_path / "hero.fbx"], capsys)
        assert status == 0, err
        back = load_motion(tmp_path / out)
        assert back.skeleton.joint_names == rig.skeleton.joint_names and back.duration == pytest.approx(dance.duration)
    np.testing.assert_allclose(load_motion(tmp_path / "on_hero.fbx").joint_positions(),
                               load_motion(tmp_path / "on_hero.bvh").joint_positions(), atol=MM)
