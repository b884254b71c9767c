"""Retargeting: any BVH rig onto SMPL-24, and SMPL-24 back onto any rig.

How it works, and why:

1. Landmarks. Each SMPL joint outside the trunk is played by one rig joint (a preset per rig
   family, detected from the joint names, or the user's YAML; see `rig_presets.yaml`). Rigs
   split the spine at very different heights (iClone's Waist is 9 cm above the hips, SMPL's
   spine1 21 cm), so the trunk is not paired by name: the chain from the hips' midpoint up to
   the neck is a curve, and the target's trunk joints sit on the source's curve at their own
   arc-length fractions.
2. Directions, not positions. Every target bone points along the source's matching bone, so
   the pose survives any difference in proportions, units and rest pose (T-pose, A-pose,
   bone-local axes). Precisely, each joint aims at where its children belong in the source
   pose redrawn with the target's bone lengths, from where the joint really is
   (`_Target.solve`): the rigid pelvis and chest, whose shapes differ between rigs, then keep
   their mismatch instead of passing it down the limbs. The pelvis turns by the hip line and
   the spine, the chest by the neck and the collar line (Wahba's problem): rigs agree about
   those lines, not about where along them their joints sit.
3. Twist (rotation about a bone) cannot be seen in positions, so it comes from the source
   joint's own rotation through a constant per-joint correction. The correction is read off
   the source's rest pose when that is a recognisable stance (T- or A-pose: the correction is
   the T/A difference), otherwise it is averaged over the clip against a twist-free solution
   (bone-local rigs such as iClone's and Bandai's, whose zero pose is not a stance).
4. Root and ground. The hips' midpoint follows the source's, scaled by the leg-length ratio
   so steps fit the new legs; vertically the lowest foot is put as high above the floor as the
   source's lowest foot (scaled), so planted feet stay on the ground and jumps keep their size.
5. Error. `mean_error_m` is the mean distance, per joint and frame, between the result and
   the source pose redrawn on the result's body, on a 1.7 m figure: what the retarget loses,
   not how two bodies differ. `uniform_error_m` is the plain comparison (both figures scaled
   to 1.7 m and centred per frame), which also counts their different proportions (the
   iClone rig's legs are 15% longer than SMPL's at the same height, for example).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from pydantic import ValidationError, field_validator

from dancegen.config import StrictConfig, format_validation_error, load_config
from dancegen.errors import ArgumentError, InputFileError
from dancegen.motion.motion import Motion
from dancegen.skeleton.fk import forward_kinematics, global_to_local_rotations
from dancegen.skeleton.rotations import (
    axis_angle_to_matrix,
    matrix_to_quat,
    nearest_rotation,
    quat_canonical,
    quat_to_matrix,
    rotation_between,
)
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.tree import Skeleton

Tensor = torch.Tensor

PRESETS_FILE = Path(__file__).with_name("rig_presets.yaml")
TRUNK_JOINTS = ("pelvis", "spine1", "spine2", "spine3")
MAPPABLE_JOINTS = tuple(name for name in SMPL24_JOINT_NAMES if name not in TRUNK_JOINTS)
REQUIRED_JOINTS = (
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "neck", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)
FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")
END_SITE_SUFFIX = "/end"

# Errors are reported on a figure this tall (the reference figure).
REFERENCE_HEIGHT_M = 1.7
# A chain joint counts as part of the spine curve when it sits above the hips' midpoint by at
# least this fraction of the hips-to-neck distance (the CMU rig's root is 2 cm *below* its hips).
TRUNK_KNOT_MIN_HEIGHT = 0.02
# A rest pose is a usable stance when no joint needs to swing further than this from SMPL's
# T-pose to reach it: A-pose arms are 45 degrees, bone-local rest poses fold limbs by ~180.
STANCE_MAX_SWING_RAD = np.deg2rad(100.0)
# No joint twists this far relative to its parent between two frames (90 degrees per frame is
# 1800 deg/s even at 20 fps): larger steps are export artefacts (`_remove_twist_flips`).
MAX_TWIST_STEP_RAD = np.deg2rad(90.0)
# Frames, evenly spaced, used to average a clip's twist corrections (plenty for a constant).
MAX_REFERENCE_FRAMES = 600
# Wahba fits of multi-child joints lean on the twist estimate only where the children alone
# leave the rotation undetermined (collinear children); elsewhere it bends the fit by about
# this many radians.
PRIOR_WEIGHT = 1e-9
# Spine points this close (as a fraction of the spine) to a joint count as on it.
ON_KNOT = 1e-9
# Key of the hips' midpoint among joint indices (it is no joint of any rig).
HIP_MIDDLE = -1
# Vectors shorter than this (metres) carry no direction.
MIN_LENGTH_M = 1e-9


# --- mappings ------------------------------------------------------------------------------

class JointMapping(StrictConfig):
    """Which rig joint plays each SMPL-24 joint (trunk excluded: it is matched by arc length)."""

    name: str = "custom"
    description: str = ""
    joints: dict[str, str]
    # Regular expressions (case-insensitive, searched in each joint name) that mark a rig of
    # this family; detection uses them only to choose between presets that fit equally well.
    signature: list[str] = []

    @field_validator("joints")
    @classmethod
    def _known_joints(cls, joints: dict[str, str]) -> dict[str, str]:
        trunk = [name for name in joints if name in TRUNK_JOINTS]
        if trunk:
            raise ValueError(
                f"{', '.join(trunk)}: trunk joints are matched along the spine automatically; remove them"
            )
        unknown = [name for name in joints if name not in MAPPABLE_JOINTS]
        if unknown:
            raise ValueError(f"unknown SMPL-24 joints {', '.join(unknown)} (known: {', '.join(MAPPABLE_JOINTS)})")
        empty = [name for name, value in joints.items() if not str(value).strip()]
        if empty:
            raise ValueError(f"no rig joint given for {', '.join(empty)}")
        return joints

    @classmethod
    def from_yaml(cls, path: str | Path) -> "JointMapping":
        """Read a user mapping file: `joints: {smpl_joint: rig_joint, ...}` (see rig_presets.yaml)."""
        mapping = load_config(cls, path)
        return mapping if mapping.name != "custom" else mapping.model_copy(update={"name": Path(path).stem})

    @classmethod
    def from_dict(cls, data: dict, source: str = "mapping") -> "JointMapping":
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ArgumentError(source, f"invalid joint mapping: {format_validation_error(error)}") from None


@functools.cache
def _preset_table() -> dict[str, JointMapping]:
    data = yaml.safe_load(PRESETS_FILE.read_text(encoding="utf-8"))
    return {name: JointMapping.from_dict({"name": name, **entry}, f"{PRESETS_FILE}:{name}") for name, entry in data.items()}


def presets() -> dict[str, JointMapping]:
    """The built-in presets by name (`rig_presets.yaml`)."""
    return dict(_preset_table())


def _normalised(name: str) -> str:
    """Namespace-free, case-free form of a joint name ("mixamorig:LeftArm" -> "leftarm")."""
    return name.rsplit(":", 1)[-1].lower()


def _rig_prefix(skeleton: Skeleton) -> str:
    """The prefix every joint name shares, up to a separator ("Neo_Hips", "Neo_Spine" -> "Neo_"):
    exporters prefix whole rigs with a character name without making it a namespace."""
    names = [name.rsplit(":", 1)[-1] for name in skeleton.joint_names]
    common = os.path.commonprefix(names) if len(names) > 1 else ""
    cut = max(common.rfind("_"), common.rfind("-"), common.rfind("."))
    return common[: cut + 1]


def _find_joint(skeleton: Skeleton, wanted: str) -> int | None:
    if wanted in skeleton.joint_names:
        return skeleton.joint_names.index(wanted)
    loose = [j for j, name in enumerate(skeleton.joint_names) if _normalised(name) == _normalised(wanted)]
    if not loose and (prefix := _rig_prefix(skeleton)):
        loose = [
            j for j, name in enumerate(skeleton.joint_names)
            if _normalised(name).removeprefix(prefix.lower()) == _normalised(wanted)
        ]
    return loose[0] if len(loose) == 1 else None


def _signature_hits(mapping: JointMapping, skeleton: Skeleton) -> int:
    patterns = [re.compile(pattern, re.IGNORECASE) for pattern in mapping.signature]
    return sum(any(p.search(name) for p in patterns) for name in skeleton.joint_names)


def _find_point(skeleton: Skeleton, wanted: str) -> tuple[int, bool] | None:
    """(joint index, is End Site) for a mapping value, or None when the rig has no such point."""
    if wanted.endswith(END_SITE_SUFFIX):
        joint = _find_joint(skeleton, wanted[: -len(END_SITE_SUFFIX)])
        usable = joint is not None and np.linalg.norm(skeleton.end_sites.get(joint, np.zeros(3))) > MIN_LENGTH_M
        return (joint, True) if usable else None
    joint = _find_joint(skeleton, wanted)
    return None if joint is None else (joint, False)


def _coverage(mapping: JointMapping, skeleton: Skeleton) -> tuple[list[str], list[str]]:
    """(SMPL joints the mapping can place on this rig, required SMPL joints it cannot)."""
    found = [name for name, wanted in mapping.joints.items() if _find_point(skeleton, wanted) is not None]
    missing = [name for name in REQUIRED_JOINTS if name not in found]
    return found, missing


def detect_preset(skeleton: Skeleton) -> JointMapping:
    """The preset that maps every required joint of this rig and the most joints overall."""
    table = _preset_table()
    scored = []
    for order, (name, mapping) in enumerate(table.items()):
        found, missing = _coverage(mapping, skeleton)
        # Most joints placed, then the family's own marks (Mixamo and Motorica rigs share joint
        # names), then the preset with fewest unused entries, then file order.
        hits = _signature_hits(mapping, skeleton) > 0
        scored.append((not missing, len(found), hits, len(found) / len(mapping.joints), -order, name, missing))
    complete, _, _, _, _, best, missing = max(scored)
    if not complete:
        raise ArgumentError(
            "mapping",
            f"no preset fits rig {skeleton.name!r}: the closest ({best}) finds no joint for {', '.join(missing)}",
            f"write a mapping YAML like dancegen/motion/{PRESETS_FILE.name} and pass it as --mapping (mapping= in Python)",
        )
    return table[best]


def _is_preset(mapping: JointMapping) -> bool:
    """Presets skip optional joints a rig lacks; a user's own mapping must name real joints."""
    return any(mapping is preset for preset in _preset_table().values())


def resolve_mapping(skeleton: Skeleton, mapping: "JointMapping | str | Path | None" = None) -> JointMapping:
    """A mapping from a JointMapping, a preset name, a YAML path, or None (detect from names)."""
    if mapping is None:
        return detect_preset(skeleton)
    if isinstance(mapping, JointMapping):
        return mapping
    table = _preset_table()
    if isinstance(mapping, str) and mapping in table:
        return table[mapping]
    path = Path(mapping)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InputFileError(path, "mapping file not found")
        return JointMapping.from_yaml(path)
    raise ArgumentError("mapping", f"{mapping!r} is neither a preset nor a YAML file", f"presets: {', '.join(table)}")


# --- a rig with its landmarks resolved -------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Figure:
    """A skeleton whose SMPL landmarks are resolved to joints.

    Mapped End Sites become extra leaf joints at the end (`num_own_joints` counts the rig's
    own), so both directions of retargeting treat them like any joint.
    """

    skeleton: Skeleton
    num_own_joints: int
    mapping_name: str
    joints: dict[str, int]  # SMPL name -> joint index
    hub: int  # lowest common ancestor of the hips and the neck: where legs and spine meet
    trunk: tuple[int, ...]  # joints strictly between the hub and the neck, bottom-up

    def chain(self) -> tuple[int, ...]:
        """Hub, trunk and neck: the joints that can carry the spine curve."""
        return (self.hub, *self.trunk, self.joints["neck"])


def _bind(skeleton: Skeleton, mapping: JointMapping, strict: bool) -> _Figure:
    """Resolve `mapping` on `skeleton`. Strict (user files): every named joint must exist."""
    points, unknown = {}, []
    for name, wanted in mapping.joints.items():
        point = _find_point(skeleton, wanted)
        if point is None:
            unknown.append(wanted)
        else:
            points[name] = point
    if unknown and strict:
        raise ArgumentError(
            f"mapping {mapping.name!r}",
            f"rig {skeleton.name!r} has no joint (or End Site of non-zero length) {', '.join(unknown)}",
            "check the names against the BVH",
        )
    missing = [name for name in REQUIRED_JOINTS if name not in points]
    if missing:
        raise ArgumentError(
            f"mapping {mapping.name!r}",
            f"required SMPL joints {', '.join(missing)} cannot be mapped onto rig {skeleton.name!r}",
            "name them in a mapping YAML and pass it as --mapping (mapping= in Python)",
        )

    names, parents, offsets = list(skeleton.joint_names), list(skeleton.parents), [*skeleton.offsets]
    joints = {}
    for name, (joint, is_end) in points.items():
        if is_end:
            names.append(f"{skeleton.joint_names[joint]}{END_SITE_SUFFIX}")
            parents.append(joint)
            offsets.append(skeleton.end_sites[joint])
            joint = len(names) - 1
        joints[name] = joint
    extended = Skeleton(skeleton.name, names, parents, np.array(offsets), dict(skeleton.end_sites))

    neck = joints["neck"]
    above_neck = set(extended.chain_to_root(neck))
    hub = next(j for j in extended.chain_to_root(joints["left_hip"]) if j in above_neck)
    if set(extended.chain_to_root(joints["right_hip"])).isdisjoint({hub}) or hub == neck:
        raise ArgumentError(
            f"mapping {mapping.name!r}", f"rig {skeleton.name!r}: the hips and the neck do not branch from one pelvis joint",
            "check left_hip, right_hip and neck in the mapping",
        )
    chain = extended.chain_to_root(neck)
    trunk = tuple(reversed(chain[1 : chain.index(hub)]))
    return _Figure(extended, skeleton.num_joints, mapping.name, joints, hub, trunk)


def is_smpl_family(skeleton: Skeleton) -> bool:
    """True for skeletons with SMPL's joint names (SMPL-24, SMPL-X 52)."""
    return not _coverage(_preset_table()["smpl"], skeleton)[1] and all(n in skeleton.joint_names for n in TRUNK_JOINTS)


def _smpl_figure(skeleton: Skeleton, role: str) -> _Figure:
    """Bind an SMPL-family skeleton by joint name."""
    if not is_smpl_family(skeleton):
        raise ArgumentError(role, f"skeleton {skeleton.name!r} is not SMPL-24 or SMPL-X (joint names differ)")
    return _bind(skeleton, _preset_table()["smpl"], strict=False)


# --- rotation helpers ----------------------------------------------------------------------

def _unit(vectors: Tensor) -> Tensor:
    return vectors / vectors.norm(dim=-1, keepdim=True).clamp(min=MIN_LENGTH_M)


def _rotate(rotations: Tensor, vectors: Tensor) -> Tensor:
    return torch.einsum("...ij,...j->...i", rotations, vectors)


def _aim(prior: Tensor, rest: Tensor, direction: Tensor) -> Tensor:
    """Rotate `prior` (T, 3, 3) by the smallest turn that points `rest` (3,) along `direction`."""
    current = _rotate(prior, rest.expand_as(direction))
    swing = rotation_between(current, direction)
    # A source bone of zero length says nothing: keep the prior.
    keep = (direction.norm(dim=-1) < MIN_LENGTH_M)[:, None, None]
    return torch.where(keep, prior, swing @ prior)


def _wahba(rest: Tensor, directions: Tensor, prior: Tensor) -> Tensor:
    """Rotation best taking unit `rest` (K, 3) onto unit `directions` (T, K, 3), near `prior`."""
    fit = torch.einsum("tki,kj->tij", _unit(directions), _unit(rest)) + PRIOR_WEIGHT * prior
    return nearest_rotation(fit)


def _reach(start: Tensor, direction: Tensor, centre: Tensor, radius: Tensor) -> Tensor:
    """The point on the ray `start + s * direction` (s >= 0) at `radius` from `centre`, the far
    one of the two; where the ray passes wide of the sphere, its point closest to `centre`."""
    towards = start - centre
    along = torch.einsum("ti,ti->t", direction, towards)
    discriminant = along**2 - towards.pow(2).sum(-1) + radius**2
    distance = (-along + discriminant.clamp(min=0).sqrt()).clamp(min=0)
    return start + distance[:, None] * direction


def _mean_rotation(rotations: Tensor) -> Tensor:
    """Chordal L2 mean of rotations (N, 3, 3): the rotation nearest their average matrix."""
    return nearest_rotation(rotations.mean(dim=0))


def _remove_twist_flips(skeleton: Skeleton, rotations: Tensor, axes: dict[int, Tensor]) -> Tensor:
    """Undo impossible jumps of twist about each joint's bone (`axes`, in the joint's frame).

    Euler-angle exports flip a limb's roll by ~180 degrees for a few frames (the kit's iClone
    thighs do); positions cannot show it, so the twist taken from the source would. Per-frame
    twist steps relative to the parent above `MAX_TWIST_STEP_RAD` are cancelled from there on
    (less the twist the neighbouring frames show, so the limb keeps turning as it did), which
    turns the bone about itself only: every position stays where it was.
    """
    cleaned = list(rotations.unbind(1))
    for j, p in enumerate(skeleton.parents):
        if j not in axes or p < 0 or rotations.shape[0] < 2:
            continue
        axis = _unit(axes[j])
        local = cleaned[p].transpose(-1, -2) @ cleaned[j]
        step = matrix_to_quat(local[:-1].transpose(-1, -2) @ local[1:])
        twist = 2 * torch.atan2(step[:, :3] @ axis, step[:, 3])
        twist = torch.remainder(twist + torch.pi, 2 * torch.pi) - torch.pi
        jumping = twist.abs() > MAX_TWIST_STEP_RAD
        if not bool(jumping.any()):
            continue
        smooth = torch.where(jumping, torch.zeros_like(twist), twist)
        count = (~jumping).to(twist.dtype)
        # The step a jumping frame would have taken: the mean of its non-jumping neighbours.
        around = F.pad(smooth, (1, 1))[:-2] + F.pad(smooth, (1, 1))[2:]
        near = (F.pad(count, (1, 1))[:-2] + F.pad(count, (1, 1))[2:]).clamp(min=1)
        jumps = torch.where(jumping, twist - around / near, torch.zeros_like(twist))
        undo = torch.cat([torch.zeros(1, dtype=twist.dtype), -jumps.cumsum(0)])
        cleaned[j] = cleaned[j] @ axis_angle_to_matrix(undo[:, None] * axis)
    return torch.stack(cleaned, dim=1)


def _rotation_angle(rotations: Tensor) -> Tensor:
    cos = (rotations.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.arccos(cos.clamp(-1.0, 1.0))


# --- poses of a figure ---------------------------------------------------------------------

def _extended_fk(motion: Motion, figure: _Figure) -> tuple[Tensor, Tensor]:
    """World rotations and positions (T, J', ...) of a motion on its extended skeleton."""
    extra = figure.skeleton.num_joints - motion.num_joints
    quats = torch.from_numpy(motion.rotations)
    if extra:
        identity = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64).expand(motion.num_frames, extra, 4)
        quats = torch.cat([quats, identity], dim=1)
    offsets = torch.from_numpy(figure.skeleton.offsets)
    return forward_kinematics(quat_to_matrix(quats), torch.from_numpy(motion.root_translation), offsets, figure.skeleton.parents)


def _positions_from_globals(skeleton: Skeleton, rotations: Tensor) -> Tensor:
    """Joint positions (T, J, 3) from global rotations, root at the origin."""
    offsets = torch.from_numpy(skeleton.offsets)
    positions = []
    for j, p in enumerate(skeleton.parents):
        positions.append(torch.zeros_like(rotations[:, 0, 0]) if p < 0 else positions[p] + _rotate(rotations[:, p], offsets[j]))
    return torch.stack(positions, dim=1)


# --- the spine curve -----------------------------------------------------------------------

def _hip_middle(figure: _Figure, positions: Tensor) -> Tensor:
    return (positions[..., figure.joints["left_hip"], :] + positions[..., figure.joints["right_hip"], :]) / 2


def _trunk_knots(figure: _Figure, positions: Tensor) -> list[int]:
    """Chain joints that lie above the hips (judged on the median frame), ending at the neck."""
    if positions.dim() == 2:
        positions = positions[None]
    middle = _hip_middle(figure, positions)
    neck = positions[:, figure.joints["neck"]]
    axis = neck - middle
    length = axis.norm(dim=-1).clamp(min=MIN_LENGTH_M)
    knots = []
    for j in figure.chain():
        height = (torch.einsum("ti,ti->t", positions[:, j] - middle, axis) / length**2).median()
        if height > TRUNK_KNOT_MIN_HEIGHT or j == figure.joints["neck"]:
            knots.append(j)
    return knots


def _curve(figure: _Figure, positions: Tensor, knots: list[int]) -> Tensor:
    """The spine polyline (..., K + 1, 3): hips' midpoint, then the knots."""
    return torch.cat([_hip_middle(figure, positions)[..., None, :], positions[..., knots, :]], dim=-2)


def _curve_length(curve: Tensor) -> Tensor:
    return (curve[..., 1:, :] - curve[..., :-1, :]).norm(dim=-1).sum(-1)


def _arc_fractions(curve: Tensor) -> Tensor:
    """Cumulative arc length of each curve point, as a fraction of the whole (K + 1,)."""
    lengths = torch.cat([torch.zeros(1, dtype=curve.dtype), (curve[1:] - curve[:-1]).norm(dim=-1).cumsum(0)])
    return lengths / lengths[-1].clamp(min=MIN_LENGTH_M)


def _along(curve: Tensor, fractions: Tensor) -> Tensor:
    """Points (T, F, 3) at arc-length `fractions` (F,) along per-frame polylines (T, K, 3)."""
    steps = (curve[:, 1:] - curve[:, :-1]).norm(dim=-1)
    cumulative = torch.cat([torch.zeros_like(steps[:, :1]), steps.cumsum(1)], dim=1)
    wanted = fractions[None, :] * cumulative[:, -1:]
    segment = torch.searchsorted(cumulative[:, 1:-1].contiguous(), wanted.contiguous())
    start = cumulative.gather(1, segment)
    span = steps.gather(1, segment).clamp(min=MIN_LENGTH_M)
    weight = ((wanted - start) / span).clamp(0.0, 1.0)[..., None]
    index = segment[..., None].expand(-1, -1, 3)
    return curve.gather(1, index) * (1 - weight) + curve.gather(1, index + 1) * weight


# --- one transfer --------------------------------------------------------------------------

@dataclass
class _Source:
    """What a target needs from a source motion, per frame (positions are the source's own)."""

    figure: _Figure
    rotations: Tensor  # (T, J, 3, 3) world
    positions: Tensor  # (T, J, 3) world
    knots: list[int]  # joints along the spine curve, ending at the neck
    curve: Tensor  # (T, K + 1, 3) spine polyline: hips' midpoint, then the knots

    @classmethod
    def of(cls, motion: Motion, figure: _Figure) -> "_Source":
        rotations, positions = _extended_fk(motion, figure)
        knots = _trunk_knots(figure, positions)
        return cls(figure, rotations, positions, knots, _curve(figure, positions, knots))

    def point(self, name: str) -> Tensor | None:
        joint = self.figure.joints.get(name)
        return None if joint is None else self.positions[:, joint]

    def trunk_joint(self, fraction: float) -> int:
        """The source joint whose bone holds the spine point at `fraction` of the curve."""
        steps = (self.curve[:, 1:] - self.curve[:, :-1]).norm(dim=-1).median(dim=0).values
        bounds = steps.cumsum(0) / steps.sum().clamp(min=MIN_LENGTH_M)
        # A point exactly on a knot belongs to the bone that starts there.
        nudged = torch.tensor(fraction + ON_KNOT, dtype=bounds.dtype)
        segment = int(torch.searchsorted(bounds[:-1], nudged, right=True))
        return self.figure.hub if segment == 0 else self.knots[segment - 1]

    def median_distance(self, a: str, b: str) -> float:
        return float((self.positions[:, self.figure.joints[a]] - self.positions[:, self.figure.joints[b]]).norm(dim=-1).median())


class _Target:
    """A target skeleton prepared for transfers: rest geometry, aims and spine fractions."""

    def __init__(self, figure: _Figure, default_local: Tensor | None = None):
        skeleton = figure.skeleton
        self.figure = figure
        if default_local is None:
            default_local = torch.eye(3, dtype=torch.float64).expand(skeleton.num_joints, 3, 3)
        self.default_local = default_local
        # The target's own reference pose: every joint at its default rotation, root at the origin.
        self.rest_rotations, self.rest_positions = forward_kinematics(
            self.default_local, torch.zeros(3, dtype=torch.float64), torch.from_numpy(skeleton.offsets), skeleton.parents
        )
        knots = _trunk_knots(figure, self.rest_positions)
        fractions = dict(zip(knots, _arc_fractions(_curve(figure, self.rest_positions, knots)).tolist()[1:]))
        # Trunk joints below the hips (none in practice) sit at the curve's start.
        self.fractions = {j: fractions.get(j, 0.0) for j in figure.trunk}

    def _aims(self, joint: int, driven: set[int]) -> list[int]:
        """Driven joints below `joint` reached without passing another driven joint."""
        found, stack = [], list(self.figure.skeleton.children(joint))
        while stack:
            child = stack.pop()
            if child in driven:
                found.append(child)
            else:
                stack.extend(self.figure.skeleton.children(child))
        return sorted(found)

    def rest_vector(self, joint: int, towards: Tensor) -> Tensor:
        """A rest-pose world vector expressed in `joint`'s own frame."""
        return self.rest_rotations[joint].T @ towards

    def landmarks(self, source: _Source) -> dict[int, Tensor]:
        """Per-frame source positions (T, 3) for every driven target joint except the hub."""
        marks = {}
        for name, joint in self.figure.joints.items():
            point = source.point(name)
            if point is not None:
                marks[joint] = point
        trunk = list(self.figure.trunk)
        if trunk:
            fractions = torch.tensor([self.fractions[j] for j in trunk], dtype=torch.float64)
            for joint, point in zip(trunk, _along(source.curve, fractions).unbind(1)):
                marks[joint] = point
        return marks

    def solve(self, source: _Source, priors: dict[int, Tensor] | None = None) -> tuple[Tensor, dict[int, Tensor]]:
        """Global rotations (T, J, 3, 3) of the target following `source`, and the pose aimed for.

        The aimed-for ("ideal") pose is the source pose drawn with the target's bone lengths,
        hanging from the target's own hips' midpoint (key `HIP_MIDDLE`): every driven joint
        sits at its target distance from its anchor (nearest driven ancestor; the hips'
        midpoint for whatever hangs from the pelvis) along the source's direction between the
        two. Each joint turns to point at its children's ideal positions from where it really
        is, so a rigid joint whose shape differs between rigs (pelvis, chest) keeps its error
        instead of passing it down the limb. With equal proportions this is exactly "point
        every bone along the source's bone". Positions are relative (root at the origin).

        The pelvis turns by the hip line and the spine, the chest by the neck and the collar
        line: rigs disagree about where along those lines their joints sit (the CMU rig's
        collar joints are beside the sternum, SMPL's 7 cm out), not about the lines. For the
        same reason a shoulder is aimed for along the source's chest-to-shoulder direction, at
        the point the target's own collarbone reaches.

        `priors` (per joint, world rotations) carry twist; without them each joint keeps its
        default rotation relative to its parent before being aimed (a twist-free solution).
        """
        figure, skeleton = self.figure, self.figure.skeleton
        priors = priors or {}
        marks = {**self.landmarks(source), HIP_MIDDLE: source.curve[:, 0]}
        frames = source.positions.shape[0]
        # Joints the source says nothing about keep their default rotation, and their parents
        # aim through them at the next joints it does place.
        driven = (set(marks) - {HIP_MIDDLE}) | {figure.hub}
        anchors = {c: self._anchor(c, driven) for c in driven if c != figure.hub}
        lines, collarbones = self._lines(driven, anchors)

        ideal: dict[int, Tensor] = {}
        rotations: list[Tensor] = []
        positions: list[Tensor] = []
        twist_axes: dict[int, Tensor] = {}
        offsets = torch.from_numpy(skeleton.offsets)

        def place(children: list[int]) -> None:
            for c in children:
                a = anchors[c]
                direction = _unit(marks[c] - marks[a])
                if c in collarbones:
                    collar = collarbones[c]
                    radius = (self.rest_positions[c] - self.rest_positions[collar]).norm()
                    ideal[c] = _reach(ideal[a], direction, positions[collar], radius)
                else:
                    ideal[c] = ideal[a] + (self.rest_positions[c] - self.rest_point(a)).norm() * direction

        for j, p in enumerate(skeleton.parents):
            if p < 0:
                positions.append(torch.zeros(frames, 3, dtype=torch.float64))
            else:
                positions.append(positions[p] + _rotate(rotations[p], offsets[j]))
            inherited = (self.default_local[j] if p < 0 else rotations[p] @ self.default_local[j]).expand(frames, 3, 3)
            prior = priors.get(j, inherited)
            if j not in driven:
                rotations.append(inherited)
                continue
            aims = self._aims(j, driven)
            if j in lines:
                # Turned by its joint line and by what hangs from it off that line.
                left, right = (figure.joints[name] for name in lines[j])
                ends = [c for c in aims if c not in (left, right)]
                origin = self.rest_point(HIP_MIDDLE) if j == figure.hub else self.rest_positions[j]
                rest = [self.rest_positions[left] - self.rest_positions[right]] + [self.rest_positions[c] - origin for c in ends]
                if j == figure.hub:
                    seen = [marks[left] - marks[right]] + [marks[c] - marks[HIP_MIDDLE] for c in ends]
                else:
                    place(ends)
                    seen = [marks[left] - marks[right]] + [ideal[c] - positions[j] for c in ends]
                rest_local = torch.stack([self.rest_vector(j, v) for v in rest])
                rotation = _wahba(rest_local, torch.stack(seen, dim=1), prior)
                if j == figure.hub:
                    to_middle = self.rest_vector(j, self.rest_point(HIP_MIDDLE) - self.rest_positions[j])
                    ideal[HIP_MIDDLE] = positions[j] + _rotate(rotation, to_middle)
                place(aims)
            else:
                place(aims)
                rest = [self.rest_vector(j, self.rest_positions[c] - self.rest_positions[j]) for c in aims]
                if len(aims) == 1:
                    rotation = _aim(prior, rest[0], ideal[aims[0]] - positions[j])
                    twist_axes[j] = rest[0]
                elif aims:
                    rotation = _wahba(torch.stack(rest), torch.stack([ideal[c] - positions[j] for c in aims], dim=1), prior)
                else:
                    rotation = prior
                    twist_axes[j] = self.rest_vector(j, self.rest_positions[j] - self.rest_positions[p])
            rotations.append(rotation)
        return _remove_twist_flips(skeleton, torch.stack(rotations, dim=1), twist_axes), ideal

    def _lines(self, driven: set[int], anchors: dict[int, int]) -> tuple[dict[int, tuple[str, str]], dict[int, int]]:
        """Joints turned by a line between two children (pelvis: the hips; chest: the collars),
        and shoulder -> collar for shoulders aimed for from the chest (`anchors` is updated)."""
        joints = self.figure.joints
        lines = {self.figure.hub: ("left_hip", "right_hip")}
        collarbones = {}
        if not all(joints.get(n) in driven for n in ("left_collar", "right_collar", "left_shoulder", "right_shoulder")):
            return lines, collarbones
        collars = joints["left_collar"], joints["right_collar"]
        chest = anchors[collars[0]]
        if chest != anchors[collars[1]] or chest == HIP_MIDDLE:
            return lines, collarbones
        lines[chest] = ("left_collar", "right_collar")
        for side, collar in zip(("left", "right"), collars):
            shoulder = joints[f"{side}_shoulder"]
            if anchors[shoulder] == collar:
                collarbones[shoulder], anchors[shoulder] = collar, chest
        return lines, collarbones

    def rest_point(self, joint: int) -> Tensor:
        return _hip_middle(self.figure, self.rest_positions) if joint == HIP_MIDDLE else self.rest_positions[joint]

    def _anchor(self, joint: int, driven: set[int]) -> int:
        """Nearest driven ancestor; joints hanging from the pelvis hang from the hips' midpoint."""
        ancestor = next((a for a in self.figure.skeleton.chain_to_root(joint)[1:] if a in driven), self.figure.hub)
        return HIP_MIDDLE if ancestor == self.figure.hub else ancestor

    def rest_distance(self, a: str, b: str) -> float:
        return float((self.rest_positions[self.figure.joints[a]] - self.rest_positions[self.figure.joints[b]]).norm())

    def leg_length(self) -> float:
        return _leg_length(self.rest_distance)

    def counterparts(self, source: _Source) -> dict[int, int]:
        """Target joint -> the source joint whose rotation carries its twist.

        Mapped joints pair by SMPL name (End Sites have no rotation); a trunk joint pairs with
        the source joint whose bone holds its point on the spine curve.
        """
        pairs = {}
        for name, joint in self.figure.joints.items():
            theirs = source.figure.joints.get(name)
            if theirs is not None and theirs < source.figure.num_own_joints and joint < self.figure.num_own_joints:
                pairs[joint] = theirs
        for joint in self.figure.trunk:
            pairs[joint] = source.trunk_joint(self.fractions[joint])
        return pairs

    def corrections(self, source_rotations: Tensor, target_rotations: Tensor, pairs: dict[int, int]) -> dict[int, Tensor]:
        """Constant per-joint corrections C with target ≈ source · C, averaged over frames."""
        return {
            joint: _mean_rotation(source_rotations[:, theirs].transpose(-1, -2) @ target_rotations[:, joint])
            for joint, theirs in pairs.items()
        }

    @staticmethod
    def twist_priors(source: _Source, corrections: dict[int, Tensor], pairs: dict[int, int]) -> dict[int, Tensor]:
        return {joint: source.rotations[:, pairs[joint]] @ correction for joint, correction in corrections.items()}


def _leg_length(distance) -> float:
    """Thigh plus shin, averaged over both legs; `distance(a, b)` measures between SMPL joints."""
    return sum(distance(f"{side}_hip", f"{side}_knee") + distance(f"{side}_knee", f"{side}_ankle") for side in ("left", "right")) / 2


def _place_root(target: _Target, source: _Source, rotations: Tensor) -> Tensor:
    """Root translation (T, 3): hips' midpoint follows the source scaled by leg length, feet grounded."""
    figure = target.figure
    relative = _positions_from_globals(figure.skeleton, rotations)
    scale = target.leg_length() / _leg_length(source.median_distance)
    translation = scale * source.curve[:, 0] - _hip_middle(figure, relative)

    source_feet = [source.point(name) for name in FOOT_JOINTS if source.point(name) is not None]
    source_lowest = torch.stack(source_feet, dim=1)[..., 1].min(dim=1).values
    clearance = source_lowest - source_lowest.min()
    target_feet = [figure.joints[name] for name in FOOT_JOINTS if name in figure.joints]
    target_lowest = relative[:, target_feet, 1].min(dim=1).values
    translation[:, 1] = scale * clearance - target_lowest
    return translation


def _check_sides(source: _Source) -> None:
    """Refuse mappings whose left and right are swapped (the figure would dance mirrored)."""
    if source.point("left_foot") is None or source.point("right_foot") is None:
        return
    across = source.point("left_hip") - source.point("right_hip")
    up = source.curve[:, -1] - source.curve[:, 0]
    toes = (source.point("left_foot") - source.point("left_ankle")) + (source.point("right_foot") - source.point("right_ankle"))
    # SMPL: left is +x, up is +y, so left x up is forward (+z), where the toes point.
    facing = torch.einsum("ti,ti->t", torch.cross(across, up, dim=-1), toes)
    if float(facing.median()) < 0:
        raise ArgumentError(
            f"mapping {source.figure.mapping_name!r}",
            f"left and right are swapped on rig {source.figure.skeleton.name!r} (the left hip is on the figure's right)",
            "swap the left_ and right_ entries",
        )


def _reference_frames(motion: Motion) -> Motion:
    """At most `MAX_REFERENCE_FRAMES` evenly spaced frames (enough to average a constant)."""
    step = int(np.ceil(motion.num_frames / MAX_REFERENCE_FRAMES))
    if step <= 1:
        return motion
    return motion.copy(
        rotations=motion.rotations[::step].copy(), root_translation=motion.root_translation[::step].copy(), contacts=None
    )


def _rest_motion(skeleton: Skeleton) -> Motion:
    """One frame of the rest pose (every rotation the identity; the frame rate is irrelevant)."""
    identity = np.zeros((1, skeleton.num_joints, 4))
    identity[..., 3] = 1.0
    return Motion(skeleton, 1.0, identity, np.zeros((1, 3)))


def _forward_corrections(
    source_motion: Motion, source: _Figure, target: _Target, pairs: dict[int, int]
) -> tuple[dict[int, Tensor], str]:
    """Twist corrections for rig -> SMPL: from the rig's rest stance, or averaged over the clip."""
    rest = _Source.of(_rest_motion(source_motion.skeleton), source)
    solved, _ = target.solve(rest)
    local = global_to_local_rotations(solved, target.figure.skeleton.parents)
    # The pelvis may face anywhere at rest; what matters is how far limbs and spine must swing.
    limbs = [j for j in range(target.figure.num_own_joints) if j != target.figure.hub]
    if float(_rotation_angle(local[:, limbs]).max()) < STANCE_MAX_SWING_RAD:
        return target.corrections(rest.rotations, solved, pairs), "rest stance"
    reference = _Source.of(_reference_frames(source_motion), source)
    return target.corrections(reference.rotations, target.solve(reference)[0], pairs), "clip average"


def _to_motion(target: _Target, rotations: Tensor, translation: Tensor, fps: float, metadata: dict) -> Motion:
    figure = target.figure
    own = figure.num_own_joints
    local = global_to_local_rotations(rotations, figure.skeleton.parents)[:, :own]
    quats = quat_canonical(matrix_to_quat(local))
    skeleton = Skeleton(
        figure.skeleton.name, figure.skeleton.joint_names[:own], figure.skeleton.parents[:own],
        figure.skeleton.offsets[:own], dict(figure.skeleton.end_sites),
    )
    return Motion(skeleton, fps, quats.numpy(), translation.numpy(), metadata=metadata)


# --- error ---------------------------------------------------------------------------------

def _height(distance, curve_length: float) -> float:
    """Pose-free standing height: legs, hips-to-neck spine curve, neck to head joint."""
    return _leg_length(distance) + curve_length + distance("neck", "head")


def _errors(target: _Target, source: _Source, rotations: Tensor, ideal: dict[int, Tensor]) -> tuple[dict[str, float], float]:
    """Per-joint error against the source pose drawn on the result's body (`_Target.solve`),
    on a 1.7 m figure, and the plain mean error of both bodies scaled to 1.7 m and centred.

    The pelvis is left out: it is placed from the hips, and its joint sits at a different
    height in every rig.
    """
    figure = target.figure
    positions = _positions_from_globals(figure.skeleton, rotations)
    compared = sorted(j for j in ideal if 0 <= j < figure.num_own_joints)
    rest_curve = _curve(figure, target.rest_positions, _trunk_knots(figure, target.rest_positions))
    scale = REFERENCE_HEIGHT_M / _height(target.rest_distance, float(_curve_length(rest_curve)))
    per_joint = {
        figure.skeleton.joint_names[j]: float(scale * (ideal[j] - positions[:, j]).norm(dim=-1).mean()) for j in compared
    }

    marks = target.landmarks(source)
    source_height = _height(source.median_distance, float(_curve_length(source.curve).median()))
    theirs = torch.stack([marks[j] for j in compared], dim=1) * (REFERENCE_HEIGHT_M / source_height)
    ours = positions[:, compared] * scale
    theirs = theirs - theirs.mean(dim=1, keepdim=True)
    ours = ours - ours.mean(dim=1, keepdim=True)
    return per_joint, float((theirs - ours).norm(dim=-1).mean())


# --- public API ----------------------------------------------------------------------------

@dataclass
class RetargetResult:
    """A retargeted motion and how faithful it is (module docstring, point 5)."""

    motion: Motion
    mean_error_m: float  # on the common 1.7 m figure (module docstring, point 5)
    per_joint_error_m: dict[str, float]
    uniform_error_m: float = 0.0  # both bodies scaled to 1.7 m: includes proportion differences
    mapping: str = ""
    details: dict = field(default_factory=dict)

    def summary(self) -> str:
        worst = max(self.per_joint_error_m, key=self.per_joint_error_m.get)
        return (
            f"retargeted with mapping {self.mapping!r}: mean error {100 * self.mean_error_m:.2f} cm on a 1.7 m figure "
            f"(worst {worst} {100 * self.per_joint_error_m[worst]:.2f} cm; {100 * self.uniform_error_m:.1f} cm "
            f"counting the bodies' different proportions)"
        )


def retarget(
    source: Motion,
    target: Skeleton | None = None,
    mapping: JointMapping | str | Path | None = None,
) -> RetargetResult:
    """Put `source` (any rig) on an SMPL-family skeleton (default SMPL-24).

    mapping: a JointMapping, a preset name (`presets()`), a YAML file, or None to detect the
    preset from the joint names. Raises `ArgumentError` (one line) when no preset fits, when
    required joints cannot be mapped (it lists them), or when left and right are swapped.
    """
    target_skeleton = smpl24() if target is None else target
    target_fig = _Target(_smpl_figure(target_skeleton, "target"))
    chosen = resolve_mapping(source.skeleton, mapping)
    source_fig = _bind(source.skeleton, chosen, strict=not _is_preset(chosen))
    seen = _Source.of(source, source_fig)
    _check_sides(seen)

    pairs = target_fig.counterparts(seen)
    corrections, twist_from = _forward_corrections(source, source_fig, target_fig, pairs)
    rotations, ideal = target_fig.solve(seen, target_fig.twist_priors(seen, corrections, pairs))
    translation = _place_root(target_fig, seen, rotations)
    per_joint, uniform = _errors(target_fig, seen, rotations, ideal)
    mean_error = float(np.mean(list(per_joint.values())))
    details = {
        "source_rig": source.skeleton.name,
        "mapping": chosen.name,
        "twist_from": twist_from,
        "leg_scale": target_fig.leg_length() / _leg_length(seen.median_distance),
        "mean_error_m": mean_error,
        "uniform_error_m": uniform,
    }
    metadata = {"source": source.metadata, "retarget": details}
    motion = _to_motion(target_fig, rotations, translation, source.fps, metadata)
    return RetargetResult(motion, mean_error, per_joint, uniform, chosen.name, details)


def is_on_skeleton(motion: Motion, skeleton: Skeleton) -> bool:
    """Whether `motion` already is on `skeleton`: same joints, tree and rest offsets."""
    mine = motion.skeleton
    return (
        mine.joint_names == skeleton.joint_names
        and mine.parents == skeleton.parents
        and np.allclose(mine.offsets, skeleton.offsets, atol=1e-9)
    )


def retarget_to_rig(
    motion: Motion,
    rig: Motion | Skeleton | str | Path,
    mapping: JointMapping | str | Path | None = None,
) -> Motion:
    """Put `motion` (SMPL-24, or any rig, which is first retargeted to SMPL-24) on a user's rig.

    rig: the character, as a Motion or BVH path (its frames teach how its joints twist
    relative to SMPL's; a bind/T-pose frame is enough) or a bare Skeleton (its rest pose is
    used instead). Joints with no SMPL counterpart (fingers, twist bones, face) keep the rig's
    average rotation relative to their parent.
    """
    if isinstance(rig, (str, Path)):
        from dancegen.motion.io import load_motion

        rig = load_motion(rig)
    rig_motion = rig if isinstance(rig, Motion) else _rest_motion(rig)
    if is_on_skeleton(motion, rig_motion.skeleton):  # already on the rig: nothing to do
        return motion.copy()
    if not is_smpl_family(motion.skeleton):
        motion = retarget(motion).motion
    smpl_fig = _smpl_figure(motion.skeleton, "motion")

    chosen = resolve_mapping(rig_motion.skeleton, mapping)
    rig_fig = _bind(rig_motion.skeleton, chosen, strict=not _is_preset(chosen))
    reference = _reference_frames(rig_motion)
    rig_rotations, _ = _extended_fk(reference, rig_fig)
    reference_local = global_to_local_rotations(rig_rotations, rig_fig.skeleton.parents)
    default_local = torch.stack([_mean_rotation(reference_local[:, j]) for j in range(rig_fig.skeleton.num_joints)])
    target = _Target(rig_fig, default_local)

    # How the rig's joints sit relative to SMPL's: retarget the rig's own frames to SMPL.
    seen = _Source.of(motion, smpl_fig)
    pairs = target.counterparts(seen)
    as_smpl = retarget(reference, motion.skeleton, chosen).motion
    smpl_reference, _ = _extended_fk(as_smpl, smpl_fig)
    corrections = target.corrections(smpl_reference, rig_rotations, pairs)
    rotations, _ = target.solve(seen, target.twist_priors(seen, corrections, pairs))
    translation = _place_root(target, seen, rotations)
    metadata = {"source": motion.metadata, "retarget_to_rig": {"rig": rig_motion.skeleton.name, "mapping": chosen.name}}
    return _to_motion(target, rotations, translation, motion.fps, metadata)
