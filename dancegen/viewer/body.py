"""How the viewer draws a body on any rig: which side each joint is on, and one capsule per bone.

Bones are classed by their joints' names (SMPL, Mixamo/CMU, iClone and Bandai Namco spellings)
into thighs, shins, upper arms, the trunk and so on, each with the radius of an average adult
limb; the radii then scale with the rig's reach (root-to-farthest-joint path), so a child, a
giant or a centimetre rig are all drawn in proportion. A bone the rules do not know gets a
medium limb. Not drawn: bones inside the head (its top, jaw, eyes, tongue: the head is one
sphere) and helper bones that end a branch (twist, share, breast, ribs joints of iClone or
Unreal rigs: they lie inside the limb they help).

The trunk, root to neck, is two capsules (abdomen and chest) across however many spine joints
the rig has: one capsule per spine bone would show a seam at every joint. The page draws them
flattened (wider than deep) and turned with the shoulders, when the rig has shoulder joints
that `facing` recognises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from dancegen.motion.facing import ACROSS_PAIRS
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.tree import Skeleton

LEFT, CENTRE, RIGHT = -1, 0, 1

# Radii in metres for an SMPL-sized adult (whose reach sets scale 1).
RADII_M = {
    "abdomen": 0.085, "chest": 0.095, "trunk": 0.09, "hip_girdle": 0.07, "shoulder_girdle": 0.055, "neck": 0.045,
    "thigh": 0.068, "shin": 0.052, "foot": 0.04, "toe": 0.032,
    "clavicle": 0.045, "upper_arm": 0.046, "forearm": 0.037, "hand": 0.03, "finger": 0.011,
    "other": 0.035,
}
HEAD_RADIUS_M = 0.1
HEAD_LIFT_M = 0.08  # the head joint sits at the skull's base: the sphere's centre is this far up the neck

# Keyword per kind, matched against a joint name, case-insensitively, in the order listed.
_KEYWORDS = (
    ("finger", r"thumb|index|middle|ring|pinky|little|finger"),
    ("toe", r"toe"),
    ("foot", r"ankle|foot"),
    ("shin", r"knee|shin|calf|lowerleg|(?<!up)leg$"),
    ("thigh", r"hip|thigh|upleg|upperleg|femur"),
    ("hand", r"wrist|hand"),
    ("forearm", r"elbow|forearm|lowerarm"),
    ("shoulder", r"shoulder"),
    ("clavicle", r"collar|clavicle"),
    ("upper_arm", r"arm|humerus"),
    ("neck", r"neck"),
    ("head", r"head|skull"),
)
_HEAD_EXTRA = re.compile(r"(?i)top|end|nub|site")  # HeadTop_End, Head_end: tips, not the head
_HELPER = re.compile(r"(?i)twist|share|breast|ribs|roll|bulge|corrective")


def _side_pattern(word: str) -> re.Pattern:
    # "left_hip" (SMPL), "LeftArm" (Mixamo), "lThigh" (CMU), "UpperLeg_L" (Bandai), "CC_Base_L_Thigh" (iClone).
    letter = word[0]
    return re.compile(rf"(?i:{word})|^{letter}(?=[A-Z_])|(?i:(?:^|[_.]){letter}(?:[_.]|$))")


_SIDES = ((_side_pattern("left"), LEFT), (_side_pattern("right"), RIGHT))


def joint_side(name: str) -> int:
    """LEFT (-1), RIGHT (+1) or CENTRE (0): the dancer's own side, read from the joint's name."""
    return next((side for pattern, side in _SIDES if pattern.search(name)), CENTRE)


def _kind(name: str) -> str | None:
    """What a joint's name says it is ("thigh", "hand", ...), or None."""
    for kind, keywords in _KEYWORDS:
        if re.search(keywords, name, re.IGNORECASE):
            return kind
    return None


def bone_kind(parent: str, child: str) -> str | None:
    """The kind of the bone from joint `parent` to joint `child` (a key of RADII_M), or None for
    a bone that is not drawn (inside the head).

    A bone is named after its parent joint (BVH's convention: the thigh runs from the hip), except
    where the trunk branches to a limb (pelvis -> hip, chest -> collar: a girdle) and for
    "shoulder", which is the upper arm's joint in SMPL but the clavicle in Mixamo.
    """
    parent_kind, child_kind = _kind(parent), _kind(child)
    if parent_kind == "head":
        return None
    if "finger" in (parent_kind, child_kind):
        return "finger"
    if joint_side(parent) == CENTRE and joint_side(child) != CENTRE:
        return "hip_girdle" if child_kind in ("thigh", "shin", "foot") else "shoulder_girdle"
    if joint_side(parent) == CENTRE:  # Mixamo's root is "Hips": a trunk joint, not a thigh
        return "neck" if parent_kind == "neck" else "trunk"
    if parent_kind == "shoulder":
        return "upper_arm" if child_kind == "forearm" else "clavicle"
    return parent_kind or "other"


def _reach(skeleton: Skeleton) -> float:
    """Length of the longest root-to-joint path along the bones (rest lengths)."""
    lengths = np.linalg.norm(np.asarray(skeleton.offsets, dtype=np.float64), axis=1)
    path = np.zeros(skeleton.num_joints)
    for joint, parent in enumerate(skeleton.parents):  # parents come before their children
        if parent >= 0:
            path[joint] = path[parent] + lengths[joint]
    return float(path.max()) if skeleton.num_joints else 0.0


@lru_cache(maxsize=1)
def _smpl_reach() -> float:
    return _reach(smpl24())


def body_scale(skeleton: Skeleton) -> float:
    """Radii multiplier: the rig's reach over SMPL's (1 for an adult in metres)."""
    reach = _reach(skeleton)
    return reach / _smpl_reach() if reach > 0 else 1.0


@dataclass(frozen=True)
class Bone:
    """A capsule from joint `parent` to joint `child`, an ancestor and a descendant (a trunk
    segment spans several bones; every other capsule is one bone)."""

    parent: int
    child: int
    radius: float
    side: int  # the parent's side: a girdle bone (pelvis -> left hip) belongs to the trunk
    turn_with: str | None = None  # trunk bones: "shoulders", the joints' line it is flattened along


@dataclass(frozen=True)
class Head:
    joint: int
    radius: float
    lift: float  # along the neck (head joint minus its parent), from the head joint


@dataclass(frozen=True)
class BodyPlan:
    """What the viewer draws for one rig."""

    bones: tuple[Bone, ...]
    head: Head | None
    sides: tuple[int, ...]  # per joint
    hips: tuple[int, int] | None  # (left, right) joints: the lower trunk's line
    shoulders: tuple[int, int] | None  # (left, right): the chest's line and where the face (a visor) looks

    def to_json(self) -> dict:
        return {
            "bones": [[b.parent, b.child, round(b.radius, 5), b.side, b.turn_with] for b in self.bones],
            "head": None if self.head is None else
            {"joint": self.head.joint, "radius": round(self.head.radius, 5), "lift": round(self.head.lift, 5)},
            "sides": list(self.sides),
            "hips": None if self.hips is None else list(self.hips),
            "shoulders": None if self.shoulders is None else list(self.shoulders),
        }


def _head_joint(names: Sequence[str], parents: Sequence[int]) -> int | None:
    for joint, name in enumerate(names):
        if _kind(name) == "head" and not _HEAD_EXTRA.search(name) and joint_side(name) == CENTRE and parents[joint] >= 0:
            return joint
    return None


def body_plan(skeleton: Skeleton) -> BodyPlan:
    """Capsules, head and sides for `skeleton` (see the module docstring)."""
    names, parents = list(skeleton.joint_names), list(skeleton.parents)
    scale = body_scale(skeleton)
    sides = tuple(joint_side(n) for n in names)
    hips, shoulders = _across_pairs(names)
    # The trunk turns with the chest: capsules turned apart (hips one way, chest the other)
    # would cut through each other's surfaces; the hip girdle shows the pelvis's turn.
    turn_with = "shoulders" if shoulders is not None else None
    chain = _trunk_chain(skeleton)
    bones = [Bone(a, b, RADII_M[kind] * scale, CENTRE, turn_with) for a, b, kind in _trunk_segments(skeleton, chain)]
    head_joint = _head_joint(names, parents)
    hidden = _hidden_joints(skeleton, head_joint)
    for child, parent in enumerate(parents):
        if parent < 0 or (child in chain and parent in chain) or child in hidden:
            continue
        kind = bone_kind(names[parent], names[child])
        if kind is not None:
            bones.append(Bone(parent, child, RADII_M[kind] * scale, sides[parent], turn_with if kind == "trunk" else None))
    head = None if head_joint is None else Head(head_joint, HEAD_RADIUS_M * scale, HEAD_LIFT_M * scale)
    return BodyPlan(tuple(bones), head, sides, hips, shoulders)


def _hidden_joints(skeleton: Skeleton, head: int | None) -> set[int]:
    """Joints no capsule goes to: inside the head, and branches made only of helper joints."""
    hidden = set(skeleton.descendants(head)) - {head} if head is not None else set()
    for joint, name in enumerate(skeleton.joint_names):
        branch = skeleton.descendants(joint)  # the joint and all below it
        if _HELPER.search(name) and all(_HELPER.search(skeleton.joint_names[j]) for j in branch):
            hidden.add(joint)
    return hidden


def _trunk_chain(skeleton: Skeleton) -> list[int]:
    """The joints from the root up to the neck's base (SMPL: pelvis, spine1-3, neck), or []
    when the rig has no centre joint named as a neck."""
    names, parents = skeleton.joint_names, skeleton.parents
    neck = next((j for j, n in enumerate(names) if _kind(n) == "neck" and joint_side(n) == CENTRE), None)
    if neck is None:
        return []
    chain = list(reversed(skeleton.chain_to_root(neck)))
    if chain[0] != 0 or parents[0] >= 0 or len(chain) < 2 or any(joint_side(names[j]) != CENTRE for j in chain):
        return []
    return chain


def _trunk_segments(skeleton: Skeleton, chain: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, kind) capsules along the trunk: abdomen and chest, split at the spine joint
    nearest half the trunk's length (a trunk of one bone is one chest)."""
    if len(chain) < 2:
        return []
    if len(chain) == 2:
        return [(chain[0], chain[1], "chest")]
    lengths = np.linalg.norm(np.asarray(skeleton.offsets, dtype=np.float64)[chain[1:]], axis=1)
    along = np.concatenate([[0.0], np.cumsum(lengths)])
    middle = 1 + int(np.argmin(np.abs(along[1:-1] - along[-1] / 2)))
    return [(chain[0], chain[middle], "abdomen"), (chain[middle], chain[-1], "chest")]


def _across_pairs(names: Sequence[str]) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """(left, right) hip and shoulder joints of the first naming convention `facing` knows."""
    for pairs in ACROSS_PAIRS:
        if all(name in names for pair in pairs for name in pair):
            hips, shoulders = pairs
            return (names.index(hips[0]), names.index(hips[1])), (names.index(shoulders[0]), names.index(shoulders[1]))
    return None, None
