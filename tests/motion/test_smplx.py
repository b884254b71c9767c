import numpy as np
import torch

from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, SMPL24_PARENTS
from dancegen.skeleton.smplx import (
    SMPLX52_JOINT_NAMES,
    SMPLX52_REST_POSITIONS,
    SMPLX_BODY_PARTS,
    SMPLX_HANDS,
    SMPLX_LEFT_HAND,
    SMPLX_PELVIS_REST,
    SMPLX_RIGHT_HAND,
    smplx52,
)


def test_layout_is_smpl_body_then_left_then_right_hand():
    skeleton = smplx52()
    assert skeleton.num_joints == 52
    assert skeleton.joint_names[:22] == SMPL24_JOINT_NAMES[:22]
    assert skeleton.parents[:22] == SMPL24_PARENTS[:22]
    assert skeleton.joint_names[22:25] == ("left_index1", "left_index2", "left_index3")
    assert skeleton.joint_names[34:37] == ("left_thumb1", "left_thumb2", "left_thumb3")
    assert skeleton.joint_names[37] == "right_index1" and skeleton.joint_names[-1] == "right_thumb3"
    fingers = [name[len("left_") : -1] for name in SMPLX_LEFT_HAND[::3]]
    assert fingers == ["index", "middle", "pinky", "ring", "thumb"]


def test_every_finger_is_a_three_joint_chain_from_its_wrist():
    skeleton = smplx52()
    for side, hand in (("left", SMPLX_LEFT_HAND), ("right", SMPLX_RIGHT_HAND)):
        wrist = skeleton.index(f"{side}_wrist")
        for base in range(0, 15, 3):
            first, second, third = skeleton.indices(hand[base : base + 3])
            assert skeleton.parents[first] == wrist
            assert skeleton.parents[second] == first and skeleton.parents[third] == second
    assert len(skeleton.descendants(skeleton.index("left_wrist"))) == 16


def test_rest_pose_reproduces_the_template_joints():
    skeleton = smplx52()
    np.testing.assert_allclose(skeleton.rest_positions() + SMPLX_PELVIS_REST, SMPLX52_REST_POSITIONS, atol=1e-12)
    assert skeleton.offsets[0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(SMPLX_PELVIS_REST, [0.00312326, -0.35140747, 0.01203655])


def test_template_is_a_plausible_mirror_symmetric_t_pose():
    skeleton = smplx52()
    rest = skeleton.rest_positions()
    for name in SMPLX52_JOINT_NAMES:
        if name.startswith("left_"):
            left, right = rest[skeleton.index(name)], rest[skeleton.index("right_" + name[5:])]
            # The template is mirror-symmetric to within 3 cm (its legs least).
            assert abs(left[0] + right[0]) < 0.03 and abs(left[1] - right[1]) < 0.035, name
    lengths = dict(zip(skeleton.joint_names, skeleton.bone_lengths()))
    assert 0.35 < lengths["left_knee"] < 0.42 and 0.35 < lengths["left_ankle"] < 0.45
    assert 0.22 < lengths["left_elbow"] < 0.3
    # T-pose: every left finger joint lies further out along +x than the left wrist.
    wrist_x = rest[skeleton.index("left_wrist"), 0]
    assert all(rest[skeleton.index(n), 0] > wrist_x for n in SMPLX_LEFT_HAND)
    assert 1.45 < rest[:, 1].max() - rest[:, 1].min() < 1.75


def test_body_part_groups_cover_the_skeleton_without_overlap():
    skeleton = smplx52()
    assert SMPLX_BODY_PARTS["hands"] == SMPLX_HANDS and len(SMPLX_HANDS) == 30
    parts = [*SMPLX_BODY_PARTS["lower_body"], *SMPLX_BODY_PARTS["upper_body"], *SMPLX_BODY_PARTS["hands"]]
    assert sorted(parts) == sorted(skeleton.joint_names)


def test_fk_on_smplx52_moves_fingers_with_the_wrist():
    skeleton = smplx52()
    rotvec = np.zeros((1, 52, 3))
    rotvec[0, skeleton.index("left_wrist")] = [0.0, 0.0, np.pi / 2]  # bend the hand up
    motion = Motion(skeleton, 30.0, axis_angle_to_quat(torch.from_numpy(rotvec)).numpy(), np.zeros((1, 3)))
    positions = motion.joint_positions()[0]
    wrist = positions[skeleton.index("left_wrist")]
    tip = positions[skeleton.index("left_middle3")]
    rest = skeleton.rest_positions()
    reach = np.linalg.norm(rest[skeleton.index("left_middle3")] - rest[skeleton.index("left_wrist")])
    np.testing.assert_allclose(np.linalg.norm(tip - wrist), reach, rtol=1e-9)
    assert tip[1] - wrist[1] > 0.9 * abs(tip[0] - wrist[0])  # the fingers now point up
