"""`--rig` is faithful to the user's character: a dance put on a BVH rig comes back in that
file's own layout (`write_bvh_on_rig`): the HIERARCHY byte for byte (units, OFFSETs, root
OFFSET, channel lists and orders, joint names, line breaks), frames in the rig's channels.

The rigs are SMPL-24's tree written the way real exporters write rigs: Mixamo names in
centimetres with ZYX channels and a raised root OFFSET (iClone-like relative root channels),
metres with XYZ and absolute root channels, a Bandai-like static ground root over the hips with
six channels on every joint (ZXY), Windows line breaks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import run_cli
from test_retarget import (
    MIXAMO,  # SMPL-24 joint -> Mixamo bone, shared with the retarget tests
)

from dancegen.errors import ArgumentError, InputFileError
from dancegen.export import export_motion
from dancegen.motion.bvh import read_bvh, write_bvh_on_rig
from dancegen.motion.motion import Motion
from dancegen.motion.retarget import detect_preset, retarget_to_rig
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import smpl24

PER_METRE = {"cm": 100.0, "m": 1.0}
# Written values have 6 decimals: degrees and file units round to this (metres) on the figure.
WRITTEN = 2e-5


def rig_bvh(
    path: Path, units: str = "cm", order: str = "ZYX", root_offset=(0.0, 95.0, 0.0), relative_root: bool = True,
    prefix: str = "mixamorig:", ground_root: bool = False, newline: str = "\n", hands: bool = True, frames: int = 3,
) -> Path:
    """A T-pose rig file (its hips step sideways over the frames, as a bind clip may)."""
    skeleton = smpl24()
    per_metre = PER_METRE[units]
    keep = [j for j, n in enumerate(skeleton.joint_names) if hands or n not in ("left_hand", "right_hand")]
    names = {j: prefix + MIXAMO[skeleton.joint_names[j]] for j in keep}
    rotation = " ".join(f"{axis}rotation" for axis in order)
    lines, rest = ["HIERARCHY"], []  # rest: (is the root, offset, channel count) per joint in file order

    def joint(j: int, depth: int) -> None:
        pad = "\t" * depth
        root = j == 0
        offset = np.array(root_offset) if root else skeleton.offsets[j] * per_metre
        lines.append(f"{pad}{'ROOT' if root and not ground_root else 'JOINT'} {names[j]}")
        lines.append(pad + "{")
        lines.append(f"{pad}\tOFFSET {' '.join(f'{v:.4f}' for v in offset)}")
        six = root or ground_root
        lines.append(f"{pad}\tCHANNELS {6 if six else 3} {'Xposition Yposition Zposition ' if six else ''}{rotation}")
        rest.append((root, offset, six))
        children = [c for c in skeleton.children(j) if c in keep]
        for child in children:
            joint(child, depth + 1)
        if not children:
            lines.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET 0.0000 {0.05 * per_metre:.4f} 0.0000", pad + "\t}"])
        lines.append(pad + "}")

    if ground_root:  # Bandai: a motionless root at the origin, the hips carrying the motion
        lines += ["ROOT Root", "{", "\tOFFSET 0.0000 0.0000 0.0000", f"\tCHANNELS 6 Xposition Yposition Zposition {rotation}"]
        joint(0, 1)
        lines.append("}")
    else:
        joint(0, 0)
    rows = []
    for frame in range(frames):
        values = [0.0] * 6 if ground_root else []
        for root, offset, six in rest:
            if six:
                position = (np.zeros(3) if relative_root and root and not ground_root else offset.copy())
                if root:
                    position[0] += 0.02 * per_metre * frame
                values += list(position)
            values += [0.0, 0.0, 0.0]
        rows.append(" ".join(f"{v:.4f}" for v in values))
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333", *rows]
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def a_dance(frames: int = 30, seed: int = 2) -> Motion:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 30.0
    rotvec = rng.uniform(0.1, 0.5, (24, 3)) * np.sin(2 * np.pi * rng.uniform(0.3, 1.0, (24, 3)) * t)
    root = np.concatenate([0.2 * np.sin(t[:, 0]), 0.9 + 0.03 * np.sin(5 * t[:, 0]), 0.3 * t[:, 0]], axis=1)
    return Motion(smpl24(), 30.0, axis_angle_to_quat(torch.from_numpy(rotvec)).numpy(), root, metadata={"name": "d"})


def header_of(path: Path) -> bytes:
    data = path.read_bytes()
    end = data.index(b"MOTION")
    return data[: data.index(b"\n", end) + 1]


RIGS = {
    "cm_zyx_mixamo_relative_root": dict(units="cm", order="ZYX", root_offset=(0.0, 95.0, 1.5), relative_root=True),
    "m_xyz_absolute_root": dict(units="m", order="XYZ", root_offset=(0.0, 0.95, 0.0), relative_root=False, prefix=""),
    "cm_zxy_ground_root_six_channels": dict(units="cm", order="ZXY", ground_root=True, prefix="", root_offset=(0.0, 92.0, 0.0)),
    "cm_zyx_windows_lines": dict(newline="\r\n", root_offset=(1.0, 93.0, -2.0)),
}


@pytest.fixture(scope="module")
def dance() -> Motion:
    return a_dance()


@pytest.mark.parametrize("name", sorted(RIGS))
def test_the_rig_comes_back_as_the_user_gave_it(tmp_path, dance, name):
    rig_file = rig_bvh(tmp_path / "rig.bvh", **RIGS[name])
    rig = read_bvh(rig_file)
    on_rig = retarget_to_rig(dance, rig)
    out = tmp_path / "out.bvh"
    write_bvh_on_rig(on_rig, out, rig)

    assert header_of(out) == header_of(rig_file)  # byte for byte: units, OFFSETs, channels, names
    newline = RIGS[name].get("newline", "\n").encode()
    assert all(line.endswith(b"\r") == (newline == b"\r\n") for line in out.read_bytes().split(b"\n")[:-1])
    back = read_bvh(out)
    assert back.skeleton.joint_names == rig.skeleton.joint_names
    np.testing.assert_allclose(back.skeleton.offsets, rig.skeleton.offsets, atol=1e-9)
    for key in ("units", "metres_per_unit", "channels", "position_channels", "dropped_static_roots"):
        assert back.metadata.get(key) == rig.metadata.get(key), key
    assert (back.fps, back.num_frames) == (on_rig.fps, on_rig.num_frames)
    assert np.abs(back.joint_positions() - on_rig.joint_positions()).max() < WRITTEN


def test_centimetre_offsets_root_offset_and_channel_order_are_kept_in_the_numbers(tmp_path, dance):
    """The issue's report: 9.5 came back as 0.095, the root OFFSET as 0, ZYX as ZXY."""
    rig_file = rig_bvh(tmp_path / "rig.bvh", root_offset=(0.0, 95.0, 1.5))
    rig = read_bvh(rig_file)
    out = tmp_path / "out.bvh"
    write_bvh_on_rig(retarget_to_rig(dance, rig), out, rig)
    text = out.read_text()
    assert "\tOFFSET 0.0000 95.0000 1.5000\n" in text
    thigh = 100 * smpl24().offsets[1]
    assert f"\t\tOFFSET {thigh[0]:.4f} {thigh[1]:.4f} {thigh[2]:.4f}\n" in text
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" in text
    assert "Zrotation Xrotation Yrotation" not in text
    # Relative root channels stay relative: the figure's hips at ~0.9 m are written as about -5 cm.
    first_row = text.split("Frame Time: 0.03333333\n")[1].splitlines()[0].split()
    assert abs(float(first_row[1])) < 20.0


def test_the_static_ground_root_is_written_back_with_its_own_values(tmp_path, dance):
    rig_file = rig_bvh(tmp_path / "rig.bvh", ground_root=True, prefix="", order="ZXY")
    rig = read_bvh(rig_file)
    assert rig.metadata["dropped_static_roots"] == ["Root"]
    out = tmp_path / "out.bvh"
    write_bvh_on_rig(retarget_to_rig(dance, rig), out, rig)
    rows = out.read_text().split("Frame Time: 0.03333333\n")[1].splitlines()
    assert all(row.split()[:6] == ["0.000000"] * 6 for row in rows)  # the ground root never moves
    # Every non-root joint's position channels still equal its OFFSET (Bandai's "absolute" style).
    thigh = 100 * smpl24().offsets[1]
    first = [float(v) for v in rows[0].split()]
    np.testing.assert_allclose(first[12:15], thigh, atol=1e-4)  # Root (6 values), Hips (6), then LeftUpLeg


@pytest.mark.parametrize(("prefix", "hands", "preset"), [
    ("mixamorig:", True, "mixamo"), ("mixamorig:", False, "mixamo"), ("", True, "mixamo"), ("Neo_", False, "motorica"),
])
def test_the_rig_is_reported_under_the_right_preset(tmp_path, prefix, hands, preset):
    rig = read_bvh(rig_bvh(tmp_path / "rig.bvh", prefix=prefix, hands=hands))
    assert detect_preset(rig.skeleton).name == preset


def test_export_and_the_cli_keep_the_rig_file_layout(tmp_path, dance, capsys):
    rig_file = rig_bvh(tmp_path / "rig.bvh", prefix="mixamorig:", hands=False)
    [written] = export_motion(dance, tmp_path / "gen.bvh", rig=rig_file)  # what `generate --rig` does
    assert header_of(written) == header_of(rig_file)
    source = tmp_path / "dance.npz"
    dance.save_npz(source)
    status, out, err = run_cli(["motion", "convert", source, tmp_path / "conv.bvh", "--rig", rig_file], capsys)
    assert status == 0, err
    assert header_of(tmp_path / "conv.bvh") == header_of(rig_file)
    assert "mapping 'mixamo'" in out
    status, out, _ = run_cli(["motion", "info", tmp_path / "conv.bvh", "--json"], capsys)
    assert status == 0 and '"rig_preset": "mixamo"' in out


def test_a_motion_on_another_rig_or_a_vanished_rig_file_is_refused(tmp_path, dance):
    rig_file = rig_bvh(tmp_path / "rig.bvh")
    rig = read_bvh(rig_file)
    with pytest.raises(ArgumentError, match="is not on rig"):
        write_bvh_on_rig(dance, tmp_path / "out.bvh", rig)
    on_rig = retarget_to_rig(dance, rig)
    rig_file.unlink()
    with pytest.raises(InputFileError, match="gone"):
        write_bvh_on_rig(on_rig, tmp_path / "out.bvh", rig)
    assert not (tmp_path / "out.bvh").exists()
