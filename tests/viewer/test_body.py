"""The body the viewer draws on a rig: sides from joint names, a capsule per bone sized for what
the bone is, the trunk as abdomen and chest, the head as a sphere, all scaled to the rig."""

import numpy as np
import pytest

from dancegen.skeleton import smpl24
from dancegen.skeleton.tree import Skeleton
from dancegen.viewer.body import (
    CENTRE,
    LEFT,
    RADII_M,
    RIGHT,
    body_plan,
    body_scale,
    bone_kind,
    joint_side,
)


@pytest.mark.parametrize("name, side", [
    ("left_hip", LEFT), ("right_wrist", RIGHT), ("LeftForeArm", LEFT), ("RightUpLeg", RIGHT),
    ("mixamorig:LeftHand", LEFT), ("lThigh", LEFT), ("rShin", RIGHT), ("UpperLeg_L", LEFT), ("UpperArm_R", RIGHT),
    ("CC_Base_L_Thigh", LEFT), ("pelvis", CENTRE), ("Spine2", CENTRE), ("head", CENTRE), ("Hips", CENTRE),
])
def test_sides_from_names(name, side):
    assert joint_side(name) == side


@pytest.mark.parametrize("parent, child, kind", [
    ("left_hip", "left_knee", "thigh"), ("left_knee", "left_ankle", "shin"), ("left_ankle", "left_foot", "foot"),
    ("left_shoulder", "left_elbow", "upper_arm"), ("left_collar", "left_shoulder", "clavicle"),
    ("left_elbow", "left_wrist", "forearm"), ("left_wrist", "left_hand", "hand"), ("neck", "head", "neck"),
    ("pelvis", "left_hip", "hip_girdle"), ("spine3", "left_collar", "shoulder_girdle"),
    # Mixamo: "Shoulder" is the clavicle there, "Leg" the shin, and the root "Hips" is trunk.
    ("Hips", "Spine", "trunk"), ("Hips", "LeftUpLeg", "hip_girdle"), ("LeftUpLeg", "LeftLeg", "thigh"),
    ("LeftLeg", "LeftFoot", "shin"), ("LeftFoot", "LeftToeBase", "foot"), ("LeftShoulder", "LeftArm", "clavicle"),
    ("LeftArm", "LeftForeArm", "upper_arm"), ("LeftForeArm", "LeftHand", "forearm"),
    ("LeftHand", "LeftHandIndex1", "finger"), ("Head", "HeadTop_End", None), ("head", "jaw", None),
    ("left_thing", "left_other", "other"),
])
def test_bone_kinds(parent, child, kind):
    assert bone_kind(parent, child) == kind


def test_smpl_body():
    skeleton = smpl24()
    names = skeleton.joint_names
    plan = body_plan(skeleton)
    bones = {(names[b.parent], names[b.child]): b for b in plan.bones}
    # The spine is two capsules, pelvis to spine2 and spine2 to neck; every other bone is one.
    assert ("pelvis", "spine2") in bones and ("spine2", "neck") in bones and ("pelvis", "spine1") not in bones
    assert len(plan.bones) == 21
    assert bones[("left_hip", "left_knee")].radius == pytest.approx(RADII_M["thigh"]) and body_scale(skeleton) == 1
    assert bones[("left_hip", "left_knee")].side == LEFT and bones[("right_elbow", "right_wrist")].side == RIGHT
    assert bones[("pelvis", "left_hip")].side == CENTRE  # the hips' girdle is trunk-coloured
    assert bones[("spine2", "neck")].turn_with == "shoulders" and bones[("left_hip", "left_knee")].turn_with is None
    assert plan.head is not None and names[plan.head.joint] == "head"
    assert [names[j] for j in plan.shoulders] == ["left_shoulder", "right_shoulder"]
    assert plan.to_json()["bones"][0] == [0, names.index("spine2"), RADII_M["abdomen"], 0, "shoulders"]


def test_radii_follow_the_rigs_size():
    skeleton = smpl24()
    centimetres = Skeleton("smpl_cm", skeleton.joint_names, skeleton.parents, np.asarray(skeleton.offsets) * 100)
    child = skeleton.scaled(0.6)
    assert body_scale(centimetres) == pytest.approx(100) and body_scale(child) == pytest.approx(0.6)
    assert body_plan(centimetres).head.radius == pytest.approx(100 * body_plan(skeleton).head.radius)


def test_an_unknown_rig_still_gets_a_body():
    rig = Skeleton("blob", ("root", "a", "b"), (-1, 0, 1), np.array([[0, 0, 0], [0, 0.5, 0], [0, 0.5, 0.0]]))
    plan = body_plan(rig)
    assert [(b.parent, b.child) for b in plan.bones] == [(0, 1), (1, 2)]
    assert plan.head is None and plan.shoulders is None and all(b.turn_with is None for b in plan.bones)


def test_head_insides_and_helper_bones_are_not_drawn():
    """An iClone-style rig: jaw and tongue inside the head, a twist joint inside the thigh."""
    names = ("CC_Base_Hip", "CC_Base_Waist", "CC_Base_Spine02", "CC_Base_NeckTwist01", "CC_Base_Head",
             "CC_Base_JawRoot", "CC_Base_Tongue01", "CC_Base_L_Thigh", "CC_Base_L_ThighTwist01", "CC_Base_L_Calf",
             "CC_Base_L_CalfTwist01", "CC_Base_L_Foot")
    parents = (-1, 0, 1, 2, 3, 4, 5, 0, 7, 7, 9, 9)
    offsets = np.array([[0, 0, 0], [0, 0.1, 0], [0, 0.2, 0], [0, 0.2, 0], [0, 0.1, 0], [0, 0, 0.05], [0, 0, 0.03],
                        [0.1, 0, 0], [0, -0.2, 0], [0, -0.45, 0], [0, -0.2, 0], [0, -0.45, 0]])
    plan = body_plan(Skeleton("iclone", names, parents, offsets))
    drawn = {(names[b.parent], names[b.child]) for b in plan.bones}
    assert drawn == {
        ("CC_Base_Hip", "CC_Base_Spine02"), ("CC_Base_Spine02", "CC_Base_NeckTwist01"),  # abdomen and chest
        ("CC_Base_NeckTwist01", "CC_Base_Head"), ("CC_Base_Hip", "CC_Base_L_Thigh"),
        ("CC_Base_L_Thigh", "CC_Base_L_Calf"), ("CC_Base_L_Calf", "CC_Base_L_Foot"),
    }
    assert names[plan.head.joint] == "CC_Base_Head"
