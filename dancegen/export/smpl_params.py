"""SMPL parameters as `.npz`: what SMPL body-model tools read, and still a dancegen motion.

Layout of the file (numpy `.npz`, no pickled objects):

| key | shape / type | meaning |
|---|---|---|
| `poses` | (T, 3·J) float64 | axis-angle per joint in the skeleton's joint order: (T, 72) for SMPL-24 (global orient + 23 body joints), (T, 156) for the 52-joint SMPL-X body+hands layout of FineDance (AMASS's SMPL-H `poses` use the same 52) |
| `trans` | (T, 3) float64 | world position of the root joint (pelvis), metres (see below) |
| `transl` | (T, 3) float64 | 52-joint files only: the SMPL-X model's `transl`, `trans - SMPLX_PELVIS_REST` |
| `betas` | (10,) float64 | body shape: zeros, the template body dancegen's skeletons are built on |
| `gender` | str | `"neutral"` |
| `mocap_framerate`, `fps` | float | frames per second (AMASS's name and the plain one) |
| `model_type` | str | `"smpl"` (24 joints), `"smplx"` (52 joints) or `"skeleton"` (any other rig) |
| `joint_names` | (J,) str | the joint order of `poses` |
| `up_axis` | str | `"y"`: dancegen is y-up (AMASS files are z-up; they carry no such key) |
| dancegen keys | | `rotations`, `root_translation`, `skeleton_*`, `metadata`, ... as `Motion.save_npz` writes them, so `load_motion` reads the file back losslessly |

`trans` follows AIST++ and EDGE: it is the pelvis position itself. An SMPL body model rotates about
its template pelvis J0(betas) and adds its translation parameter to that, so to pose a mesh
exactly pass `trans - J0`; for the 52-joint layout, whose J0 dancegen knows (FineDance's SMPL-X
template), `transl` is that value already.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from dancegen.errors import InputFileError
from dancegen.fileio import atomic_path
from dancegen.motion.motion import Motion
from dancegen.skeleton.axes import Z_UP_TO_Y_UP, z_up_to_y_up
from dancegen.skeleton.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quat,
    matrix_to_quat,
    quat_canonical,
    quat_to_axis_angle,
)
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.smplx import SMPLX52_JOINT_NAMES, SMPLX_PELVIS_REST
from dancegen.skeleton.tree import Skeleton

SMPL_NUM_BETAS = 10  # the SMPL release's shape space size
SMPL_GENDER = "neutral"


def smpl_model_type(skeleton: Skeleton) -> str:
    """Which SMPL family layout a skeleton follows: "smpl", "smplx" or "skeleton" (none)."""
    names = skeleton.joint_names
    if names == SMPL24_JOINT_NAMES:
        return "smpl"
    if names == SMPLX52_JOINT_NAMES:
        return "smplx"
    return "skeleton"


def _motion_arrays(motion: Motion) -> dict[str, np.ndarray]:
    """The arrays `Motion.save_npz` writes, so this file stays readable as a dancegen motion."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "motion.npz"
        motion.save_npz(path)
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}


def smpl_arrays(motion: Motion) -> dict[str, np.ndarray]:
    """The SMPL parameter arrays of a motion (the table in this module's docstring)."""
    poses = quat_to_axis_angle(torch.from_numpy(motion.rotations)).numpy()
    model_type = smpl_model_type(motion.skeleton)
    arrays = {
        "poses": poses.reshape(motion.num_frames, -1),
        "trans": motion.root_translation.copy(),
        "betas": np.zeros(SMPL_NUM_BETAS),
        "gender": np.array(SMPL_GENDER),
        "mocap_framerate": np.array(float(motion.fps)),
        "model_type": np.array(model_type),
        "joint_names": np.array(motion.skeleton.joint_names),
        "up_axis": np.array("y"),
    }
    if model_type == "smplx":
        arrays["transl"] = motion.root_translation - SMPLX_PELVIS_REST
    return arrays


def write_smpl_npz(motion: Motion, path: str | Path) -> Path:
    """Write SMPL parameters plus the dancegen motion arrays to `path`, atomically."""
    path = Path(path)
    arrays = {**_motion_arrays(motion), **smpl_arrays(motion)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return path


def read_smpl_npz(path: str | Path, skeleton: Skeleton | None = None) -> Motion:
    """Read SMPL parameters (`poses`, `trans`, fps) from an `.npz` into a `Motion`.

    For files that are not dancegen motions (e.g. written by SMPL tools): `skeleton` defaults to
    SMPL-24 and must have as many joints as `poses` has triples; `up_axis` "z" is converted.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in ("poses", "trans") if key not in data.files]
            if missing:
                raise InputFileError(path, f"no {' or '.join(missing)} array", "not an SMPL parameter file")
            poses, trans = np.asarray(data["poses"], np.float64), np.asarray(data["trans"], np.float64)
            fps = float(data["mocap_framerate"] if "mocap_framerate" in data.files else data["fps"])
            up_axis = str(data["up_axis"]) if "up_axis" in data.files else "y"
            metadata = json.loads(str(data["metadata"])) if "metadata" in data.files else {}
    except InputFileError:
        raise
    except KeyError:
        raise InputFileError(path, "no mocap_framerate or fps", "add the frame rate to the file") from None
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"cannot read SMPL .npz: {error}") from None

    skeleton = skeleton or smpl24()
    frames = poses.shape[0]
    if poses.ndim != 2 or poses.shape[1] != 3 * skeleton.num_joints or trans.shape != (frames, 3):
        raise InputFileError(
            path, f"poses {poses.shape} and trans {trans.shape} do not fit {skeleton.num_joints} joints",
            f"expected poses (T, {3 * skeleton.num_joints}) and trans (T, 3)",
        )
    rotvecs = torch.from_numpy(poses.reshape(frames, skeleton.num_joints, 3))
    if up_axis == "z":
        # The SMPL template is y-up and the file's root rotation turns it into a z-up world:
        # turning that world to y-up changes only the root rotation and the translation.
        root = Z_UP_TO_Y_UP @ axis_angle_to_matrix(rotvecs[:, 0]).numpy()
        quats = axis_angle_to_quat(rotvecs)
        quats[:, 0] = matrix_to_quat(torch.from_numpy(root))
        trans = z_up_to_y_up(trans)
    elif up_axis == "y":
        quats = axis_angle_to_quat(rotvecs)
    else:
        raise InputFileError(path, f"up_axis is {up_axis!r}", "use 'y' or 'z'")
    return Motion(skeleton, fps, quat_canonical(quats).numpy(), trans, metadata=metadata)
