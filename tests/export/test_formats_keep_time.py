"""Every export format, re-imported: the same dance for the same number of seconds.

A format without a frame rate (AIST++ `.pkl`: 60 fps by convention, FineDance `.npy`: 30) is
resampled to its rate on writing, so a reader that assumes the rate plays it at the right speed.
glTF has no frame rate either: it keys in seconds; what Blender makes of that is tested in Blender.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from export_helpers import make_dance, read_page_data

from dancegen.export import export_motion
from dancegen.motion import fbx
from dancegen.motion.io import load_motion
from dancegen.motion.motion import Motion
from dancegen.skeleton.smplx import smplx52

# What each format's numbers keep of a pose, in metres on the figure.
TOLERANCE = {".bvh": 1e-4, ".npz": 1e-9, ".pkl": 1e-9, ".npy": 1e-5, ".glb": 1e-5, ".fbx": 1e-3}
NATIVE_FPS = {".pkl": 60.0, ".npy": 30.0}  # formats that store no rate: resampled to their dataset's


def _expected(motion: Motion, ext: str) -> Motion:
    return motion.resample(NATIVE_FPS[ext]) if ext in NATIVE_FPS else motion


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0])
@pytest.mark.parametrize("ext", [".bvh", ".npz", ".pkl", ".npy", ".glb", ".fbx"])
def test_every_format_reimports_with_its_duration_and_pose(tmp_path, ext, fps):
    if ext == ".fbx" and not fbx.fbx_available():
        pytest.skip(f"Blender's bpy is not installed ({fbx.INSTALL_HINT})")
    skeleton = smplx52() if ext == ".npy" else None
    motion = make_dance(skeleton, frames=int(1.5 * fps), fps=fps)
    [written] = export_motion(motion, tmp_path / f"dance{ext}")
    loaded = load_motion(written)  # no fps override: the file alone says how fast it plays
    expected = _expected(motion, ext)
    assert loaded.duration == pytest.approx(motion.duration, abs=1e-9)
    assert loaded.fps == pytest.approx(expected.fps) and loaded.num_frames == expected.num_frames
    np.testing.assert_allclose(loaded.joint_positions(), expected.joint_positions(), atol=TOLERANCE[ext])


def test_a_thirty_fps_dance_is_as_long_in_aistpp_as_it_was(tmp_path):
    """The issue's case: 24 s at 30 fps read back as 12 s from the .pkl."""
    motion = make_dance(frames=720, fps=30.0)
    [written] = export_motion(motion, tmp_path / "dance.pkl")
    loaded = load_motion(written)
    assert (loaded.fps, loaded.num_frames, loaded.duration) == (60.0, 1440, 24.0)
    np.testing.assert_allclose(loaded.joint_positions()[::2], motion.joint_positions(), atol=1e-9)


def test_the_page_holds_the_dance_at_its_rate(tmp_path, viewer_bundle):
    motion = make_dance(frames=36, fps=24.0)
    [written] = export_motion(motion, tmp_path / "dance.html", beats=[])
    data = read_page_data(written)
    assert (data["fps"], data["num_frames"]) == (24.0, 36)
    np.testing.assert_allclose(data["positions"], motion.joint_positions(), atol=1e-6)


def _glb_json(path: Path) -> dict:
    with open(path, "rb") as handle:
        handle.seek(12)
        length, _ = struct.unpack("<II", handle.read(8))
        return json.loads(handle.read(length))


def test_glb_carries_its_frame_rate_as_extras(tmp_path):
    motion = make_dance(frames=60, fps=30.0)
    [written] = export_motion(motion, tmp_path / "dance.glb")
    document = _glb_json(written)
    timing = {"fps": 30.0, "frame_count": 60, "duration_s": 2.0}
    assert {k: document["scenes"][0]["extras"][k] for k in timing} == timing
    assert document["animations"][0]["extras"] == timing


BLENDER_GLB = r"""
import json, struct, sys
import bpy
path, preset = sys.argv[1], sys.argv[2]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
if preset == "file":  # the README's recipe: the file's rate before importing
    with open(path, "rb") as handle:
        handle.seek(12)
        length, _ = struct.unpack("<II", handle.read(8))
        scene.render.fps = round(json.loads(handle.read(length))["scenes"][0]["extras"]["fps"])
bpy.ops.import_scene.gltf(filepath=path)
action = bpy.data.actions["dance"]
print("FACTS" + json.dumps({"fps": scene.render.fps, "range": list(action.frame_range), "extras_fps": scene.get("fps")}))
"""


@pytest.mark.parametrize(("preset", "fps", "last_frame"), [("default", 24, 719 * 24 / 30), ("file", 30, 719.0)])
def test_blender_opens_the_glb_at_the_dance_speed(tmp_path, preset, fps, last_frame):
    """Blender's glTF importer reads no frame rate: it puts seconds on the scene's frames (24 by
    default, so the time is right but the frame numbers are not) and copies scene extras into
    custom properties. Setting the scene to the file's `fps` first gives the dance's frames."""
    python = fbx.blender_python()
    if python is None:
        pytest.skip(f"Blender's bpy is not installed ({fbx.INSTALL_HINT})")
    motion = make_dance(frames=720, fps=30.0)
    [written] = export_motion(motion, tmp_path / "dance.glb")
    done = subprocess.run([python, "-c", BLENDER_GLB, str(written), preset], capture_output=True, text=True, timeout=300)
    facts = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("FACTS"))[5:])
    assert facts["fps"] == fps and facts["extras_fps"] == 30.0
    assert facts["range"][0] == 0.0 and facts["range"][1] == pytest.approx(last_frame, abs=1e-3)
    assert facts["range"][1] / fps == pytest.approx(motion.duration - 1 / motion.fps, abs=1e-4)  # seconds agree
