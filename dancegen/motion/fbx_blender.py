"""The half of `dancegen.motion.fbx` that runs inside Blender's Python (bpy 5.0).

Run as a script, `python fbx_blender.py JOB.json`, by whatever interpreter has `bpy`: it needs
only the standard library, numpy and bpy, never dancegen (which may live in another interpreter
with another numpy). It does no geometry of its own: dancegen sends the armature and every
frame's bone transforms ready-made and gets raw matrices back, so all the maths stays in one
place and is tested without Blender.

JOB.json: {"command": "read" | "write", "fbx": path, "arrays": npz path, "result": json path,
plus the command's options}. The result file is {"ok": true, ...facts} or {"ok": false,
"error": one line}; "read" also writes its arrays to the npz path.

Blender's conventions used here (they are what its FBX add-on expects and produces):
- The armature object carries the axis and unit change, as the FBX importer leaves it: rotated
  +90 degrees about X (dancegen's y-up data inside, Blender's z-up world outside) and scaled
  0.01 (bone data in centimetres, the world in metres). The exporter's own -90 degree, x100
  global transform cancels it, so the FBX gets y-up centimetre values and an identity root.
- `pose_bone.matrix_basis` is the bone's transform relative to its rest, in the bone's axes.
"""

from __future__ import annotations

import json
import sys
import traceback

import bpy
import numpy as np
from bpy_extras import anim_utils
from mathutils import Matrix

# The armature object's matrix: +90 degrees about X, x0.01 (module docstring).
OBJECT_MATRIX = Matrix(((0.01, 0.0, 0.0, 0.0), (0.0, 0.0, -0.01, 0.0), (0.0, 0.01, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)))
# What the exporter is asked for: every frame baked, nothing simplified away, no leaf bones
# added (End Sites are real bones already), one take named after the scene.
EXPORT_OPTIONS = dict(
    object_types={"ARMATURE"},
    use_selection=False,
    apply_unit_scale=True,
    apply_scale_options="FBX_SCALE_NONE",
    global_scale=1.0,
    axis_forward="-Z",
    axis_up="Y",
    bake_space_transform=False,
    use_custom_props=True,
    add_leaf_bones=False,
    primary_bone_axis="Y",
    secondary_bone_axis="X",
    use_armature_deform_only=False,
    armature_nodetype="NULL",
    bake_anim=True,
    bake_anim_use_all_bones=True,
    bake_anim_use_nla_strips=False,
    bake_anim_use_all_actions=False,
    bake_anim_force_startend_keying=True,
    bake_anim_step=1.0,
    bake_anim_simplify_factor=0.0,
    use_metadata=True,
)
# The exporter writes bone nodes' default transforms from the current frame: this one holds
# the rest pose (every take starts at frame 0).
REST_FRAME = -1
IMPORT_OPTIONS = dict(
    use_anim=True,
    anim_offset=0.0,
    ignore_leaf_bones=False,
    automatic_bone_orientation=False,
    use_custom_props=True,
    use_prepost_rot=True,
)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _empty_scene() -> bpy.types.Scene:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


def _set_frame_rate(scene: bpy.types.Scene, fps: float) -> None:
    """Blender stores a rate as fps / fps_base with an integer fps (29.97 = 30 / 1.001)."""
    whole = max(1, int(round(fps)))
    scene.render.fps = whole
    scene.render.fps_base = whole / fps


def _matrix(rotation: np.ndarray, translation: np.ndarray) -> Matrix:
    out = Matrix.Identity(4)
    for i in range(3):
        for k in range(3):
            out[i][k] = float(rotation[i, k])
        out[i][3] = float(translation[i])
    return out


def _plain(value):
    """A custom property as JSON-able Python (ID property groups and arrays included)."""
    if hasattr(value, "to_dict"):
        return {k: _plain(v) for k, v in value.to_dict().items()}
    if hasattr(value, "to_list"):
        return [_plain(v) for v in value.to_list()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


# --- write -------------------------------------------------------------------------------


def _build_armature(scene, job: dict, data) -> bpy.types.Object:
    names = [str(n) for n in data["names"]]
    parents = [int(p) for p in data["parents"]]
    armature = bpy.data.armatures.new(job["armature"])
    obj = bpy.data.objects.new(job["armature"], armature)
    scene.collection.objects.link(obj)
    obj.matrix_world = OBJECT_MATRIX
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for j, name in enumerate(names):
        bone = armature.edit_bones.new(name)
        head, axes, length = data["heads"][j], data["axes"][j], float(data["lengths"][j])
        bone.head = head.tolist()
        bone.tail = (head + axes[:, 1] * length).tolist()
        bone.matrix = _matrix(axes, head)  # sets the roll too: the bone's X and Z are dancegen's
        bone.use_connect = False
        if parents[j] >= 0:
            bone.parent = bones[parents[j]]
        bones.append(bone)
    bpy.ops.object.mode_set(mode="OBJECT")
    renamed = [name for name in names if name not in armature.bones]
    if renamed:  # Blender cuts names at 63 bytes and renames duplicates: dancegen checks first
        raise ValueError(f"Blender renamed bones {', '.join(renamed)}")
    return obj


def _key_bones(obj, job: dict, data) -> None:
    """One location and one quaternion curve per animated bone, a key on every frame, and
    the rest pose keyed at REST_FRAME, outside the take."""
    action = bpy.data.actions.new(job["take"])
    obj.animation_data_create()
    obj.animation_data.action = action
    frames = np.arange(REST_FRAME, data["locations"].shape[0], dtype=np.float64)
    names = [str(n) for n in data["names"]]
    rest = {"location": [0.0, 0.0, 0.0], "rotation_quaternion": [1.0, 0.0, 0.0, 0.0]}
    for j in range(int(data["animated"])):
        pose_bone = obj.pose.bones[names[j]]
        pose_bone.rotation_mode = "QUATERNION"
        channels = (("location", data["locations"][:, j]), ("rotation_quaternion", data["quaternions"][:, j]))
        for prop, keys in channels:
            values = np.concatenate([[rest[prop]], keys])
            path = pose_bone.path_from_id(prop)
            for index in range(values.shape[1]):
                curve = action.fcurve_ensure_for_datablock(obj, path, index=index, group_name=names[j])
                curve.keyframe_points.add(len(frames))
                coords = np.empty(2 * len(frames))
                coords[0::2], coords[1::2] = frames, values[:, index]
                curve.keyframe_points.foreach_set("co", coords)
                curve.update()


def write(job: dict) -> dict:
    data = np.load(job["arrays"], allow_pickle=False)
    scene = _empty_scene()
    scene.name = job["take"]
    _set_frame_rate(scene, float(job["fps"]))
    obj = _build_armature(scene, job, data)
    for key, value in job["properties"].items():
        obj[key] = value
    _key_bones(obj, job, data)
    scene.frame_start, scene.frame_end = 0, int(data["locations"].shape[0]) - 1
    # The exporter writes each bone node's default transform from the current frame, and
    # importers (Unity's avatar too) take that as the rest pose: show them the rest pose.
    scene.frame_set(REST_FRAME)
    result = bpy.ops.export_scene.fbx(filepath=job["fbx"], **EXPORT_OPTIONS)
    if "FINISHED" not in result:
        raise RuntimeError(f"Blender's FBX exporter returned {sorted(result)}")
    return {"bones": len(data["names"])}


# --- read --------------------------------------------------------------------------------


def _pick_armature(scene) -> bpy.types.Object:
    armatures = [obj for obj in scene.objects if obj.type == "ARMATURE"]
    if not armatures:
        kinds = sorted({obj.type.lower() for obj in scene.objects}) or ["nothing"]
        raise LookupError(f"no skeleton (armature) in the file, only {', '.join(kinds)}")
    return max(armatures, key=lambda obj: len(obj.data.bones))


def _take_of(action, obj_name: str, stacks: list[str]) -> str:
    """The FBX take (animation stack) an imported action came from. Blender names the action
    "object|stack" or "object|stack|layer", and stack names may hold "|" themselves, so the
    file's own stack names decide; without them, the part after the object's name."""
    for stack in sorted(stacks, key=len, reverse=True):
        if action.name == f"{obj_name}|{stack}" or action.name.startswith(f"{obj_name}|{stack}|"):
            return stack
    head, _, rest = action.name.partition("|")
    return rest if head == obj_name and rest else action.name


def _choose_action(obj, wanted: str | None, stacks: list[str], current_take: str | None):
    """The armature's action for the wanted take, else the file's current take, else its first
    take; and every take's name, in the file's order."""
    actions = [a for a in bpy.data.actions if a.name.startswith(f"{obj.name}|")] or list(bpy.data.actions)
    takes = [_take_of(a, obj.name, stacks) for a in actions]
    # In the file's order (Blender sorts its actions by name).
    order = sorted(range(len(actions)), key=lambda i: stacks.index(takes[i]) if takes[i] in stacks else len(stacks) + i)
    actions, takes = [actions[i] for i in order], [takes[i] for i in order]
    chosen = obj.animation_data.action if obj.animation_data else None
    if wanted is None and takes:
        wanted = current_take if current_take in takes else takes[0]
    if wanted is not None:
        matches = [a for a, take in zip(actions, takes) if wanted in (take, a.name)]
        if not matches:
            raise LookupError(f"no take named {wanted!r} (takes: {', '.join(takes) or 'none'})")
        chosen = matches[0]
    if chosen is not None:
        obj.animation_data_create()
        obj.animation_data.action = chosen
        if obj.animation_data.action_slot is None:
            slot = anim_utils.action_get_first_suitable_slot(chosen, "OBJECT")
            if slot is not None:
                obj.animation_data.action_slot = slot
    return chosen, takes


def _bone_matrices(collection, prop: str) -> np.ndarray:
    """(N, 4, 4) row-major matrices from a bone collection (foreach_get is column-major)."""
    flat = np.empty(len(collection) * 16, dtype=np.float32)
    collection.foreach_get(prop, flat)
    return flat.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)


def _file_facts(path: str, fallback_fps: float) -> tuple[float, list[str], str | None]:
    """(frame rate, take names, current take) from the file itself, read with the add-on's own
    parser: the rate in full precision, decided as the importer decides it (TimeMode, else
    CustomFrameRate; Blender keeps only a float32 of it), and the takes under their own names."""
    try:
        from io_scene_fbx import parse_fbx
        from io_scene_fbx.fbx_utils import FBX_FRAMERATES

        root, _ = parse_fbx.parse(path)
    except Exception:  # a file the parser cannot read again: Blender's own values will do
        return fallback_fps, [], None

    def text(value) -> str:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    fps = fallback_fps
    stacks, current = [], None
    for element in root.elems:
        if element.id == b"GlobalSettings":
            values = {p.props[0]: p.props[-1] for block in element.elems if block.id == b"Properties70" for p in block.elems}
            table = {eid: val for val, eid in FBX_FRAMERATES[1:]}
            rate = table.get(values.get(b"TimeMode"), values.get(b"CustomFrameRate", -1.0))
            if isinstance(rate, float) and rate > 0 and abs(rate - fallback_fps) < 1e-4 * fallback_fps:
                fps = rate
        elif element.id == b"Objects":
            stacks += [text(o.props[1]).split("\x00")[0] for o in element.elems if o.id == b"AnimationStack"]
        elif element.id == b"Takes":
            current = next((text(e.props[0]) for e in element.elems if e.id == b"Current" and e.props), None)
    return fps, stacks, current or None


def _sample_frames(start: float, end: float, key_rate: int, fps: float) -> np.ndarray:
    """Blender frames (possibly fractional) at the file's frame times start + i / fps.

    The importer places keys at time x `scene.render.fps`, the rate rounded to a whole number
    (29.97 fps keys land 30 to the second), so a file at a fractional rate is sampled between
    Blender's frames; whole rates sample exactly on them.
    """
    step = key_rate / fps
    count = int(np.floor((end - start) / step + 1e-3)) + 1  # float32 key times: a little slack
    frames = start + step * np.arange(count)
    return np.where(np.abs(frames - np.round(frames)) < 1e-6, np.round(frames), frames)


def read(job: dict) -> dict:
    scene = _empty_scene()
    result = bpy.ops.import_scene.fbx(filepath=job["fbx"], **IMPORT_OPTIONS)
    if "FINISHED" not in result:
        raise RuntimeError(f"Blender's FBX importer returned {sorted(result)}")
    obj = _pick_armature(scene)
    fps, stacks, current_take = _file_facts(job["fbx"], scene.render.fps / scene.render.fps_base)
    action, takes = _choose_action(obj, job.get("take"), stacks, current_take)
    bones = obj.data.bones
    names = [bone.name for bone in bones]
    parents = [names.index(bone.parent.name) if bone.parent else -1 for bone in bones]
    if action is not None:
        start, end = (float(f) for f in action.frame_range)
    else:  # a rig without animation: its bind pose, one frame
        start = end = float(scene.frame_current)
    frames = _sample_frames(start, end, scene.render.fps, fps)
    scene.frame_set(int(frames[0]))
    rest_object = np.array(obj.matrix_world, dtype=np.float64)
    pose = np.empty((len(frames), len(names), 4, 4))
    world = np.empty((len(frames), 4, 4))
    for i, frame in enumerate(frames):
        whole = int(np.floor(frame))
        scene.frame_set(whole, subframe=float(frame - whole))
        pose[i] = _bone_matrices(obj.pose.bones, "matrix")
        world[i] = np.array(obj.matrix_world, dtype=np.float64)
    np.savez(
        job["arrays"],
        names=np.array(names),
        parents=np.array(parents, dtype=np.int64),
        rest=_bone_matrices(bones, "matrix_local"),
        rest_object=rest_object,
        pose=pose,
        object=world,
    )
    return {
        "fps": fps,
        "frame_start": start,
        "animated": action is not None,
        "take": _take_of(action, obj.name, stacks) if action is not None else None,
        "takes": takes,
        "armature": obj.name,
        "other_armatures": [o.name for o in scene.objects if o.type == "ARMATURE" and o is not obj],
        "properties": {key: _plain(obj[key]) for key in obj.keys() if not key.startswith("_")},
    }


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    try:
        facts = {"read": read, "write": write}[job["command"]](job)
        outcome = {"ok": True, **facts}
    except Exception as error:  # every failure goes back to dancegen as one line
        outcome = {"ok": False, "error": _one_line(f"{type(error).__name__}: {error}"), "trace": traceback.format_exc()}
    with open(job["result"], "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
