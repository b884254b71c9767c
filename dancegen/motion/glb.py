"""Reading glTF 2.0 binary (`.glb`) files as a `Motion`, and the container layout they share
with the writer (`dancegen.export.gltf`, whose docstring says what dancegen puts in the file).

The skeleton is the skin's joint tree (else the first node tree in the scene), the motion is the
first animation, and `scenes[0].extras.dancegen` (fps, skeleton name, metadata), when present,
makes a file dancegen wrote reload losslessly. Spec:
https://registry.khronos.org/glTF/specs/2.0/glTF-2.0.html
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
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import quat_canonical, quat_normalize, quat_slerp
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
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
FALLBACK_FPS = 30.0  # a foreign file with one key and no stored fps has no spacing to measure


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
