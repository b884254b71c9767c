"""Every BVH of the kit's cmu05, cmu_salsa and bandai folders: import, retarget to SMPL-24
(error < 3 cm on a 1.7 m figure, printed per clip), export, re-import. Skipped without the kit."""

from __future__ import annotations

import numpy as np
import pytest

from dancegen.motion.io import load_motion, save_motion
from dancegen.motion.retarget import retarget, retarget_to_rig
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES

pytestmark = pytest.mark.kit

CLIPS = (
    [f"cmu05/005_{n:02d}.bvh" for n in range(1, 21)]
    + [f"cmu_salsa/{subject}_{take:02d}_scaled.bvh" for subject in (60, 61) for take in range(1, 5)]
    + ["bandai/dance-short.bvh"]
)
PRESETS = {"cmu05": "iclone_cc_base", "cmu_salsa": "cmu_salsa", "bandai": "bandai"}
SALSA_FPS = 60.0  # the salsa headers say 120; CMU captured subjects 60/61 at 60 (kit README)
TARGET_ERROR_M = 0.03
# No joint strays far: the collars differ most (the CMU rig puts them beside the sternum).
WORST_JOINT_M = 0.08
FEET = ("left_ankle", "right_ankle", "left_foot", "right_foot")


def load_clip(kit, clip: str):
    return load_motion(kit / "motion" / clip, fps=SALSA_FPS if clip.startswith("cmu_salsa") else None)


def test_the_clip_list_is_every_bvh_of_the_three_folders(kit):
    found = sorted(str(p.relative_to(kit / "motion")) for folder in PRESETS for p in (kit / "motion" / folder).glob("*.bvh"))
    assert found == sorted(CLIPS)


@pytest.mark.parametrize("clip", CLIPS)
def test_clip_retargets_to_smpl24_within_3_cm(kit, clip, tmp_path, capsys):
    source = load_clip(kit, clip)
    result = retarget(source)
    worst = max(result.per_joint_error_m, key=result.per_joint_error_m.get)
    with capsys.disabled():
        print(f"\n  {clip:28s} {100 * result.mean_error_m:5.2f} cm (worst {worst} {100 * result.per_joint_error_m[worst]:.1f} cm;"
              f" {100 * result.uniform_error_m:.1f} cm with proportions)", end="")
    assert result.mapping == PRESETS[clip.split("/")[0]]
    assert result.mean_error_m < TARGET_ERROR_M
    assert result.per_joint_error_m[worst] < WORST_JOINT_M

    dance = result.motion
    assert dance.skeleton.joint_names == SMPL24_JOINT_NAMES
    assert (dance.num_frames, dance.fps) == (source.num_frames, source.fps)
    positions = dance.joint_positions()
    feet = positions[:, dance.skeleton.indices(FEET), 1]
    assert feet.min() == pytest.approx(0.0, abs=1e-6)  # grounded: the lowest foot touches y = 0

    path = tmp_path / "dance.bvh"
    save_motion(dance, path)
    again = load_motion(path)
    assert again.skeleton.joint_names == SMPL24_JOINT_NAMES and again.num_frames == dance.num_frames
    np.testing.assert_allclose(again.joint_positions(), positions, atol=1e-4)


@pytest.mark.parametrize("rig_clip", ["cmu05/005_02.bvh", "cmu_salsa/61_01_scaled.bvh", "bandai/dance-short.bvh"])
def test_an_smpl_dance_goes_onto_each_kit_rig_and_back(kit, rig_clip, tmp_path):
    dance = retarget(load_clip(kit, "cmu05/005_12.bvh")).motion
    rig = load_clip(kit, rig_clip)
    on_rig = retarget_to_rig(dance, rig)
    assert on_rig.skeleton.joint_names == rig.skeleton.joint_names and on_rig.num_frames == dance.num_frames

    path = tmp_path / "on_rig.bvh"
    save_motion(on_rig, path)
    again = load_motion(path)
    np.testing.assert_allclose(again.joint_positions(), on_rig.joint_positions(), atol=1e-4)

    back = retarget(again)
    assert back.mean_error_m < TARGET_ERROR_M
    # The dance keeps its path: the root comes back to within a centimetre.
    assert np.abs(back.motion.root_translation - dance.root_translation).max() < 0.01


@pytest.mark.parametrize(
    "relative, preset",
    [("isaacgym_amp/amp_humanoid_dance.npy", "amp_humanoid"), ("deepmimic/humanoid3d_dance_a.txt", "deepmimic_humanoid")],
)
def test_humanoid_rigs_are_detected_and_retarget_within_3_cm(kit, relative, preset):
    from dancegen.motion.io import load_motion

    result = retarget(load_motion(kit / "motion" / relative))
    assert result.mapping == preset
    assert result.mean_error_m < 0.03
    assert result.motion.skeleton.name == "smpl24"
