"""Exports: one motion to every file format people open dances with.

`export_motion(motion, out)` writes one file when `out` has a known extension, or every format
that fits the skeleton into `out` as a directory:

| ext | what | written by |
|---|---|---|
| `.bvh` | BVH on the motion's own rig, or retargeted onto `rig` (a character `.bvh`) | `motion.bvh` |
| `.npz` | SMPL parameters + the dancegen motion arrays | `export.smpl_params` |
| `.pkl` | AIST++ `smpl_poses`, `smpl_trans`, `smpl_scaling` (SMPL-family skeletons) | `motion.formats` |
| `.npy` | FineDance T x 315 (52-joint SMPL-X output) | `motion.formats` |
| `.glb` | glTF 2.0: skeleton, skin, stick-figure mesh, animation | `export.gltf` |
| `.html` | the offline web viewer page with music, beats, texts and downloads | `viewer.page` |
| `.mp4` | a rendered video (by extension only: it needs ffmpeg and takes a while) | `export.video` |
| `.fbx` | FBX take for Unity/Unreal/Maya, on SMPL with Mixamo names or on `rig` (by extension only: it needs `dancegen[fbx]`) | `export.fbx` |

With `rig` given as a BVH character, `.bvh` comes back in that file's own layout (header byte for
byte: units, OFFSETs, channel orders, joint names; `motion.bvh.write_bvh_on_rig`).

Every file is written atomically; every argument is checked before the first file is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

from dancegen.errors import ArgumentError, InputFileError
from dancegen.export.smpl_params import smpl_model_type
from dancegen.motion.motion import Motion

if TYPE_CHECKING:
    from dancegen.export.video import VideoConfig

MOTION_FORMATS = (".bvh", ".npz", ".pkl", ".npy", ".glb")
ALL_FORMATS = MOTION_FORMATS + (".html", ".mp4", ".fbx")
# What a directory gets: everything but video and FBX (which need ffmpeg / Blender).
DIRECTORY_FORMATS = MOTION_FORMATS + (".html",)
DEFAULT_NAME = "dance"


def formats_for(motion: Motion) -> tuple[str, ...]:
    """The formats a directory export writes for this motion's skeleton."""
    model = smpl_model_type(motion.skeleton)
    skip = {".pkl"} if model not in ("smpl", "smplx") else set()
    skip |= {".npy"} if model != "smplx" else set()
    return tuple(ext for ext in DIRECTORY_FORMATS if ext not in skip)


def _normalise_formats(formats: Iterable[str]) -> tuple[str, ...]:
    normalised = []
    for ext in formats:
        ext = ext.lower() if ext.startswith(".") else f".{ext.lower()}"
        if ext not in ALL_FORMATS:
            raise ArgumentError("--format", f"unknown format {ext!r}", f"choose from {', '.join(ALL_FORMATS)}")
        normalised.append(ext)
    return tuple(dict.fromkeys(normalised))


def resolve_beats(music: str | Path | None, beats: Any = None) -> np.ndarray:
    """Beat times in seconds: from `beats` (times, a `BeatInfo` or a beats.json path), else
    detected in `music`, else none."""
    if isinstance(beats, (str, Path)):
        from dancegen.audio.beats import load_beats_json

        beats = load_beats_json(beats)
    if beats is not None:
        return np.asarray(getattr(beats, "beat_times", beats), dtype=np.float64).reshape(-1)
    if music is None:
        return np.zeros(0)
    from dancegen.audio.beats import detect_beats_in_file

    # Streamed: the beats of an hour-long song in bounded memory.
    return np.asarray(detect_beats_in_file(music).info.beat_times, dtype=np.float64)


def check_output_kind(out: str | Path) -> None:
    """Refuse an output path of the wrong kind: an existing folder named like a file of a known
    format (`-o page.html` where page.html is a folder), or an existing file where a folder
    export would go."""
    from dancegen.fileio import check_file_target, check_folder_target

    out = Path(out)
    if out.suffix.lower() in ALL_FORMATS:
        check_file_target(out)
    elif out.suffix == "":
        check_folder_target(out)


def resolve_texts(motion: Motion, annotation: Any = None, prompt: str | None = None) -> tuple[Any, str | None]:
    """(annotation, prompt) to show: the given ones (an annotation may be a file path), else
    the `annotation` / `prompt` the motion's metadata carries (as `dancegen generate` stores them)."""
    from dancegen.data.annotations import Annotation, read_annotation

    if isinstance(annotation, (str, Path)):
        annotation = read_annotation(annotation)
    if annotation is None and isinstance(motion.metadata.get("annotation"), dict):
        annotation = Annotation.from_dict(motion.metadata["annotation"], source="motion metadata")
    from dancegen.text.clean import clean_text, strip_control

    if prompt is not None:  # the user's --prompt: cleaned, and it must say something
        prompt = clean_text(prompt, "--prompt")
    elif isinstance(motion.metadata.get("prompt"), str):
        prompt = strip_control(motion.metadata["prompt"]) or None
    return annotation, prompt


def _writers(rig: Any, music: Any, music_start: float, beats: np.ndarray, annotation: Any,
             prompt: str | None, video_config: "VideoConfig | None", quiet: bool) -> dict[str, Callable[[Motion, Path], Any]]:
    """One writer per extension, each `(motion, path) -> None`; imports stay lazy."""

    def bvh(motion: Motion, path: Path) -> None:
        from dancegen.motion.bvh import write_bvh, write_bvh_on_rig

        if rig is None:
            write_bvh(motion, path)
            return
        from dancegen.motion.io import load_motion
        from dancegen.motion.retarget import retarget_to_rig

        character = rig if isinstance(rig, Motion) else load_motion(rig)
        motion = retarget_to_rig(motion, character)
        if character.metadata.get("format") == "bvh":  # the user's own file layout, unchanged
            write_bvh_on_rig(motion, path, character)
        else:
            write_bvh(motion, path)

    def fbx(motion: Motion, path: Path) -> None:
        from dancegen.export.fbx import export_fbx

        export_fbx(motion, path, rig=rig, music=music, music_start=music_start)

    def by_io(motion: Motion, path: Path) -> None:
        from dancegen.motion.io import save_motion

        save_motion(motion, path)

    def npz(motion: Motion, path: Path) -> None:
        from dancegen.export.smpl_params import write_smpl_npz

        write_smpl_npz(motion, path)

    def glb(motion: Motion, path: Path) -> None:
        from dancegen.export.gltf import write_glb

        write_glb(motion, path)

    def html(motion: Motion, path: Path) -> None:
        from dancegen.export.gltf import motion_to_glb
        from dancegen.viewer.page import Dance, write_page

        # The page offers the dance as .bvh (made by the page) and .glb; for several dances on
        # one page see `export.viewer_page.write_viewer_page`.
        dance = Dance(motion, annotation=annotation, prompt=prompt, files={".glb": motion_to_glb(motion)})
        write_page(dance, path, music=music, music_start=music_start, beats=beats)

    def mp4(motion: Motion, path: Path) -> None:
        from dancegen.export.video import render_video

        render_video(motion, path, music=music, music_start=music_start, beats=beats, annotation=annotation,
                     prompt=prompt, config=video_config, quiet=quiet)

    return {".bvh": bvh, ".npz": npz, ".pkl": by_io, ".npy": by_io, ".glb": glb, ".html": html, ".mp4": mp4, ".fbx": fbx}


def export_motion(
    motion: Motion,
    out: str | Path,
    formats: Sequence[str] | None = None,
    *,
    rig: "str | Path | Motion | None" = None,
    music: str | Path | None = None,
    music_start: float = 0.0,
    beats: Any = None,
    annotation: Any = None,
    prompt: str | None = None,
    name: str | None = None,
    video_config: "VideoConfig | None" = None,
    quiet: bool = True,
) -> list[Path]:
    """Write `motion` to `out` and return the paths written.

    out: a file whose extension picks the format, or a directory (existing, or a path without
        an extension) that receives `<name>.<ext>` for each of `formats` (default: every
        format that fits the skeleton, see `formats_for`).
    rig: a character (its `.bvh`, or that file already read) that the `.bvh` export is retargeted onto.
    video_config: size, frame rate and encoding of an `.mp4`; quiet: no progress bars.
    music / music_start / beats / annotation / prompt: for the page and the video. `beats` may be
        times, a `BeatInfo` or a beats.json path (when absent they are detected in `music`);
        `annotation` an `Annotation` or its file (absent: taken from the motion's metadata).
    """
    from tqdm import tqdm

    out = Path(out)
    check_output_kind(out)
    is_directory = out.is_dir() or (out.suffix == "" and not out.exists())
    if is_directory:
        chosen = _normalise_formats(formats) if formats is not None else formats_for(motion)
        stem = name or str(motion.metadata.get("name") or DEFAULT_NAME)
        targets = [out / f"{stem}{ext}" for ext in chosen]
    else:
        ext = out.suffix.lower()
        if ext not in ALL_FORMATS:
            raise ArgumentError(str(out), f"unknown output extension {out.suffix!r}",
                                f"use one of {', '.join(ALL_FORMATS)} or a directory")
        if formats is not None and _normalise_formats(formats) != (ext,):
            raise ArgumentError("--format", f"does not match the output file {out.name}", "give a directory for several formats")
        targets = [out]

    # Check what the user gave before writing anything.
    suffixes = {t.suffix.lower() for t in targets}
    dataset_formats = sorted(suffixes & {".pkl", ".npy"})
    if dataset_formats and smpl_model_type(motion.skeleton) == "skeleton":
        raise ArgumentError(
            "--format", f"{' and '.join(dataset_formats)} hold SMPL-family motion, not skeleton {motion.skeleton.name!r}",
            "export .bvh/.npz/.glb, or retarget to smpl24 first",
        )
    if not (np.isfinite(motion.rotations).all() and np.isfinite(motion.root_translation).all()):
        raise ArgumentError("motion", "contains NaN or infinite values; nothing was written")
    for path in (rig, music):
        if path is not None and not isinstance(path, Motion) and not Path(path).is_file():
            raise InputFileError(path, "no such file")
    if not (np.isfinite(music_start) and music_start >= 0):
        raise ArgumentError("--music-start", f"must be a number of seconds >= 0, got {music_start}")
    if ".html" in suffixes:
        from dancegen.viewer.page import require_bundle

        require_bundle()
    if ".mp4" in suffixes:
        from dancegen.export.video import find_ffmpeg

        find_ffmpeg()
    if ".fbx" in suffixes:
        from dancegen.motion.fbx import require_blender

        require_blender(next(t for t in targets if t.suffix.lower() == ".fbx"))
    needs_extras = bool(suffixes & {".html", ".mp4"})
    beat_times = resolve_beats(music, beats) if needs_extras else np.zeros(0)
    if needs_extras:
        annotation, prompt = resolve_texts(motion, annotation, prompt)

    writers = _writers(rig, music, music_start, beat_times, annotation, prompt, video_config, quiet)
    if not is_directory:
        writers[out.suffix.lower()](motion, out)
        return targets
    # A folder export is all or nothing: every file is written into a temporary sibling folder
    # whose files move into `out` only when all of them are done.
    from dancegen.fileio import atomic_directory

    with atomic_directory(out) as staging:
        for target in tqdm(targets, desc="export", unit="file", leave=False, disable=quiet or len(targets) == 1):
            writers[target.suffix.lower()](motion, staging / target.name)
    return targets


__all__ = ["ALL_FORMATS", "check_output_kind", "export_motion", "formats_for", "resolve_beats", "resolve_texts"]
