"""SMPL parameters as `.npz`: what SMPL body-model tools read, and still a dancegen motion.

This module writes them; `dancegen.motion.io.load_motion` reads them back (the dancegen keys
losslessly, a plain SMPL file through `dancegen.motion.formats.read_smpl_npz`).

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

import tempfile
from pathlib import Path

import numpy as np
import torch

from dancegen.fileio import atomic_path
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import quat_to_axis_angle
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES
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
