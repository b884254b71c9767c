"""Editing constraints: joint groups, reference locks, keyframe files, exact write-back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion.motion import Motion
from dancegen.motion.codecs.smpl6d import joint_channels, root_channels, smpl6d_dim
from dancegen.sampling.editing import PoseConstraints, body_part_joints, load_keyframes, resolve_joints
from dancegen.skeleton import smpl24
from dancegen.skeleton.rotations import matrix_to_rot6d, quat_to_matrix
from dancegen.skeleton.smplx import smplx52
from dancegen.skeleton.tree import Skeleton

def random_motion(skeleton: Skeleton, frames: int, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    quats = rng.normal(size=(frames, skeleton.num_joints, 4))
    quats /= np.linalg.norm(quats, axis=-1, keepdims=True)
    return Motion(skeleton, 30.0, quats, rng.normal(size=(frames, 3)))


def test_body_parts_on_smpl24_and_the_52_joint_layout():
    skeleton = smpl24()
    names = lambda joints: {skeleton.joint_names[j] for j in joints}  # noqa: E731
    assert names(body_part_joints(skeleton, "hands")) == {"left_hand", "right_hand"}
    assert "pelvis" in names(body_part_joints(skeleton, "lower_body"))
    assert {"head", "left_wrist", "right_hand"} <= names(body_part_joints(skeleton, "upper_body"))
    assert len(body_part_joints(skeleton, "upper_body")) + len(body_part_joints(skeleton, "lower_body")) == 24
    big = smplx52()
    assert len(body_part_joints(big, "hands")) == 30 and len(body_part_joints(big, "left_hand")) == 15
    parts = [body_part_joints(big, p) for p in ("upper_body", "lower_body", "hands")]
    assert sorted(sum(parts, [])) == list(range(52))  # the three parts tile the skeleton
    assert resolve_joints("hands,left_knee", big) == sorted(parts[2] + [big.index("left_knee")])
    # On SMPL-24 `left_hand` is a joint, not a group.
    assert resolve_joints("left_hand", skeleton) == [skeleton.index("left_hand")]


def test_resolve_joints_reports_unknown_names_in_one_line():
    with pytest.raises(ArgumentError) as error:
        resolve_joints("upper_body,left_tail", smpl24())
    message = str(error.value)
    assert "\n" not in message and "left_tail" in message and "--lock-joints" in message


def test_reference_lock_pins_rotations_and_root_channels():
    skeleton = smpl24()
    reference = random_motion(skeleton, 20)
    joints = body_part_joints(skeleton, "lower_body")
    constraints = PoseConstraints.from_reference(reference, joints, num_frames=30)
    known, mask = constraints.features()
    assert known.shape == mask.shape == (30, smpl6d_dim(24)) == (30, 151)
    # Frames the reference covers: lower-body 6D channels and the root are pinned.
    assert mask[:20, root_channels()].all() and not mask[20:].any()
    for joint in range(24):
        assert bool(mask[0, joint_channels(joint)].all()) == (joint in joints)
    assert not mask[:, :4].any()  # foot contacts stay free
    expected = matrix_to_rot6d(quat_to_matrix(torch.from_numpy(reference.rotations[:20, joints]))).float()
    got = torch.stack([known[:20, joint_channels(j)] for j in joints], dim=1)
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(known[:20, root_channels()], torch.from_numpy(reference.root_translation).float())


def test_apply_writes_pins_back_exactly():
    skeleton = smpl24()
    reference, generated = random_motion(skeleton, 12, 1), random_motion(skeleton, 12, 2)
    constraints = PoseConstraints.from_reference(reference, [0, 4, 7], 12)
    edited = constraints.apply(generated)
    assert np.array_equal(edited.rotations[:, [0, 4, 7]], reference.rotations[:, [0, 4, 7]])
    assert np.array_equal(edited.root_translation, reference.root_translation)
    assert np.array_equal(edited.rotations[:, 1], generated.rotations[:, 1])


def test_keyframes_load_validate_and_pin(tmp_path):
    skeleton = smpl24()
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps(
            {
                "keyframes": [
                    {"time": 0.5, "root": [0.0, 0.9, 0.1], "rotations": {"left_elbow": [0, 0, 0.7071068, 0.7071068]}},
                    {"time": 1.0, "rotations": {"head": [0.0, 0.5, 0.0]}},
                ]
            }
        )
    )
    keyframes = load_keyframes(path, skeleton)
    assert [k.time for k in keyframes] == [0.5, 1.0]
    constraints = PoseConstraints.from_keyframes(keyframes, skeleton, num_frames=40, fps=30)
    assert constraints.rotation_mask.sum() == 2 and constraints.root_mask.tolist().index(True) == 15
    assert np.allclose(constraints.rotations[30, skeleton.index("head")], [0, np.sin(0.25), 0, np.cos(0.25)])
    merged = PoseConstraints.from_reference(random_motion(skeleton, 40), [skeleton.index("head")], 40).merged(constraints)
    assert np.array_equal(merged.rotations[30, skeleton.index("head")], constraints.rotations[30, skeleton.index("head")])
    with pytest.raises(ArgumentError, match="outside the generated"):
        PoseConstraints.from_keyframes(keyframes, skeleton, num_frames=20, fps=30)


@pytest.mark.parametrize(
    "content,problem",
    [
        ("not json", "not valid JSON"),
        (json.dumps({"keyframes": []}), "at least one keyframe"),
        (json.dumps({"keyframes": [{"root": [0, 0, 0]}]}), "non-negative 'time'"),
        (json.dumps({"keyframes": [{"time": 1, "rotations": {"tail": [0, 0, 0, 1]}}]}), "no joint 'tail'"),
        (json.dumps({"keyframes": [{"time": 1, "root": [0, 1]}]}), "root must be a list of 3"),
        (json.dumps({"keyframes": [{"time": 1}]}), "pins nothing"),
        (json.dumps({"keyframes": [{"time": 1, "pose": {}}]}), "unknown keys pose"),
    ],
)
def test_bad_keyframe_files_give_one_line(tmp_path, content, problem):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(InputFileError, match=problem) as error:
        load_keyframes(path, smpl24())
    assert "\n" not in str(error.value) and str(path) in str(error.value)
