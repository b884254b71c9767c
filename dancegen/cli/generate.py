"""`dancegen generate`: a dance for a song, steered by text, genre, locked joints or keyframes.

Every argument is checked against the model's bundle header and the song's audio header
before any weights load (`GenerationRequest.checked`), so a bad input costs about a second and
leaves nothing behind: one line on stderr, exit status 2, no file written. The model's family
(from its header) picks the pipeline.

`dancegen generate SONGS/ -o OUT/` runs a folder of songs (`generate_folder`): the options are
checked once (`plan_dance`), the model loads once (`ModelCache`), and then each song is checked
and generated on its own, so one bad song is reported at the end instead of stopping the rest.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable


def parse_guidance(text: str | None) -> dict[str, float]:
    """`music=2.5,text=3` → {"music": 2.5, "text": 3.0} (shared with the generation service;
    imported here on first use so that `--help` loads no numpy)."""
    from dancegen.pipelines.request import parse_guidance as parse

    return parse(text)


def check_outputs(out: Path, rig: Path | None) -> Any:
    """The output path's kind, and the `--rig` character read and matched to SMPL's joints."""
    from dancegen.errors import ArgumentError, InputFileError
    from dancegen.export import ALL_FORMATS

    if out.suffix and out.suffix.lower() not in ALL_FORMATS and not out.is_dir():
        raise ArgumentError("--out", f"unknown output extension {out.suffix!r}", f"use one of {', '.join(ALL_FORMATS)} or a folder")
    from dancegen.export import check_output_kind

    check_output_kind(out)  # checked now, not after minutes of sampling
    if out.suffix.lower() == ".fbx":  # Blender present, before the sampling too
        from dancegen.motion.fbx import require_blender

        require_blender(out)
    if rig is None:
        return None
    if not Path(rig).is_file():
        raise InputFileError(rig, "--rig file not found")
    from dancegen.motion.io import load_motion
    from dancegen.motion.retarget import resolve_mapping

    character = load_motion(rig)
    resolve_mapping(character.skeleton)  # a rig no preset or mapping covers fails here, not after sampling
    return character


class ModelCache:
    """Each model's pipeline, loaded on first use and kept: a folder of songs loads its model once."""

    def __init__(self) -> None:
        self._pipelines: dict[tuple[str, str], Any] = {}

    def pipeline(self, entry: Any, device: str) -> Any:
        key = (str(entry.path), device)
        if key not in self._pipelines:
            from dancegen.pipelines import check_device, load_pipeline

            self._pipelines[key] = load_pipeline(entry.path, device=check_device(device))
        return self._pipelines[key]


@dataclass(frozen=True)
class DancePlan:
    """`generate`'s options, checked before any song is read (`plan_dance`): the model's catalog
    entry, the request without its song, the --rig character. `dance` makes one song's dance."""

    entry: Any
    request: Any  # a GenerationRequest whose music each song replaces
    character: Any
    device: str
    quiet: bool

    def dance(self, song: Path, out: Path, formats: list[str] | None = None, name: str | None = None,
              models: ModelCache | None = None) -> dict:
        """Check the song against the request, generate (loading the model on first use), export;
        returns the JSON summary."""
        from dancegen.export import export_motion

        header = self.entry.header
        request = replace(self.request, music=Path(song)).checked(header)
        pipeline = (models or ModelCache()).pipeline(self.entry, self.device)
        motion = pipeline(request, progress=not self.quiet)
        motion.metadata.setdefault("name", Path(song).stem)
        written = export_motion(motion, out, formats, rig=self.character, music=song, music_start=request.start,
                                prompt=request.prompt, name=name, quiet=self.quiet)
        return {
            "song": str(song),
            "outputs": [str(path) for path in written],
            "frames": motion.num_frames,
            "seconds": motion.duration,
            "model": header.name,
            "family": header.family,
            "prompt": request.prompt,
            "genre": motion.metadata.get("genre"),
            "genre_probability": motion.metadata.get("genre_probability"),
            "seed": motion.metadata.get("seed"),
            "foot_lock": motion.metadata.get("foot_lock"),  # the lock's before/after numbers, None with --no-foot-lock
            "beat_sync": motion.metadata.get("beat_sync"),  # tempo rate and beats matched, None with --no-beat-sync
        }

    def outputs_for(self, out: Path, stem: str) -> list[Path]:
        """The files a folder export writes for a song with this model: OUT/<stem>.<ext>."""
        import numpy as np

        from dancegen.export import formats_for
        from dancegen.motion.motion import Motion
        from dancegen.skeleton import get_skeleton

        # formats_for reads only the skeleton: a one-frame rest pose on the model's stands in.
        skeleton = get_skeleton(self.entry.header.skeleton)
        still = Motion(skeleton, self.entry.header.fps, np.tile([0.0, 0.0, 0.0, 1.0], (1, skeleton.num_joints, 1)),
                       np.zeros((1, 3)))
        return [out / f"{stem}{ext}" for ext in formats_for(still)]


def plan_dance(
    out: Path,
    *,
    model: str | Path | None = None,
    prompt: str | None = None,
    genre: str | None = None,
    seconds: float | None = None,
    start: float = 0.0,
    seed: int | None = None,
    guidance: str | None = None,
    steps: int | None = None,
    reference: Path | None = None,
    lock_joints: str | None = None,
    keyframes: Path | None = None,
    annotation: Path | None = None,
    moves: str | None = None,
    rig: Path | None = None,
    device: str = "cpu",
    quiet: bool = False,
    foot_lock: bool = True,
    beat_sync: bool = True,
    beats: Path | None = None,
) -> DancePlan:
    """Every check that needs no song: the model's header, the option files, the request's
    song-independent checks, the output path and the --rig character. No weights load."""
    # Before torch loads: OpenMP threads that spin-wait collapse throughput when the cores
    # are shared (10x slower generation measured on a busy 2-core machine).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if quiet:  # the text encoder's weight-loading bar too
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from dancegen.catalog import resolve_model
    from dancegen.errors import InputFileError
    from dancegen.pipelines.request import GenerationRequest

    entry = resolve_model(model)
    for path, option in ((reference, "--reference"), (keyframes, "--keyframes"), (annotation, "--annotation"),
                         (beats, "--beats")):
        if path is not None and not Path(path).is_file():
            raise InputFileError(path, f"{option} file not found")
    request = GenerationRequest(
        Path(), start=start, seconds=seconds, prompt=prompt, genre=genre, keyframes=keyframes, reference=reference,
        lock_joints=lock_joints, seed=seed, guidance=parse_guidance(guidance), steps=steps, foot_lock=foot_lock,
        beat_sync=beat_sync, beats=beats, annotation=annotation, moves=moves,
    )
    request = check_options(request, entry.header)
    return DancePlan(entry, request, check_outputs(out, rig), device, quiet)


def check_options(request: Any, header: Any) -> Any:
    """The checks of `GenerationRequest.checked` that read no song (the numbers, the prompt,
    what the model supports): a folder of songs hears of a bad option once, not once a song."""
    from dancegen.families import model_capabilities
    from dancegen.pipelines.request import clean_prompt

    request = replace(request, prompt=clean_prompt(request.prompt))
    request.check_arguments()
    request.check_capabilities(model_capabilities(header), header)
    return request


def generate_dance(song: Path, out: Path, *, formats: list[str] | None = None, name: str | None = None,
                   models: ModelCache | None = None, **options: Any) -> dict:
    """Check everything, generate, export; returns the JSON summary (`dancegen generate`'s path,
    shared by `make demo`). `options` are `plan_dance`'s keywords (model=, prompt=, seconds=, ...)."""
    return plan_dance(out, **options).dance(song, out, formats, name, models)


# --- a folder of songs ------------------------------------------------------------------------

def find_songs(folder: Path) -> list[Path]:
    """The songs in `folder` (audio extensions, hidden files left out), sorted; two songs that
    would write the same OUT/<stem>.* files are refused before anything runs."""
    from dancegen.audio.io import SUPPORTED_SUFFIXES
    from dancegen.errors import InputFileError

    songs = sorted(path for path in folder.iterdir()
                   if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in SUPPORTED_SUFFIXES)
    if not songs:
        raise InputFileError(folder, "no songs in this folder", f"it needs files ending in {', '.join(SUPPORTED_SUFFIXES)}")
    by_stem: dict[str, Path] = {}
    for song in songs:
        if song.stem in by_stem:
            raise InputFileError(song, f"would write the same files as {by_stem[song.stem].name}", "rename one of them")
        by_stem[song.stem] = song
    return songs


def generate_folder(folder: Path, out: Path, *, overwrite: bool = False, report: Callable[[str], None] = lambda _: None,
                    **options: Any) -> dict:
    """A dance for every song in `folder`, into OUT/<song stem>.<ext>: the options are checked and
    the model loaded once; a song whose files are all in OUT already is skipped (unless
    `overwrite`); a song that fails is recorded and the others go on. `report` gets one line a
    song. Returns the summary, whose "songs" say each song's status, outputs and error."""
    from dancegen.errors import ArgumentError
    from dancegen.pipelines import check_device

    if not out.is_dir() and (out.exists() or out.suffix):
        raise ArgumentError("--out", f"{out} is not a folder; a folder of songs needs one", "e.g. -o out/")
    if options.get("beats") is not None:
        raise ArgumentError("--beats", "holds one song's beats; a folder of songs has its beats detected", "leave it out")
    songs = find_songs(folder)
    plan = plan_dance(out, **options)
    check_device(plan.device)  # a bad --device would otherwise fail every song
    models = ModelCache()
    entries = []
    for number, song in enumerate(songs, 1):
        entries.append(_folder_song(plan, song, out, overwrite, models))
        report(f"[{number}/{len(songs)}] {song_line(entries[-1], out)}")
    counts = {status: sum(entry["status"] == status for entry in entries) for status in SONG_STATUSES}
    return {"folder": str(folder), "out": str(out), "model": plan.entry.header.name, **counts, "songs": entries}


# What happened to each song of a folder.
SONG_STATUSES = ("generated", "skipped", "failed")


def _folder_song(plan: DancePlan, song: Path, out: Path, overwrite: bool, models: ModelCache) -> dict:
    from dancegen.errors import DanceGenError

    targets = plan.outputs_for(out, song.stem)
    if not overwrite and all(target.is_file() for target in targets):
        return {"song": str(song), "status": "skipped", "outputs": [str(t) for t in targets], "error": None}
    try:
        summary = plan.dance(song, out, name=song.stem, models=models)
    except DanceGenError as error:
        return {"song": str(song), "status": "failed", "outputs": [], "error": str(error)}
    except Exception as error:  # noqa: BLE001 - a bug met on one song must not cost the other songs
        from dancegen.console import debug_enabled

        if debug_enabled():
            traceback.print_exc()
        detail = " ".join(str(error).split())[:200]
        return {"song": str(song), "status": "failed", "outputs": [],
                "error": f"internal error: {type(error).__name__}: {detail} (a bug in dancegen: please report it)"}
    return {"song": str(song), "status": "generated", **summary, "error": None}


def song_line(entry: dict, out: Path) -> str:
    """One song's line: what was written, that it was skipped, or why it failed."""
    name = Path(entry["song"]).name
    if entry["status"] == "skipped":
        return f"{name}: skipped, its files are in {out} already (--overwrite to generate it again)"
    if entry["status"] == "failed":
        return f"{name}: failed: {entry['error']}"
    return f"{name}: {wrote_line(entry)}"


def wrote_line(summary: dict) -> str:
    genre_note = f", genre {summary['genre']}" if summary["genre"] else ""
    return (f"wrote {', '.join(summary['outputs'])} ({summary['frames']} frames, {summary['seconds']:.2f} s"
            f"{genre_note}, seed {summary['seed']})")


def folder_failures(summary: dict) -> str | None:
    """The error line for a folder run with failed songs (None when none failed): each song and
    why, the first few in full."""
    failed = [entry for entry in summary["songs"] if entry["status"] == "failed"]
    if not failed:
        return None
    shown = []
    for entry in failed[:MAX_FAILURES_SHOWN]:
        name = Path(entry["song"]).name
        shown.append(entry["error"] if name in entry["error"] else f"{name}: {entry['error']}")
    more = f"; {len(failed) - MAX_FAILURES_SHOWN} more (--json lists them)" if len(failed) > MAX_FAILURES_SHOWN else ""
    return f"{len(failed)} of {len(summary['songs'])} songs failed: {'; '.join(shown)}{more}"


MAX_FAILURES_SHOWN = 3  # the error stays one readable line however many songs failed


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("generate")
    @quietable
    def generate_command(
        song: Path = typer.Argument(..., help="Music file (wav, ogg, flac, mp3), or a folder: a dance for every song in it."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file (.bvh .npz .pkl .npy .glb .html .mp4) or folder."),
        model: Optional[str] = typer.Option(
            None, "--model", "-m", help="A model's name (`dancegen models`) or a bundle file (default: gcdance-small)."
        ),
        prompt: Optional[str] = typer.Option(None, "--prompt", "-p", help="Free-form description of the dance."),
        genre: Optional[str] = typer.Option(None, "--genre", "-g", help="A genre name the model knows."),
        seconds: Optional[float] = typer.Option(None, "--seconds", help="Length to generate (default: to the end)."),
        start: float = typer.Option(0.0, "--start", help="Where in the song to start, in seconds."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: random, stored in the output)."),
        guidance: Optional[str] = typer.Option(
            None, "--guidance", help="Guidance weight per modality, e.g. music=2.5,text=3 (mosaic: text=4,music=1,pose=1)."
        ),
        steps: Optional[int] = typer.Option(None, "--steps", help="Sampling steps (default: the model's)."),
        reference: Optional[Path] = typer.Option(None, "--reference", help="Motion whose locked joints are kept."),
        lock_joints: Optional[str] = typer.Option(
            None, "--lock-joints", help="upper_body, lower_body, hands or a comma list of joints (with --reference)."
        ),
        keyframes: Optional[Path] = typer.Option(None, "--keyframes", help="JSON file of (partial) poses at given times to pass through."),
        annotation: Optional[Path] = typer.Option(
            None, "--annotation", help="Timed moves: a dancegen/LRCM annotation JSON or LRCM's plain text (song time)."
        ),
        moves: Optional[str] = typer.Option(
            None, "--moves", help='Timed moves inline, e.g. "0:08-0:12 spin; 0:20-0:24 stomp" (song time).'
        ),
        rig: Optional[Path] = typer.Option(None, "--rig", help="Write the BVH and FBX on your own character: a BVH (kept in its own layout) or FBX of its rig."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="With a folder of songs: generate again the songs whose files are in --out already."
        ),
        quiet: QuietOption = False,
        as_json: JsonOption = False,
        foot_lock: bool = typer.Option(
            True, "--foot-lock/--no-foot-lock", help="pin planted feet to the floor with leg IK (animator clean-up)"
        ),
        beat_sync: bool = typer.Option(
            True, "--beat-sync/--no-beat-sync", help="dance at the song's tempo with the accents on its beats (re-timing)"
        ),
        beats: Optional[Path] = typer.Option(
            None, "--beats", help="beats.json of the song for --beat-sync (default: beats detected in the song)"
        ),
    ) -> None:
        """Generate a dance for the whole requested span of SONG, or for every song in a folder.

        A folder of songs writes OUT/<song>.<ext> for each song with the model loaded once. Songs
        whose files are all in OUT already are skipped (--overwrite to redo them); a song that fails
        does not stop the others; the failures are listed at the end (exit status 2).
        """
        from dancegen.errors import DanceGenError

        output = Output(quiet, as_json)
        options = dict(
            model=model, prompt=prompt, genre=genre, seconds=seconds, start=start, seed=seed,
            guidance=guidance, steps=steps, reference=reference, lock_joints=lock_joints, keyframes=keyframes,
            annotation=annotation, moves=moves, rig=rig, device=device, quiet=not output.chatty, foot_lock=foot_lock,
            beat_sync=beat_sync, beats=beats,
        )
        if not song.is_dir():
            summary = generate_dance(song, out, **options)
            output.result(summary, wrote_line(summary))
            return
        summary = generate_folder(song, out, overwrite=overwrite, report=output.say, **options)
        output.result(summary, ", ".join(f"{summary[status]} {status}" for status in SONG_STATUSES)
                      + f" of {len(summary['songs'])} songs, into {out}")
        failures = folder_failures(summary)
        if failures:
            raise DanceGenError(failures)
