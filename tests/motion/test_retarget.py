"""Retargeting with known answers, on synthetic rigs (no kit needed).

Every rig here is an SMPL-24 dance re-expressed: other joint names, bone-local axes or an
A-pose rest, another size, extra joints (a ground-level root, a mid-spine joint, twist bones,
fingers), other proportions. The SMPL pose that produced it is therefore known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion.motion import Motion
from dancegen.motion.retarget import (
    REQUIRED_JOINTS,
    JointMapping,
    detect_preset,
    is_smpl_family,
    presets,
    resolve_mapping,
    retarget,
    retarget_to_rig,
)
from dancegen.skeleton.rotations import axis_angle_to_matrix, axis_angle_to_quat, matrix_to_quat
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, SMPL24_PARENTS, smpl24
from dancegen.skeleton.tree import Skeleton

FEET = ("left_ankle", "right_ankle", "left_foot", "right_foot")
MIXAMO = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
    "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot", "right_foot": "RightToeBase",
    "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm",
    "left_wrist": "LeftHand", "left_hand": "LeftHandMiddle1",
    "right_collar": "RightShoulder", "right_shoulder": "RightArm", "right_elbow": "RightForeArm",
    "right_wrist": "RightHand", "right_hand": "RightHandMiddle1",
}
ARMS = {side: [f"{side}_{part}" for part in ("shoulder", "elbow", "wrist", "hand")] for side in ("left", "right")}
A_POSE_RAD = np.deg2rad(40.0)
EXACT = 1e-6  # metres / radians: what "the same" means for float64 retargeting


def smpl_dance(frames: int = 48, fps: float = 30.0, seed: int = 0) -> Motion:
    """A smooth, grounded SMPL-24 dance: joints swinging about their own axes, turning, travelling."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / fps
    axes = rng.normal(size=(24, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = rng.uniform(0.15, 0.6, 24) * np.sin(2 * np.pi * rng.uniform(0.4, 1.2, 24) * t + rng.uniform(0, 2 * np.pi, 24))
    rotvec = axes * angles[..., None]
    rotvec[:, 0] = np.concatenate([0.1 * np.sin(3 * t), 1.2 * t, 0.1 * np.cos(2 * t)], axis=1)
    root = np.concatenate([0.4 * np.sin(t), 0.9 + 0.03 * np.sin(5 * t), 0.5 * t], axis=1)
    motion = Motion(smpl24(), fps, axis_angle_to_quat(torch.from_numpy(rotvec)).numpy(), root)
    motion.root_translation[:, 1] -= motion.joint_positions()[:, smpl24().indices(FEET), 1].min()
    return motion


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    return axis_angle_to_matrix(torch.from_numpy(rng.normal(size=3) * 2.0)).numpy()


def _lowered(side: str) -> np.ndarray:
    """The turn that lowers an SMPL arm by `A_POSE_RAD` in the plane of the arm and the vertical."""
    arm = smpl24().offsets[smpl24().index(f"{side}_elbow")]
    axis = np.cross(arm, [0.0, -1.0, 0.0])
    return axis_angle_to_matrix(torch.from_numpy(axis / np.linalg.norm(axis) * A_POSE_RAD)).numpy()


def build_rig(
    motion: Motion, pose: str = "plain", scale: float = 1.0, prefix: str = "mixamorig:", extras: bool = True, seed: int = 1
) -> Motion:
    """`motion` (SMPL-24) re-expressed on a Mixamo-named rig.

    pose: "plain" (offsets in parent axes, T-pose rest), "a-pose" (arms rest 40 degrees down),
    "bone-local" (every joint's axes turned at random, so the zero pose is a tangle).
    extras: a ground-level "Reference" root, a mid-spine joint, animated arm twist bones, index fingers.
    """
    rng = np.random.default_rng(seed)
    world_rotations, world_positions = motion.forward_kinematics()
    frames = motion.num_frames
    smpl = smpl24()
    a_pose = {name: _lowered(side).T for side, names in ARMS.items() for name in names}

    def axes(smpl_name: str | None) -> np.ndarray:
        if pose == "bone-local":
            return _random_rotation(rng)
        return a_pose.get(smpl_name, np.eye(3)) if pose == "a-pose" else np.eye(3)

    # (rig name, rig parent, world rotation (T, 3, 3), world position (T, 3))
    joints: list[tuple[str, str | None, np.ndarray, np.ndarray]] = []
    if extras:
        joints.append(("Reference", None, np.broadcast_to(np.eye(3), (frames, 3, 3)), world_positions[:, 0] - [0.0, 0.9, 0.0]))
    for j, name in enumerate(SMPL24_JOINT_NAMES):
        parent = prefix + MIXAMO[SMPL24_JOINT_NAMES[SMPL24_PARENTS[j]]] if j else ("Reference" if extras else None)
        if extras and name == "spine2":  # a joint halfway along spine1 -> spine2
            s1 = smpl.index("spine1")
            middle = world_positions[:, s1] + world_rotations[:, s1] @ (smpl.offsets[j] / 2)
            joints.append((prefix + "SpineMid", parent, world_rotations[:, s1] @ axes(None), middle))
            parent = prefix + "SpineMid"
        joints.append((prefix + MIXAMO[name], parent, world_rotations[:, j] @ axes(name), world_positions[:, j]))
    if extras:
        by_name = {joint[0]: joint for joint in joints}
        for side, sign in (("Left", 1.0), ("Right", -1.0)):
            _, _, arm_rotation, arm_position = by_name[f"{prefix}{side}Arm"]
            elbow = by_name[f"{prefix}{side}ForeArm"][3]
            along = np.einsum("tji,tj->ti", arm_rotation, elbow - arm_position)[0]
            twist = axis_angle_to_matrix(torch.from_numpy(np.outer(np.sin(np.arange(frames) / 5.0), along / np.linalg.norm(along)))).numpy()
            joints.append((f"{prefix}{side}ArmTwist", f"{prefix}{side}Arm", arm_rotation @ twist @ axes(None), arm_position))
            wrist = smpl.index(f"{side.lower()}_wrist")
            finger = smpl.offsets[wrist + 2] * 0.9 + [0.0, 0.0, 0.025 * sign]
            joints.append((
                f"{prefix}{side}HandIndex1", f"{prefix}{side}Hand", world_rotations[:, wrist] @ axes(None),
                world_positions[:, wrist] + world_rotations[:, wrist] @ finger,
            ))

    names = [joint[0] for joint in joints]
    parents = [-1 if joint[1] is None else names.index(joint[1]) for joint in joints]
    rotations = np.stack([joint[2] for joint in joints], axis=1)
    positions = np.stack([joint[3] for joint in joints], axis=1)
    offsets = np.zeros((len(joints), 3))
    local = rotations.copy()
    for k, p in enumerate(parents):
        if p < 0:
            continue
        seen = np.einsum("tji,tj->ti", rotations[:, p], positions[:, k] - positions[:, p])
        assert np.allclose(seen, seen[0], atol=1e-9), f"rig joint {names[k]} does not hang rigidly from its parent"
        offsets[k] = seen[0]
        local[:, k] = rotations[:, p].transpose(0, 2, 1) @ rotations[:, k]
    skeleton = Skeleton("rig", names, parents, offsets * scale)
    quats = matrix_to_quat(torch.from_numpy(local)).numpy()
    return Motion(skeleton, motion.fps, quats, positions[:, 0] * scale)


def world_rotations(motion: Motion) -> np.ndarray:
    return motion.forward_kinematics()[0]


def max_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Largest angle (radians) between corresponding rotation matrices."""
    cos = (np.einsum("...ij,...ij->...", a, b) - 1) / 2
    return float(np.arccos(np.clip(cos, -1, 1)).max())


def positions_of(motion: Motion, names) -> np.ndarray:
    return motion.joint_positions()[:, motion.skeleton.indices(list(names))]


@pytest.fixture(scope="module")
def dance() -> Motion:
    return smpl_dance()


# --- known answers -------------------------------------------------------------------------

def test_smpl_to_smpl_is_the_identity(dance):
    result = retarget(dance)
    assert result.motion.skeleton.joint_names == SMPL24_JOINT_NAMES
    assert max_angle(result.motion.rotation_matrices(), dance.rotation_matrices()) < EXACT
    np.testing.assert_allclose(result.motion.root_translation, dance.root_translation, atol=EXACT)
    assert result.mean_error_m < EXACT and result.uniform_error_m < EXACT
    assert set(result.per_joint_error_m) == set(SMPL24_JOINT_NAMES) - {"pelvis"}


def test_a_pose_rig_comes_back_exactly(dance):
    """T- vs A-pose: the rest stance gives the exact correction, so rotations come back too."""
    rig = build_rig(dance, pose="a-pose", scale=0.6)
    result = retarget(rig)
    assert result.mapping == "mixamo" and result.details["twist_from"] == "rest stance"
    np.testing.assert_allclose(result.motion.joint_positions(), dance.joint_positions(), atol=EXACT)
    assert max_angle(result.motion.rotation_matrices(), dance.rotation_matrices()) < EXACT
    np.testing.assert_allclose(result.details["leg_scale"], 1 / 0.6)
    assert result.mean_error_m < EXACT


def test_bone_local_rig_gives_back_positions_and_twist_up_to_a_constant(dance):
    """Bone-local axes (iClone/Bandai style): zero rotations are no stance, twist is learned from the clip."""
    rig = build_rig(dance, pose="bone-local", scale=100.0)  # centimetre-sized numbers, any units work
    rest = Motion(rig.skeleton, rig.fps, np.tile([0.0, 0.0, 0.0, 1.0], (1, rig.num_joints, 1)), np.zeros((1, 3)))
    assert np.ptp(rest.joint_positions()[0, :, 1]) < 0.8 * np.ptp(rig.joint_positions()[0, :, 1])  # the rest is no stance
    result = retarget(rig)
    assert result.details["twist_from"] == "clip average"
    np.testing.assert_allclose(result.motion.joint_positions(), dance.joint_positions(), atol=EXACT)
    # Each joint's rotation differs from the truth by one fixed turn about its own bone, at most.
    relative = np.einsum("tjik,tjil->tjkl", world_rotations(dance), world_rotations(result.motion))
    assert max_angle(relative, relative[:1]) < EXACT
    assert result.mean_error_m < EXACT


def test_other_proportions_keep_bone_directions_and_scale_the_path_by_leg_length(dance):
    """Longer legs, shorter arms: the pose transfers by direction; steps shrink with the legs."""
    stretch = {"left_knee": 1.2, "right_knee": 1.2, "left_ankle": 1.2, "right_ankle": 1.2, "left_foot": 1.2, "right_foot": 1.2,
               "left_wrist": 0.8, "right_wrist": 0.8, "left_elbow": 0.8, "right_elbow": 0.8, "left_hand": 0.8, "right_hand": 0.8}
    offsets = smpl24().offsets.copy()
    for name, factor in stretch.items():
        offsets[smpl24().index(name)] *= factor
    source = dance.copy(skeleton=smpl24().with_offsets(offsets, "long_legs"))
    source.root_translation[:, 1] -= positions_of(source, FEET)[..., 1].min()
    result = retarget(source)

    assert max_angle(result.motion.rotation_matrices(), source.rotation_matrices()) < EXACT
    assert result.mean_error_m < EXACT
    assert result.uniform_error_m > 0.01  # the plain comparison sees the different bodies
    hips = ("left_hip", "right_hip")
    theirs, ours = positions_of(source, hips).mean(1), positions_of(result.motion, hips).mean(1)
    np.testing.assert_allclose(ours[:, [0, 2]], theirs[:, [0, 2]] / 1.2, atol=EXACT)
    # Planted feet stay planted: the lowest foot is as high as the source's, scaled by the legs.
    lowest = lambda m: positions_of(m, FEET)[..., 1].min(1)  # noqa: E731
    np.testing.assert_allclose(lowest(result.motion), lowest(source) / 1.2, atol=EXACT)
    assert lowest(result.motion).min() == pytest.approx(0.0, abs=EXACT)


def test_twist_flips_in_the_source_are_removed_and_positions_untouched(dance):
    """Euler exports flip a limb's roll for a few frames; the result must not."""
    clean = build_rig(dance, pose="bone-local")
    glitched = clean.copy()
    thigh, knee = clean.skeleton.index("mixamorig:LeftUpLeg"), clean.skeleton.index("mixamorig:LeftLeg")
    along = clean.skeleton.offsets[knee] / np.linalg.norm(clean.skeleton.offsets[knee])
    flip = axis_angle_to_matrix(torch.from_numpy(along * np.deg2rad(170.0))).numpy()
    local = clean.rotation_matrices()
    local[20:26, thigh] = local[20:26, thigh] @ flip
    local[20:26, knee] = flip.T @ local[20:26, knee]
    glitched.rotations = matrix_to_quat(torch.from_numpy(local)).numpy()
    np.testing.assert_allclose(glitched.joint_positions(), clean.joint_positions(), atol=1e-9)

    result = retarget(glitched)
    np.testing.assert_allclose(result.motion.joint_positions(), dance.joint_positions(), atol=EXACT)
    # Against the truth, each joint is off by one fixed turn about its bone, give or take the
    # few degrees of twist the flipping frames really had (they are estimated from neighbours).
    relative = np.einsum("tjik,tjil->tjkl", world_rotations(dance), world_rotations(result.motion))
    assert max_angle(relative, relative[:1]) < np.deg2rad(3.0)


def test_retarget_to_rig_puts_a_new_dance_on_the_rig(dance):
    rig = build_rig(dance, pose="a-pose", scale=0.6)
    new_dance = smpl_dance(frames=40, seed=7)
    expected = build_rig(new_dance, pose="a-pose", scale=0.6)
    result = retarget_to_rig(new_dance, rig)
    assert result.skeleton.joint_names == rig.skeleton.joint_names
    np.testing.assert_allclose(result.joint_positions(), expected.joint_positions(), atol=EXACT)
    # Every joint turns as the rig's own animation would, except the twist bones, which keep
    # the rig's average pose (nothing in SMPL drives them).
    kept = [j for j, name in enumerate(rig.skeleton.joint_names) if "Twist" not in name]
    assert max_angle(result.rotation_matrices()[:, kept], expected.rotation_matrices()[:, kept]) < EXACT


def test_retarget_to_a_bare_bone_local_skeleton_places_every_joint(dance):
    rig = build_rig(dance, pose="bone-local", extras=False)
    result = retarget_to_rig(dance, rig.skeleton)
    np.testing.assert_allclose(result.joint_positions(), rig.joint_positions(), atol=EXACT)
    back = retarget(result)
    np.testing.assert_allclose(back.motion.joint_positions(), dance.joint_positions(), atol=EXACT)


def test_any_rig_goes_to_any_rig_through_smpl(dance):
    bone_local = build_rig(dance, pose="bone-local", seed=3)
    a_pose = build_rig(dance, pose="a-pose", scale=1.3)
    result = retarget_to_rig(bone_local, a_pose)
    # Unmapped fingers hang off the wrist's twist, which a bone-local source only knows up to
    # a constant; every joint the mapping names lands exactly.
    placed = [j for j, name in enumerate(a_pose.skeleton.joint_names) if "Index" not in name]
    np.testing.assert_allclose(result.joint_positions()[:, placed], a_pose.joint_positions()[:, placed], atol=EXACT)


# --- mappings ------------------------------------------------------------------------------

def _chain(names: list[str], end_sites: tuple[str, ...] = ()) -> Skeleton:
    """A skeleton that only has the given joint names (enough for name matching)."""
    count = len(names)
    ends = {names.index(n): np.array([0.0, 0.0, 0.1]) for n in end_sites}
    return Skeleton("chain", names, [-1] + list(range(count - 1)), np.ones((count, 3)) * 0.1, ends)


@pytest.mark.parametrize("name", sorted(presets()))
def test_every_preset_is_detected_from_its_own_joint_names(name):
    mapping = presets()[name]
    points = list(mapping.joints.values())
    ends = [p[: -len("/end")] for p in points if p.endswith("/end")]
    # One rig joint can play two SMPL joints (the AMP humanoid's head is also its neck).
    joints = ["Root"] + list(dict.fromkeys(p for p in points if not p.endswith("/end")))
    assert detect_preset(_chain(joints, tuple(ends))).name == name


def test_names_match_across_namespaces_and_case():
    names = ["Root"] + [f"mixamorig1:{n.lower()}" for n in presets()["mixamo"].joints.values()]
    assert detect_preset(_chain(names)).name == "mixamo"


def test_kit_rig_names_are_recognised():
    iclone = ["CC_Base_Hip"] + list(presets()["iclone_cc_base"].joints.values()) + ["CC_Base_L_Index1", "CC_Base_JawRoot"]
    assert detect_preset(_chain(iclone)).name == "iclone_cc_base"
    salsa = ["hip"] + [p.replace("/end", "") for p in presets()["cmu_salsa"].joints.values() if p not in ("lFoot/end", "rFoot/end")]
    assert detect_preset(_chain(salsa, ("lFoot", "rFoot"))).name == "cmu_salsa"


def test_missing_required_joints_are_listed(dance):
    rig = build_rig(dance)
    names = [n.replace("LeftLeg", "LeftShin").replace("RightLeg", "RightShin") for n in rig.skeleton.joint_names]
    lacking = rig.copy(skeleton=Skeleton("no_knees", names, rig.skeleton.parents, rig.skeleton.offsets))
    with pytest.raises(ArgumentError, match="left_knee, right_knee") as caught:
        retarget(lacking)
    assert "\n" not in str(caught.value) and "--mapping" in str(caught.value)

    mapping = {**presets()["mixamo"].joints, "left_knee": "mixamorig:LeftShin", "right_knee": "mixamorig:RightShin"}
    result = retarget(lacking, mapping=JointMapping(name="shins", joints=mapping))
    assert result.mean_error_m < EXACT


def test_a_user_mapping_file_is_validated(tmp_path, dance):
    rig = build_rig(dance, pose="a-pose", prefix="", extras=False)
    good = tmp_path / "my_rig.yaml"
    lines = [f"  {smpl}: {rig_name}" for smpl, rig_name in presets()["mixamo"].joints.items()]
    good.write_text("joints:\n" + "\n".join(lines) + "\n")
    mapping = JointMapping.from_yaml(good)
    assert mapping.name == "my_rig"
    assert retarget(rig, mapping=good).mapping == "my_rig"

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("joints:\n  left_knee: LeftLeg\n  tail: Tail\n  wing: Wing\n")
    with pytest.raises(ArgumentError, match="unknown SMPL-24 joints tail, wing"):
        JointMapping.from_yaml(unknown)
    trunk = tmp_path / "trunk.yaml"
    trunk.write_text("joints:\n  pelvis: Hips\n  spine1: Spine\n")
    with pytest.raises(ArgumentError, match="pelvis, spine1: trunk joints"):
        JointMapping.from_yaml(trunk)
    typo = tmp_path / "typo.yaml"
    typo.write_text(good.read_text().replace("LeftForeArm", "LeftFore_Arm").replace("RightHand\n", "RightPaw\n"))
    with pytest.raises(ArgumentError, match="has no joint .*LeftFore_Arm, RightPaw"):
        retarget(rig, mapping=typo)
    broken = tmp_path / "broken.yaml"
    broken.write_text("joints: [unclosed\n")
    with pytest.raises(InputFileError, match="not valid YAML"):
        JointMapping.from_yaml(broken)
    with pytest.raises(InputFileError, match="not found"):
        resolve_mapping(rig.skeleton, tmp_path / "absent.yaml")
    with pytest.raises(ArgumentError, match="neither a preset nor a YAML file.*mixamo"):
        resolve_mapping(rig.skeleton, "no_such_preset")


def test_swapped_left_and_right_are_refused(dance):
    rig = build_rig(dance, prefix="", extras=False)
    swapped = {smpl: (name.replace("Left", "@").replace("Right", "Left").replace("@", "Right"))
               for smpl, name in presets()["mixamo"].joints.items()}
    with pytest.raises(ArgumentError, match="left and right are swapped"):
        retarget(rig, mapping=JointMapping(name="mirror", joints=swapped))


def test_required_joint_set_and_smpl_detection():
    assert set(REQUIRED_JOINTS) <= set(presets()["mixamo"].joints)
    assert is_smpl_family(smpl24())
    assert not is_smpl_family(build_rig(smpl_dance(frames=2)).skeleton)
    with pytest.raises(ArgumentError, match="not SMPL-24 or SMPL-X"):
        retarget(smpl_dance(frames=2), target=_chain(["a", "b"]))
