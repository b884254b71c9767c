"""FBX for game engines and animation packages: Unity, Unreal, Maya, MotionBuilder, Blender.

`export_fbx(motion, path)` writes what `dancegen.motion.fbx.write_fbx` writes (Y up, facing +Z,
centimetres, one take at the motion's frame rate, rest pose as bind pose; see its docstring),
with the choices an animator would otherwise make by hand:

- SMPL-family dances get Mixamo's joint names (`mixamorig:Hips`, `mixamorig:LeftUpLeg`, ...):
  Unity's humanoid avatar, Unreal's IK retargeter and Blender's retargeting add-ons map those
  automatically; SMPL's own names (`left_hip` is the thigh) they misread. dancegen reads its
  SMPL names back from the file (`names="smpl"` keeps them in the file too).
- `rig=`: the dance is first put on that character (`retarget_to_rig`), keeping its joint
  names and proportions, so the take drops onto the user's own FBX or BVH character.
- `music=` / `music_start=`: the song's file name and where in it the dance starts, as custom
  properties (`dancegen_music`, `dancegen_music_offset_s`) on the root node; Unity hands them to
  `AssetPostprocessor.OnPostprocessGameObjectWithUserProperties`, Blender shows them as the
  armature's custom properties. The take itself starts at time 0.
- The take is named after the dance (`motion.metadata["name"]`, else the file name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from dancegen.errors import ArgumentError
from dancegen.motion.fbx import write_fbx
from dancegen.motion.motion import Motion
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES
from dancegen.skeleton.smplx import SMPLX52_JOINT_NAMES

MIXAMO_PREFIX = "mixamorig:"
# SMPL-24 / SMPL-X joint -> Mixamo bone (rig_presets.yaml's `mixamo` preset read backwards, plus
# the trunk, which presets leave out, and SMPL-X's fingers).
SMPL_TO_MIXAMO = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
    "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot", "right_foot": "RightToeBase",
    "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
    "right_collar": "RightShoulder", "right_shoulder": "RightArm", "right_elbow": "RightForeArm", "right_wrist": "RightHand",
    # SMPL-24's hand joint sits at the knuckles, where Mixamo's middle finger starts.
    "left_hand": "LeftHandMiddle1", "right_hand": "RightHandMiddle1",
    **{
        f"{side}_{finger}{k}": f"{side.capitalize()}Hand{finger.capitalize()}{k}"
        for side in ("left", "right")
        for finger in ("thumb", "index", "middle", "ring", "pinky")
        for k in (1, 2, 3)
    },
}
Names = Literal["mixamo", "smpl"]


def mixamo_names(joint_names: tuple[str, ...]) -> list[str] | None:
    """Mixamo bone names for an SMPL-24 or SMPL-X skeleton, None for any other rig."""
    if joint_names not in (SMPL24_JOINT_NAMES, SMPLX52_JOINT_NAMES):
        return None
    return [MIXAMO_PREFIX + SMPL_TO_MIXAMO[name] for name in joint_names]


def export_fbx(
    motion: Motion,
    path: str | Path,
    *,
    rig: "str | Path | Motion | None" = None,
    music: str | Path | None = None,
    music_start: float = 0.0,
    take: str | None = None,
    names: Names = "mixamo",
) -> Path:
    """Write `motion` as an FBX take (module docstring); returns the path."""
    if names not in ("mixamo", "smpl"):
        raise ArgumentError("names", f"{names!r} is not mixamo or smpl")
    joint_names = None
    if rig is not None:
        from dancegen.motion.retarget import retarget_to_rig

        motion = retarget_to_rig(motion, rig)
    elif names == "mixamo":
        joint_names = mixamo_names(motion.skeleton.joint_names)
    properties: dict[str, float | str] = {}
    if music is not None:
        properties["dancegen_music"] = Path(music).name
        properties["dancegen_music_offset_s"] = float(music_start)
    return write_fbx(motion, path, take=take, joint_names=joint_names, properties=properties)


__all__ = ["SMPL_TO_MIXAMO", "export_fbx", "mixamo_names"]
