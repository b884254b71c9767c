"""`dancegen motion info|convert` on a synthetic Mixamo-named rig."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dancegen.cli import main
from dancegen.motion.io import estimate_height, load_motion, save_motion
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.tree import Skeleton

FRAMES, FPS = 40, 30.0
# SMPL-24 joint -> the name a Mixamo rig gives it (trunk included: it is part of the rig).
MIXAMO_NAMES = (
    "Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot", "Spine2",
    "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm", "RightArm",
    "LeftForeArm", "RightForeArm", "LeftHand", "RightHand", "LeftHandMiddle1", "RightHandMiddle1",
)


def run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as done:
        code = done.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def dance() -> Motion:
    """A small grounded SMPL-24 dance: every joint swaying, the body turning and travelling."""
    rng = np.random.default_rng(5)
    t = np.arange(FRAMES)[:, None] / FPS
    rotvec = rng.normal(scale=0.25, size=(1, 24, 3)) * np.sin(2 * np.pi * t + rng.uniform(0, 6, 24))[..., None]
    rotvec[:, 0] = np.concatenate([0 * t, 0.8 * t, 0 * t], axis=1)
    root = np.concatenate([0.3 * t, 0.95 + 0 * t, 0.2 * np.sin(t)], axis=1)
    motion = Motion(smpl24(), FPS, axis_angle_to_quat(torch.from_numpy(rotvec)).numpy(), root)
    motion.root_translation[:, 1] -= motion.joint_positions()[..., 1].min()
    return motion


def renamed(motion: Motion, names) -> Motion:
    skeleton = motion.skeleton
    return motion.copy(skeleton=Skeleton("rig", names, skeleton.parents, skeleton.offsets))


@pytest.fixture
def files(tmp_path, dance):
    rig = tmp_path / "rig.bvh"
    save_motion(renamed(dance, MIXAMO_NAMES), rig)
    smpl = tmp_path / "dance.npz"
    save_motion(dance, smpl)
    return tmp_path, rig, smpl


def test_help_lists_the_motion_commands(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "motion" in out
    code, out, _ = run(["motion", "--help"], capsys)
    assert code == 0 and "info" in out and "convert" in out


def test_info_prints_skeleton_joints_fps_frames_duration_height(files, capsys):
    _, rig, _ = files
    code, out, _ = run(["motion", "info", str(rig)], capsys)
    assert code == 0
    fields = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert fields["skeleton"] == "rig (24 joints)"
    assert (fields["fps"], fields["frames"], fields["duration"]) == ("30", "40", "1.33 s")
    assert fields["height"] == f"{estimate_height(load_motion(rig)):.2f} m"
    assert fields["rig"] == "mixamo"

    code, out, _ = run(["motion", "info", str(rig), "--json", "--input-fps", "60"], capsys)
    facts = json.loads(out)
    assert code == 0 and facts["joints"] == 24 and facts["joint_names"][0] == "Hips"
    assert facts["fps"] == 60 and facts["duration_s"] == pytest.approx(FRAMES / 60)
    assert facts["rig_preset"] == "mixamo" and facts["height_m"] > 1.0


@pytest.mark.parametrize("suffix", [".glb", ".npz"])
def test_info_reads_what_the_exporter_writes(tmp_path, dance, capsys, suffix):
    from dancegen.export import export_motion

    (exported,) = export_motion(dance, tmp_path / f"dance{suffix}")  # what `dancegen generate` writes
    code, out, err = run(["motion", "info", str(exported), "--json"], capsys)
    assert code == 0, err
    facts = json.loads(out)
    assert facts["format"] == suffix.lstrip(".") and facts["skeleton"] == "smpl24"
    assert facts["joint_names"] == list(SMPL24_JOINT_NAMES)
    assert (facts["fps"], facts["frames"]) == (FPS, FRAMES)
    assert facts["height_m"] == pytest.approx(estimate_height(dance), abs=1e-4)

    code, out, _ = run(["motion", "info", str(exported), "--input-fps", "60"], capsys)
    fields = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert code == 0 and fields["skeleton"] == "smpl24 (24 joints)" and fields["duration"] == f"{FRAMES / 60:.2f} s"


def test_convert_retargets_onto_smpl24_in_any_format(files, dance, capsys):
    folder, rig, _ = files
    code, out, _ = run(["motion", "convert", str(rig), str(folder / "smpl.bvh"), "--to", "smpl24"], capsys)
    assert code == 0 and "mean error 0.00 cm" in out and "wrote" in out
    result = load_motion(folder / "smpl.bvh")
    assert result.skeleton.joint_names == SMPL24_JOINT_NAMES
    np.testing.assert_allclose(result.joint_positions(), dance.joint_positions(), atol=1e-4)

    code, out, _ = run(["motion", "convert", str(rig), str(folder / "smpl.pkl"), "--to", "smpl24", "--fps", "15"], capsys)
    assert code == 0
    aistpp = load_motion(folder / "smpl.pkl")  # written at AIST++'s 60 fps: the same length in seconds
    assert aistpp.num_joints == 24 and aistpp.fps == 60 and aistpp.duration == pytest.approx(FRAMES / FPS)


def test_convert_writes_glb_html_or_every_format_into_a_folder(files, dance, capsys):
    folder, rig, _ = files
    code, _, _ = run(["motion", "convert", str(rig), str(folder / "smpl.glb"), "--to", "smpl24"], capsys)
    assert code == 0
    np.testing.assert_allclose(load_motion(folder / "smpl.glb").joint_positions(), dance.joint_positions(), atol=1e-4)
    code, _, _ = run(["motion", "convert", str(rig), str(folder / "smpl.html"), "--to", "smpl24"], capsys)
    assert code == 0 and "<html" in (folder / "smpl.html").read_text(encoding="utf-8").lower()

    code, out, _ = run(["motion", "convert", str(rig), str(folder / "all"), "--to", "smpl24"], capsys)
    assert code == 0
    written = sorted(p.suffix for p in (folder / "all").iterdir())
    assert written == [".bvh", ".glb", ".html", ".npz", ".pkl"]  # no FineDance .npy for 24 joints
    assert out.count("wrote") == 5


def test_convert_puts_an_smpl_dance_on_the_users_rig(files, dance, capsys):
    folder, rig, smpl = files
    code, out, _ = run(["motion", "convert", str(smpl), str(folder / "on_rig.bvh"), "--rig", str(rig)], capsys)
    assert code == 0 and "on rig 'rig'" in out
    on_rig, original = load_motion(folder / "on_rig.bvh"), load_motion(rig)  # BVH keeps joints depth-first
    assert on_rig.skeleton.joint_names == original.skeleton.joint_names and set(MIXAMO_NAMES) == set(original.skeleton.joint_names)
    np.testing.assert_allclose(on_rig.joint_positions(), original.joint_positions(), atol=1e-4)


def test_convert_uses_a_mapping_file_for_an_unknown_rig(tmp_path, dance, capsys):
    names = tuple(f"Bone{j:02d}" for j in range(24))
    rig = tmp_path / "odd.bvh"
    save_motion(renamed(dance, names), rig)
    out = tmp_path / "smpl.npz"
    code, _, err = run(["motion", "convert", str(rig), str(out), "--to", "smpl24"], capsys)
    assert code == 2 and "no preset fits rig" in err and not out.exists()

    mapping = tmp_path / "odd.yaml"
    pairs = {smpl: bone for smpl, bone in zip(SMPL24_JOINT_NAMES, names) if smpl not in ("pelvis", "spine1", "spine2", "spine3")}
    mapping.write_text("joints:\n" + "".join(f"  {smpl}: {bone}\n" for smpl, bone in pairs.items()))
    code, stdout, _ = run(["motion", "convert", str(rig), str(out), "--to", "smpl24", "--mapping", str(mapping)], capsys)
    assert code == 0 and "mapping 'odd'" in stdout
    np.testing.assert_allclose(load_motion(out).joint_positions(), dance.joint_positions(), atol=1e-4)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["motion", "info", "{dir}/absent.bvh"], "absent.bvh: no such file"),
        (["motion", "info", "{rig}", "--input-fps", "-5"], "--input-fps: must be positive"),
        (["motion", "convert", "{rig}", "{dir}/out.bvh", "--to", "smpl99"], "--to: unknown skeleton 'smpl99'"),
        (["motion", "convert", "{rig}", "{dir}/out.xyz"], "cannot write .xyz"),
        (["motion", "convert", "{rig}", "{dir}/out.pkl"], ".pkl files hold SMPL motions"),
        (["motion", "convert", "{rig}", "{dir}/out.bvh", "--mapping", "{dir}/m.yaml"], "--mapping: only applies when retargeting"),
        (["motion", "convert", "{rig}", "{dir}/out.bvh", "--to", "smpl24", "--mapping", "{dir}/m.yaml"], "m.yaml: mapping file not found"),
    ],
)
def test_user_errors_are_one_line_and_write_nothing(files, capsys, args, expected):
    folder, rig, _ = files
    code, out, err = run([a.format(dir=folder, rig=rig) for a in args], capsys)
    assert code == 2 and err.startswith("dancegen: error: ") and expected in err
    assert len(err.strip().splitlines()) == 1
    assert not list(folder.glob("out.*"))
