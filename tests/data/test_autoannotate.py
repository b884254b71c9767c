"""Automatic decoupled annotation: moves detected on synthesized motions at the right times, no
false spins or jumps on a plain dance, the `dancegen data annotate` command, and agreement with
the kit's CMU descriptions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cli_runner import run_cli
from dancegen.data.annotations import Annotation, GlobalStyle, read_annotation, write_annotation
from dancegen.data.autoannotate import (
    AutoAnnotateConfig, agreement, annotate_motion, described_moves, masks_to_spans,
)
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import smpl24

FPS = 30.0
STANDING_PELVIS_M = 0.95  # zero-rotation SMPL-24 pelvis height with the toes on the floor
ARMS_DOWN_RAD = 1.2  # shoulder roll that brings the T-pose arms down beside the body
TOLERANCE_S = 0.3


def build(duration, root=None, yaw=None, rotvec=None, skeleton=None):
    """An SMPL-24 motion standing with arms down; `root(t)` (T, 3), `yaw(t)` pelvis heading (rad)."""
    skeleton = skeleton or smpl24()
    t = np.arange(int(round(duration * FPS))) / FPS
    rv = np.zeros((len(t), 24, 3)) if rotvec is None else rotvec
    rv[:, skeleton.index("left_shoulder"), 2] -= ARMS_DOWN_RAD
    rv[:, skeleton.index("right_shoulder"), 2] += ARMS_DOWN_RAD
    if yaw is not None:
        rv[:, 0, 1] = yaw(t)
    translation = np.tile([0.0, STANDING_PELVIS_M, 0.0], (len(t), 1)) if root is None else root(t)
    return Motion(skeleton, FPS, axis_angle_to_quat(torch.from_numpy(rv)).numpy(), translation)


def ramp(t, start, stop):
    return np.clip((t - start) / (stop - start), 0.0, 1.0)


def spinning():  # two full turns between 1.5 s and 3.0 s
    return build(5.0, yaw=lambda t: 2 * 2 * np.pi * ramp(t, 1.5, 3.0))


def jumping():  # a 0.3 m jump in the air from 2.0 s to 2.5 s
    def root(t):
        out = np.tile([0.0, STANDING_PELVIS_M, 0.0], (len(t), 1))
        air = (t >= 2.0) & (t <= 2.5)
        phase = (t[air] - 2.0) / 0.5
        out[air, 1] += 4 * 0.3 * phase * (1 - phase)
        return out
    return build(4.0, root=root)


def walking():  # 1 m/s forward from 1.0 s to 3.5 s
    def root(t):
        out = np.tile([0.0, STANDING_PELVIS_M, 0.0], (len(t), 1))
        out[:, 2] = np.clip(t, 1.0, 3.5) - 1.0
        return out
    return build(5.0, root=root)


def raising_arms():  # both arms up above the head from 1.0 s to 2.0 s
    t = np.arange(int(3.0 * FPS)) / FPS
    rv = np.zeros((len(t), 24, 3))
    up = ((t >= 1.0) & (t < 2.0)) * (ARMS_DOWN_RAD + 1.4)
    rv[:, 16, 2], rv[:, 17, 2] = up, -up
    return build(3.0, rotvec=rv)


def plain_dance(seed=0):
    """Arms, spine and head swinging at 1 Hz, hips swaying a little: no spin, no jump."""
    rng, skeleton = np.random.default_rng(seed), smpl24()
    t = np.arange(int(6.0 * FPS)) / FPS
    rv = np.zeros((len(t), 24, 3))
    for joint, gain in (("left_shoulder", 0.5), ("right_shoulder", -0.5), ("left_elbow", 0.6), ("spine1", 0.1), ("neck", 0.2)):
        rv[:, skeleton.index(joint), 0] = gain * np.sin(2 * np.pi * t + rng.uniform(0, 2 * np.pi))
    return build(6.0, rotvec=rv, yaw=lambda t: 0.3 * np.sin(np.pi * t))


def spans_of(annotation, token):
    return [(s.start, s.end) for s in annotation.spans if token in s.tokens]


def merged_span(annotation, token):
    found = spans_of(annotation, token)
    assert found, f"no {token} in {annotation.spans}"
    return found[0][0], found[-1][1]


@pytest.mark.parametrize("make, token, start, end", [
    (spinning, "spin", 1.5, 3.0),
    (jumping, "jump", 2.0, 2.5),
    (walking, "travel", 1.0, 3.5),
    (raising_arms, "arm raise", 1.0, 2.0),
])
def test_moves_are_found_at_the_right_time(make, token, start, end):
    annotation = annotate_motion(make(), genre="house")
    found_start, found_end = merged_span(annotation, token)
    assert abs(found_start - start) <= TOLERANCE_S and abs(found_end - end) <= TOLERANCE_S
    assert annotation.style.genre == "house"
    others = {"spin", "jump", "travel"} - {token}
    assert not any(set(s.tokens) & others for s in annotation.spans)


def test_a_still_hold_is_a_freeze_and_the_spin_around_it_is_not():
    annotation = annotate_motion(spinning())
    assert merged_span(annotation, "freeze")[0] == 0.0
    freezes = spans_of(annotation, "freeze")
    assert abs(freezes[0][1] - 1.5) <= TOLERANCE_S and abs(freezes[-1][0] - 3.0) <= TOLERANCE_S
    assert all(end <= 1.5 + TOLERANCE_S or start >= 3.0 - TOLERANCE_S for start, end in freezes)
    # spans never overlap and stay inside the clip
    for before, after in zip(annotation.spans, annotation.spans[1:]):
        assert before.end <= after.start
    assert annotation.spans[-1].end <= 5.0


def test_a_plain_dance_has_no_false_spins_or_jumps():
    for seed in range(3):
        annotation = annotate_motion(plain_dance(seed))
        tokens = {t for s in annotation.spans for t in s.tokens}
        assert not tokens & {"spin", "turn", "jump", "travel", "floor work", "freeze"}, annotation.spans


def test_global_style():
    still, walk = annotate_motion(build(3.0)), annotate_motion(walking())
    assert (still.style.moving_range, still.style.expressiveness) == ("small", "introvert")
    assert walk.style.moving_range == "large" and "travel" in walk.style.core_moves
    # a tighter threshold in the config changes the answer: thresholds are config fields
    config = AutoAnnotateConfig(range_large_m=5.0)
    assert annotate_motion(walking(), config=config).style.moving_range == "medium"


def test_masks_become_non_overlapping_spans_with_every_move_in_them():
    frames = np.arange(30)
    masks = {"travel": frames < 30, "spin": (frames >= 10) & (frames < 20), "clap": frames == 25}
    spans = masks_to_spans(masks, fps=10.0, min_span_s=0.2)
    assert [(s.start, s.end, s.tokens) for s in spans] == [
        (0.0, 1.0, ("travel",)), (1.0, 2.0, ("spin", "travel")),
        (2.0, 2.6, ("travel", "clap")),  # the 0.1 s clap piece is shorter than min_span_s: it joins the piece before
        (2.6, 3.0, ("travel",))]


def test_other_rigs_are_retargeted_first():
    from dancegen.skeleton.tree import Skeleton

    motion = spinning()
    names = ["Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot",
             "Spine2", "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm",
             "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand", "LeftHandEnd", "RightHandEnd"]
    rig = Skeleton("mixamo_like", tuple(names), motion.skeleton.parents, motion.skeleton.offsets)
    renamed = Motion(rig, motion.fps, motion.rotations, motion.root_translation)
    annotation = annotate_motion(renamed)
    start, end = merged_span(annotation, "spin")
    assert abs(start - 1.5) <= TOLERANCE_S and abs(end - 3.0) <= TOLERANCE_S


# --- the command --------------------------------------------------------------------------------


def test_annotate_command_writes_sidecars_and_keeps_existing_styles(tmp_path, capsys):
    spinning().save_npz(tmp_path / "spin.npz")
    jumping().save_npz(tmp_path / "jump.npz")
    write_annotation(Annotation(GlobalStyle("salsa", core_moves=("cross body lead",))), tmp_path / "jump.annotation.json")
    code, stdout, _ = run_cli(["data", "annotate", tmp_path, "--genre", "house"], capsys)
    assert code == 0
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("jump.npz: ") and lines[1].startswith("spin.npz: ") and "spin 1" in lines[1]
    assert lines[2] == f"annotated 2 files into {tmp_path}; skipped 0"
    assert lines[3].startswith("moves     freeze 4") and "spin 1" in lines[3] and "jump 1" in lines[3]
    spin = read_annotation(tmp_path / "spin.annotation.json")
    assert spin.style.genre == "house" and abs(merged_span(spin, "spin")[0] - 1.5) <= TOLERANCE_S
    kept = read_annotation(tmp_path / "jump.annotation.json")
    assert kept.style.genre == "salsa" and kept.style.core_moves == ("cross body lead",)
    assert abs(merged_span(kept, "jump")[0] - 2.0) <= TOLERANCE_S  # detected spans fill in

    out = tmp_path / "out"
    code, _, _ = run_cli(["data", "annotate", tmp_path, "--out", out, "--overwrite"], capsys)
    assert code == 0 and json.loads((out / "jump.annotation.json").read_text())["global"]["genre"] is None


@pytest.mark.parametrize("args, message", [
    (["data", "annotate", "/no/such/folder"], "motion folder not found"),
    (["data", "annotate", ".", "--fps", "-3"], "--fps: must be positive"),
    (["data", "annotate", ".", "--genre", "polka"], "unknown genre 'polka'"),
])
def test_annotate_user_errors_are_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build(1.0).save_npz(tmp_path / "still.npz")
    code, _, stderr = run_cli(args, capsys)
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1


# --- the kit ------------------------------------------------------------------------------------

# Agreement measured on the kit's cmu05 (docs/annotations.md): clips whose description names the
# move and where it was found. The test keeps the detectors from getting worse.
MIN_RECALL = {"spin": 0.8, "turn": 0.6, "jump": 0.8}


@pytest.mark.kit
def test_agreement_with_cmu_descriptions(kit):
    from dancegen.data.pairing import clip_descriptions
    from dancegen.motion.io import load_motion

    folder = kit / "motion" / "cmu05"
    descriptions = clip_descriptions(folder)
    pairs = [(moves, annotate_motion(load_motion(folder / f"{clip}.bvh"), "modern_ballet"))
             for clip, moves in sorted(descriptions.items()) if described_moves(moves)]
    assert len(pairs) >= 15
    table = agreement(pairs)
    for token, recall in MIN_RECALL.items():
        row = table[token]
        assert row["described"] >= 5 and row["found"] / row["described"] >= recall, (token, row)
    walk = annotate_motion(load_motion(folder / "005_01.bvh"))
    assert "travel" in walk.style.core_moves and not {"spin", "jump"} & {t for s in walk.spans for t in s.tokens}
