import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from export_helpers import make_dance
from dancegen.errors import InputFileError
from dancegen.export.gltf import motion_to_glb, write_glb
from dancegen.motion.glb import GLB_MAGIC, load_glb, read_glb
from dancegen.skeleton.tree import Skeleton

HERE = Path(__file__).resolve().parent


def test_round_trip_matches_the_motion(dance, tmp_path):
    path = write_glb(dance, tmp_path / "dance.glb")
    back = load_glb(path)
    assert back.skeleton.joint_names == dance.skeleton.joint_names
    assert back.skeleton.parents == dance.skeleton.parents
    np.testing.assert_allclose(back.skeleton.offsets, dance.skeleton.offsets, atol=1e-7)
    assert back.fps == dance.fps and back.num_frames == dance.num_frames
    assert back.metadata == dance.metadata
    np.testing.assert_allclose(back.joint_positions(), dance.joint_positions(), atol=2e-6)


def test_52_joint_round_trip(hands_dance, tmp_path):
    back = load_glb(write_glb(hands_dance, tmp_path / "hands.glb"))
    assert back.num_joints == 52
    np.testing.assert_allclose(back.joint_positions(), hands_dance.joint_positions(), atol=2e-6)


def test_container_and_document_layout(dance):
    data = motion_to_glb(dance)
    magic, version, total = struct.unpack_from("<III", data)
    assert (magic, version, total) == (GLB_MAGIC, 2, len(data))
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_length % 4 == 0
    document = json.loads(data[20:20 + json_length])
    joints = dance.num_joints
    assert [n["name"] for n in document["nodes"][:joints]] == list(dance.skeleton.joint_names)
    assert document["skins"][0]["joints"] == list(range(joints))
    animation = document["animations"][0]
    paths = [(c["target"]["node"], c["target"]["path"]) for c in animation["channels"]]
    assert paths == [(j, "rotation") for j in range(joints)] + [(0, "translation")]
    times = document["accessors"][animation["samplers"][0]["input"]]
    assert times["min"] == [0.0] and times["max"][0] == pytest.approx((dance.num_frames - 1) / dance.fps)


def test_inverse_bind_matrices_undo_the_rest_pose(dance, tmp_path):
    glb = read_glb(write_glb(dance, tmp_path / "d.glb"))
    matrices = glb.accessor(glb.document["skins"][0]["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    rest = dance.skeleton.rest_positions()
    homogeneous = np.concatenate([rest, np.ones((len(rest), 1))], axis=1)
    np.testing.assert_allclose(np.einsum("jab,jb->ja", matrices, homogeneous)[:, :3], 0.0, atol=1e-6)


def test_reader_orders_parents_first_for_foreign_files(tmp_path):
    # A two-joint skeleton whose skin lists the child before the root (allowed by glTF).
    skeleton = Skeleton("pair", ("root", "tip"), (-1, 0), np.array([[0, 0, 0], [0, 0.5, 0]]))
    motion = make_dance(skeleton, frames=5, fps=10.0)
    glb = read_glb(write_glb(motion, tmp_path / "pair.glb"))
    document = glb.document
    document["skins"][0]["joints"] = [1, 0]
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    binary = glb.binary
    blob = struct.pack("<III", GLB_MAGIC, 2, 28 + len(text) + len(binary))
    blob += struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(binary), 0x004E4942) + binary
    (tmp_path / "swapped.glb").write_bytes(blob)
    back = load_glb(tmp_path / "swapped.glb")
    assert back.skeleton.joint_names == ("root", "tip") and back.skeleton.parents == (-1, 0)
    np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=2e-6)


@pytest.mark.parametrize("content, problem", [
    (b"not a glb at all, just text", "bad magic"),
    (struct.pack("<III", GLB_MAGIC, 2, 999) + b"\0" * 8, "truncated"),
    (struct.pack("<III", GLB_MAGIC, 1, 20) + b"\0" * 8, "version 1"),
])
def test_bad_files_raise_one_line(tmp_path, content, problem):
    path = tmp_path / "bad.glb"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=problem) as error:
        load_glb(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_khronos_validator_finds_no_issue(dance, hands_dance, tmp_path, node_packages):
    for motion in (dance, hands_dance):
        path = write_glb(motion, tmp_path / f"{motion.skeleton.name}.glb")
        script = (
            "const v = require('gltf-validator'); const fs = require('fs');"
            f"v.validateBytes(new Uint8Array(fs.readFileSync({json.dumps(str(path))})))"
            ".then(r => console.log(JSON.stringify(r.issues)));"
        )
        done = subprocess.run(["node", "-e", script], cwd=node_packages, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        issues = json.loads(done.stdout)
        assert (issues["numErrors"], issues["numWarnings"]) == (0, 0), issues["messages"]


def test_threejs_gltfloader_plays_the_same_pose(dance, tmp_path, node_packages):
    path = write_glb(dance, tmp_path / "dance.glb")
    frames = [0, 7, dance.num_frames - 1]
    times = [str(f / dance.fps) for f in frames]
    done = subprocess.run(["node", str(HERE / "three_import.mjs"), str(node_packages), str(path), *times],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert loaded["bones"] == list(dance.skeleton.joint_names)
    assert loaded["skinnedMeshes"] == 1 and loaded["vertices"] > 0
    assert loaded["clip"]["name"] == "dance" and loaded["clip"]["tracks"] == dance.num_joints + 1
    assert loaded["clip"]["duration"] == pytest.approx((dance.num_frames - 1) / dance.fps, abs=1e-6)
    expected = dance.joint_positions()[frames]
    np.testing.assert_allclose(np.array(loaded["positions"]), expected, atol=1e-5)
