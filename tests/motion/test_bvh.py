"""BVH reading and writing on synthesized rigs (no kit needed)."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion.bvh import read_bvh, write_bvh
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import EULER_ORDERS, axis_angle_to_quat
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.smplx import smplx52
from dancegen.skeleton.tree import Skeleton

# --- a tiny BVH writer independent of the one under test -----------------------------------

# (name, parent, OFFSET, CHANNELS, End Site OFFSET or None); centimetres, mixed channel
# orders, a 6-channel non-root joint and a joint with only two rotation channels.
RIG = [
    ("Hips", -1, (0.0, 0.0, 0.0), "Xposition Yposition Zposition Yrotation Xrotation Zrotation", None),
    ("Spine", 0, (0.0, 20.0, 0.0), "Xrotation Zrotation Yrotation", None),
    ("Head", 1, (0.0, 30.0, 5.0), "Xposition Yposition Zposition Zrotation Yrotation Xrotation", (0.0, 15.0, 0.0)),
    ("LeftLeg", 0, (10.0, -5.0, 0.0), "Zrotation Xrotation", None),
    ("LeftFoot", 3, (0.0, -80.0, 0.0), "Zrotation Yrotation Xrotation", (0.0, -5.0, 10.0)),
]


def hierarchy(rig) -> list[str]:
    lines = ["HIERARCHY"]

    def joint(index: int, depth: int) -> None:
        name, parent, offset, channels, end = rig[index]
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if parent < 0 else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {offset[0]:g} {offset[1]:g} {offset[2]:g}")
        lines.append(f"{pad}  CHANNELS {len(channels.split())} {channels}")
        for child in [i for i, j in enumerate(rig) if j[1] == index]:
            joint(child, depth + 1)
        if end is not None:
            lines.extend(
                [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end[0]:g} {end[1]:g} {end[2]:g}", f"{pad}  }}"]
            )
        lines.append(f"{pad}}}")

    joint(0, 0)
    return lines


def bvh_text(rig, values: np.ndarray, frame_time: float = 1 / 30, frames: int | None = None) -> str:
    lines = hierarchy(rig)
    lines += ["MOTION", f"Frames: {len(values) if frames is None else frames}", f"Frame Time: {frame_time:.6f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def rig_values(rig, frames: int, seed: int = 0) -> np.ndarray:
    """Deterministic channel values: root wandering in cm, angles in degrees, and position
    channels of non-root joints equal to their OFFSET (the Bandai convention)."""
    rng = np.random.default_rng(seed)
    columns = []
    for index, (_, parent, offset, channels, _) in enumerate(rig):
        for channel in channels.split():
            if channel.endswith("position"):
                axis = "XYZ".index(channel[0])
                base = rng.normal(0, 50) + (90.0 if axis == 1 else 0.0) if parent < 0 else offset[axis]
                columns.append(base + (np.cumsum(rng.normal(0, 1, frames)) if parent < 0 else np.zeros(frames)))
            else:
                columns.append(rng.uniform(-120, 120) + np.cumsum(rng.normal(0, 5, frames)))
    return np.stack(columns, axis=1)


def reference_positions(rig, values: np.ndarray, relative_root: bool = False) -> np.ndarray:
    """World joint positions (T, J, 3) in file units, by scipy (intrinsic = upper-case axes)."""
    frames = len(values)
    positions = np.zeros((frames, len(rig), 3))
    rotations = [None] * len(rig)
    column = 0
    for index, (_, parent, offset, channels, _) in enumerate(rig):
        rotation = Rotation.identity(frames)
        translation = np.tile(np.asarray(offset, dtype=float), (frames, 1))
        for channel in channels.split():
            if channel.endswith("rotation"):
                rotation = rotation * Rotation.from_euler(channel[0], values[:, column : column + 1], degrees=True)
            else:
                axis = "XYZ".index(channel[0])
                translation[:, axis] = values[:, column] + (offset[axis] if relative_root else 0.0)
            column += 1
        if parent < 0:
            positions[:, index], rotations[index] = translation, rotation
        else:
            positions[:, index] = positions[:, parent] + rotations[parent].apply(translation)
            rotations[index] = rotations[parent] * rotation
    return positions


def by_name(motion: Motion, names) -> np.ndarray:
    return motion.joint_positions()[:, [motion.skeleton.index(n) for n in names]]


def random_motion(skeleton: Skeleton, frames: int = 8, seed: int = 0, fps: float = 30.0) -> Motion:
    generator = torch.Generator().manual_seed(seed)
    rotvec = torch.randn(frames, skeleton.num_joints, 3, generator=generator, dtype=torch.float64) * 1.2
    root = torch.randn(frames, 3, generator=generator, dtype=torch.float64).numpy() + [0.0, 1.0, 0.0]
    return Motion(skeleton, fps, axis_angle_to_quat(rotvec).numpy(), root)


def toy_skeleton() -> Skeleton:
    # Index order is not depth-first (children of 1 and 2 interleave), as in SMPL.
    names = ("root", "a", "b", "a1", "b1", "a2", "a1x")
    parents = (-1, 0, 0, 1, 2, 1, 3)
    offsets = np.random.default_rng(3).normal(0, 0.2, (7, 3))
    return Skeleton("toy", names, parents, offsets, {4: np.array([0.0, 0.1, 0.02]), 6: np.array([0.05, 0.0, 0.0])})


# --- reading ----------------------------------------------------------------------------


def test_reads_mixed_channel_layouts_to_exact_world_positions(tmp_path):
    values = rig_values(RIG, frames=12)
    path = tmp_path / "rig.bvh"
    path.write_text(bvh_text(RIG, values))
    motion = read_bvh(path)

    names = [j[0] for j in RIG]
    assert motion.skeleton.joint_names == tuple(names)
    assert motion.num_frames == 12 and motion.fps == 30.0
    assert motion.metadata["units"] == "cm" and motion.metadata["metres_per_unit"] == 0.01
    assert motion.metadata["channels"]["LeftLeg"] == ["Zrotation", "Xrotation"]
    assert motion.metadata["source"] == str(path)
    np.testing.assert_allclose(by_name(motion, names), reference_positions(RIG, values) / 100, atol=1e-6)
    # End Sites are kept (in metres) and the Head's constant position channels became its offset.
    np.testing.assert_allclose(motion.skeleton.end_sites[motion.skeleton.index("LeftFoot")], [0.0, -0.05, 0.1])
    np.testing.assert_allclose(motion.skeleton.offsets[motion.skeleton.index("Head")], [0.0, 0.3, 0.05], atol=1e-8)


def test_root_channels_relative_to_a_raised_offset_are_detected(tmp_path):
    # iClone/CMU style: root OFFSET 105 cm high, Ypos about -2 when standing.
    rig = [
        ("Hip", -1, (0.0, 105.0, 0.0), "Xposition Yposition Zposition Zrotation Yrotation Xrotation", None),
        ("Thigh", 0, (10.0, 0.0, 0.0), "Zrotation Yrotation Xrotation", (0.0, 40.0, 0.0)),
    ]
    values = rig_values(rig, frames=6, seed=1)
    values[:, 1] -= values[0, 1] + 2.0  # Ypos starts at -2
    path = tmp_path / "relative.bvh"
    path.write_text(bvh_text(rig, values))

    motion = read_bvh(path)
    assert motion.metadata["position_channels"] == {"Hip": "relative"}
    np.testing.assert_allclose(
        by_name(motion, ["Hip", "Thigh"]), reference_positions(rig, values, relative_root=True) / 100, atol=1e-6
    )
    assert abs(motion.root_translation[0, 1] - 1.03) < 1e-6

    forced = read_bvh(path, position_channels="absolute")
    np.testing.assert_allclose(forced.root_translation[:, 1], values[:, 1] / 100, atol=1e-7)


def test_static_ground_root_over_a_moving_hips_is_dropped(tmp_path):
    # Bandai style: every joint has 6 channels; joint_Root never moves, Hips carries the motion.
    rig = [
        ("joint_Root", -1, (0.0, 0.0, 0.0), "Xposition Yposition Zposition Zrotation Xrotation Yrotation", None),
        ("Hips", 0, (-11.0, 91.0, 32.0), "Xposition Yposition Zposition Zrotation Xrotation Yrotation", None),
        ("Spine", 1, (15.7, 0.0, 0.0), "Xposition Yposition Zposition Zrotation Xrotation Yrotation", (9.0, 0.0, 0.0)),
    ]
    values = rig_values(rig, frames=10, seed=2)
    values[:, 0:6] = 0.0  # the static root
    values[:, 6:9] = [[1.7, 92.9, -191.0]] + np.cumsum(np.random.default_rng(5).normal(0, 2, (10, 3)), axis=0)
    path = tmp_path / "bandai_like.bvh"
    path.write_text(bvh_text(rig, values))

    motion = read_bvh(path)
    assert motion.skeleton.joint_names == ("Hips", "Spine")
    assert motion.metadata["dropped_static_roots"] == ["joint_Root"]
    assert motion.metadata["position_channels"]["Hips"] == "absolute"
    expected = reference_positions(rig, values)[:, 1:] / 100
    np.testing.assert_allclose(motion.joint_positions(), expected, atol=1e-6)


def test_frame_rate_override_snapping_and_resampling(tmp_path):
    values = rig_values(RIG, frames=40, seed=3)
    path = tmp_path / "fast_header.bvh"
    path.write_text(bvh_text(RIG, values, frame_time=0.008333))  # "120 fps", as the salsa files say

    assert read_bvh(path).fps == 120.0  # 1 / 0.008333 = 120.005 snaps to 120
    motion = read_bvh(path, fps=60)
    assert motion.fps == 60.0 and motion.metadata["fps_override"] == 60
    assert motion.duration == pytest.approx(40 / 60)

    slow = read_bvh(path, fps=60, resample_to=30)
    assert slow.fps == 30.0 and slow.num_frames == 20
    # Resampled frame k is source frame 2k.
    np.testing.assert_allclose(slow.joint_positions(), motion.joint_positions()[::2], atol=1e-9)


def test_units_are_detected_and_can_be_forced(tmp_path):
    values = rig_values(RIG, frames=3, seed=4)
    path = tmp_path / "rig.bvh"
    path.write_text(bvh_text(RIG, values))
    cm = read_bvh(path)
    inches = read_bvh(path, units="inch")
    assert inches.metadata["units"] == "inch"
    np.testing.assert_allclose(inches.joint_positions(), cm.joint_positions() * 2.54, atol=1e-9)

    metres = [(n, p, tuple(v / 100 for v in o), c, e and tuple(v / 100 for v in e)) for n, p, o, c, e in RIG]
    values_m = values.copy()
    values_m[:, :3] /= 100
    values_m[:, 9:12] /= 100  # Head's position channels
    path_m = tmp_path / "rig_m.bvh"
    path_m.write_text(bvh_text(metres, values_m))
    in_metres = read_bvh(path_m)
    assert in_metres.metadata["units"] == "m"
    np.testing.assert_allclose(in_metres.joint_positions(), cm.joint_positions(), atol=2e-6)


# --- writing ----------------------------------------------------------------------------


@pytest.mark.parametrize("order", EULER_ORDERS)
@pytest.mark.parametrize("units", ["m", "cm"])
def test_write_read_round_trip_keeps_world_positions(tmp_path, order, units):
    for skeleton in (smpl24(), smplx52(), toy_skeleton()):
        motion = random_motion(skeleton, seed=len(order) + skeleton.num_joints)
        path = tmp_path / f"{skeleton.name}.bvh"
        write_bvh(motion, path, euler_order=order, units=units)
        back = read_bvh(path)
        assert back.fps == motion.fps and back.num_frames == motion.num_frames
        assert back.metadata["units"] == units
        error = np.abs(by_name(back, skeleton.joint_names) - motion.joint_positions()).max()
        assert error < 1e-4, (skeleton.name, error)


def test_round_trip_keeps_end_sites_and_canonical_smpl_order(tmp_path):
    toy = random_motion(toy_skeleton())
    write_bvh(toy, tmp_path / "toy.bvh")
    back = read_bvh(tmp_path / "toy.bvh")
    # Depth-first file order, but every End Site is where it was.
    assert back.skeleton.joint_names == ("root", "a", "a1", "a1x", "a2", "b", "b1")
    np.testing.assert_allclose(back.skeleton.end_sites[back.skeleton.index("b1")], [0.0, 0.1, 0.02], atol=1e-6)
    np.testing.assert_allclose(back.skeleton.end_sites[back.skeleton.index("a1x")], [0.05, 0.0, 0.0], atol=1e-6)

    smpl = random_motion(smpl24(), frames=3)
    write_bvh(smpl, tmp_path / "smpl.bvh")
    again = read_bvh(tmp_path / "smpl.bvh")
    assert again.skeleton.name == "smpl24" and again.skeleton.joint_names == SMPL24_JOINT_NAMES
    assert again.skeleton.same_topology(smpl24())
    np.testing.assert_allclose(again.skeleton.offsets[1:], smpl24().offsets[1:], atol=1e-6)


def test_written_file_has_the_standard_layout(tmp_path):
    motion = random_motion(smpl24(), frames=4, fps=60)
    path = tmp_path / "standard.bvh"
    write_bvh(motion, path, precision=5)
    lines = path.read_text().splitlines()
    assert lines[0] == "HIERARCHY" and lines[1] == "ROOT pelvis"
    assert lines[3].strip() == "OFFSET 0.00000 0.00000 0.00000"
    assert lines[4].strip() == "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
    assert lines[5].strip() == "JOINT left_hip" and lines[8].strip() == "CHANNELS 3 Zrotation Xrotation Yrotation"
    assert sum(line.strip() == "End Site" for line in lines) == 5  # head, hands, feet
    motion_at = lines.index("MOTION")
    assert lines[motion_at + 1] == "Frames: 4" and lines[motion_at + 2] == "Frame Time: 0.01666667"
    rows = lines[motion_at + 3 :]
    assert len(rows) == 4 and all(len(row.split()) == 6 + 3 * 23 for row in rows)
    assert all(len(token.split(".")[1]) == 5 for token in rows[0].split())


def test_write_refuses_bad_arguments_and_leaves_no_file(tmp_path):
    motion = random_motion(smpl24(), frames=2)
    with pytest.raises(ArgumentError, match="euler_order: 'XYX' is not a valid Euler order"):
        write_bvh(motion, tmp_path / "a.bvh", euler_order="XYX")
    with pytest.raises(ArgumentError, match="units"):
        write_bvh(motion, tmp_path / "a.bvh", units="furlong")
    broken = motion.copy()
    broken.root_translation[1, 0] = np.nan
    with pytest.raises(ArgumentError, match="NaN"):
        write_bvh(broken, tmp_path / "a.bvh")
    spaced = Motion(
        Skeleton("s", ("my root",), (-1,), np.zeros((1, 3))), 30.0, np.tile([0, 0, 0, 1.0], (2, 1, 1)), np.zeros((2, 3))
    )
    with pytest.raises(ArgumentError, match="'my root' cannot be written"):
        write_bvh(spaced, tmp_path / "a.bvh")
    assert list(tmp_path.iterdir()) == []


# --- malformed files -----------------------------------------------------------------------


def good_lines() -> list[str]:
    return bvh_text(RIG, rig_values(RIG, frames=5, seed=7)).splitlines()


def _motion_line(lines: list[str]) -> int:
    return lines.index("MOTION")


def _cut_last_row(lines):
    lines[-1] = " ".join(lines[-1].split()[:7])
    return lines, len(lines), r"frame has 7 values but the hierarchy declares 20 channels \(file truncated\?\)"


def _drop_rows(lines):
    return lines[:-2], len(lines) - 2, "truncated: header declares 5 frames but only 3 are present"


def _short_row(lines):
    row = _motion_line(lines) + 5  # the third frame (0-based index into lines)
    lines[row] = " ".join(lines[row].split()[:-1])
    return lines, row + 1, "frame has 19 values but the hierarchy declares 20 channels$"


def _long_row(lines):
    row = _motion_line(lines) + 4
    lines[row] += " 1.0"
    return lines, row + 1, "frame has 21 values"


def _replace_value(lines, frame: int, column: int, token: str) -> int:
    """Put `token` into frame `frame`, column `column`; returns its 1-based line number."""
    row = _motion_line(lines) + 3 + frame
    tokens = lines[row].split()
    tokens[column] = token
    lines[row] = " ".join(tokens)
    return row + 1


def _word(lines):
    return lines, _replace_value(lines, 3, 4, "12,5"), "non-numeric value '12,5'"


def _nan(lines):
    return lines, _replace_value(lines, 0, 10, "nan"), r"value nan is not finite \(NaN or inf\)"


def _inf(lines):
    return lines, _replace_value(lines, 4, 0, "-inf"), "value -inf is not finite"


def _no_motion(lines):
    lines = lines[: _motion_line(lines)]
    return lines, len(lines), "no MOTION section"


def _too_many_frames(lines):
    at = _motion_line(lines) + 1
    lines[at] = "Frames: 4"
    return lines, at + 1, "frame count mismatch: header declares 4 frames but 5 are present"


def _channel_count(lines):
    at = next(i for i, line in enumerate(lines) if "CHANNELS 3 Xrotation Zrotation Yrotation" in line)
    lines[at] = lines[at].replace(
        "CHANNELS 3 Xrotation Zrotation Yrotation", "CHANNELS 4 Xrotation Zrotation Yrotation"
    )
    return lines, at + 2, "CHANNELS of joint Spine declares 4 channels but lists 3"


def _bad_offset(lines):
    at = next(i for i, line in enumerate(lines) if line.strip() == "OFFSET 0 30 5")
    lines[at] = lines[at].replace("30", "thirty")
    return lines, at + 1, "OFFSET of joint Head is not a number: 'thirty'"


def _bad_frame_time(lines):
    at = _motion_line(lines) + 2
    lines[at] = "Frame Time: fast"
    return lines, at + 1, "frame time is not a number: 'fast'"


def _unknown_keyword(lines):
    at = next(i for i, line in enumerate(lines) if line.strip() == "JOINT LeftLeg")
    lines[at] = lines[at].replace("JOINT", "JIONT")
    return lines, at + 1, "unexpected 'JIONT' in joint Hips"


MALFORMED = [
    _cut_last_row,
    _drop_rows,
    _short_row,
    _long_row,
    _word,
    _nan,
    _inf,
    _no_motion,
    _too_many_frames,
    _channel_count,
    _bad_offset,
    _bad_frame_time,
    _unknown_keyword,
]


@pytest.mark.parametrize("damage", MALFORMED, ids=lambda f: f.__name__.strip("_"))
def test_malformed_files_name_file_line_and_problem(tmp_path, damage):
    lines, line_number, problem = damage(good_lines())
    path = tmp_path / "broken.bvh"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError) as caught:
        read_bvh(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line_number}: "), message
    assert caught.value.line == line_number
    assert __import__("re").search(problem, message), message


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_bvh(tmp_path / "absent.bvh")
    path = tmp_path / "rig.bvh"
    path.write_text(bvh_text(RIG, rig_values(RIG, frames=2)))
    with pytest.raises(ArgumentError, match="units"):
        read_bvh(path, units="parsec")
    with pytest.raises(ArgumentError, match="fps: must be positive"):
        read_bvh(path, fps=0)


def test_zero_frame_time_needs_an_override(tmp_path):
    path = tmp_path / "rig.bvh"
    path.write_text(bvh_text(RIG, rig_values(RIG, frames=2), frame_time=0.0))
    with pytest.raises(InputFileError, match="frame time 0.0 is not a positive number"):
        read_bvh(path)
    assert read_bvh(path, fps=24).fps == 24.0
