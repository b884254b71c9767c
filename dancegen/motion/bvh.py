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
from dancegen.fileio import atomic_write_bytes, atomic_write_text
from dancegen.limits import LIMITS_ENV, limits
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import (
    EULER_ORDERS,
    axis_angle_to_matrix,
    matrix_to_euler,
    matrix_to_quat,
    quat_to_matrix,
)
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
#
# The reader streams: the HIERARCHY is read line by line up to MOTION, the frame rows are
# parsed in blocks of `_ROWS_PER_BLOCK` straight into quaternions, so memory stays near the size
# of the resulting Motion (a million-frame file never holds its text or its rotation matrices).
# Sizes are bounded by `dancegen.limits` (joints, hierarchy depth, frames, frame rate, joint
# names), each a one-line error naming the file and line.

_ROWS_PER_BLOCK = 4096
# A line longer than this is no BVH line: binary data, or a file without line breaks.
_MAX_LINE_CHARS = 16 * 2**20
# Lines a HIERARCHY may take per joint allowed (JOINT, braces, OFFSET, CHANNELS, End Site).
_HEADER_LINES_PER_JOINT = 64
# A joint may carry at most the six channels BVH defines (3 positions, 3 rotations), and some
# exporters repeat one; more is not a BVH.
_MAX_CHANNELS_PER_JOINT = 12


def _check_joint_name(path: Path, name: str, line: int, seen: dict[str, int]) -> None:
    limit = limits().max_joint_name_chars
    if len(name) > limit:
        raise InputFileError(path, f"joint name of {len(name)} characters is longer than the limit of {limit}",
                             "rename the joint (max_joint_name_chars)", line=line)
    if not name.isprintable():
        raise InputFileError(path, f"joint name {name!r} contains control characters", "rename the joint", line=line)
    if name in seen:
        raise InputFileError(path, f"joint name {name!r} is used twice (first on line {seen[name]})",
                             "rename one of them: every joint needs its own name", line=line)
    seen[name] = line


class _HeaderParser:
    """The HIERARCHY section's whitespace tokens, read with an explicit stack (no recursion, so
    a hierarchy 10,000 joints deep is a limit error, not a RecursionError)."""

    def __init__(self, path: Path, lines: list[str]):
        self.path = path
        self.tokens = [(tok, n) for n, line in enumerate(lines, 1) for tok in line.split()]
        self.pos = 0
        self.last_line = len(lines)
        self.joints: list[_Joint] = []
        self.names: dict[str, int] = {}  # joint name -> the line it is declared on

    def error(self, problem: str, line: int | None = None, hint: str = "") -> InputFileError:
        return InputFileError(self.path, problem, hint, line=line if line is not None else self._line())

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
        self.hierarchy(line)
        if self.pos < len(self.tokens):
            token, line = self.tokens[self.pos]
            problem = (
                "more than one ROOT (only single-figure files are supported)"
                if token.upper() == "ROOT"
                else f"unexpected '{token}' after the ROOT joint"
            )
            raise self.error(problem, line)
        return self.joints

    def open_joint(self, parent: int, line: int) -> int:
        name, name_line = self.next("a joint name")
        _check_joint_name(self.path, name, name_line, self.names)
        if len(self.joints) >= limits().max_joints:
            raise self.error(f"more than {limits().max_joints} joints", line,
                             f"the limit is max_joints; raise it with {LIMITS_ENV}=max_joints=N")
        self.joints.append(_Joint(name=name, parent=parent, line=line))
        self.expect("{")
        return len(self.joints) - 1

    def hierarchy(self, root_line: int) -> None:
        """ROOT and every JOINT under it; `open` is the chain of joints whose '}' is still due."""
        depth_limit = limits().max_hierarchy_depth
        open_joints = [self.open_joint(parent=-1, line=root_line)]
        while open_joints:
            joint = self.joints[open_joints[-1]]
            token, line = self.next("'}'")
            keyword = token.upper()
            if keyword == "}":
                if joint.offset is None:
                    raise self.error(f"joint {joint.name} has no OFFSET", joint.line)
                open_joints.pop()
            elif keyword == "OFFSET":
                joint.offset = self.vector(f"OFFSET of joint {joint.name}")
            elif keyword == "CHANNELS":
                joint.channels = self.channels(joint.name, line)
            elif keyword == "JOINT":
                if len(open_joints) >= depth_limit:
                    raise self.error(f"the hierarchy is more than {depth_limit} joints deep", line,
                                     f"the limit is max_hierarchy_depth; raise it with {LIMITS_ENV}=max_hierarchy_depth=N")
                open_joints.append(self.open_joint(parent=open_joints[-1], line=line))
            elif keyword == "END":
                self.end_site(joint)
            else:
                raise self.error(f"unexpected '{token}' in joint {joint.name}", line)

    def channels(self, name: str, line: int) -> list[str]:
        count_token, _ = self.next("a channel count")
        if not count_token.isdigit():
            raise self.error(f"CHANNELS of joint {name} must start with a count, found '{count_token}'", line)
        count = int(count_token)
        if count > _MAX_CHANNELS_PER_JOINT:
            raise self.error(f"CHANNELS of joint {name} declares {count} channels; a BVH joint has at most 6", line)
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


class _Lines:
    """A text file's lines with their 1-based numbers, each bounded in length."""

    def __init__(self, path: Path, handle):
        self.path, self.handle, self.number = path, handle, 0
        self.characters = 0  # read so far: about the bytes, for an ASCII header

    def next(self) -> str | None:
        """The next line without its line break, or None at the end of the file."""
        line = self.handle.readline(_MAX_LINE_CHARS + 1)
        if not line:
            return None
        self.number += 1
        self.characters += len(line)
        if len(line) > _MAX_LINE_CHARS:
            raise InputFileError(self.path, f"line is longer than {_MAX_LINE_CHARS} characters (not a BVH text file)",
                                 line=self.number)
        return line.rstrip("\r\n")

    def next_content(self) -> str | None:
        """The next line that is not blank."""
        while (line := self.next()) is not None:
            if line.strip():
                return line
        return None


def _read_hierarchy(path: Path, lines: _Lines) -> list[str]:
    """The lines before MOTION (a bounded number of them)."""
    most = limits().max_joints * _HEADER_LINES_PER_JOINT + 64
    header: list[str] = []
    while (line := lines.next()) is not None:
        if line.strip().upper() == "MOTION":
            return header
        header.append(line)
        if len(header) > most:
            raise InputFileError(path, f"no MOTION section in the first {most} lines "
                                 "(not a BVH, or more joints than the max_joints limit)", line=lines.number)
    raise InputFileError(path, "no MOTION section (file truncated or not a BVH)", line=max(lines.number, 1))


@dataclass
class _MotionHeader:
    frames: int
    frame_time: float
    frames_line: int
    frame_time_line: int


def _read_motion_header(path: Path, lines: _Lines) -> _MotionHeader:
    """`Frames: N` and `Frame Time: seconds` after the MOTION keyword."""
    line = lines.next_content()
    match = _FRAMES_RE.match(line) if line is not None else None
    if match is None:
        raise InputFileError(path, "expected 'Frames: <count>' after MOTION", line=max(lines.number, 1))
    frames_line = lines.number
    if not match.group(1).isdigit():
        raise InputFileError(path, f"frame count is not a whole number: '{match.group(1)}'", line=frames_line)
    declared = int(match.group(1))
    line = lines.next_content()
    match = _FRAME_TIME_RE.match(line) if line is not None else None
    if match is None:
        raise InputFileError(path, "expected 'Frame Time: <seconds>' after Frames", line=max(lines.number, 1))
    try:
        frame_time = float(match.group(1))
    except ValueError:
        raise InputFileError(path, f"frame time is not a number: '{match.group(1)}'", line=lines.number) from None
    return _MotionHeader(declared, frame_time, frames_line, lines.number)


def _bad_row(path: Path, rows: list[tuple[int, str]], num_channels: int, last_in_file: bool) -> InputFileError:
    """The error for a block `np.loadtxt` refused: the first row with a wrong count or a non-number."""
    for index, (n, text) in enumerate(rows):
        tokens = text.split()
        if len(tokens) != num_channels:
            problem = f"frame has {len(tokens)} values but the hierarchy declares {num_channels} channels"
            if last_in_file and index == len(rows) - 1 and len(tokens) < num_channels:
                problem += " (file truncated?)"
            return InputFileError(path, problem, line=n)
    for n, text in rows:
        for token in text.split():
            try:
                float(token)
            except ValueError:
                return InputFileError(path, f"non-numeric value '{token}'", line=n)
    return InputFileError(path, "frame values are not all numbers", line=rows[0][0])


@dataclass
class _Frames:
    """Every frame's channels, as local quaternions per joint (file order) and the raw position
    channels of the joints that have them."""

    quats: np.ndarray  # (T, J, 4)
    positions: dict[int, np.ndarray]  # joint -> (T, 3) raw channel values (zeros where absent)
    present: dict[int, np.ndarray]  # joint -> (3,) which axes have a position channel


class _FrameReader:
    """Frame rows in blocks: parsed, checked (counts, numbers, finite) and turned into quaternions."""

    def __init__(self, path: Path, joints: list[_Joint], declared: int, frames_line: int):
        self.path, self.joints, self.declared, self.frames_line = path, joints, declared, frames_line
        self.starts = np.cumsum([0] + [len(j.channels) for j in joints])
        self.num_channels = int(self.starts[-1])
        self.quats = np.empty((declared, len(joints), 4))
        self.present: dict[int, np.ndarray] = {}
        self.position_columns: dict[int, list[tuple[int, int]]] = {}  # joint -> (axis, column)
        for j, joint in enumerate(joints):
            columns = [("XYZ".index(c[0]), self.starts[j] + k) for k, c in enumerate(joint.channels) if c.endswith("position")]
            if columns:
                self.position_columns[j] = columns
                self.present[j] = np.isin(np.arange(3), [axis for axis, _ in columns])
        self.positions = {j: np.zeros((declared, 3)) for j in self.position_columns}
        self.filled = 0

    def read(self, lines: _Lines) -> _Frames:
        block: list[tuple[int, str]] = []
        while True:
            line = lines.next_content()
            if line is not None:
                block.append((lines.number, line))
            if block and (line is None or len(block) == _ROWS_PER_BLOCK):
                self._block(block, last_in_file=line is None)
                block = []
            if line is None:
                break
        return _Frames(self.quats, self.positions, self.present)

    def _block(self, rows: list[tuple[int, str]], last_in_file: bool) -> None:
        if self.filled + len(rows) > self.declared:
            extra = self.filled + len(rows) - self.declared
            raise InputFileError(self.path, f"frame count mismatch: header declares {self.declared} frames "
                                 f"but {self.declared + extra}{'' if last_in_file else ' or more'} are present",
                                 line=self.frames_line)
        try:
            values = np.loadtxt([text for _, text in rows], dtype=np.float64, comments=None, ndmin=2)
        except ValueError:
            raise _bad_row(self.path, rows, self.num_channels, last_in_file) from None
        if values.shape[1] != self.num_channels:
            raise _bad_row(self.path, rows, self.num_channels, last_in_file)
        bad = ~np.isfinite(values)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            n, text = rows[row]
            raise InputFileError(self.path, f"value {text.split()[col]} is not finite (NaN or inf)", line=n)
        end = self.filled + len(rows)
        rotations = _local_rotations(self.joints, values, self.starts)
        self.quats[self.filled : end] = matrix_to_quat(torch.from_numpy(rotations)).numpy()
        for j, columns in self.position_columns.items():
            for axis, column in columns:
                self.positions[j][self.filled : end, axis] = values[:, column]
        self.filled = end


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


def _joint_translation(joint: _Joint, positions: np.ndarray, present: np.ndarray, mode: str) -> tuple[np.ndarray, str]:
    """(T, 3) local translation of a joint with position channels, and the mode used."""
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


def _matrices(quats: np.ndarray) -> np.ndarray:
    return quat_to_matrix(torch.from_numpy(np.ascontiguousarray(quats))).numpy()


def _reorder_joints(local: np.ndarray, order: list[int]) -> np.ndarray:
    """`local[:, order]` done in place, a block of frames at a time (no second full-size copy)."""
    for start in range(0, local.shape[0], _ROWS_PER_BLOCK):
        block = local[start : start + _ROWS_PER_BLOCK]
        block[:] = block[:, order]
    return local


@dataclass
class _Rig:
    """Per-joint local transforms over time, in file units, before they become a Motion."""

    joints: list[_Joint]
    quats: np.ndarray  # (T, J, 4) local rotations, file order
    translations: dict[int, np.ndarray]  # (T, 3) where a joint has position channels
    alive: list[int] = field(default_factory=list)  # joints kept, in file order
    root_quat: np.ndarray | None = None  # (T, 4) of the root; replaced when a static root is dropped
    root_translation: np.ndarray | None = None  # (T, 3)
    root_rest: np.ndarray | None = None  # (3,)

    def __post_init__(self) -> None:
        self.alive = list(range(len(self.joints)))
        frames = self.quats.shape[0]
        root = self.translations.get(0)
        self.root_translation = root if root is not None else np.broadcast_to(self.joints[0].offset, (frames, 3))
        self.root_rest = self.joints[0].offset

    @property
    def root(self) -> int:
        return self.alive[0]

    def drop_static_roots(self, scale: float) -> list[str]:
        """Fold a motionless root into its only child while that child carries the translation."""
        dropped = []
        root_rotation = None
        while True:
            children = [j for j in self.alive if self.joints[j].parent == self.root]
            if len(children) != 1 or children[0] not in self.translations:
                break
            child = children[0]
            moves = np.ptp(self.translations[child], axis=0).max() * scale > _STATIC_TRANSLATION_M
            if root_rotation is None:
                root_rotation = _matrices(self.quats[:, self.root] if self.root_quat is None else self.root_quat)
            if not moves or not _is_static(self.root_translation * scale, root_rotation):
                break
            self.root_rest = self.root_translation[0] + root_rotation[0] @ self.joints[child].offset
            self.root_translation = self.root_translation + np.einsum(
                "tij,tj->ti", root_rotation, self.translations[child]
            )
            root_rotation = root_rotation @ _matrices(self.quats[:, child])
            self.root_quat = matrix_to_quat(torch.from_numpy(root_rotation)).numpy()
            dropped.append(self.joints[self.root].name)
            self.alive.remove(self.root)
        return dropped

    def offsets(self, scale: float) -> tuple[np.ndarray, dict[str, float]]:
        """Rest offsets of the kept joints. Constant position channels become the offset; moving
        ones cannot be represented with fixed bones, so their mean is kept and the spread
        (metres) reported."""
        offsets, approximated = [self.root_rest], {}
        for j in self.alive[1:]:
            translation = self.translations.get(j)
            if translation is None:
                offsets.append(self.joints[j].offset)
                continue
            mean = translation.mean(axis=0)
            spread = float(np.abs(translation - mean).max()) * scale
            if spread > _STATIC_TRANSLATION_M:
                approximated[self.joints[j].name] = spread
            offsets.append(mean)
        return np.array(offsets) * scale, approximated

    def local_quats(self) -> np.ndarray:
        """(T, kept joints, 4); the file's array itself when no root was dropped."""
        if self.root_quat is None and len(self.alive) == len(self.joints):
            return self.quats
        root = self.quats[:, self.root] if self.root_quat is None else self.root_quat
        return np.concatenate([root[:, None], self.quats[:, self.alive[1:]]], axis=1)

    def skeleton_and_rotations(self, name: str, scale: float) -> tuple[Skeleton, np.ndarray, dict[str, float]]:
        offsets, approximated = self.offsets(scale)
        remap = {old: new for new, old in enumerate(self.alive)}
        names = [self.joints[j].name for j in self.alive]
        parents = [-1] + [remap[self.joints[j].parent] for j in self.alive[1:]]
        end_sites = {
            remap[j]: self.joints[j].end_site * scale for j in self.alive if self.joints[j].end_site is not None
        }
        local = self.local_quats()
        layout = _canonical_order(names)
        if layout is not None:  # a known layout goes back to its canonical joint order
            name, order = layout
            position = {old: new for new, old in enumerate(order)}
            parents = [-1 if parents[old] < 0 else position[parents[old]] for old in order]
            names = [names[old] for old in order]
            offsets, local = offsets[order], _reorder_joints(local, order)
            end_sites = {position[old]: offset for old, offset in end_sites.items()}
        return Skeleton(name, names, parents, offsets, end_sites), local, approximated


def _check_frame_count(path: Path, header: _MotionHeader, num_channels: int, bytes_left: int) -> None:
    """Refuse a frame count past the limit, or one the file is too short to hold, before
    anything the size of the motion is allocated."""
    if header.frames == 0:
        raise InputFileError(path, "the file has no frames", line=header.frames_line)
    limit = limits().max_frames
    if header.frames > limit:
        raise InputFileError(path, f"{header.frames} frames is more than the limit of {limit}",
                             f"max_frames; raise it with {LIMITS_ENV}=max_frames=N", line=header.frames_line)
    # Every value takes at least two characters ("0 "), every row a line break.
    if header.frames * max(2 * num_channels, 1) > bytes_left:
        raise InputFileError(path, f"truncated: header declares {header.frames} frames but the rest of the file "
                             f"({bytes_left} bytes) cannot hold them", line=header.frames_line)


def _frame_rate(path: Path, header: _MotionHeader, fps: float | None) -> tuple[float, float | None]:
    """(the frame rate to use, the file's own or None when it has none)."""
    frame_time = header.frame_time
    file_fps = 1.0 / frame_time if math.isfinite(frame_time) and frame_time > 0 else None
    if fps is None:
        if file_fps is None:
            raise InputFileError(path, f"frame time {frame_time} is not a positive number", "pass the frame rate with fps=",
                                 line=header.frame_time_line)
        fps = fps_from_frame_time(frame_time)
        if fps > limits().max_fps:
            raise InputFileError(path, f"frame time {frame_time:g} s means {fps:g} fps, more than the limit of "
                                 f"{limits().max_fps:g}", "fix the Frame Time or pass the frame rate (max_fps)",
                                 line=header.frame_time_line)
    return fps, file_fps


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
        raise InputFileError(path, "no such file" if not path.exists() else "is not a file")
    if isinstance(units, str) and units not in UNIT_TO_METRES and units != "auto":
        raise ArgumentError("units", f"unknown unit {units!r}", f"use auto or one of {', '.join(UNIT_TO_METRES)}")
    if position_channels not in ("auto", "relative", "absolute"):
        raise ArgumentError("position_channels", f"{position_channels!r} is not auto, relative or absolute")
    if fps is not None and not fps > 0:
        raise ArgumentError("fps", f"must be positive, got {fps}")

    size = path.stat().st_size
    with open(path, encoding="utf-8-sig", errors="replace", newline=None) as handle:
        lines = _Lines(path, handle)
        joints = _HeaderParser(path, _read_hierarchy(path, lines)).parse()
        header = _read_motion_header(path, lines)
        # Checked before the frames are read: the arrays are sized by the declared count.
        _check_frame_count(path, header, sum(len(j.channels) for j in joints), size - lines.characters)
        fps, file_fps = _frame_rate(path, header, fps)
        reader = _FrameReader(path, joints, header.frames, header.frames_line)
        frames = reader.read(lines)
    if reader.filled < header.frames:
        raise InputFileError(
            path, f"truncated: header declares {header.frames} frames but only {reader.filled} are present",
            line=max(lines.number, 1),
        )
    unit = _auto_units(joints) if units == "auto" else units
    scale = UNIT_TO_METRES[unit] if isinstance(unit, str) else float(unit)

    translations, modes = {}, {}
    for j, positions in frames.positions.items():
        translations[j], modes[joints[j].name] = _joint_translation(joints[j], positions, frames.present[j], position_channels)
    rig = _Rig(joints, frames.quats, translations)
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

    motion = Motion(skeleton, float(fps), local, rig.root_translation * scale, metadata=metadata)
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


# --- writing on the user's own rig ----------------------------------------------------------
#
# `write_bvh` writes dancegen's own layout (metres or cm, zero root OFFSET, one Euler order).
# A character's rig must come back as the user gave it: `write_bvh_on_rig` copies the rig file's
# HIERARCHY text byte for byte (units, OFFSETs, root OFFSET, channel lists and orders, joint
# names, End Sites, line breaks) and writes each frame in that layout: every joint's rotation in
# its own channel order, position channels relative to OFFSET or absolute as the rig file has
# them (the reader's `position_channels` decision), static roots the reader dropped with the
# values of the rig's first frame.

_AXIS_UNITS = {"X": (1.0, 0.0, 0.0), "Y": (0.0, 1.0, 0.0), "Z": (0.0, 0.0, 1.0)}


@dataclass
class _RigLayout:
    header: str  # the file from its first line through the MOTION line, verbatim
    newline: str
    joints: list[_Joint]
    first_frame: np.ndarray
    metres_per_unit: float
    modes: dict[str, str]  # joint -> "relative" | "absolute", for joints with position channels
    dropped: list[str]


def _rig_layout(rig: Motion) -> _RigLayout:
    """The layout of the BVH file `rig` was read from (its metadata names the file)."""
    source = rig.metadata.get("source")
    if rig.metadata.get("format") != "bvh" or not isinstance(source, str):
        raise ArgumentError("rig", f"rig {rig.skeleton.name!r} was not read from a BVH file", "pass the rig's .bvh")
    path = Path(source)
    if not path.is_file():
        raise InputFileError(path, "the rig's BVH file is gone; its layout is read from it when writing")
    header: list[str] = []
    values: list[str] = []
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        for line in handle:
            header.append(line)
            if line.strip().upper() == "MOTION":
                break
        content = (line for line in handle if line.strip())
        rows = [next(content, "") for _ in range(3)]  # Frames:, Frame Time:, the first frame
        values = rows[2].split()
    last = header[-1] if header else ""
    if last.strip().upper() != "MOTION":
        raise InputFileError(path, "no MOTION section (not the file the rig was read from?)")
    joints = _HeaderParser(path, [line.rstrip("\r\n") for line in header[:-1]]).parse()
    if len(values) != sum(len(j.channels) for j in joints):
        raise InputFileError(path, "the first frame does not match the hierarchy (not the file the rig was read from?)")
    return _RigLayout(
        header="".join(header),
        newline="\r\n" if last.endswith("\r\n") else "\n",
        joints=joints,
        first_frame=np.array(values, dtype=np.float64),
        metres_per_unit=float(rig.metadata.get("metres_per_unit", 1.0)),
        modes=dict(rig.metadata.get("position_channels", {})),
        dropped=list(rig.metadata.get("dropped_static_roots", [])),
    )


def _channel_transform(joint: _Joint, values: np.ndarray, mode: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(rotation, translation in file units) that one frame of a joint's channels means."""
    rotation = np.eye(3)
    translation = np.array(joint.offset, dtype=np.float64)
    positions = {c[0]: v for c, v in zip(joint.channels, values) if c.endswith("position")}
    for axis, value in positions.items():
        index = "XYZ".index(axis)
        translation[index] = (joint.offset[index] if mode == "relative" else 0.0) + value
    for channel, value in zip(joint.channels, values):
        if channel.endswith("rotation"):
            turn = torch.tensor(_AXIS_UNITS[channel[0]], dtype=torch.float64) * math.radians(value)
            rotation = rotation @ axis_angle_to_matrix(turn).numpy()
    return rotation, translation


def _channel_columns(joint: _Joint, rotation: np.ndarray, translation: np.ndarray, mode: str | None) -> np.ndarray:
    """(T, channels): a joint's local rotation (T, 3, 3) and translation (T, 3, file units) as
    its own channels. A joint with fewer than three rotation channels gets the leading angles
    of an Euler order that starts with its axes (the best such a joint can show)."""
    axes = [c[0] for c in joint.channels if c.endswith("rotation")]
    angles = {}
    if axes:
        order = "".join(axes + [a for a in "XYZ" if a not in axes])[:3]
        euler = matrix_to_euler(torch.from_numpy(np.ascontiguousarray(rotation)), order, degrees=True).numpy()
        angles = {axis: euler[:, k] for k, axis in enumerate(order) if axis in axes}
    columns = []
    for channel in joint.channels:
        axis = channel[0]
        if channel.endswith("rotation"):
            columns.append(angles[axis])
        else:
            index = "XYZ".index(axis)
            columns.append(translation[:, index] - (joint.offset[index] if mode == "relative" else 0.0))
    return np.stack(columns, axis=1) if columns else np.zeros((rotation.shape[0], 0))


def write_bvh_on_rig(motion: Motion, path: str | Path, rig: Motion, precision: int = 6) -> None:
    """Write `motion`, which is on `rig`'s skeleton (what `retarget_to_rig` returns), in the
    layout of the BVH file `rig` was read from: the same header, byte for byte (see above)."""
    if not 1 <= int(precision) <= 12:
        raise ArgumentError("precision", f"{precision} decimals is outside 1..12")
    if not (np.isfinite(motion.rotations).all() and np.isfinite(motion.root_translation).all()):
        raise ArgumentError("motion", "contains NaN or infinite values; nothing was written")
    layout = _rig_layout(rig)
    skeleton = motion.skeleton
    index = {name: j for j, name in enumerate(skeleton.joint_names)}
    file_names = [joint.name for joint in layout.joints]
    missing = [n for n in file_names if n not in index and n not in layout.dropped]
    foreign = [n for n in skeleton.joint_names if n not in file_names]
    if missing or foreign:
        problem = f"lacks the rig's joints {', '.join(missing[:5])}" if missing else f"has joints the rig lacks: {', '.join(foreign[:5])}"
        raise ArgumentError("motion", f"is not on rig {rig.skeleton.name!r}: it {problem}", "retarget it with retarget_to_rig first")

    scale = layout.metres_per_unit
    local = motion.rotation_matrices()
    frames = motion.num_frames
    starts = np.cumsum([0] + [len(joint.channels) for joint in layout.joints])
    above_rotation, above_translation = np.eye(3), np.zeros(3)  # the dropped roots, composed
    columns = []
    for k, joint in enumerate(layout.joints):
        mode = layout.modes.get(joint.name)
        first = layout.first_frame[starts[k] : starts[k + 1]]
        if joint.name not in index:  # a dropped static root keeps the rig's own values
            rotation, translation = _channel_transform(joint, first, mode)
            above_translation = above_translation + above_rotation @ translation
            above_rotation = above_rotation @ rotation
            columns.append(np.broadcast_to(first, (frames, len(first))))
            continue
        j = index[joint.name]
        if skeleton.parents[j] < 0:  # the motion's root, under whatever static roots were dropped
            rotation = above_rotation.T @ local[:, j]
            translation = (motion.root_translation / scale - above_translation) @ above_rotation
        else:
            rotation = local[:, j]
            translation = np.broadcast_to(skeleton.offsets[j] / scale, (frames, 3))
        columns.append(_channel_columns(joint, rotation, translation, mode))

    values = np.concatenate(columns, axis=1)
    body = io.StringIO()
    np.savetxt(body, values, fmt=f"%.{int(precision)}f", delimiter=" ", newline=layout.newline)
    newline = layout.newline
    motion_header = f"Frames: {frames}{newline}Frame Time: {1.0 / motion.fps:.8f}{newline}"
    atomic_write_bytes(path, (layout.header + motion_header + body.getvalue()).encode("utf-8"))
