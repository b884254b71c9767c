"""Dataset motion formats: AIST++ `.pkl`, FineDance `.npy`, DeepMimic `.txt`, AMP poselib `.npy`,
SMPL parameter `.npz`.

Each reader returns a `Motion` on the format's skeleton (y-up, metres, local quaternions).

- AIST++ (Li et al. 2021) `motions/*.pkl`: a pickled dict with `smpl_poses` (N, 72) SMPL
  axis-angle (24 joints x 3), `smpl_trans` (N, 3) and `smpl_scaling` (1,); 60 fps. As in EDGE's
  preprocessing, the root (pelvis) position is `smpl_trans / smpl_scaling` and the skeleton is
  `smpl24()`. Loaded through `safe_pickle`; written as a pickle whose only globals are
  `numpy.ndarray` and `bytearray`, so numpy 1.x (even before 1.26) and numpy 2 both read it.
- FineDance (Li et al. 2023) `motion/*.npy`: (T, 315) = SMPL-X `transl` (3) + 52 joints x 6D
  (PyTorch3D row layout), 30 fps; the (T, 319) feature files put 4 foot contacts first. The
  SMPL-X model rotates about its template pelvis, so the pelvis is at `transl +
  SMPLX_PELVIS_REST` (FineDance's own forward kinematics does the same).
- DeepMimic (Peng et al. 2018) motion JSON: per frame [dt, root pos (3), root quat (w, x, y, z),
  then per joint a (w, x, y, z) quaternion or, for knees and elbows, one angle about the joint's
  z axis]; the humanoid3d character's joint offsets are below.
- AMP / IsaacGym poselib `SkeletonMotion` `.npy`: a pickled dict of local (x, y, z, w)
  quaternions, root translation and skeleton tree, z-up; converted to y-up.
- SMPL parameters `.npz` (AMASS-style, and what `dancegen.export.smpl_params` writes, whose
  docstring has the full layout): `poses` (T, 3J) axis-angle, `trans` (T, 3) pelvis position,
  `mocap_framerate` or `fps`, optional `up_axis` ("z" for AMASS; converted to y-up).
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from dancegen.errors import ArgumentError, InputFileError
from dancegen.fileio import atomic_write_bytes
from dancegen.motion.bvh import fps_from_frame_time
from dancegen.motion.motion import Motion
from dancegen.safe_pickle import safe_load
from dancegen.skeleton.axes import Z_UP_TO_Y_UP, z_up_to_y_up, z_up_to_y_up_rotations
from dancegen.skeleton.fk import global_to_local_rotations
from dancegen.skeleton.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quat,
    matrix_to_quat,
    matrix_to_rot6d,
    quat_canonical,
    quat_to_axis_angle,
    quat_to_matrix,
    quat_wxyz_to_xyzw,
    rot6d_to_matrix,
)
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.smplx import SMPLX52_JOINT_NAMES, SMPLX_PELVIS_REST, smplx52
from dancegen.skeleton.tree import Skeleton

AISTPP_FPS = 60.0  # AIST++ motions are 60 fps (Li et al., ICCV 2021)
FINEDANCE_FPS = 30.0  # FineDance motion files are 30 fps (`raw_fps` in its pre_motion.py)
FINEDANCE_DIM = 3 + 52 * 6
FINEDANCE_CONTACTS = 4  # the 319-wide feature files prepend 4 foot contacts
# Joints every SMPL-family layout shares (SMPL-24 minus its two hand joints = SMPL-X body).
_SMPL_BODY = SMPL24_JOINT_NAMES[:22]
_IDENTITY_QUAT = np.array([0.0, 0.0, 0.0, 1.0])


# --- shared helpers ----------------------------------------------------------------------


def _quats_from_matrices(matrices: np.ndarray) -> np.ndarray:
    return matrix_to_quat(torch.from_numpy(np.ascontiguousarray(matrices, dtype=np.float64))).numpy()


def _rotations_in_layout(motion: Motion, names: Sequence[str], target: str) -> np.ndarray:
    """Local rotations (T, len(names), 4) in another SMPL-family joint order.

    SMPL-24 and SMPL-X 52 share their 22 body joints; joints the motion lacks (SMPL's two hand
    joints, SMPL-X's fingers) get the identity, i.e. the template's flat hand.
    """
    if motion.skeleton.joint_names == tuple(names):
        return motion.rotations
    have = {n: i for i, n in enumerate(motion.skeleton.joint_names)}
    if not all(n in have for n in _SMPL_BODY):
        raise ArgumentError(
            "motion",
            f"skeleton {motion.skeleton.name!r} is not SMPL-family, so it cannot be saved as {target}",
            "retarget it to smpl24 first (dancegen.motion.retarget)",
        )
    out = np.broadcast_to(_IDENTITY_QUAT, (motion.num_frames, len(names), 4)).copy()
    for k, name in enumerate(names):
        if name in have:
            out[:, k] = motion.rotations[:, have[name]]
    return out


def _as_array(value: Any, path: Path, key: str, shape_hint: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputFileError(path, f"{key} is not numeric", f"expected {shape_hint}") from None
    if not np.isfinite(array).all():
        raise InputFileError(path, f"{key} contains NaN or infinite values")
    return array


# --- AIST++ ------------------------------------------------------------------------------


def read_aistpp(path: str | Path, fps: float | None = None) -> Motion:
    """An AIST++ motion `.pkl` on `smpl24()` (root = smpl_trans / smpl_scaling)."""
    path = Path(path)
    data = safe_load(path)
    if not isinstance(data, Mapping) or "smpl_poses" not in data or "smpl_trans" not in data:
        raise InputFileError(path, "not an AIST++ motion (a dict with smpl_poses and smpl_trans)")
    poses = _as_array(data["smpl_poses"], path, "smpl_poses", "(N, 72)")
    trans = _as_array(data["smpl_trans"], path, "smpl_trans", "(N, 3)")
    scaling = _as_array(data.get("smpl_scaling", 1.0), path, "smpl_scaling", "(1,)").reshape(-1)
    frames = poses.shape[0] if poses.ndim else 0
    if poses.size != frames * 72 or frames == 0:
        raise InputFileError(path, f"smpl_poses has shape {poses.shape}; expected (N, 72) with N > 0")
    if trans.shape != (frames, 3):
        raise InputFileError(path, f"smpl_trans has shape {trans.shape}; expected ({frames}, 3)")
    if scaling.size != 1 or not scaling[0] > 0:
        raise InputFileError(path, f"smpl_scaling must be one positive number, got {scaling.tolist()}")
    quats = axis_angle_to_quat(torch.from_numpy(poses.reshape(frames, 24, 3))).numpy()
    stored = _as_array(data.get("fps", AISTPP_FPS), path, "fps", "(1,)").reshape(-1)  # dancegen's files say
    if stored.size != 1 or not stored[0] > 0:
        raise InputFileError(path, f"fps must be one positive number, got {stored.tolist()}")
    return Motion(
        smpl24(),
        float(fps or stored[0]),
        quats,
        trans / scaling[0],
        metadata={"source": str(path), "format": "aist++", "smpl_scaling": float(scaling[0])},
    )


def _portable_array(array: np.ndarray):
    # Rebuild as ndarray(shape, dtype, buffer): names only `numpy.ndarray`, unlike numpy's own
    # reduce (`numpy._core...` in numpy 2, which numpy before 1.26 cannot import: EDGE-era
    # environments). A bytearray buffer keeps the loaded array writable.
    array = np.ascontiguousarray(array)
    return np.ndarray, (array.shape, array.dtype.str, bytearray(array.tobytes()))


def portable_pickle(obj: Any) -> bytes:
    """Pickle plain containers of numpy arrays so numpy 1, numpy 2 and `safe_load` all read them."""
    stream = io.BytesIO()
    pickler = pickle.Pickler(stream, protocol=4)
    pickler.dispatch_table = {np.ndarray: _portable_array}
    pickler.dump(obj)
    return stream.getvalue()


def write_aistpp(motion: Motion, path: str | Path) -> None:
    """Save as an AIST++ `.pkl` (smpl_scaling 1, so smpl_trans is the root in metres).

    AIST++ files have no frame rate: every reader (AIST++'s API, EDGE, Bailando) plays them at
    60 fps, so the motion is resampled to 60 fps first (a 30 fps dance would otherwise play at
    double speed). The rate is also stored as `fps`, a key those readers ignore.
    """
    rotations = _rotations_in_layout(motion, SMPL24_JOINT_NAMES, "AIST++ .pkl")
    if abs(motion.fps - AISTPP_FPS) > 1e-9:
        motion = motion.copy(rotations=rotations, skeleton=smpl24()).resample(AISTPP_FPS)
        rotations = motion.rotations
    poses = quat_to_axis_angle(torch.from_numpy(rotations)).numpy().reshape(motion.num_frames, 72)
    data = {
        "smpl_poses": poses.astype(np.float64),
        "smpl_trans": motion.root_translation.astype(np.float64),
        "smpl_scaling": np.array([1.0]),
        "fps": np.array([AISTPP_FPS]),
    }
    atomic_write_bytes(path, portable_pickle(data))


# --- FineDance ---------------------------------------------------------------------------


def read_finedance(path: str | Path, fps: float | None = None) -> Motion:
    """A FineDance `.npy` (T, 315) or feature file (T, 319) on `smplx52()`."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"cannot read .npy: {error}") from None
    if array.ndim != 2 or array.shape[1] not in (FINEDANCE_DIM, FINEDANCE_DIM + FINEDANCE_CONTACTS) or len(array) == 0:
        raise InputFileError(
            path,
            f"array has shape {array.shape}; a FineDance motion is (T, {FINEDANCE_DIM}) "
            f"or (T, {FINEDANCE_DIM + FINEDANCE_CONTACTS}) with contacts",
        )
    values = _as_array(array, path, "motion", f"(T, {FINEDANCE_DIM})")
    contacts = None
    if values.shape[1] > FINEDANCE_DIM:
        contacts, values = values[:, :FINEDANCE_CONTACTS], values[:, FINEDANCE_CONTACTS:]
    frames = len(values)
    matrices = rot6d_to_matrix(torch.from_numpy(values[:, 3:].reshape(frames, 52, 6))).numpy()
    return Motion(
        smplx52(),
        float(fps or FINEDANCE_FPS),
        _quats_from_matrices(matrices),
        values[:, :3] + SMPLX_PELVIS_REST,
        contacts=contacts,
        metadata={"source": str(path), "format": "finedance"},
    )


def write_finedance(motion: Motion, path: str | Path) -> None:
    """Save as a FineDance (T, 315) `.npy`: SMPL-X transl + 52 x 6D, float32.

    A bare array has no frame rate and FineDance's code plays every file at 30 fps, so the
    motion is resampled to 30 fps first (as `write_aistpp` does to AIST++'s 60).
    """
    rotations = _rotations_in_layout(motion, SMPLX52_JOINT_NAMES, "FineDance .npy")
    if abs(motion.fps - FINEDANCE_FPS) > 1e-9:
        motion = motion.copy(rotations=rotations, skeleton=smplx52()).resample(FINEDANCE_FPS)
        rotations = motion.rotations
    rot6d = matrix_to_rot6d(quat_to_matrix(torch.from_numpy(rotations))).numpy()
    transl = motion.root_translation - SMPLX_PELVIS_REST
    array = np.concatenate([transl, rot6d.reshape(motion.num_frames, -1)], axis=1).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


# --- DeepMimic ---------------------------------------------------------------------------

# humanoid3d character (github.com/xbpeng/DeepMimic data/characters/humanoid3d.txt, joints'
# AttachX/Y/Z): metres, y-up, facing +x, right side +z. Wrists are fixed joints (no data).
DEEPMIMIC_JOINTS = (
    ("root", -1, (0.0, 0.0, 0.0)),
    ("chest", 0, (0.0, 0.236151, 0.0)),
    ("neck", 1, (0.0, 0.223894, 0.0)),
    ("right_hip", 0, (0.0, 0.0, 0.084887)),
    ("right_knee", 3, (0.0, -0.421546, 0.0)),
    ("right_ankle", 4, (0.0, -0.409870, 0.0)),
    ("right_shoulder", 1, (-0.02405, 0.24350, 0.18311)),
    ("right_elbow", 6, (0.0, -0.274788, 0.0)),
    ("right_wrist", 7, (0.0, -0.258947, 0.0)),
    ("left_hip", 0, (0.0, 0.0, -0.084887)),
    ("left_knee", 9, (0.0, -0.421546, 0.0)),
    ("left_ankle", 10, (0.0, -0.409870, 0.0)),
    ("left_shoulder", 1, (-0.02405, 0.24350, -0.18311)),
    ("left_elbow", 12, (0.0, -0.274788, 0.0)),
    ("left_wrist", 13, (0.0, -0.258947, 0.0)),
)
# Frame layout after [dt, root position, root quaternion]: (joint, 4 = quaternion | 1 = angle
# about z, DeepMimic's revolute axis).
DEEPMIMIC_FRAME_LAYOUT = (
    ("chest", 4),
    ("neck", 4),
    ("right_hip", 4),
    ("right_knee", 1),
    ("right_ankle", 4),
    ("right_shoulder", 4),
    ("right_elbow", 1),
    ("left_hip", 4),
    ("left_knee", 1),
    ("left_ankle", 4),
    ("left_shoulder", 4),
    ("left_elbow", 1),
)
DEEPMIMIC_FRAME_SIZE = 1 + 3 + 4 + sum(size for _, size in DEEPMIMIC_FRAME_LAYOUT)


# The character has no head joint; the top of its head sphere (the "neck" body: centre 0.175 m
# above the joint, diameter 0.205 m, same file's BodyDefs) is kept as the neck's End Site.
DEEPMIMIC_HEAD_TOP = np.array([0.0, 0.175 + 0.205 / 2, 0.0])


def deepmimic_humanoid() -> Skeleton:
    names, parents, offsets = zip(*DEEPMIMIC_JOINTS)
    return Skeleton(
        "deepmimic_humanoid3d", names, parents, np.array(offsets), {names.index("neck"): DEEPMIMIC_HEAD_TOP.copy()}
    )


def read_deepmimic(path: str | Path, fps: float | None = None) -> Motion:
    """A DeepMimic motion `.txt` (JSON) on `deepmimic_humanoid()`."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        raise InputFileError(path, f"not valid JSON ({getattr(error, 'msg', error)})", line=line) from None
    frames = data.get("Frames") if isinstance(data, dict) else None
    if not isinstance(frames, list) or not frames:
        raise InputFileError(path, "not a DeepMimic motion (a JSON object with a non-empty 'Frames' list)")
    for i, frame in enumerate(frames):
        if not isinstance(frame, list) or len(frame) != DEEPMIMIC_FRAME_SIZE:
            size = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise InputFileError(path, f"frame {i} has {size} values; the humanoid3d layout has {DEEPMIMIC_FRAME_SIZE}")
    values = _as_array(frames, path, "Frames", f"lists of {DEEPMIMIC_FRAME_SIZE} numbers")

    skeleton = deepmimic_humanoid()
    count = len(values)
    quats = np.broadcast_to(_IDENTITY_QUAT, (count, skeleton.num_joints, 4)).copy()
    quats[:, 0] = quat_wxyz_to_xyzw(torch.from_numpy(values[:, 4:8])).numpy()
    column = 8
    for name, size in DEEPMIMIC_FRAME_LAYOUT:
        joint = skeleton.index(name)
        if size == 4:
            quats[:, joint] = quat_wxyz_to_xyzw(torch.from_numpy(values[:, column : column + 4])).numpy()
        else:
            half = values[:, column] / 2
            quats[:, joint] = np.stack([np.zeros(count), np.zeros(count), np.sin(half), np.cos(half)], axis=-1)
        column += size
    quats /= np.linalg.norm(quats, axis=-1, keepdims=True)
    if fps is None:
        # Each frame's first value is its duration; the last frame's may be 0 (end of clip).
        durations = values[:, 0][values[:, 0] > 0]
        if durations.size == 0:
            raise InputFileError(path, "no frame has a positive duration", "pass the frame rate with fps=")
        fps = fps_from_frame_time(float(np.median(durations)))
    return Motion(
        skeleton,
        float(fps),
        quats,
        values[:, 1:4],
        metadata={"source": str(path), "format": "deepmimic", "loop": str(data.get("Loop", ""))},
    )


# --- AMP / poselib -----------------------------------------------------------------------


def _poselib_array(container: Any, key: str, path: Path) -> np.ndarray:
    value = container.get(key) if isinstance(container, Mapping) else None
    if isinstance(value, Mapping):  # poselib wraps tensors as {"arr": ndarray, "context": ...}
        value = value.get("arr")
    if value is None:
        raise InputFileError(path, f"poselib motion has no {key!r}")
    return _as_array(value, path, key, "an array")


def read_amp(path: str | Path, fps: float | None = None) -> Motion:
    """An IsaacGym AMP poselib `SkeletonMotion` `.npy`, converted from z-up to y-up."""
    path = Path(path)
    data = safe_load(path)
    if isinstance(data, np.ndarray) and data.dtype == object and data.shape == ():
        data = data.item()
    if not isinstance(data, Mapping) or "skeleton_tree" not in data or "rotation" not in data:
        raise InputFileError(path, "not a poselib SkeletonMotion (a dict with rotation and skeleton_tree)")
    tree = data["skeleton_tree"]
    names = list(tree.get("node_names", [])) if isinstance(tree, Mapping) else []
    parents = _poselib_array(tree, "parent_indices", path).astype(np.int64)
    offsets = _poselib_array(tree, "local_translation", path)
    rotations = _poselib_array(data, "rotation", path)
    root = _poselib_array(data, "root_translation", path)
    joints = len(names)
    if (
        rotations.ndim != 3
        or rotations.shape[1:] != (joints, 4)
        or root.shape != (len(rotations), 3)
        or parents.shape != (joints,)
        or offsets.shape != (joints, 3)
        or joints == 0
    ):
        raise InputFileError(
            path,
            f"inconsistent poselib arrays: {joints} node names, rotation {rotations.shape}, "
            f"root_translation {root.shape}, parent_indices {parents.shape}, local_translation {offsets.shape}",
        )
    matrices = quat_to_matrix(torch.from_numpy(rotations)).numpy()
    if not bool(data.get("is_local", True)):
        matrices = global_to_local_rotations(torch.from_numpy(matrices), parents.tolist()).numpy()
    # Re-expressing the world in y-up conjugates every local rotation and rotates every offset.
    try:
        skeleton = Skeleton(path.stem, [str(n) for n in names], parents.tolist(), z_up_to_y_up(offsets))
    except ValueError as error:
        raise InputFileError(path, f"bad skeleton tree: {error}") from None
    if fps is None:
        fps = float(np.asarray(data.get("fps", 0)).reshape(-1)[0]) if "fps" in data else 0.0
        if not fps > 0:
            raise InputFileError(path, "poselib motion has no positive fps", "pass the frame rate with fps=")
    return Motion(
        skeleton,
        float(fps),
        _quats_from_matrices(z_up_to_y_up_rotations(matrices)),
        z_up_to_y_up(root),
        metadata={"source": str(path), "format": "amp_poselib", "up_axis_in_file": "z"},
    )


# --- SMPL parameters (.npz) ----------------------------------------------------------------


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
    frames = poses.shape[0] if poses.ndim else 0
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
