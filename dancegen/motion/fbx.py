"""FBX in and out, through Blender's own FBX add-on (`bpy`, Blender as a Python module).

Autodesk's FBX SDK is closed and its Python bindings are not on PyPI; Blender's add-on is the
FBX code most people's files have already been through, and `bpy` 5.0 installs from PyPI
(`pip install 'dancegen[fbx]'`). Without it, reading or writing `.fbx` raises one
`FbxUnavailableError` line saying how to install it; nothing else in dancegen needs it.

Blender runs in a child process (`fbx_blender.py`, given a job file), never in this one:
- bpy 5.0 pins numpy < 2 and dancegen's environment may have numpy 2, so bpy can live in a
  separate interpreter (`DANCEGEN_BLENDER_PYTHON`, or the side environment `make fbx` builds);
- importing bpy costs ~0.5 s and ~1 GB of libraries, and Blender keeps one global scene per
  process: a child starts clean every time and cannot leak state between calls;
- Blender prints to stdout and can crash on bad files; a child's output is captured and its
  crash is one error line, not the end of `dancegen serve` or a broken `--json` stream.
Each call costs about a second of start-up; every frame goes across in one array file.

The interpreter is, in order: `DANCEGEN_BLENDER_PYTHON`; this Python, if it has `bpy`; the side
environment `<this environment>/blender/bin/python` (what `make fbx` creates).

What is written (the conventions Unity, Unreal and Mixamo's own files share):
- FBX 7.4 binary, Y up, the character facing +Z, centimetres (UnitScaleFactor 1), an identity
  root node named "Armature" (Unreal drops a root of that name) over the joints;
- one bone per joint, named as the skeleton's joints (or `joint_names`); its rest transform is
  the joint's rest position with the bone's Y axis along the bone (towards the child that
  continues the chain, else the End Site, else the parent bone's direction) and its Z axis as
  near the character's forward (+Z) as the bone allows (up, +Y, for bones that point forward);
  End Sites become leaf bones named `<joint>_end`, as Blender's exporter names leaf bones;
- the rest pose is the skeleton's (SMPL's is a T-pose, what Unity's humanoid avatar wants);
- one take, named `take` (default: the motion's name), keyed on every frame at the motion's
  frame rate (the file's TimeMode / CustomFrameRate), starting at time 0;
- custom properties on the root node (Unity: `OnPostprocessGameObjectWithUserProperties`):
  `properties` (e.g. `dancegen_music`, `dancegen_music_offset_s`), plus `dancegen_fps` and,
  when joints were renamed, `dancegen_joint_names` (JSON, bone -> joint) so dancegen reads the
  original names back.

Reading takes the file's largest armature and its take (`take=` picks another), samples every
frame of the take's range at the file's frame rate, and gives world joint positions exactly as
Blender shows them (y-up metres). Leaf bones named `*_end` that never move become End Sites;
joints whose translation animates keep their mean offset (the spread is in the metadata), as in
`read_bvh`. A file without animation gives its bind pose as one frame (a character for `--rig`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from dancegen.errors import ArgumentError, DanceGenError, InputFileError
from dancegen.fileio import atomic_path
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import (
    matrix_to_quat,
    nearest_rotation,
    quat_canonical,
    quat_make_continuous,
)
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES
from dancegen.skeleton.smplx import SMPLX52_JOINT_NAMES
from dancegen.skeleton.tree import Skeleton

WORKER = Path(__file__).with_name("fbx_blender.py")
PYTHON_VARIABLE = "DANCEGEN_BLENDER_PYTHON"
SIDE_ENVIRONMENT = Path("blender") / "bin" / "python"  # under sys.prefix: what `make fbx` builds
INSTALL_HINT = (
    f"pip install 'dancegen[fbx]' (bpy 5.0, Python 3.11), or `make fbx`, or set {PYTHON_VARIABLE} to a Python that has bpy"
)
# Blender keeps up to 63 bytes of a bone name.
MAX_NAME_BYTES = 63
# A child process that has not finished after this long is stuck (a 10-minute dance at 60 fps
# takes about 30 s each way).
TIMEOUT_S = 900.0
# FBX values are float32 centimetres: translations that vary less than this (metres) are fixed.
STATIC_TRANSLATION_M = 1e-4
CM_PER_M = 100.0
# Blender world (z-up, character facing -Y) to dancegen (y-up, facing +Z): (x, y, z) -> (x, z, -y).
BLENDER_TO_DANCEGEN = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
FORWARD = np.array([0.0, 0.0, 1.0])
UP = np.array([0.0, 1.0, 0.0])
# A bone this close to forward (|cos|) gets its Z axis from up instead.
NEAR_FORWARD_COS = 0.9
MIN_BONE_M = 0.01  # Blender drops zero-length bones; leaves get at least this length
END_SUFFIX = "_end"
# dancegen's own `dancegen_fps` replaces the file's rate when they agree this closely.
FPS_AGREEMENT = 1e-4
_CANONICAL_LAYOUTS = (SMPL24_JOINT_NAMES, SMPLX52_JOINT_NAMES)


class FbxUnavailableError(DanceGenError):
    """FBX was asked for but no Python with Blender's `bpy` module was found."""


# --- the Blender process -----------------------------------------------------------------


def blender_python() -> str | None:
    """The interpreter that runs Blender (module docstring), or None when there is none."""
    named = os.environ.get(PYTHON_VARIABLE)
    if named:
        return named
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    side = Path(sys.prefix) / SIDE_ENVIRONMENT
    return str(side) if side.is_file() else None


def fbx_available() -> bool:
    return blender_python() is not None


def require_blender(path: str | Path) -> str:
    """The Blender interpreter, or one `FbxUnavailableError` line naming `path` and the fix."""
    python = blender_python()
    if python is None:
        raise FbxUnavailableError(f"{path}: FBX needs Blender's Python module, which is not installed ({INSTALL_HINT})")
    if not Path(python).is_file() and os.environ.get(PYTHON_VARIABLE):
        raise FbxUnavailableError(f"{path}: {PYTHON_VARIABLE}={python} does not exist ({INSTALL_HINT})")
    return python


def _run_blender(path: Path, job: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Run one job in a fresh Blender process; its result, or one DanceGenError line."""
    python = require_blender(path)
    job = {**job, "result": str(folder / "result.json"), "arrays": job.get("arrays", str(folder / "arrays.npz"))}
    job_file = folder / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    try:
        process = subprocess.run(
            [python, str(WORKER), str(job_file)], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=folder
        )
    except subprocess.TimeoutExpired:
        raise InputFileError(path, f"Blender did not finish within {TIMEOUT_S:.0f} s") from None
    except OSError as error:
        raise FbxUnavailableError(f"{path}: cannot start {python}: {error.strerror} ({INSTALL_HINT})") from None
    result_file = folder / "result.json"
    if not result_file.is_file():
        lines = [line for line in (process.stderr + process.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {process.returncode}"
        if "No module named 'bpy'" in process.stderr:
            raise FbxUnavailableError(f"{path}: {python} has no bpy module ({INSTALL_HINT})")
        raise InputFileError(path, f"Blender stopped without an answer: {last}")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    if not result["ok"]:
        action = "read" if job["command"] == "read" else "write"
        raise InputFileError(path, f"Blender's FBX add-on could not {action} it: {result['error']}")
    return result


# --- geometry shared by both directions ----------------------------------------------------


def rest_positions(skeleton: Skeleton) -> np.ndarray:
    """World joint positions (J, 3) in the rest pose (every rotation the identity)."""
    positions = np.zeros((skeleton.num_joints, 3))
    for j, parent in enumerate(skeleton.parents):
        positions[j] = skeleton.offsets[j] + (positions[parent] if parent >= 0 else 0.0)
    return positions


def _unit(vector: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-9 else None


def _bone_target(skeleton: Skeleton, j: int, incoming: np.ndarray | None) -> np.ndarray | None:
    """Where bone j points (a vector from its head): the child that continues the chain (most
    along the incoming direction, or up from the root), else its End Site."""
    children = skeleton.children(j)
    if children:
        heading = incoming if incoming is not None else UP

        def along(child: int) -> float:
            direction = _unit(skeleton.offsets[child])
            return float(np.dot(direction, heading)) if direction is not None else -2.0

        return skeleton.offsets[max(children, key=along)]
    end = skeleton.end_sites.get(j)
    return end if end is not None and _unit(end) is not None else None


def bone_frames(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Rest bone axes (J, 3, 3), columns X Y Z in dancegen's axes, and bone lengths (J,) metres.

    Y runs along the bone (module docstring); Z is forward made perpendicular to Y, or up for a
    bone that points forward; X = Y x Z. A bone with nowhere to point continues its parent's.
    """
    axes = np.zeros((skeleton.num_joints, 3, 3))
    lengths = np.zeros(skeleton.num_joints)
    for j, parent in enumerate(skeleton.parents):
        incoming = _unit(skeleton.offsets[j]) if parent >= 0 else None
        target = _bone_target(skeleton, j, incoming)
        direction = _unit(target) if target is not None else None
        if direction is None:
            direction = axes[parent][:, 1] if parent >= 0 else UP
            length = max(MIN_BONE_M, 0.5 * lengths[parent]) if parent >= 0 else 0.1
        else:
            length = max(MIN_BONE_M, float(np.linalg.norm(target)))
        reference = UP if abs(float(np.dot(direction, FORWARD))) > NEAR_FORWARD_COS else FORWARD
        z = _unit(reference - np.dot(reference, direction) * direction)
        x = np.cross(direction, z)
        axes[j] = np.stack([x, direction, z], axis=1)
        lengths[j] = length
    return axes, lengths


def _homogeneous(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    out = np.zeros(rotation.shape[:-2] + (4, 4))
    out[..., :3, :3] = rotation
    out[..., :3, 3] = translation
    out[..., 3, 3] = 1.0
    return out


# --- write -------------------------------------------------------------------------------


def _check_names(names: Sequence[str]) -> list[str]:
    names = [str(name) for name in names]
    for name in names:
        if not name.strip() or len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise ArgumentError("joint_names", f"joint name {name!r} cannot be an FBX bone name (1 to {MAX_NAME_BYTES} bytes)")
    if len(set(names)) != len(names):
        raise ArgumentError("joint_names", "joint names are not unique")
    return names


def _with_end_bones(skeleton: Skeleton, names: list[str]) -> tuple[Skeleton, list[str]]:
    """The skeleton plus one leaf bone per End Site (after every joint, so joint indices stay)."""
    all_names, parents, offsets = list(names), list(skeleton.parents), [*skeleton.offsets]
    for joint, offset in sorted(skeleton.end_sites.items()):
        name = f"{names[joint]}{END_SUFFIX}"
        if _unit(offset) is None or name in all_names or len(name.encode("utf-8")) > MAX_NAME_BYTES:
            continue
        all_names.append(name)
        parents.append(joint)
        offsets.append(offset)
    return Skeleton(skeleton.name, all_names, parents, np.array(offsets)), all_names


def bone_keys(motion: Motion, axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blender's `matrix_basis` for every joint and frame: locations (T, J, 3) in centimetres
    and quaternions (T, J, 4) as (w, x, y, z), relative to the rest bones `axes` (J, 3, 3).

    With B the rest matrix and M the posed one, both in armature space (centimetres), Blender
    poses a bone as M = M_parent B_parent^-1 B basis, so basis = B^-1 B_parent M_parent^-1 M.
    """
    skeleton = motion.skeleton
    joints = skeleton.num_joints
    rotations, positions = motion.forward_kinematics()
    axes = axes[:joints]
    rest = _homogeneous(axes, rest_positions(skeleton) * CM_PER_M)  # (J, 4, 4)
    posed = _homogeneous(rotations @ axes, positions * CM_PER_M)  # (T, J, 4, 4)
    rest_inverse = np.linalg.inv(rest)
    parent_posed_inverse = np.linalg.inv(posed)
    basis = np.empty_like(posed)
    for j, parent in enumerate(skeleton.parents):
        if parent < 0:
            basis[:, j] = rest_inverse[j] @ posed[:, j]
        else:
            basis[:, j] = rest_inverse[j] @ rest[parent] @ parent_posed_inverse[:, parent] @ posed[:, j]
    quats = matrix_to_quat(torch.from_numpy(np.ascontiguousarray(basis[..., :3, :3])))
    quats = quat_make_continuous(quats, dim=0).numpy()  # no sign flips between keys
    return basis[..., :3, 3], quats[..., [3, 0, 1, 2]]


def write_fbx(
    motion: Motion,
    path: str | Path,
    *,
    take: str | None = None,
    joint_names: Sequence[str] | None = None,
    properties: dict[str, Any] | None = None,
) -> Path:
    """Write `motion` as an FBX file (atomically) through Blender; see the module docstring.

    take: the animation's name (default: the motion's `name` metadata, else the file name).
    joint_names: bone names to use instead of the skeleton's (the originals are stored so
        `read_fbx` restores them). properties: extra custom properties for the root node
        (numbers and strings), e.g. {"dancegen_music_offset_s": 12.5}.
    """
    path = Path(path)
    if not (np.isfinite(motion.rotations).all() and np.isfinite(motion.root_translation).all()):
        raise ArgumentError("motion", "contains NaN or infinite values; nothing was written")
    own_names = list(motion.skeleton.joint_names)
    names = _check_names(joint_names if joint_names is not None else own_names)
    if len(names) != motion.num_joints:
        raise ArgumentError("joint_names", f"{len(names)} names for {motion.num_joints} joints")
    take = str(take or motion.metadata.get("name") or path.stem)
    extra = dict(properties or {})
    for key, value in extra.items():
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise ArgumentError("properties", f"{key}: custom properties must be numbers or strings, got {type(value).__name__}")
    extra["dancegen_fps"] = float(motion.fps)
    extra["dancegen_skeleton"] = motion.skeleton.name
    if names != own_names:  # bone name -> joint name, for read_fbx
        extra["dancegen_joint_names"] = json.dumps(dict(zip(names, own_names)))
    require_blender(path)

    full, all_names = _with_end_bones(motion.skeleton, names)
    axes, lengths = bone_frames(full)
    locations, quaternions = bone_keys(motion, axes)
    with tempfile.TemporaryDirectory(prefix="dancegen-fbx-") as folder, atomic_path(path) as tmp:
        arrays = Path(folder) / "armature.npz"
        np.savez(
            arrays,
            names=np.array(all_names),
            parents=np.array(full.parents, dtype=np.int64),
            heads=rest_positions(full) * CM_PER_M,
            axes=axes,
            lengths=lengths * CM_PER_M,
            locations=locations,
            quaternions=quaternions,
            animated=np.array(motion.num_joints),
        )
        job = {
            "command": "write", "fbx": str(tmp), "arrays": str(arrays), "take": take, "fps": float(motion.fps),
            "armature": "Armature", "properties": extra,
        }
        _run_blender(path, job, Path(folder))
    return path


# --- read --------------------------------------------------------------------------------


def _to_dancegen(matrices: np.ndarray) -> np.ndarray:
    """Blender world 4x4 matrices to dancegen axes (rotation part conjugated, position mapped)."""
    change = np.eye(4)
    change[:3, :3] = BLENDER_TO_DANCEGEN
    return change @ matrices @ change.T


def _topological(names: list[str], parents: list[int]) -> tuple[list[int], list[int]]:
    """The largest tree's bones in file order when that is topological (else depth-first),
    and the bones of any other trees (dropped: a Skeleton has one root)."""
    roots = [b for b, p in enumerate(parents) if p < 0]

    def tree(root: int) -> list[int]:
        order, stack = [], [root]
        while stack:
            bone = stack.pop()
            order.append(bone)
            stack.extend(reversed([c for c, p in enumerate(parents) if p == bone]))
        return order

    trees = sorted((tree(r) for r in roots), key=len, reverse=True)
    kept = trees[0]
    in_file_order = sorted(kept)
    position = {b: i for i, b in enumerate(in_file_order)}
    if all(parents[b] < 0 or position[parents[b]] < position[b] for b in in_file_order):
        kept = in_file_order
    return kept, [b for t in trees[1:] for b in t]


def _end_bones(names: list[str], parents: list[int], kept: list[int], local: np.ndarray) -> set[int]:
    """Leaf bones named `*_end` that never move relative to their parent: End Sites."""
    has_child = {parents[b] for b in kept}
    ends = set()
    for b in kept:
        if b in has_child or parents[b] < 0 or not names[b].lower().endswith(END_SUFFIX):
            continue
        if np.ptp(local[:, b], axis=0).max() <= STATIC_TRANSLATION_M:
            ends.add(b)
    return ends


def _renamed(stored: Any) -> dict[str, str]:
    """The bone -> joint names `write_fbx` stores when it renames joints ({} if absent or bad)."""
    try:
        names = json.loads(stored) if isinstance(stored, str) else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


def _frame_rate(in_file: float, written: Any) -> float:
    """The file's rate, or the exact one dancegen wrote beside it (FBX has no 29.97: it stores
    NTSC, 30 / 1.001) when the two agree."""
    if isinstance(written, (int, float)) and written > 0 and abs(written - in_file) <= FPS_AGREEMENT * written:
        return float(written)
    return float(in_file)


def _canonical(names: list[str]) -> list[int] | None:
    for canonical in _CANONICAL_LAYOUTS:
        if sorted(names) == sorted(canonical):
            return [names.index(n) for n in canonical]
    return None


def read_fbx(path: str | Path, fps: float | None = None, *, take: str | None = None, scale: float | None = None) -> Motion:
    """Read an FBX animation into a `Motion` (y-up metres, as Blender shows the file).

    fps: the true frame rate, overriding the file's. take: which take (FBX animation stack)
    to read when there are several (default: the file's current take, else its first; the
    metadata lists them all under "takes"). scale: metres per Blender metre, for files whose unit is wrong (the kit's
    `55_01_cmu.fbx` is in CMU ASF units, 0.0564 m each, but says centimetres).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    if fps is not None and not fps > 0:
        raise ArgumentError("fps", f"must be positive, got {fps}")
    if scale is not None and not scale > 0:
        raise ArgumentError("scale", f"must be positive, got {scale}")
    with tempfile.TemporaryDirectory(prefix="dancegen-fbx-") as folder:
        facts = _run_blender(path, {"command": "read", "fbx": str(path.resolve()), "take": take}, Path(folder))
        with np.load(Path(folder) / "arrays.npz", allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    return _motion_from_bones(path, arrays, facts, fps, scale or 1.0)


def _motion_from_bones(path: Path, arrays: dict, facts: dict, fps: float | None, scale: float) -> Motion:
    names = [str(n) for n in arrays["names"]]
    parents = [int(p) for p in arrays["parents"]]
    rest = _to_dancegen(arrays["rest_object"] @ arrays["rest"])  # (B, 4, 4) world at rest
    posed = _to_dancegen(arrays["object"][:, None] @ arrays["pose"])  # (T, B, 4, 4)
    rest_rot = nearest_rotation(torch.from_numpy(rest[:, :3, :3])).numpy()
    posed_rot = nearest_rotation(torch.from_numpy(np.ascontiguousarray(posed[..., :3, :3]))).numpy()
    heads, positions = rest[:, :3, 3] * scale, posed[..., :3, 3] * scale
    globals_ = posed_rot @ rest_rot.transpose(0, 2, 1)[None]  # each bone's turn from its rest

    # Each bone's translation from its parent, in the parent's rest-aligned frame.
    parent_of = np.array([max(p, 0) for p in parents])
    local = np.einsum("tbji,tbj->tbi", globals_[:, parent_of], positions - positions[:, parent_of])
    kept, dropped = _topological(names, parents)
    ends = _end_bones(names, parents, kept, local)
    joints = [b for b in kept if b not in ends]
    index = {b: i for i, b in enumerate(joints)}
    if len(joints) < 2:
        raise InputFileError(path, f"the armature has {len(joints)} joint(s); a dance needs a skeleton")

    offsets = np.zeros((len(joints), 3))
    offsets[0] = heads[joints[0]]
    moving = {}
    for b in joints[1:]:
        mean = local[:, b].mean(axis=0)
        spread = float(np.abs(local[:, b] - mean).max())
        if spread > STATIC_TRANSLATION_M:
            moving[names[b]] = spread
        offsets[index[b]] = mean
    end_sites = {index[parents[b]]: local[0, b] for b in sorted(ends) if parents[b] in index}

    stored = facts["properties"]
    joint_names = [names[b] for b in joints]
    renamed = _renamed(stored.get("dancegen_joint_names"))
    if renamed and set(joint_names) <= set(renamed):
        joint_names = [renamed[name] for name in joint_names]
    parent_index = [-1] + [index[parents[b]] for b in joints[1:]]
    local_rot = np.concatenate(
        [globals_[:, joints[:1]], np.einsum("tjki,tjkl->tjil", globals_[:, [parents[b] for b in joints[1:]]], globals_[:, joints[1:]])],
        axis=1,
    )
    order = _canonical(joint_names)
    if order is not None:  # SMPL-family names go back to their canonical joint order
        position = {old: new for new, old in enumerate(order)}
        parent_index = [-1 if parent_index[old] < 0 else position[parent_index[old]] for old in order]
        joint_names = [joint_names[old] for old in order]
        offsets, local_rot = offsets[order], local_rot[:, order]
        end_sites = {position[old]: offset for old, offset in end_sites.items()}
        joints = [joints[old] for old in order]

    skeleton_name = str(stored.get("dancegen_skeleton") or path.stem)
    skeleton = Skeleton(skeleton_name, joint_names, parent_index, offsets, end_sites)
    quats = quat_canonical(matrix_to_quat(torch.from_numpy(np.ascontiguousarray(local_rot)))).numpy()
    metadata: dict[str, Any] = {
        "source": str(path),
        "format": "fbx",
        "fps_in_file": facts["fps"],
        "take": facts["take"],
        "takes": facts["takes"],
        "animated": facts["animated"],
        "fbx_properties": {k: v for k, v in stored.items() if k != "dancegen_joint_names"},
    }
    if "dancegen_music_offset_s" in stored:
        metadata["music_offset_s"] = stored["dancegen_music_offset_s"]
    if ends:
        metadata["end_site_bones"] = sorted(names[b] for b in ends)
    if dropped:
        metadata["dropped_bones"] = [names[b] for b in dropped]
    if facts["other_armatures"]:
        metadata["other_armatures"] = facts["other_armatures"]
    if moving:
        metadata["moving_offsets_replaced_by_mean_m"] = moving
    if scale != 1.0:
        metadata["scale"] = scale
    rate = float(fps) if fps is not None else _frame_rate(facts["fps"], stored.get("dancegen_fps"))
    return Motion(skeleton, rate, quats, positions[:, joints[0]], metadata=metadata)
