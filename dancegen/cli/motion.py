"""`dancegen motion`: inspect motion files, convert them between formats and rigs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable

# Skeletons `--to` can retarget onto (SMPL-family: the joint names the models use).
RETARGET_TARGETS = ("smpl24", "smplx52")
# Formats that only hold SMPL-family motions (AIST++ .pkl, FineDance .npy).
SMPL_ONLY_SUFFIXES = (".pkl", ".npy")

motion_app = typer.Typer(
    help="Inspect motion files; convert them between formats and rigs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def describe(path: Path, motion) -> dict:
    """The facts `motion info` prints: skeleton, joints, fps, frames, duration, height, preset."""
    from dancegen.errors import ArgumentError
    from dancegen.motion.io import estimate_height
    from dancegen.motion.retarget import detect_preset

    try:
        preset = detect_preset(motion.skeleton).name
    except ArgumentError:
        preset = None
    return {
        "file": str(path),
        "format": motion.metadata.get("format", path.suffix.lstrip(".").lower()),
        "skeleton": motion.skeleton.name,
        "joints": motion.num_joints,
        "joint_names": list(motion.skeleton.joint_names),
        "fps": motion.fps,
        "frames": motion.num_frames,
        "duration_s": motion.duration,
        "height_m": estimate_height(motion),
        "rig_preset": preset,
    }


@motion_app.command("info")
@quietable
def info(
    file: Path = typer.Argument(..., help="motion file: .bvh, .npz, .pkl (AIST++), .npy (FineDance/AMP), .glb, .txt (DeepMimic), .fbx"),
    input_fps: Optional[float] = typer.Option(None, "--input-fps", help="the file's true frame rate (overrides its header)"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show a motion's skeleton, joints, frame rate, length and the figure's height.

    --json lists every joint name too.
    """
    from dancegen.motion.io import load_motion

    facts = describe(file, load_motion(file, fps=_positive("--input-fps", input_fps)))
    preset = facts["rig_preset"] or "none matches (pass --mapping to convert)"
    Output(quiet, as_json).result(facts, (
        f"file      {facts['file']} ({facts['format']})\n"
        f"skeleton  {facts['skeleton']} ({facts['joints']} joints)\n"
        f"fps       {facts['fps']:g}\n"
        f"frames    {facts['frames']}\n"
        f"duration  {facts['duration_s']:.2f} s\n"
        f"height    {facts['height_m']:.2f} m\n"
        f"rig       {preset}"
    ))


@motion_app.command("convert")
@quietable
def convert(
    source: Path = typer.Argument(..., help="input motion file (any format `motion info` reads)"),
    out: Path = typer.Argument(
        ..., help="output file, format by extension (.bvh .npz .pkl .npy .glb .html .mp4 .fbx), or a folder for every format"
    ),
    to: Optional[str] = typer.Option(None, "--to", help=f"retarget onto this skeleton: {', '.join(RETARGET_TARGETS)}"),
    fps: Optional[float] = typer.Option(None, "--fps", help="resample the output to this frame rate"),
    input_fps: Optional[float] = typer.Option(None, "--input-fps", help="the input's true frame rate (overrides its header)"),
    rig: Optional[Path] = typer.Option(None, "--rig", help="put the motion on this character: a BVH or FBX of your rig"),
    mapping: Optional[Path] = typer.Option(
        None, "--mapping",
        help="joint mapping YAML (see dancegen/motion/rig_presets.yaml) for the --rig character, else for the input's rig",
    ),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Convert a motion to another format, retargeting it onto SMPL or your own rig on the way."""
    from dancegen.errors import ArgumentError
    from dancegen.export import ALL_FORMATS, export_motion
    from dancegen.motion.io import load_motion
    from dancegen.motion.retarget import is_smpl_family, retarget, retarget_to_rig
    from dancegen.skeleton.smpl import smpl24
    from dancegen.skeleton.smplx import smplx52

    # Check every argument before the slow part.
    if to is not None and to not in RETARGET_TARGETS:
        raise ArgumentError("--to", f"unknown skeleton {to!r}", f"use one of {', '.join(RETARGET_TARGETS)}")
    to_folder = out.is_dir() or out.suffix == ""
    if not to_folder and out.suffix.lower() not in ALL_FORMATS:
        raise ArgumentError(str(out), f"cannot write {out.suffix}", f"use one of {', '.join(ALL_FORMATS)}, or a folder")
    if mapping is not None and to is None and rig is None:
        raise ArgumentError("--mapping", "only applies when retargeting", "add --to smpl24 or --rig RIG.bvh")
    if out.suffix.lower() in SMPL_ONLY_SUFFIXES and to is None and rig is not None:
        raise ArgumentError(str(out), f"{out.suffix} files hold SMPL motions, not your rig's", "write .bvh or .npz with --rig")
    _positive("--fps", fps)

    output = Output(quiet, as_json)
    motion = load_motion(source, fps=_positive("--input-fps", input_fps))
    if out.suffix.lower() in SMPL_ONLY_SUFFIXES and to is None and not is_smpl_family(motion.skeleton):
        problem = f"{out.suffix} files hold SMPL motions and {source} is on rig {motion.skeleton.name!r}"
        raise ArgumentError(str(out), problem, "add --to smpl24")
    if to is not None:
        result = retarget(motion, smpl24() if to == "smpl24" else smplx52(), mapping if rig is None else None)
        output.say(result.summary())
        motion = result.motion
    character = None
    if rig is not None:
        character = load_motion(rig)
        motion = retarget_to_rig(motion, character, mapping)
        chosen = motion.metadata["retarget_to_rig"]["mapping"]
        output.say(f"on rig {motion.skeleton.name!r} ({motion.num_joints} joints, mapping {chosen!r})")
    if fps is not None:
        from dancegen.limits import check_at_most

        check_at_most(f"--fps: {fps:g} fps over {motion.duration:.1f} s: frames", motion.duration * fps, "max_frames")
        motion = motion.resample(fps)
    # The rig again: a .bvh comes back in the rig file's own layout, a .fbx with its joint names.
    written = export_motion(motion, out, rig=character)
    for path in written:
        output.say(f"wrote {path}: {motion.skeleton.name}, {motion.num_frames} frames @ {motion.fps:g} fps ({motion.duration:.2f} s)")
    output.result({"source": str(source), "outputs": [str(path) for path in written], "skeleton": motion.skeleton.name,
                   "joints": motion.num_joints, "fps": motion.fps, "frames": motion.num_frames,
                   "duration_s": motion.duration})


def _positive(option: str, value: Optional[float]) -> Optional[float]:
    """A frame rate option: positive, finite and within the max_fps limit."""
    from dancegen.motion.io import check_fps

    return check_fps(option, value)


def register(app: typer.Typer) -> None:
    """Add `dancegen motion info|convert` to the top-level app."""
    app.add_typer(motion_app, name="motion")
