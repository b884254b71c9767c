"""BVH (Biovision Hierarchy) reading and writing.

Reading accepts any BVH: any channel count and order per joint (6-channel joints included),
End Sites, any units, and the quirks of real exporters:

- Units: converted to metres. `units="auto"` looks at the longest root-to-leaf chain of the rest
  skeleton (a human's is 0.8-1.3 m: pelvis to fingertip): below `_AUTO_METRE_LIMIT` the file is
  in metres, below `_AUTO_CENTIMETRE_LIMIT` in centimetres, above it in millimetres. Inch rigs
  cannot be told from small centimetre rigs by size, so pass `units="inch"` for them.
- Position channels: the format does not say whether they replace a joint's OFFSET or add to
  it, and exporters differ (iClone's CMU files add: root OFFSET y = 105 with Ypos = -2 standing;
  Bandai's files replace: every joint's channels repeat its OFFSET). `position_channels="auto"`
  decides per joint on the OFFSET's largest axis: channel values near zero there (|median| under
  half the OFFSET) mean "relative to OFFSET", otherwise they are absolute. Force it with
  "relative" or "absolute".
- Non-root position channels that are constant become the joint's offset. A static root (no
  motion at all) whose only child carries the translation, like Bandai's ground-level
  `joint_Root` over `Hips`, is dropped and the child becomes the root; metadata records it.
- Frame time: `fps=` overrides the header (the kit's salsa files say 120 fps but are 60 fps).
- Rest poses are kept as the file defines them (bone-local axes included), so world joint
  positions are exactly the file's; zero rotations need not be a standing pose.

Writing produces what Blender's importer and three.js's BVHLoader expect: HIERARCHY / ROOT /
JOINT / End Site / MOTION / Frames: / Frame Time:, a root with 6 channels (position, then
rotation in `euler_order`), 3 rotation channels elsewhere, angles in degrees, lengths in metres
(or `units="cm"`). The root OFFSET is written as zero with absolute position channels, the one
layout every reader interprets the same way.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from dancegen.errors import ArgumentError, InputFileError
from dancegen.fileio import atomic_write_text
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import EULER_ORDERS, matrix_to_euler, matrix_to_quat, quat_to_matrix
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES
from dancegen.skeleton.smplx import SMPLX52_JOINT_NAMES
from dancegen.skeleton.tree import Skeleton

UNIT_TO_METRES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
Units = Literal["auto", "m", "cm", "mm", "inch"]
PositionChannels = Literal["auto", "relative", "absolute"]

# Longest root-to-leaf chain of a human rest skeleton is about 1 m; these bounds leave a wide
# margin either side (a 0.3 m doll in metres, a 10 m giant in centimetres).
_AUTO_METRE_LIMIT = 10.0
_AUTO_CENTIMETRE_LIMIT = 1000.0
# Position channels count as constant (a fixed offset) below this spread, in metres.
_STATIC_TRANSLATION_M = 1e-4
# ... and rotations as constant below this angle, in radians.
_STATIC_ROTATION_RAD = 1e-6
# A frame time that is 1/n to within this relative error is read as exactly n fps
# (exporters write 1/60 as 0.016667).
_FPS_SNAP_RELATIVE = 1e-3

_CHANNEL_NAMES = {f"{axis}{kind}".lower(): (kind, axis) for axis in "XYZ" for kind in ("position", "rotation")}
# Skeletons whose joints we know by name: a BVH of them is put back in their canonical order.
_CANONICAL_LAYOUTS = {"smpl24": SMPL24_JOINT_NAMES, "smplx52": SMPLX52_JOINT_NAMES}


@dataclass
class _Joint:
    name: str
    parent: int
    line: int
    offset: np.ndarray | None = None
    channels: list[str] = field(default_factory=list)  # canonical spelling, e.g. "Zrotation"
    end_site: np.ndarray | None = None


# --- reading -----------------------------------------------------------------------------


class _HeaderParser:
    """Recursive descent over the whitespace tokens of the HIERARCHY section."""

    def __init__(self, path: Path, lines: list[str]):
        self.path = path
        self.tokens = [(tok, n) for n, line in enumerate(lines, 1) for tok in line.split()]
        self.pos = 0
        self.last_line = len(lines)
        self.joints: list[_Joint] = []

    def error(self, problem: str, line: int | None = None) -> InputFileError:
        return InputFileError(self.path, problem, line=line if line is not None else self._line())

    def _line(self) -> int:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else self.last_line

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.tokens):
            raise self.error(f"file ends inside the HIERARCHY section while expecting {what} (truncated?)")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, word: str) -> None:
        token, line = self.next(f"'{word}'")
        if token.upper() != word.upper():
            raise self.error(f"expected '{word}', found '{token}'", line)

    def number(self, what: str) -> float:
        token, line = self.next(what)
        try:
            value = float(token)
        except ValueError:
            raise self.error(f"{what} is not a number: '{token}'", line) from None
        if not math.isfinite(value):
            raise self.error(f"{what} is not finite: '{token}'", line)
        return value

    def vector(self, what: str) -> np.ndarray:
        return np.array([self.number(what) for _ in range(3)])

    def parse(self) -> list[_Joint]:
        self.expect("HIERARCHY")
        token, line = self.next("ROOT")
        if token.upper() != "ROOT":
            raise self.error(f"expected 'ROOT', found '{token}'", line)
        self.joint(parent=-1, line=line)
        if self.pos < len(self.tokens):
            token, line = self.tokens[self.pos]
            problem = (
                "more than one ROOT (only single-figure files are supported)"
                if token.upper() == "ROOT"
                else f"unexpected '{token}' after the ROOT joint"
            )
            raise self.error(problem, line)
        return self.joints

    def joint(self, parent: int, line: int) -> None:
        name, _ = self.next("a joint name")
        index = len(self.joints)
        joint = _Joint(name=name, parent=parent, line=line)
        self.joints.append(joint)
        self.expect("{")
        while True:
            token, line = self.next("'}'")
            keyword = token.upper()
            if keyword == "}":
                break
            if keyword == "OFFSET":
                joint.offset = self.vector(f"OFFSET of joint {name}")
            elif keyword == "CHANNELS":
                joint.channels = self.channels(name, line)
            elif keyword == "JOINT":
                self.joint(parent=index, line=line)
            elif keyword == "END":
                self.end_site(joint)
            else:
                raise self.error(f"unexpected '{token}' in joint {name}", line)
        if joint.offset is None:
            raise self.error(f"joint {name} has no OFFSET", joint.line)

    def channels(self, name: str, line: int) -> list[str]:
        count_token, _ = self.next("a channel count")
        if not count_token.isdigit():
            raise self.error(f"CHANNELS of joint {name} must start with a count, found '{count_token}'", line)
        count = int(count_token)
        channels = []
        for i in range(count):
            token, token_line = self.next("a channel name")
            if token.lower() not in _CHANNEL_NAMES:
                raise self.error(
                    f"CHANNELS of joint {name} declares {count} channels but lists {i} "
                    f"('{token}' is not a channel name)",
                    token_line,
                )
            kind, axis = _CHANNEL_NAMES[token.lower()]
            channels.append(f"{axis}{kind}")
        return channels

    def end_site(self, joint: _Joint) -> None:
        self.expect("Site")
        self.expect("{")
        offset = None
        while True:
            token, line = self.next("'}'")
            if token == "}":
                break
            if token.upper() != "OFFSET":
                raise self.error(f"unexpected '{token}' in the End Site of joint {joint.name}", line)
            offset = self.vector(f"End Site OFFSET of joint {joint.name}")
        if offset is None:
            raise self.error(f"End Site of joint {joint.name} has no OFFSET", line)
        if joint.end_site is None:  # a second End Site under one joint carries nothing we keep
            joint.end_site = offset


_FRAMES_RE = re.compile(r"^\s*Frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME_RE = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S+)\s*$", re.IGNORECASE)


def _next_content_line(lines: list[str], start: int) -> int:
    while start < len(lines) and not lines[start].strip():
        start += 1
    return start


def _parse_motion_section(path: Path, lines: list[str], motion_line: int, num_channels: int):
    """Frames / Frame Time / data rows after the MOTION keyword. Returns (values, frame_time)."""
    index = _next_content_line(lines, motion_line + 1)
    match = _FRAMES_RE.match(lines[index]) if index < len(lines) else None
    if match is None:
        raise InputFileError(path, "expected 'Frames: <count>' after MOTION", line=min(index, len(lines) - 1) + 1)
    frames_line = index + 1
    if not match.group(1).isdigit():
        raise InputFileError(path, f"frame count is not a whole number: '{match.group(1)}'", line=frames_line)
    declared = int(match.group(1))
    index = _next_content_line(lines, index + 1)
    match = _FRAME_TIME_RE.match(lines[index]) if index < len(lines) else None
    if match is None:
        raise InputFileError(path, "expected 'Frame Time: <seconds>' after Frames", line=min(index, len(lines) - 1) + 1)
    try:
        frame_time = float(match.group(1))
    except ValueError:
        raise InputFileError(path, f"frame time is not a number: '{match.group(1)}'", line=index + 1) from None

    numbers = [(n, line.split()) for n, line in enumerate(lines[index + 1 :], index + 2) if line.strip()]
    for n, tokens in numbers:
        if len(tokens) != num_channels:
            problem = f"frame has {len(tokens)} values but the hierarchy declares {num_channels} channels"
            if n == numbers[-1][0] and len(tokens) < num_channels:
                problem += " (file truncated?)"
            raise InputFileError(path, problem, line=n)
    if len(numbers) < declared:
        raise InputFileError(
            path,
            f"truncated: header declares {declared} frames but only {len(numbers)} are present",
            line=len(lines),
        )
    if len(numbers) > declared:
        raise InputFileError(
            path,
            f"frame count mismatch: header declares {declared} frames but {len(numbers)} are present",
            line=frames_line,
        )
    if declared == 0:
        raise InputFileError(path, "the file has no frames", line=frames_line)
    try:
        values = np.array([tokens for _, tokens in numbers], dtype=np.float64)
    except ValueError:
        for n, tokens in numbers:  # find the culprit only on failure: the fast path is one call
            for token in tokens:
                try:
                    float(token)
                except ValueError:
                    raise InputFileError(path, f"non-numeric value '{token}'", line=n) from None
        raise InputFileError(path, "frame values are not all numbers", line=numbers[0][0]) from None
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputFileError(path, f"value {numbers[row][1][col]} is not finite (NaN or inf)", line=numbers[row][0])
    return values, frame_time


def _axis_rotations(axis: str, radians: np.ndarray) -> np.ndarray:
    c, s = np.cos(radians), np.sin(radians)
    one, zero = np.ones_like(c), np.zeros_like(c)
    rows = {
        "X": ((one, zero, zero), (zero, c, -s), (zero, s, c)),
        "Y": ((c, zero, s), (zero, one, zero), (-s, zero, c)),
        "Z": ((c, -s, zero), (s, c, zero), (zero, zero, one)),
    }[axis]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def _local_rotations(joints: list[_Joint], values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3): each joint's rotation channels applied in listed order (intrinsic).

    Joints with the same rotation axes are done together (a rig usually has one or two layouts).
    """
    layouts: dict[tuple[str, ...], list[tuple[int, list[int]]]] = {}
    for j, joint in enumerate(joints):
        columns = [starts[j] + k for k, channel in enumerate(joint.channels) if channel.endswith("rotation")]
        axes = tuple(joint.channels[k - starts[j]][0] for k in columns)
        layouts.setdefault(axes, []).append((j, columns))
    out = np.empty((values.shape[0], len(joints), 3, 3))
    for axes, members in layouts.items():
        indices = [j for j, _ in members]
        columns = np.array([c for _, c in members], dtype=np.int64).reshape(len(members), len(axes))
        rotation = np.broadcast_to(np.eye(3), (values.shape[0], len(members), 3, 3))
        for k, axis in enumerate(axes):
            rotation = rotation @ _axis_rotations(axis, np.radians(values[:, columns[:, k]]))
        out[:, indices] = rotation
    return out


def _is_relative(offset: np.ndarray, positions: np.ndarray, present: np.ndarray) -> bool:
    """Guess whether position channels add to OFFSET (see the module docstring)."""
    axes = np.flatnonzero(present)
    axis = axes[np.argmax(np.abs(offset[axes]))]
    if abs(offset[axis]) == 0.0:
        return False  # either reading gives the same result
    return abs(np.median(positions[:, axis])) < 0.5 * abs(offset[axis])


def _joint_translations(joint: _Joint, values: np.ndarray, mode: str) -> tuple[np.ndarray | None, str]:
    """(T, 3) local translation from position channels (None when there are none), and the mode used."""
    present = np.zeros(3, dtype=bool)
    positions = np.zeros((values.shape[0], 3))
    for k, channel in enumerate(joint.channels):
        if channel.endswith("position"):
            axis = "XYZ".index(channel[0])
            present[axis] = True
            positions[:, axis] = values[:, k]
    if not present.any():
        return None, ""
    if mode == "auto":
        mode = "relative" if _is_relative(joint.offset, positions, present) else "absolute"
    if mode == "relative":
        return joint.offset + positions, mode
    return np.where(present, positions, joint.offset), mode


def _auto_units(joints: list[_Joint]) -> str:
    chain = np.zeros(len(joints))
    longest = 0.0
    for j, joint in enumerate(joints):
        if joint.parent >= 0:
            chain[j] = chain[joint.parent] + np.linalg.norm(joint.offset)
        tip = chain[j] + (np.linalg.norm(joint.end_site) if joint.end_site is not None else 0.0)
        longest = max(longest, tip)
    if longest < _AUTO_METRE_LIMIT:
        return "m"
    return "cm" if longest < _AUTO_CENTIMETRE_LIMIT else "mm"


def fps_from_frame_time(frame_time: float) -> float:
    """1 / frame_time, snapped to a whole number when the file merely rounded it (0.016667)."""
    fps = 1.0 / frame_time
    nearest = round(fps)
    return float(nearest) if nearest > 0 and abs(fps - nearest) <= _FPS_SNAP_RELATIVE * fps else fps


def _is_static(translation: np.ndarray | None, rotation: np.ndarray) -> bool:
    if translation is not None and np.abs(translation - translation[0]).max() > _STATIC_TRANSLATION_M:
        return False
    # Angle between each frame's rotation and the first frame's, via the trace.
    relative = np.einsum("ji,tjk->tik", rotation[0], rotation)
    cos = np.clip((np.trace(relative, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    return float(np.arccos(cos).max()) <= _STATIC_ROTATION_RAD


def _canonical_order(names: list[str]) -> tuple[str, list[int]] | None:
    for layout, canonical in _CANONICAL_LAYOUTS.items():
        if sorted(names) == sorted(canonical):
            return layout, [names.index(n) for n in canonical]
    return None


@dataclass
class _Rig:
    """Per-joint local transforms over time, in file units, before they become a Motion."""

    joints: list[_Joint]
    rotations: np.ndarray  # (T, J, 3, 3)
    translations: list[np.ndarray | None]  # (T, 3) where a joint has position channels
    alive: list[int] = field(default_factory=list)  # joints kept, in file order
    root_rotation: np.ndarray | None = None  # (T, 3, 3) of the (possibly new) root
    root_translation: np.ndarray | None = None  # (T, 3)
    root_rest: np.ndarray | None = None  # (3,)

    def __post_init__(self) -> None:
        self.alive = list(range(len(self.joints)))
        self.root_rotation = self.rotations[:, 0]
        frames = self.rotations.shape[0]
        root = self.translations[0]
        self.root_translation = root if root is not None else np.broadcast_to(self.joints[0].offset, (frames, 3))
        self.root_rest = self.joints[0].offset

    @property
    def root(self) -> int:
        return self.alive[0]

    def drop_static_roots(self, scale: float) -> list[str]:
        """Fold a motionless root into its only child while that child carries the translation."""
        dropped = []
        while True:
            children = [j for j in self.alive if self.joints[j].parent == self.root]
            if len(children) != 1 or self.translations[children[0]] is None:
                return dropped
            child = children[0]
            moves = np.ptp(self.translations[child], axis=0).max() * scale > _STATIC_TRANSLATION_M
            if not moves or not _is_static(self.root_translation * scale, self.root_rotation):
                return dropped
            self.root_rest = self.root_translation[0] + self.root_rotation[0] @ self.joints[child].offset
            self.root_translation = self.root_translation + np.einsum(
                "tij,tj->ti", self.root_rotation, self.translations[child]
            )
            self.root_rotation = self.root_rotation @ self.rotations[:, child]
            dropped.append(self.joints[self.root].name)
            self.alive.remove(self.root)

    def offsets(self, scale: float) -> tuple[np.ndarray, dict[str, float]]:
        """Rest offsets of the kept joints. Constant position channels become the offset; moving
        ones cannot be represented with fixed bones, so their mean is kept and the spread
        (metres) reported."""
        offsets, approximated = [self.root_rest], {}
        for j in self.alive[1:]:
            translation = self.translations[j]
            if translation is None:
                offsets.append(self.joints[j].offset)
                continue
            mean = translation.mean(axis=0)
            spread = float(np.abs(translation - mean).max()) * scale
            if spread > _STATIC_TRANSLATION_M:
                approximated[self.joints[j].name] = spread
            offsets.append(mean)
        return np.array(offsets) * scale, approximated

    def skeleton_and_rotations(self, name: str, scale: float) -> tuple[Skeleton, np.ndarray, dict[str, float]]:
        offsets, approximated = self.offsets(scale)
        remap = {old: new for new, old in enumerate(self.alive)}
        names = [self.joints[j].name for j in self.alive]
        parents = [-1] + [remap[self.joints[j].parent] for j in self.alive[1:]]
        end_sites = {
            remap[j]: self.joints[j].end_site * scale for j in self.alive if self.joints[j].end_site is not None
        }
        local = np.concatenate([self.root_rotation[:, None], self.rotations[:, self.alive[1:]]], axis=1)
        layout = _canonical_order(names)
        if layout is not None:  # a known layout goes back to its canonical joint order
            name, order = layout
            position = {old: new for new, old in enumerate(order)}
            parents = [-1 if parents[old] < 0 else position[parents[old]] for old in order]
            names = [names[old] for old in order]
            offsets, local = offsets[order], local[:, order]
            end_sites = {position[old]: offset for old, offset in end_sites.items()}
        return Skeleton(name, names, parents, offsets, end_sites), local, approximated


def read_bvh(
    path: str | Path,
    fps: float | None = None,
    *,
    resample_to: float | None = None,
    units: Units | float = "auto",
    position_channels: PositionChannels = "auto",
) -> Motion:
    """Read a BVH file into a `Motion` (metres, y-up as in the file, local quaternions).

    fps: the true frame rate, overriding the header's Frame Time (whose value is then ignored).
    resample_to: resample the result to this frame rate (slerp for rotations).
    units: the file's length unit, "auto" to guess from the skeleton size (module docstring),
        or a number of metres per file unit.
    position_channels: how position channels combine with OFFSET ("auto", "relative", "absolute").
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    if isinstance(units, str) and units not in UNIT_TO_METRES and units != "auto":
        raise ArgumentError("units", f"unknown unit {units!r}", f"use auto or one of {', '.join(UNIT_TO_METRES)}")
    if position_channels not in ("auto", "relative", "absolute"):
        raise ArgumentError("position_channels", f"{position_channels!r} is not auto, relative or absolute")
    if fps is not None and not fps > 0:
        raise ArgumentError("fps", f"must be positive, got {fps}")

    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    motion_line = next((n for n, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    if motion_line is None:
        raise InputFileError(path, "no MOTION section (file truncated or not a BVH)", line=max(len(lines), 1))
    joints = _HeaderParser(path, lines[:motion_line]).parse()
    values, frame_time = _parse_motion_section(path, lines, motion_line, sum(len(j.channels) for j in joints))
    file_fps = 1.0 / frame_time if math.isfinite(frame_time) and frame_time > 0 else None
    if fps is None:
        if file_fps is None:
            line = next(n for n in range(motion_line, len(lines)) if _FRAME_TIME_RE.match(lines[n])) + 1
            raise InputFileError(
                path, f"frame time {frame_time} is not a positive number", "pass the frame rate with fps=", line=line
            )
        fps = fps_from_frame_time(frame_time)
    unit = _auto_units(joints) if units == "auto" else units
    scale = UNIT_TO_METRES[unit] if isinstance(unit, str) else float(unit)

    starts = np.cumsum([0] + [len(j.channels) for j in joints])
    translations, modes = [], {}
    for j, joint in enumerate(joints):
        translation, mode = _joint_translations(joint, values[:, starts[j] : starts[j + 1]], position_channels)
        translations.append(translation)
        if mode:
            modes[joint.name] = mode
    rig = _Rig(joints, _local_rotations(joints, values, starts), translations)
    dropped = rig.drop_static_roots(scale)
    skeleton, local, approximated = rig.skeleton_and_rotations(path.stem, scale)

    metadata: dict = {
        "source": str(path),
        "format": "bvh",
        "units": unit if isinstance(unit, str) else f"{scale} m",
        "metres_per_unit": scale,
        "fps_in_file": file_fps,
        "channels": {j.name: list(j.channels) for j in joints},
        "position_channels": modes,
    }
    if file_fps is None or abs(fps - file_fps) > _FPS_SNAP_RELATIVE * fps:
        metadata["fps_override"] = fps
    if dropped:
        metadata["dropped_static_roots"] = dropped
    if approximated:
        metadata["moving_offsets_replaced_by_mean_m"] = approximated

    quats = matrix_to_quat(torch.from_numpy(np.ascontiguousarray(local))).numpy()
    motion = Motion(skeleton, float(fps), quats, rig.root_translation * scale, metadata=metadata)
    return motion if resample_to is None else motion.resample(resample_to)


# --- writing -----------------------------------------------------------------------------


def _depth_first(skeleton: Skeleton) -> list[int]:
    order, stack = [], [0]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(skeleton.children(joint)))
    return order


def _format_vector(values: np.ndarray, precision: int) -> str:
    return " ".join(f"{v:.{precision}f}" for v in values)


def write_bvh(
    motion: Motion,
    path: str | Path,
    euler_order: str = "ZXY",
    precision: int = 6,
    units: Literal["m", "cm"] = "m",
) -> None:
    """Write `motion` as a BVH file (atomically). See the module docstring for the layout."""
    order = str(euler_order).upper()
    if order not in EULER_ORDERS:
        raise ArgumentError(
            "euler_order", f"{euler_order!r} is not a valid Euler order", f"use one of {', '.join(EULER_ORDERS)}"
        )
    if units not in UNIT_TO_METRES:
        raise ArgumentError("units", f"unknown unit {units!r}", f"use one of {', '.join(UNIT_TO_METRES)}")
    if not 1 <= int(precision) <= 12:
        raise ArgumentError("precision", f"{precision} decimals is outside 1..12")
    skeleton = motion.skeleton
    for name in skeleton.joint_names:
        if not name or any(ch.isspace() for ch in name) or name in ("{", "}"):
            raise ArgumentError("motion", f"joint name {name!r} cannot be written to BVH (no spaces or braces)")
    if not (np.isfinite(motion.rotations).all() and np.isfinite(motion.root_translation).all()):
        raise ArgumentError("motion", "contains NaN or infinite values; nothing was written")

    per_metre = 1.0 / UNIT_TO_METRES[units]
    rotation_channels = " ".join(f"{axis}rotation" for axis in order)
    joints = _depth_first(skeleton)
    header = io.StringIO()
    header.write("HIERARCHY\n")

    def write_joint(j: int, depth: int) -> None:
        pad = "\t" * depth
        if j == 0:
            header.write(f"ROOT {skeleton.joint_names[j]}\n{pad}{{\n")
            header.write(f"{pad}\tOFFSET {_format_vector(np.zeros(3), precision)}\n")
            header.write(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rotation_channels}\n")
        else:
            header.write(f"{pad}JOINT {skeleton.joint_names[j]}\n{pad}{{\n")
            header.write(f"{pad}\tOFFSET {_format_vector(skeleton.offsets[j] * per_metre, precision)}\n")
            header.write(f"{pad}\tCHANNELS 3 {rotation_channels}\n")
        children = skeleton.children(j)
        for child in children:
            write_joint(child, depth + 1)
        if not children:
            end = skeleton.end_sites.get(j, np.zeros(3))
            header.write(
                f"{pad}\tEnd Site\n{pad}\t{{\n{pad}\t\tOFFSET {_format_vector(end * per_metre, precision)}\n{pad}\t}}\n"
            )
        header.write(f"{pad}}}\n")

    write_joint(0, 0)
    header.write(f"MOTION\nFrames: {motion.num_frames}\nFrame Time: {1.0 / motion.fps:.8f}\n")

    matrices = quat_to_matrix(torch.from_numpy(motion.rotations[:, joints]))
    angles = matrix_to_euler(matrices, order, degrees=True).numpy()  # (T, J, 3)
    frames = np.concatenate([motion.root_translation * per_metre, angles.reshape(motion.num_frames, -1)], axis=1)
    body = io.StringIO()
    np.savetxt(body, frames, fmt=f"%.{int(precision)}f", delimiter=" ")
    atomic_write_text(path, header.getvalue() + body.getvalue())
