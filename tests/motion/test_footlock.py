"""Foot lock (`dancegen.motion.footlock`): on a synthetic walk whose feet slide and sink into a
drifting floor, planted feet hold still on a level floor, bones keep their lengths, knees keep
bending forward, nothing but the legs and the root height changes and nothing pops; and
`dancegen generate` locks feet unless told not to."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dancegen.errors import ArgumentError
from dancegen.motion.footlock import (
    FootLockConfig, clean_contact, find_legs, foot_indices, lock_feet, two_bone_ik,
)
from dancegen.motion.motion import Motion
from dancegen.skeleton import Skeleton, smpl24
from dancegen.skeleton.rotations import euler_to_quat

FPS = 30.0
SECONDS = 5.0
LEG_JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def about_x(angles: np.ndarray) -> np.ndarray:
    zeros = np.zeros_like(angles)
    return euler_to_quat(torch.from_numpy(np.stack([angles, zeros, zeros], axis=-1)), "XYZ").numpy()


def walking_motion(seconds: float = SECONDS, fps: float = FPS, seed: int = 0) -> Motion:
    """A one-step-per-second SMPL-24 walk that skates and sinks.

    The legs swing +-15 degrees at the hip; each knee bends 20 degrees in stance and up to 50 in
    swing. The root moves forward at a speed that does not match the feet (with a slow surge on
    top), so planted feet slide; its height wanders +-4 cm, sinks 3 cm over the clip and jitters
    by 3 mm, so feet go through a floor that drifts."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fps)) / fps
    phase = 2 * np.pi * t
    rotations = np.zeros((len(t), 24, 4))
    rotations[..., 3] = 1.0
    skeleton = smpl24()
    for side, offset in (("left", 0.0), ("right", np.pi)):
        swing = phase + offset
        # SMPL faces +z: a negative rotation about x swings the thigh forward, a positive one
        # bends the knee.
        rotations[:, skeleton.index(f"{side}_hip")] = about_x(-np.radians(15) * np.sin(swing))
        rotations[:, skeleton.index(f"{side}_knee")] = about_x(np.radians(20 + 30 * np.maximum(0, np.cos(swing)) ** 2))
    root = np.zeros((len(t), 3))
    root[:, 0] = rng.normal(0, 0.002, len(t))
    root[:, 1] = 0.92 + 0.04 * np.sin(2 * np.pi * t / seconds) - 0.03 * t / seconds + rng.normal(0, 0.003, len(t))
    root[:, 2] = 0.6 * t + 0.05 * np.sin(2 * np.pi * 0.3 * t)
    return Motion(skeleton, fps, rotations, root)


@pytest.fixture(scope="module")
def walk() -> Motion:
    return walking_motion()


@pytest.fixture(scope="module")
def locked(walk):
    return lock_feet(walk)


def ankles(motion: Motion) -> np.ndarray:
    return motion.joint_positions()[:, motion.skeleton.indices(["left_ankle", "right_ankle"])]


def steps(track: np.ndarray) -> np.ndarray:
    """(T - 1, ...) per-frame displacement, metres."""
    return np.linalg.norm(np.diff(track, axis=0), axis=-1)


def lowest_foot(motion: Motion) -> np.ndarray:
    return motion.joint_positions()[:, foot_indices(find_legs(motion.skeleton)), 1].min(axis=1)


def knee_bend(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) knee bend angles (degrees) and the sign of their direction: +1 when the knee bends
    about the thigh's +x axis, the way SMPL knees bend (forward)."""
    rotations, positions = motion.forward_kinematics()
    angles, signs = [], []
    for side in ("left", "right"):
        hip, knee, ankle = motion.skeleton.indices([f"{side}_hip", f"{side}_knee", f"{side}_ankle"])
        thigh, shin = positions[:, knee] - positions[:, hip], positions[:, ankle] - positions[:, knee]
        cross = np.cross(thigh, shin)
        angles.append(np.degrees(np.arctan2(np.linalg.norm(cross, axis=-1), np.einsum("ti,ti->t", thigh, shin))))
        signs.append(np.sign(np.einsum("ti,ti->t", cross, rotations[:, hip, :, 0])))
    return np.stack(angles, axis=1), np.stack(signs, axis=1)


def test_the_synthetic_walk_skates_and_sinks(walk, locked):
    _, report = locked
    assert report.before.foot_skating > 0.5
    assert report.before.floor_penetration > 0.3 and report.before.floor_drift_m > 0.05
    assert report.pinned.mean() > 0.3  # a walk has a foot down most of the time


def test_planted_feet_hold_still(walk, locked):
    motion, report = locked
    for side in (0, 1):  # report columns: left heel, right heel, left toe, right toe
        held = report.pinned[:-1, side] & report.pinned[1:, side]
        before, after = steps(ankles(walk)[:, side])[held], steps(ankles(motion)[:, side])[held]
        assert after.mean() < 0.005 and after.mean() < before.mean() / 4
    assert report.after.foot_skating < report.before.foot_skating / 2


def test_the_floor_is_level_and_solid(walk, locked):
    from dancegen.metrics.dance_quality import floor_drift

    motion, report = locked
    assert (lowest_foot(motion) < -0.01).mean() <= 0.01
    drift = floor_drift(motion.joint_positions(), FPS, contacts=report.planted)
    assert drift <= 0.02 and report.after.floor_drift_m <= 0.02
    toes = motion.joint_positions()[:, motion.skeleton.indices(["left_foot", "right_foot"]), 1]
    # A pinned toe sits on y = 0: to the millimetre, but where heel and toe pins disagree on the
    # foot's length or the leg cannot reach, it may rest a few millimetres above.
    on_floor = np.abs(toes[report.pinned[:, 2:]])
    assert np.median(on_floor) < 0.002 and np.percentile(on_floor, 95) < 0.01


def test_bone_lengths_are_unchanged(locked):
    motion, _ = locked
    positions = motion.joint_positions()
    parents = np.array(motion.skeleton.parents[1:])
    bones = np.linalg.norm(positions[:, 1:] - positions[:, parents], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(motion.skeleton.bone_lengths()[1:], bones.shape), atol=1e-6)


def test_knees_bend_the_same_way_and_never_lock_straight(walk, locked):
    motion, _ = locked
    config = FootLockConfig()
    angle_before, sign_before = knee_bend(walk)
    angle_after, sign_after = knee_bend(motion)
    assert (sign_after == sign_before).all() and (sign_after > 0).all()
    assert angle_after.min() >= config.min_knee_bend_deg - 1e-6


def test_only_the_legs_and_the_root_height_change(walk, locked):
    motion, _ = locked
    legs = motion.skeleton.indices(list(LEG_JOINTS))
    others = [j for j in range(motion.num_joints) if j not in legs]
    np.testing.assert_array_equal(motion.rotations[:, others], walk.rotations[:, others])
    np.testing.assert_array_equal(motion.root_translation[:, [0, 2]], walk.root_translation[:, [0, 2]])
    assert motion.fps == walk.fps and motion.num_frames == walk.num_frames


def test_nothing_pops(walk, locked):
    motion, _ = locked
    assert steps(ankles(motion)).max() <= steps(ankles(walk)).max() + 0.005
    # The floor correction is slow: the root's height changes by under 2 mm per frame.
    correction = motion.root_translation[:, 1] - walk.root_translation[:, 1]
    assert np.abs(np.diff(correction)).max() < 0.002


def test_the_report_measures_as_the_metrics_do(walk, locked):
    from dancegen.metrics.dance_quality import floor_penetration
    from dancegen.metrics.physical import foot_skating_ratio

    motion, report = locked
    for source, stats in ((walk, report.before), (motion, report.after)):
        positions = source.joint_positions()
        assert stats.foot_skating == pytest.approx(foot_skating_ratio(positions, FPS), abs=1e-12)
        assert stats.floor_penetration == pytest.approx(floor_penetration(positions, depth=0.01), abs=1e-12)
    summary = report.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["foot_skating_after"] == report.after.foot_skating
    assert summary["frames_pinned"] == report.pinned.any(axis=1).sum()
    assert 0 < summary["max_leg_change_m"] <= summary["max_joint_change_m"] < 0.3


def test_given_contacts_are_used(walk):
    nothing = np.zeros((walk.num_frames, 4))
    motion, report = lock_feet(walk, contacts=nothing)
    assert not report.pinned.any() and report.frames_pinned == 0
    assert report.after.floor_drift_m is not None and np.isnan(report.after.floor_drift_m)
    assert report.summary()["floor_drift_m_after"] is None  # JSON has no NaN
    with pytest.raises(ArgumentError, match="contacts"):
        lock_feet(walk, contacts=nothing[:, :2])


def test_a_clip_with_nothing_to_fix_keeps_its_pose():
    """Knees bent 20 degrees (no IK easing), nothing planted, nothing under the floor once it
    is levelled: only the root height changes."""
    rotations = np.tile([0.0, 0.0, 0.0, 1.0], (40, 24, 1))
    skeleton = smpl24()
    for side in ("left", "right"):
        rotations[:, skeleton.index(f"{side}_hip")] = about_x(np.full(40, -np.radians(10)))
        rotations[:, skeleton.index(f"{side}_knee")] = about_x(np.full(40, np.radians(20)))
    crouch = Motion(skeleton, FPS, rotations, np.tile([0.0, 1.2, 0.0], (40, 1)))
    motion, report = lock_feet(crouch, contacts=np.zeros((40, 4)))
    np.testing.assert_array_equal(motion.rotations, crouch.rotations)  # bit for bit
    assert report.after.floor_penetration == 0 and abs(lowest_foot(motion)).max() < 1e-9


def test_other_skeletons_are_refused_in_one_line():
    arm = Skeleton("arm", ("shoulder", "elbow", "wrist"), (-1, 0, 1), np.array([[0, 1, 0], [0.3, 0, 0], [0.25, 0, 0]]))
    motion = Motion(arm, FPS, np.tile([0.0, 0.0, 0.0, 1.0], (10, 3, 1)), np.zeros((10, 3)))
    with pytest.raises(ArgumentError, match="foot lock needs SMPL leg joints") as error:
        lock_feet(motion)
    assert "\n" not in str(error.value) and "left_hip" in str(error.value)


def test_clean_contact_fills_flicker_and_drops_blips():
    planted = np.array([0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1], dtype=bool)
    cleaned = clean_contact(planted, max_gap=2, max_blip=2)
    expected = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    np.testing.assert_array_equal(cleaned, expected)


def test_ik_gives_back_a_pose_that_already_reaches(walk):
    rotations, positions = walk.forward_kinematics()
    hip, knee, ankle = walk.skeleton.indices(["left_hip", "left_knee", "left_ankle"])
    pose = two_bone_ik(positions[:, hip], positions[:, knee], positions[:, ankle], positions[:, ankle],
                       rotations[:, hip], rotations[:, knee], FootLockConfig())
    assert not pose.softened.any()  # the walk's knees bend at least 20 degrees
    np.testing.assert_allclose(pose.hip, rotations[:, hip], atol=1e-9)
    np.testing.assert_allclose(pose.knee, rotations[:, knee], atol=1e-9)


def test_works_at_other_frame_rates():
    motion, report = lock_feet(walking_motion(fps=60.0))
    assert report.after.foot_skating < report.before.foot_skating / 2
    assert report.after.floor_penetration <= 0.01 and report.after.floor_drift_m <= 0.02


# --- `dancegen generate` -----------------------------------------------------------------------


def test_generate_locks_feet_unless_told_not_to(tmp_path, capsys):
    from cli_runner import run_cli

    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern
    from dancegen.motion.io import load_motion

    samples, _ = drum_pattern(120.0, 3.0, seed=1)
    song = write_wav(tmp_path / "groove.wav", samples, sample_rate=22050)
    summaries, dances = {}, {}
    for name, flag in (("locked", []), ("unlocked", ["--no-foot-lock"])):
        out = tmp_path / f"{name}.npz"
        code, stdout, _ = run_cli(["generate", song, "--out", out, "--steps", 2, "--seconds", 2, "--seed", 3,
                                   "--json", *flag], capsys)
        assert code == 0
        summaries[name], dances[name] = json.loads(stdout), load_motion(out)
    assert summaries["unlocked"]["foot_lock"] is None and "foot_lock" not in dances["unlocked"].metadata
    numbers = summaries["locked"]["foot_lock"]
    assert dances["locked"].metadata["foot_lock"] == numbers
    assert {"foot_skating_before", "foot_skating_after", "floor_penetration_after", "floor_drift_m_after",
            "max_joint_change_m", "frames_pinned"} <= set(numbers)
    # The default output is the unlocked dance, locked.
    relocked, report = lock_feet(dances["unlocked"])
    np.testing.assert_allclose(dances["locked"].joint_positions(), relocked.joint_positions(), atol=1e-5)
    assert not np.allclose(dances["locked"].joint_positions(), dances["unlocked"].joint_positions(), atol=1e-3)
    assert numbers["foot_skating_after"] == pytest.approx(report.after.foot_skating)
