"""glTF 2.0 binary (`.glb`) export of a `Motion`; `dancegen.motion.glb` reads such files back.

What the file holds (glTF 2.0 spec, https://registry.khronos.org/glTF/specs/2.0/glTF-2.0.html):
- one node per joint, named after it, nested as the skeleton is; each node's rest translation is
  the joint's offset from its parent and its rest rotation is identity, so that the node tree at
  rest *is* the skeleton's rest pose (glTF and dancegen agree: y-up, metres, right-handed);
- one animation, "dance": a LINEAR rotation sampler per joint and a translation sampler for the
  root, keyed at frame times i / fps in seconds (quaternions are (x, y, z, w) in both worlds);
- a skin over the joints and a stick-figure mesh (one flat-shaded octahedron per bone, rigidly
  bound to its parent joint), so that Blender imports an armature and three.js shows something;
- `scenes[0].extras.dancegen`: fps, skeleton name and the motion's metadata, for a lossless reload;
- `scenes[0].extras` and `animations[0].extras`: `fps`, `frame_count`, `duration_s` (glTF itself
  has no frame rate; see `_timing` for what Blender does with them).

Only numpy and struct: the binary layout is small enough to write by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dancegen.fileio import atomic_write_bytes
from dancegen.motion.glb import (
    CHUNK_BIN,
    CHUNK_HEADER,
    CHUNK_JSON,
    COMPONENT_DTYPES,
    GLB_HEADER,
    GLB_MAGIC,
    GLB_VERSION,
)
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import quat_make_continuous, quat_normalize
from dancegen.skeleton.tree import Skeleton

DTYPE_COMPONENTS = {np.dtype(dtype): code for code, dtype in COMPONENT_DTYPES.items()}
ARRAY_BUFFER = 34962  # bufferView.target for vertex attributes

# Stick-figure look: each bone is an octahedron whose widest ring sits BONE_RING_AT along it,
# BONE_WIDTH_RATIO of its length wide, clamped so long bones do not look bloated.
BONE_RING_AT = 0.15
BONE_WIDTH_RATIO = 0.12
BONE_WIDTH_RANGE_M = (0.004, 0.035)
BONE_COLOR = (0.94, 0.70, 0.37, 1.0)
ANIMATION_NAME = "dance"
GENERATOR = "dancegen"


class _BinaryBuilder:
    """Accumulates the BIN chunk: one buffer view per accessor, each 4-byte aligned."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.buffer_views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        array = np.ascontiguousarray(array)
        code = DTYPE_COMPONENTS[array.dtype]
        count = array.shape[0]
        self.data.extend(b"\0" * (-len(self.data) % 4))
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.data), "byteLength": array.nbytes}
        if target is not None:
            view["target"] = target
        self.data.extend(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
        self.buffer_views.append(view)
        accessor: dict[str, Any] = {
            "bufferView": len(self.buffer_views) - 1, "componentType": code, "count": count, "type": kind,
        }
        if bounds:
            flat = array.reshape(count, -1)
            accessor["min"] = [float(v) for v in flat.min(axis=0)]
            accessor["max"] = [float(v) for v in flat.max(axis=0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _perpendicular_basis(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([1.0, 0.0, 0.0]) if abs(direction[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    a = np.cross(direction, helper)
    a /= np.linalg.norm(a)
    return a, np.cross(direction, a)


def _bone_triangles(head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Eight outward-facing triangles (8, 3, 3) of an octahedral bone from `head` to `tail`."""
    axis = tail - head
    length = float(np.linalg.norm(axis))
    direction = axis / length
    width = float(np.clip(BONE_WIDTH_RATIO * length, *BONE_WIDTH_RANGE_M))
    a, b = _perpendicular_basis(direction)
    center = head + BONE_RING_AT * axis
    ring = [center + width * v for v in (a, b, -a, -b)]
    triangles = []
    for k in range(4):
        r0, r1 = ring[k], ring[(k + 1) % 4]
        triangles += [(head, r1, r0), (tail, r0, r1)]
    triangles = np.array(triangles)
    # Orient each face away from the bone's axis.
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    centers = triangles.mean(axis=1)
    on_axis = head + np.outer((centers - head) @ direction, direction)
    flip = np.einsum("ij,ij->i", normals, centers - on_axis) < 0
    triangles[flip] = triangles[flip][:, ::-1]
    return triangles


def _stick_figure(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rest-pose stick figure: (positions (V, 3), normals (V, 3), bound joint (V,))."""
    rest = skeleton.rest_positions()
    faces, joints = [], []
    for child, parent in enumerate(skeleton.parents):
        if parent < 0 or np.linalg.norm(rest[child] - rest[parent]) < 1e-6:
            continue
        triangles = _bone_triangles(rest[parent], rest[child])
        faces.append(triangles)
        joints.append(np.full(triangles.shape[0] * 3, parent))
    if not faces:  # a one-joint skeleton has no bones: nothing to draw
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    triangles = np.concatenate(faces)
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return triangles.reshape(-1, 3), np.repeat(normals, 3, axis=0), np.concatenate(joints)


def _continuous_quaternions(rotations: np.ndarray) -> np.ndarray:
    # glTF LINEAR rotation keys are slerped as stored; keep neighbours in one hemisphere so no
    # importer takes the long way round between two frames.
    quats = quat_make_continuous(quat_normalize(torch.from_numpy(rotations)), dim=0)
    return quats.numpy().astype(np.float32)


def motion_to_glb(motion: Motion) -> bytes:
    """Encode a motion as the bytes of a `.glb` file."""
    skeleton = motion.skeleton
    binary = _BinaryBuilder()
    joint_count = skeleton.num_joints

    nodes: list[dict[str, Any]] = []
    for joint, name in enumerate(skeleton.joint_names):
        node: dict[str, Any] = {"name": name}
        # The root's rest translation is its rest position; the animation moves it from there.
        node["translation"] = [float(v) for v in skeleton.offsets[joint]]
        children = skeleton.children(joint)
        if children:
            node["children"] = children
        nodes.append(node)

    # Skin: bind pose = rest pose, whose joint transforms are pure translations.
    rest = skeleton.rest_positions()
    inverse_bind = np.tile(np.eye(4), (joint_count, 1, 1))
    inverse_bind[:, :3, 3] = -rest
    inverse_bind_accessor = binary.add(inverse_bind.transpose(0, 2, 1).reshape(joint_count, 16).astype(np.float32), "MAT4")
    skins = [{"name": skeleton.name, "joints": list(range(joint_count)), "skeleton": 0,
              "inverseBindMatrices": inverse_bind_accessor}]

    meshes: list[dict[str, Any]] = []
    scene_nodes = [0]
    positions, normals, bound = _stick_figure(skeleton)
    if len(positions):
        joint_indices = np.zeros((len(bound), 4), dtype=np.uint8 if joint_count <= 256 else np.uint16)
        joint_indices[:, 0] = bound
        weights = np.zeros((len(bound), 4), dtype=np.float32)
        weights[:, 0] = 1.0
        attributes = {
            "POSITION": binary.add(positions.astype(np.float32), "VEC3", ARRAY_BUFFER, bounds=True),
            "NORMAL": binary.add(normals.astype(np.float32), "VEC3", ARRAY_BUFFER),
            "JOINTS_0": binary.add(joint_indices, "VEC4", ARRAY_BUFFER),
            "WEIGHTS_0": binary.add(weights, "VEC4", ARRAY_BUFFER),
        }
        meshes.append({"name": "stick_figure", "primitives": [{"attributes": attributes, "material": 0}]})
        nodes.append({"name": "stick_figure", "mesh": 0, "skin": 0})
        scene_nodes.append(len(nodes) - 1)

    times = (np.arange(motion.num_frames) / motion.fps).astype(np.float32)
    time_accessor = binary.add(times, "SCALAR", bounds=True)
    quaternions = _continuous_quaternions(motion.rotations)
    samplers, channels = [], []
    for joint in range(joint_count):
        output = binary.add(quaternions[:, joint], "VEC4")
        samplers.append({"input": time_accessor, "output": output, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": joint, "path": "rotation"}})
    output = binary.add(motion.root_translation.astype(np.float32), "VEC3")
    samplers.append({"input": time_accessor, "output": output, "interpolation": "LINEAR"})
    channels.append({"sampler": len(samplers) - 1, "target": {"node": 0, "path": "translation"}})

    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{
            "name": skeleton.name,
            "nodes": scene_nodes,
            "extras": {**_timing(motion), "dancegen": {"fps": float(motion.fps), "skeleton": skeleton.name,
                                                      "metadata": motion.metadata}},
        }],
        "nodes": nodes,
        "skins": skins,
        "animations": [{"name": ANIMATION_NAME, "samplers": samplers, "channels": channels, "extras": _timing(motion)}],
        "accessors": binary.accessors,
        "bufferViews": binary.buffer_views,
        "buffers": [{"byteLength": len(binary.data) + (-len(binary.data) % 4)}],
    }
    if meshes:
        document["meshes"] = meshes
        document["materials"] = [{
            "name": "bone",
            "pbrMetallicRoughness": {"baseColorFactor": list(BONE_COLOR), "metallicFactor": 0.0, "roughnessFactor": 0.6},
        }]
    return _pack_glb(document, bytes(binary.data))


def _timing(motion: Motion) -> dict[str, Any]:
    """The frame rate and frame count, as plain extras. glTF keys times in seconds and has no
    frame rate; Blender's importer turns seconds into frames at the scene's current rate (24 by
    default) and copies scene extras into scene custom properties, so `fps` shows there. To
    open a dance at its own rate, set the scene's frame rate to `fps` before importing (the
    README's Blender snippet reads it from the file)."""
    return {"fps": float(motion.fps), "frame_count": int(motion.num_frames), "duration_s": float(motion.duration)}


def _pack_glb(document: dict[str, Any], binary: bytes) -> bytes:
    text = json.dumps(document, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)  # the JSON chunk pads with spaces, the BIN chunk with zeros
    binary += b"\0" * (-len(binary) % 4)
    total = GLB_HEADER.size + 2 * CHUNK_HEADER.size + len(text) + len(binary)
    return b"".join([
        GLB_HEADER.pack(GLB_MAGIC, GLB_VERSION, total),
        CHUNK_HEADER.pack(len(text), CHUNK_JSON), text,
        CHUNK_HEADER.pack(len(binary), CHUNK_BIN), binary,
    ])


def write_glb(motion: Motion, path: str | Path) -> Path:
    """Write `motion` to `path` as a `.glb`, atomically."""
    path = Path(path)
    atomic_write_bytes(path, motion_to_glb(motion))
    return path
