"""glTF 2.0 binary (`.glb`) export of a `Motion`, and a reader that imports it back.

What the file holds (glTF 2.0 spec, https://registry.khronos.org/glTF/specs/2.0/glTF-2.0.html):
- one node per joint, named after it, nested as the skeleton is; each node's rest translation is
  the joint's offset from its parent and its rest rotation is identity, so that the node tree at
  rest *is* the skeleton's rest pose (glTF and dancegen agree: y-up, metres, right-handed);
- one animation, "dance": a LINEAR rotation sampler per joint and a translation sampler for the
  root, keyed at frame times i / fps in seconds (quaternions are (x, y, z, w) in both worlds);
- a skin over the joints and a stick-figure mesh (one flat-shaded octahedron per bone, rigidly
  bound to its parent joint), so that Blender imports an armature and three.js shows something;
- `scenes[0].extras.dancegen`: fps, skeleton name and the motion's metadata, for a lossless reload.

Only numpy and struct: the binary layout is small enough to write by hand.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dancegen.errors import InputFileError
from dancegen.fileio import atomic_write_bytes
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import quat_canonical, quat_make_continuous, quat_normalize, quat_slerp
from dancegen.skeleton.tree import Skeleton

# GLB container constants (glTF 2.0 spec, section "Binary glTF Layout").
GLB_MAGIC = 0x46546C67  # b"glTF" little-endian
GLB_VERSION = 2
CHUNK_JSON = 0x4E4F534A  # b"JSON"
CHUNK_BIN = 0x004E4942  # b"BIN\0"
GLB_HEADER = struct.Struct("<III")  # magic, version, total length
CHUNK_HEADER = struct.Struct("<II")  # chunk length, chunk type

# Accessor component types and element sizes (spec, "Accessor Data Types").
COMPONENT_DTYPES = {
    5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32,
}
DTYPE_COMPONENTS = {np.dtype(dtype): code for code, dtype in COMPONENT_DTYPES.items()}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
ARRAY_BUFFER = 34962  # bufferView.target for vertex attributes

# Stick-figure look: each bone is an octahedron whose widest ring sits BONE_RING_AT along it,
# BONE_WIDTH_RATIO of its length wide, clamped so long bones do not look bloated.
BONE_RING_AT = 0.15
BONE_WIDTH_RATIO = 0.12
BONE_WIDTH_RANGE_M = (0.004, 0.035)
BONE_COLOR = (0.94, 0.70, 0.37, 1.0)
ANIMATION_NAME = "dance"
FALLBACK_FPS = 30.0  # a foreign file with one key and no stored fps has no spacing to measure
GENERATOR = "dancegen"


# --- writing ------------------------------------------------------------------------------

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
            "extras": {"dancegen": {"fps": float(motion.fps), "skeleton": skeleton.name, "metadata": motion.metadata}},
        }],
        "nodes": nodes,
        "skins": skins,
        "animations": [{"name": ANIMATION_NAME, "samplers": samplers, "channels": channels}],
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


# --- reading ------------------------------------------------------------------------------

@dataclass
class GlbFile:
    """A parsed `.glb`: its JSON document and its BIN chunk."""

    path: Path
    document: dict[str, Any]
    binary: bytes

    def accessor(self, index: int) -> np.ndarray:
        """The accessor's elements as a (count, components) array (count,) for scalars."""
        accessor = self.document["accessors"][index]
        dtype = np.dtype(COMPONENT_DTYPES[accessor["componentType"]]).newbyteorder("<")
        width = TYPE_SIZES[accessor["type"]]
        count = accessor["count"]
        if "bufferView" not in accessor:  # spec: an accessor without a view is all zeros
            return np.zeros((count, width) if width > 1 else count, dtype=dtype)
        view = self.document["bufferViews"][accessor["bufferView"]]
        if view.get("buffer", 0) != 0:
            raise InputFileError(self.path, "refers to an external buffer", "only self-contained .glb files are supported")
        start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
        stride = view.get("byteStride") or dtype.itemsize * width
        rows = np.lib.stride_tricks.as_strided(
            np.frombuffer(self.binary, dtype=np.uint8, offset=start, count=max(0, (count - 1) * stride + dtype.itemsize * width)),
            shape=(count, dtype.itemsize * width), strides=(stride, 1),
        )
        values = np.ascontiguousarray(rows).view(dtype).reshape(count, width)
        return values[:, 0] if width == 1 else values


def read_glb(path: str | Path) -> GlbFile:
    """Parse the container of a `.glb` file (header, JSON chunk, BIN chunk)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    data = path.read_bytes()
    if len(data) < GLB_HEADER.size + CHUNK_HEADER.size:
        raise InputFileError(path, "too short to be a .glb file")
    magic, version, total = GLB_HEADER.unpack_from(data)
    if magic != GLB_MAGIC:
        raise InputFileError(path, "not a binary glTF file (bad magic)", "export .glb, not .gltf")
    if version != GLB_VERSION:
        raise InputFileError(path, f"glTF version {version} is not supported", "use glTF 2.0")
    if total != len(data):
        raise InputFileError(path, f"header says {total} bytes but the file has {len(data)}", "the file is truncated")
    document, binary, offset = None, b"", GLB_HEADER.size
    while offset + CHUNK_HEADER.size <= len(data):
        length, kind = CHUNK_HEADER.unpack_from(data, offset)
        chunk = data[offset + CHUNK_HEADER.size: offset + CHUNK_HEADER.size + length]
        if kind == CHUNK_JSON and document is None:
            try:
                document = json.loads(chunk.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise InputFileError(path, "the JSON chunk is not valid JSON") from None
        elif kind == CHUNK_BIN:
            binary = chunk
        offset += CHUNK_HEADER.size + length
    if not isinstance(document, dict):
        raise InputFileError(path, "no JSON chunk")
    return GlbFile(path, document, binary)


def _joint_nodes(glb: GlbFile) -> tuple[list[int], list[int]]:
    """The skeleton's node indices, parents first, and each one's parent position in that list."""
    document = glb.document
    nodes = document.get("nodes", [])
    parent_of = {child: index for index, node in enumerate(nodes) for child in node.get("children", [])}
    if document.get("skins"):
        joints = list(document["skins"][0]["joints"])
    else:
        # No skin: take the animated node tree (the first scene root that has children).
        scene = document.get("scenes", [{}])[document.get("scene", 0)]
        roots = [n for n in scene.get("nodes", []) if "mesh" not in nodes[n]]
        if not roots:
            raise InputFileError(glb.path, "has no skeleton (no skin and no node tree)")
        joints, stack = [], [roots[0]]
        while stack:
            joints.append(stack.pop())
            stack.extend(reversed(nodes[joints[-1]].get("children", [])))
    position = {node: i for i, node in enumerate(joints)}
    roots = [node for node in joints if parent_of.get(node) not in position]
    if len(roots) != 1:
        raise InputFileError(glb.path, f"the skeleton has {len(roots)} root joints", "export one connected skeleton")
    # Reorder depth-first from the root when a child comes before its parent.
    if any(position[parent_of[n]] > position[n] for n in joints if n != roots[0]):
        ordered, stack = [], [roots[0]]
        while stack:
            ordered.append(stack.pop())
            stack.extend(reversed([c for c in nodes[ordered[-1]].get("children", []) if c in position]))
        joints, position = ordered, {node: i for i, node in enumerate(ordered)}
    parents = [-1 if n == roots[0] else position[parent_of[n]] for n in joints]
    return joints, parents


def _sample_channel(times: np.ndarray, keys: np.ndarray, values: np.ndarray, interpolation: str, rotation: bool) -> np.ndarray:
    """Evaluate one animation sampler at `times` (LINEAR/STEP; CUBICSPLINE uses its key values)."""
    if interpolation == "CUBICSPLINE":
        values = values[1::3]  # (in-tangent, value, out-tangent) triplets: keep the values
    if len(keys) == 1:
        return np.repeat(values[:1], len(times), axis=0)
    upper = np.clip(np.searchsorted(keys, times, side="right"), 1, len(keys) - 1)
    lower = upper - 1
    weight = np.clip((times - keys[lower]) / np.maximum(keys[upper] - keys[lower], 1e-12), 0.0, 1.0)
    if interpolation == "STEP":
        weight = (weight >= 1.0).astype(np.float64)
    if not rotation:
        return values[lower] * (1 - weight)[:, None] + values[upper] * weight[:, None]
    q = torch.from_numpy(values.astype(np.float64))
    return quat_slerp(q[lower], q[upper], torch.from_numpy(weight)).numpy()


def load_glb(path: str | Path) -> Motion:
    """Import a `.glb` written by `write_glb` (or any glTF skeleton animation) as a `Motion`.

    The skeleton is the skin's joint tree (else the first node tree); offsets are the nodes' rest
    translations, which must carry no scale. Frames are sampled at the stored fps (else from the
    spacing of the first animation's keys).
    """
    glb = read_glb(path)
    document = glb.document
    nodes = document.get("nodes", [])
    joints, parents = _joint_nodes(glb)
    offsets = np.array([nodes[n].get("translation", [0.0, 0.0, 0.0]) for n in joints], dtype=np.float64)
    rest_rotations = np.array([nodes[n].get("rotation", [0.0, 0.0, 0.0, 1.0]) for n in joints], dtype=np.float64)
    names = [nodes[n].get("name") or f"joint{i}" for i, n in enumerate(joints)]
    extras = (document.get("scenes") or [{}])[document.get("scene", 0)].get("extras", {}).get("dancegen", {})

    animations = document.get("animations") or []
    if not animations:
        raise InputFileError(glb.path, "has no animation", "export the motion with its animation")
    animation = animations[0]
    samplers = animation["samplers"]
    key_times = glb.accessor(samplers[0]["input"]).astype(np.float64)
    if extras.get("fps"):
        fps = float(extras["fps"])
    elif len(key_times) > 1:
        fps = float(1.0 / np.median(np.diff(key_times)))
    else:
        fps = FALLBACK_FPS
    end = max(float(glb.accessor(s["input"]).max()) for s in samplers)
    frame_times = np.arange(int(round(end * fps)) + 1) / fps

    rotations = np.repeat(rest_rotations[None], len(frame_times), axis=0)
    root_translation = np.repeat(offsets[None, 0], len(frame_times), axis=0)
    index_of = {node: i for i, node in enumerate(joints)}
    for channel in animation["channels"]:
        node, target = channel["target"].get("node"), channel["target"]["path"]
        if node not in index_of or target not in ("rotation", "translation"):
            continue
        sampler = samplers[channel["sampler"]]
        keys = glb.accessor(sampler["input"]).astype(np.float64)
        values = glb.accessor(sampler["output"]).astype(np.float64)
        interpolation = sampler.get("interpolation", "LINEAR")
        sampled = _sample_channel(frame_times, keys, values, interpolation, rotation=target == "rotation")
        joint = index_of[node]
        if target == "rotation":
            rotations[:, joint] = sampled
        elif joint == 0:
            root_translation = sampled
    rotations = quat_canonical(quat_normalize(torch.from_numpy(rotations))).numpy()
    skeleton = Skeleton(extras.get("skeleton") or "gltf", names, parents, offsets)
    return Motion(skeleton, fps, rotations, root_translation, metadata=extras.get("metadata", {}))
