"""Load and save motions in any supported format, chosen by file extension (and content)."""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.lib import format as npy_format

from dancegen.errors import ArgumentError, DanceGenError, InputFileError
from dancegen.limits import LIMITS_ENV, limits
from dancegen.motion import bvh, fbx, formats, glb
from dancegen.motion.motion import Motion

LOADABLE = {
    ".bvh": "BVH",
    ".npz": "dancegen motion or SMPL parameters",
    ".pkl": "AIST++ motion",
    ".npy": "FineDance (T, 315) or AMP poselib motion",
    ".glb": "glTF binary",
    ".txt": "DeepMimic motion",
    ".fbx": "FBX animation (needs dancegen[fbx])",
}
SAVABLE: dict[str, tuple[str, Callable[[Motion, Path], None]]] = {
    ".bvh": ("BVH", lambda motion, path: bvh.write_bvh(motion, path)),
    ".npz": ("dancegen motion", lambda motion, path: motion.save_npz(path)),
    ".pkl": ("AIST++ motion", formats.write_aistpp),
    ".npy": ("FineDance (T, 315)", formats.write_finedance),
    ".fbx": ("FBX (needs dancegen[fbx])", lambda motion, path: fbx.write_fbx(motion, path)),
}
# Upright frames are the tallest; the top 5% are left out as capture glitches and relevés.
HEIGHT_PERCENTILE = 95.0


def _listing(table: dict[str, Any]) -> str:
    return ", ".join(f"{ext} ({value if isinstance(value, str) else value[0]})" for ext, value in table.items())


def _npy_is_object_array(path: Path) -> bool:
    """Whether an `.npy` holds pickled objects (AMP) rather than numbers (FineDance); a header
    that claims more data than the file holds is refused before anything is allocated."""
    with open(path, "rb") as handle:
        try:
            version = npy_format.read_magic(handle)
            header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = header(handle)
        except ValueError as error:
            raise InputFileError(path, f"not a .npy file: {error}") from None
        data_bytes = path.stat().st_size - handle.tell()
    if not dtype.hasobject:
        claimed = math.prod(shape) * dtype.itemsize
        if claimed > data_bytes:
            raise InputFileError(path, f"header claims an array of shape {shape} ({claimed} bytes) but the file holds "
                                 f"{data_bytes} bytes", "the file is truncated or not a .npy array")
    return dtype.hasobject


def _npz_kind(path: Path) -> str:
    """What an `.npz` holds: "dancegen" (`Motion.save_npz` arrays, which SMPL exports carry
    too, so they reload losslessly) or "smpl" (plain SMPL parameters)."""
    if not zipfile.is_zipfile(path):
        raise InputFileError(path, "not a readable .npz file (not a zip archive)", "write one with `dancegen motion convert`")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise InputFileError(path, f"not a readable .npz file: {error}") from None
    if "rotations" in keys:
        return "dancegen"
    if "poses" in keys:
        return "smpl"
    raise InputFileError(
        path, "neither a dancegen motion (no rotations array) nor SMPL parameters (no poses array)",
        "write one with `dancegen motion convert`",
    )


# What a loader may raise on a malformed file that it did not anticipate: the file is the cause,
# so these become one line naming it (`load_motion`).
_MALFORMED = (ValueError, KeyError, IndexError, TypeError, AttributeError, OverflowError, struct.error,
              zipfile.BadZipFile, zlib.error, EOFError, UnicodeError, LookupError)


def load_motion(path: str | Path, fps: float | None = None) -> Motion:
    """Read a motion file; the format comes from the extension (`LOADABLE`), and for `.npy`
    and `.npz` from the content as well.

    fps: the file's true frame rate, overriding what the file says (or the dataset default for
        formats that store none: AIST++ 60, FineDance 30).

    Whatever is wrong with the file is one `InputFileError` naming it; so is a motion with no
    frames, NaN or infinite values, zero-length rotations, or sizes past `dancegen.limits`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LOADABLE:
        raise ArgumentError(
            str(path), f"unknown motion file type {suffix or '(none)'!r}", f"supported: {_listing(LOADABLE)}"
        )
    if path.is_dir():
        raise InputFileError(path, "is a folder, not a motion file")
    if not path.is_file():
        raise InputFileError(path, "no such file")
    check_fps("--fps", fps)
    if path.stat().st_size == 0:
        raise InputFileError(path, "the file is empty (0 bytes)")
    try:
        motion = _read(path, suffix, fps)
    except DanceGenError:
        raise
    except RecursionError:
        raise InputFileError(path, f"nested too deeply to be a {LOADABLE[suffix]} file") from None
    except MemoryError:
        raise InputFileError(path, "too large to load into memory", "is it really a motion file?") from None
    except _MALFORMED as error:
        raise InputFileError(path, f"not a readable {LOADABLE[suffix]} file ({_first_line(error)})") from None
    except OSError as error:
        raise InputFileError(path, f"cannot read: {error.strerror or _first_line(error)}") from None
    return check_motion(motion, path)


def _read(path: Path, suffix: str, fps: float | None) -> Motion:
    if suffix == ".bvh":
        return bvh.read_bvh(path, fps=fps)
    if suffix == ".pkl":
        return formats.read_aistpp(path, fps=fps)
    if suffix == ".txt":
        return formats.read_deepmimic(path, fps=fps)
    if suffix == ".fbx":
        return fbx.read_fbx(path, fps=fps)
    if suffix == ".npy":
        return formats.read_amp(path, fps=fps) if _npy_is_object_array(path) else formats.read_finedance(path, fps=fps)
    # The rest store their frame rate: `fps` replaces it.
    if suffix == ".glb":
        motion = glb.load_glb(path)
    elif _npz_kind(path) == "dancegen":
        motion = Motion.load_npz(path)
    else:
        motion = formats.read_smpl_npz(path)
    return motion if fps is None else motion.copy(fps=float(fps))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    text = lines[0][:160] if lines else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def check_fps(option: str, fps: float | None) -> float | None:
    """A frame rate given by the user: positive, finite, at most the max_fps limit."""
    if fps is None:
        return None
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ArgumentError(option, f"must be positive (frames per second), got {fps}")
    if fps > limits().max_fps:
        raise ArgumentError(option, f"{fps:g} fps is more than the limit of {limits().max_fps:g}",
                            f"max_fps; raise it with {LIMITS_ENV}=max_fps=N")
    return fps


def skeleton_depth(parents) -> int:
    """Joints on the longest root-to-leaf chain (parents come before children)."""
    depth: list[int] = []
    for parent in parents:
        depth.append(1 if parent < 0 else depth[parent] + 1)
    return max(depth, default=0)


def check_motion(motion: Motion, path: str | Path) -> Motion:
    """`motion` as read from `path`, refused (naming the file) when it has no frames, values that
    are not finite, zero-length rotations, or sizes past the limits."""
    settings = limits()
    frames, joints = motion.num_frames, motion.num_joints
    if frames == 0:
        raise InputFileError(path, "the motion has no frames")
    if frames > settings.max_frames:
        raise InputFileError(path, f"{frames} frames is more than the limit of {settings.max_frames}",
                             f"max_frames; raise it with {LIMITS_ENV}=max_frames=N")
    if joints > settings.max_joints:
        raise InputFileError(path, f"{joints} joints is more than the limit of {settings.max_joints}",
                             f"max_joints; raise it with {LIMITS_ENV}=max_joints=N")
    depth = skeleton_depth(motion.skeleton.parents)
    if depth > settings.max_hierarchy_depth:
        raise InputFileError(path, f"the skeleton is {depth} joints deep, more than the limit of "
                             f"{settings.max_hierarchy_depth}", f"max_hierarchy_depth; raise it with {LIMITS_ENV}=...")
    if not math.isfinite(motion.fps) or motion.fps > settings.max_fps:
        raise InputFileError(path, f"frame rate {motion.fps:g} fps is more than the limit of {settings.max_fps:g}",
                             "fix the file's frame rate or pass the true one (--fps / --input-fps)")
    for name in motion.skeleton.joint_names:
        if len(name) > settings.max_joint_name_chars or not name.isprintable() or not name:
            raise InputFileError(path, f"joint name {name[:40]!r} is empty, too long or has control characters",
                                 "rename the joint")
    if not np.isfinite(motion.skeleton.offsets).all():
        raise InputFileError(path, "the skeleton's joint offsets contain NaN or infinite values")
    # A block of frames at a time: temporaries the size of the whole motion would double its memory.
    for start in range(0, frames, _CHECK_BLOCK):
        stop = min(start + _CHECK_BLOCK, frames)
        _check_finite(path, "rotation", motion.rotations[start:stop], motion, start)
        _check_finite(path, "root position", motion.root_translation[start:stop], motion, start)
        short = np.einsum("tjc,tjc->tj", motion.rotations[start:stop], motion.rotations[start:stop]) < 1e-12
        if short.any():
            frame, joint = np.argwhere(short)[0]
            raise InputFileError(path, f"frame {start + frame}: joint {motion.skeleton.joint_names[joint]} has a "
                                 "zero-length rotation quaternion", "a rotation needs a unit quaternion")
    return motion


# Frames checked at a time by `check_motion`.
_CHECK_BLOCK = 65536


def _check_finite(path, what: str, values: np.ndarray, motion: Motion, first_frame: int = 0) -> None:
    if np.isfinite(values).all():
        return
    where = np.argwhere(~np.isfinite(values))[0]
    joint = f", joint {motion.skeleton.joint_names[where[1]]}" if values.ndim == 3 else ""
    raise InputFileError(path, f"frame {first_frame + where[0]}{joint}: {what} is NaN or infinite", "the file is damaged")


def save_motion(motion: Motion, path: str | Path) -> None:
    """Write `motion` in the format its extension names (`SAVABLE`), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAVABLE:
        raise ArgumentError(
            str(path), f"cannot save motion as {suffix or '(no extension)'!r}", f"supported: {_listing(SAVABLE)}"
        )
    SAVABLE[suffix][1](motion, path)


# --- body size ---------------------------------------------------------------------------


# Frames per forward-kinematics block: memory stays bounded for million-frame motions.
_FK_BLOCK = 4096


def _points(motion: Motion, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, list[int]]:
    """World positions (T, P, 3) of every joint and End Site over frames [start, stop), and the
    joint each point belongs to."""
    import torch

    from dancegen.skeleton.fk import skeleton_fk

    stop = motion.num_frames if stop is None else stop
    rotations, positions = skeleton_fk(motion.skeleton, torch.from_numpy(motion.rotations[start:stop]),
                                       torch.from_numpy(motion.root_translation[start:stop]))
    rotations, positions = rotations.numpy(), positions.numpy()
    owners = list(range(motion.num_joints))
    ends = sorted(motion.skeleton.end_sites.items())
    if ends:
        joints = [j for j, _ in ends]
        offsets = np.stack([o for _, o in ends])
        end_positions = positions[:, joints] + np.einsum("tjab,jb->tja", rotations[:, joints], offsets)
        positions = np.concatenate([positions, end_positions], axis=1)
        owners += joints
    return positions, owners


def estimate_height(motion: Motion) -> float:
    """Standing height in metres: how far the top of the head gets above the lowest body point.

    Per frame it takes the highest point of the head (the first joint named like "head", its
    descendants and End Sites; without one, the end point highest above the root on median)
    minus the lowest point of the whole body (the supporting foot), then the 95th percentile
    over frames. Working from posed frames rather than the rest pose makes it right for rigs
    whose rest pose is not standing (bone-local BVH axes), and arms are ignored, so raised hands
    do not count. Rigs whose head joint sits at the skull base read short by the head's height.
    Frames go through forward kinematics a block at a time (bounded memory).
    """
    skeleton = motion.skeleton
    heads = [j for j, name in enumerate(skeleton.joint_names) if "head" in name.lower()]
    inside = set(skeleton.descendants(heads[0])) if heads else set()
    tops, lows, owners = [], [], []
    for start in range(0, motion.num_frames, _FK_BLOCK):
        positions, owners = _points(motion, start, min(start + _FK_BLOCK, motion.num_frames))
        if heads:
            candidates = [p for p, joint in enumerate(owners) if joint in inside]
        else:  # every end point, measured from the root; the highest on median is chosen below
            candidates = [p for p, joint in enumerate(owners) if p >= skeleton.num_joints or not skeleton.children(joint)]
        tops.append(positions[:, candidates, 1])
        lows.append(positions[:, :, 1].min(axis=1))
    top, low = np.concatenate(tops), np.concatenate(lows)
    if heads:
        height = top.max(axis=1) - low
    else:
        root = motion.root_translation[:, 1:2]  # the root joint's world height per frame
        best = int(np.argmax(np.median(top - root, axis=0)))
        height = top[:, best] - low
    return float(np.percentile(height, HEIGHT_PERCENTILE))
