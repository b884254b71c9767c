"""`dancegen generate`: a dance for a song, steered by text, genre, locked joints or keyframes.

Every argument is checked against the model's bundle header and the song's audio header
before any weights load (`GenerationRequest.checked`), so a bad input costs about a second and
leaves nothing behind: one line on stderr, exit status 2, no file written. The model's family
(from its header) picks the pipeline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import typer


def parse_guidance(text: str | None) -> dict[str, float]:
    """`music=2.5,text=3` → {"music": 2.5, "text": 3.0}."""
    import math

    from dancegen.errors import ArgumentError

    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ArgumentError("--guidance", f"{item!r} is not name=number", "e.g. --guidance music=2.5,text=3") from None
        if not name.strip():
            raise ArgumentError("--guidance", f"{item!r} has no modality name", "e.g. --guidance music=2.5,text=3")
        if not math.isfinite(weights[name.strip()]):
            raise ArgumentError("--guidance", f"{item!r} is not a finite number", "e.g. --guidance music=2.5,text=3")
    return weights


def check_outputs(out: Path, rig: Path | None) -> Any:
    """The output path's kind, and the `--rig` character read and matched to SMPL's joints."""
    from dancegen.errors import ArgumentError, InputFileError
    from dancegen.export import ALL_FORMATS

    if out.suffix and out.suffix.lower() not in ALL_FORMATS and not out.is_dir():
        raise ArgumentError("--out", f"unknown output extension {out.suffix!r}", f"use one of {', '.join(ALL_FORMATS)} or a folder")
    if rig is None:
        return None
    if not Path(rig).is_file():
        raise InputFileError(rig, "--rig file not found")
    from dancegen.motion.io import load_motion
    from dancegen.motion.retarget import resolve_mapping

    character = load_motion(rig)
    resolve_mapping(character.skeleton)  # a rig no preset or mapping covers fails here, not after sampling
    return character


def generate_dance(
    song: Path,
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
    formats: list[str] | None = None,
    name: str | None = None,
    quiet: bool = False,
    foot_lock: bool = True,
) -> dict:
    """Check everything, generate, export; returns the JSON summary (`dancegen generate`'s path,
    shared by `make demo`)."""
    # Before torch loads: OpenMP threads that spin-wait collapse throughput when the cores
    # are shared (10x slower generation measured on a busy 2-core machine).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if quiet:  # the text encoder's weight-loading bar too
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from dancegen.catalog import resolve_model
    from dancegen.errors import InputFileError
    from dancegen.pipelines.request import GenerationRequest

    entry = resolve_model(model)
    for path, option in ((reference, "--reference"), (keyframes, "--keyframes"), (annotation, "--annotation")):
        if path is not None and not Path(path).is_file():
            raise InputFileError(path, f"{option} file not found")
    request = GenerationRequest(
        song, start=start, seconds=seconds, prompt=prompt, genre=genre, keyframes=keyframes, reference=reference,
        lock_joints=lock_joints, seed=seed, guidance=parse_guidance(guidance), steps=steps, foot_lock=foot_lock,
        annotation=annotation, moves=moves,
    ).checked(entry.header)
    character = check_outputs(out, rig)

    from dancegen.export import export_motion
    from dancegen.pipelines import check_device, load_pipeline

    pipeline = load_pipeline(entry.path, device=check_device(device))
    motion = pipeline(request, progress=not quiet)
    motion.metadata.setdefault("name", song.stem)
    foot_lock_summary = motion.metadata.get("foot_lock")
    written = export_motion(
        motion, out, formats, rig=character, music=song, music_start=start, prompt=request.prompt, name=name, quiet=quiet
    )
    return {
        "outputs": [str(path) for path in written],
        "frames": motion.num_frames,
        "seconds": motion.duration,
        "model": entry.header.name,
        "family": entry.header.family,
        "prompt": request.prompt,
        "genre": motion.metadata.get("genre"),
        "genre_probability": motion.metadata.get("genre_probability"),
        "seed": motion.metadata.get("seed"),
        "foot_lock": foot_lock_summary,  # the lock's before/after numbers, None with --no-foot-lock
    }


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("generate")
    def generate_command(
        song: Path = typer.Argument(..., help="Music file (wav, ogg, flac, mp3)."),
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
        rig: Optional[Path] = typer.Option(None, "--rig", help="Write the BVH on your own character: a BVH of its rig."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object (implies no progress bar)."),
        foot_lock: bool = typer.Option(
            True, "--foot-lock/--no-foot-lock", help="pin planted feet to the floor with leg IK (animator clean-up)"
        ),
    ) -> None:
        """Generate one dance for the whole requested span of SONG."""
        summary = generate_dance(
            song, out, model=model, prompt=prompt, genre=genre, seconds=seconds, start=start, seed=seed,
            guidance=guidance, steps=steps, reference=reference, lock_joints=lock_joints, keyframes=keyframes,
            annotation=annotation, moves=moves, rig=rig, device=device, quiet=quiet or as_json, foot_lock=foot_lock,
        )
        if as_json:
            print(json.dumps(summary))
        else:
            genre_note = f", genre {summary['genre']}" if summary["genre"] else ""
            print(f"wrote {', '.join(summary['outputs'])} ({summary['frames']} frames, {summary['seconds']:.2f} s"
                  f"{genre_note}, seed {summary['seed']})")
