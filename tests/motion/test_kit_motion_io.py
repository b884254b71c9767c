"""Every motion file of the shared kit imports, with plausible sizes, and survives a BVH round trip."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from dancegen.motion.bvh import read_bvh, write_bvh
from dancegen.motion.io import estimate_height, load_motion

pytestmark = pytest.mark.kit

# The `kit` fixture's location rule (tests/conftest.py), needed here at collection time to list
# the files; the tests themselves still take `kit`, which skips when the kit is absent.
KIT_DIR = Path(os.environ.get("DANCEGEN_KIT", Path(__file__).resolve().parents[2].parent / "shared" / "data"))

# Folder -> (joints after import, true fps, standing-height range in metres). Bandai's static
# ground-level `joint_Root` is dropped (22 -> 21). Salsa's figure is small: head about 1.15-1.2 m
# above the floor (kit README: "head-to-toe ~ 1.2, do not trust the absolute scale"). Heights
# are floor-to-highest-head-point, so rigs whose head joint is at the skull base read short.
BVH_FOLDERS = {
    "cmu05": (100, 60.0, (1.5, 1.75)),
    "cmu_salsa": (43, 60.0, (1.05, 1.3)),
    "bandai": (21, 30.0, (1.3, 1.5)),
}
SALSA_FPS = 60.0  # the salsa headers say 120 fps; CMU captured subjects 60/61 at 60 fps
ROUND_TRIP_FRAMES = 240  # a 4-8 s slice per file keeps the suite fast; precision does not depend on length


def kit_bvh_files() -> list[tuple[str, str]]:
    return [
        (folder, path.name) for folder in BVH_FOLDERS for path in sorted((KIT_DIR / "motion" / folder).glob("*.bvh"))
    ]


def manifest_entry(kit, relative: str) -> dict:
    manifest = json.loads((kit / "manifest.json").read_text())
    return next(f for f in manifest["files"] if f["path"] == relative)


@pytest.mark.parametrize("folder, name", kit_bvh_files() or [("cmu05", "none.bvh")])
def test_kit_bvh_imports_and_round_trips(kit, tmp_path, folder, name):
    joints, fps, (low, high) = BVH_FOLDERS[folder]
    relative = f"motion/{folder}/{name}"
    motion = read_bvh(kit / relative, fps=SALSA_FPS if folder == "cmu_salsa" else None)
    entry = manifest_entry(kit, relative)

    assert motion.num_joints == joints and motion.fps == fps
    assert motion.duration == pytest.approx(entry["duration_s"], abs=1e-3)
    assert motion.metadata["units"] == ("m" if folder == "cmu_salsa" else "cm")
    positions = motion.joint_positions()
    assert np.isfinite(positions).all()
    assert low < estimate_height(motion) < high
    # Feet on the floor: the lowest joint sits near y = 0 in most frames.
    lowest = positions[..., 1].min(axis=1)
    assert -0.05 < np.median(lowest) < 0.15

    piece = motion.slice_frames(0, ROUND_TRIP_FRAMES)
    write_bvh(piece, tmp_path / "again.bvh")
    back = read_bvh(tmp_path / "again.bvh")
    assert back.skeleton.joint_names == piece.skeleton.joint_names and back.fps == fps
    assert np.abs(back.joint_positions() - piece.joint_positions()).max() < 1e-4


def test_kit_quirks_are_handled(kit):
    cmu = read_bvh(kit / "motion/cmu05/005_01.bvh", resample_to=30)
    # Root channels are relative to the 105 cm root OFFSET: the hips are ~1 m up, not at -2 cm.
    assert cmu.metadata["position_channels"]["CC_Base_Hip"] == "relative"
    assert 0.9 < np.median(cmu.root_translation[:, 1]) < 1.1
    assert cmu.fps == 30.0 and cmu.num_frames == round(299 / 2)

    bandai = read_bvh(kit / "motion/bandai/dance-short.bvh")
    assert bandai.metadata["dropped_static_roots"] == ["joint_Root"]
    assert bandai.skeleton.joint_names[0] == "Hips"
    assert "moving_offsets_replaced_by_mean_m" not in bandai.metadata  # per-joint channels == OFFSET

    header_rate = read_bvh(kit / "motion/cmu_salsa/60_01_scaled.bvh")
    assert header_rate.fps == 120.0  # what the file claims
    true_rate = read_bvh(kit / "motion/cmu_salsa/60_01_scaled.bvh", fps=SALSA_FPS)
    assert true_rate.duration == pytest.approx(2 * header_rate.duration)
    assert true_rate.metadata["fps_override"] == SALSA_FPS


@pytest.mark.parametrize("name", ["humanoid3d_dance_a.txt", "humanoid3d_dance_b.txt"])
def test_kit_deepmimic_loads(kit, name):
    relative = f"motion/deepmimic/{name}"
    motion = load_motion(kit / relative)
    assert motion.skeleton.name == "deepmimic_humanoid3d" and motion.fps == 60.0
    # The manifest counts the clip from first to last frame.
    assert (motion.num_frames - 1) / motion.fps == pytest.approx(manifest_entry(kit, relative)["duration_s"], abs=1e-3)
    positions = motion.joint_positions()
    assert -0.02 < positions[..., 1].min() < 0.1  # ankles just above the floor
    assert 1.4 < estimate_height(motion) < 1.7


def test_kit_amp_poselib_loads_y_up(kit):
    relative = "motion/isaacgym_amp/amp_humanoid_dance.npy"
    motion = load_motion(kit / relative)
    entry = manifest_entry(kit, relative)
    assert motion.num_joints == entry["joint_count"] == 15 and motion.fps == 60.0
    assert motion.num_frames == 902
    # README: pelvis 0.73-0.88 m above the floor in z-up; after conversion that is y.
    assert 0.7 < motion.root_translation[:, 1].min() and motion.root_translation[:, 1].max() < 0.9
    assert abs(motion.joint_positions()[..., 1].min()) < 0.05
    assert 1.15 < estimate_height(motion) < 1.4
