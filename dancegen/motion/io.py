"""Load and save motions in any supported format, chosen by file extension (and content)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.lib import format as npy_format

from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion import bvh, formats, glb
from dancegen.motion.motion import Motion

LOADABLE = {
    ".bvh": "BVH",
    ".npz": "dancegen motion or SMPL parameters",
    ".pkl": "AIST++ motion",
    ".npy": "FineDance (T, 315) or AMP poselib motion",
    ".glb": "glTF binary",
    ".txt": "DeepMimic motion",
}
SAVABLE: dict[str, tuple[str, Callable[[Motion, Path], None]]] = {
    ".bvh": ("BVH", lambda motion, path: bvh.write_bvh(motion, path)),
    ".npz": ("dancegen motion", lambda motion, path: motion.save_npz(path)),
    ".pkl": ("AIST++ motion", formats.write_aistpp),
    ".npy": ("FineDance (T, 315)", formats.write_finedance),
}
# Upright frames are the tallest; the top 5% are left out as capture glitches and relevés.
HEIGHT_PERCENTILE = 95.0


def _listing(table: dict[str, Any]) -> str:
    return ", ".join(f"{ext} ({value if isinstance(value, str) else value[0]})" for ext, value in table.items())


def _npy_is_object_array(path: Path) -> bool:
    with open(path, "rb") as handle:
        try:
            version = npy_format.read_magic(handle)
            header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            _, _, dtype = header(handle)
        except ValueError as error:
            raise InputFileError(path, f"not a .npy file: {error}") from None
    return dtype.hasobject


def _npz_kind(path: Path) -> str:
    """What an `.npz` holds: "dancegen" (`Motion.save_npz` arrays, which SMPL exports carry
    too, so they reload losslessly) or "smpl" (plain SMPL parameters)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"not a readable .npz file: {error}") from None
    if "rotations" in keys:
        return "dancegen"
    if "poses" in keys:
        return "smpl"
    raise InputFileError(
        path, "neither a dancegen motion (no rotations array) nor SMPL parameters (no poses array)",
        "write one with `dancegen motion convert`",
    )


def load_motion(path: str | Path, fps: float | None = None) -> Motion:
    """Read a motion file; the format comes from the extension (`LOADABLE`), and for `.npy`
    and `.npz` from the content as well.

    fps: the file's true frame rate, overriding what the file says (or the dataset default for
        formats that store none: AIST++ 60, FineDance 30).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LOADABLE:
        raise ArgumentError(
            str(path), f"unknown motion file type {suffix or '(none)'!r}", f"supported: {_listing(LOADABLE)}"
        )
    if not path.is_file():
        raise InputFileError(path, "no such file")
    if fps is not None and not fps > 0:
        raise ArgumentError("fps", f"must be positive, got {fps}")
    if suffix == ".bvh":
        return bvh.read_bvh(path, fps=fps)
    if suffix == ".pkl":
        return formats.read_aistpp(path, fps=fps)
    if suffix == ".txt":
        return formats.read_deepmimic(path, fps=fps)
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


def _points(motion: Motion) -> tuple[np.ndarray, list[int]]:
    """World positions (T, P, 3) of every joint and End Site, and the joint each belongs to."""
    rotations, positions = motion.forward_kinematics()
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
    """
    positions, owners = _points(motion)
    skeleton = motion.skeleton
    heads = [j for j, name in enumerate(skeleton.joint_names) if "head" in name.lower()]
    if heads:
        inside = set(skeleton.descendants(heads[0]))
        top_points = [p for p, joint in enumerate(owners) if joint in inside]
    else:
        leaves = [p for p, joint in enumerate(owners) if p >= skeleton.num_joints or not skeleton.children(joint)]
        above_root = np.median(positions[:, leaves, 1] - positions[:, :1, 1], axis=0)
        top_points = [leaves[int(np.argmax(above_root))]]
    height = positions[:, top_points, 1].max(axis=1) - positions[:, :, 1].min(axis=1)
    return float(np.percentile(height, HEIGHT_PERCENTILE))
