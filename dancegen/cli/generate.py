"""`dancegen generate`: a dance for a song, steered by text, genre, locked joints or keyframes.

Every argument and the song are checked before the model loads, so a bad input costs a second
and leaves nothing behind: one line on stderr, exit status 2, no file written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

# Where the shipped default model lives (package data); `--model` overrides it.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "weights" / "gcdance_small.pt"
# MiniLM reads at most 256 word pieces (~1000 characters of English); a prompt past 500
# characters is a pasted document, not a description of a dance.
MAX_PROMPT_CHARS = 500
# A span may end up to 1 ms past the header duration (rounding of seconds given by hand).
SPAN_TOLERANCE_S = 1e-3


def parse_guidance(text: str | None) -> dict[str, float]:
    """`music=2.5,text=3` → {"music": 2.5, "text": 3.0}."""
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
    return weights


def check_prompt(prompt: str | None) -> str | None:
    """The prompt, stripped; one-line errors for empty, over-long or letterless text."""
    from dancegen.errors import ArgumentError

    if prompt is None:
        return None
    text = " ".join(prompt.split())
    if not text:
        raise ArgumentError("--prompt", "is empty", "describe the dance, e.g. --prompt 'expressive arms, pirouette'")
    if len(text) > MAX_PROMPT_CHARS:
        raise ArgumentError("--prompt", f"is {len(text)} characters long", f"keep it under {MAX_PROMPT_CHARS}: a few words on the dance")
    if not any(character.isalpha() for character in text):
        raise ArgumentError("--prompt", f"{text[:40]!r} has no words", "describe the dance in words, e.g. 'slow spins'")
    return text


def check_song(song: Path, start: float, seconds: float | None) -> float:
    """The song's duration after checking it can be read and holds the requested span."""
    from dancegen.audio.io import SUPPORTED_SUFFIXES, audio_duration
    from dancegen.errors import ArgumentError, InputFileError

    if not start >= 0:
        raise ArgumentError("--start", f"must be >= 0 seconds, got {start:g}")
    if seconds is not None and not seconds > 0:
        raise ArgumentError("--seconds", f"must be positive, got {seconds:g}")
    if not song.is_file():
        raise InputFileError(song, "no such music file" if not song.exists() else "is not a file")
    if song.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputFileError(song, f"unsupported audio format {song.suffix or '(no extension)'!r}",
                             f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    duration = audio_duration(song)  # decodes when the header alone cannot tell: unreadable audio fails here
    if start >= duration:
        raise ArgumentError("--start", f"{start:g} s is past the end of {song.name} ({duration:.2f} s)")
    if seconds is not None and start + seconds > duration + SPAN_TOLERANCE_S:
        raise ArgumentError("--seconds", f"{seconds:g} s from {start:g} s runs past the end of {song.name} ({duration:.2f} s)",
                            f"use at most {duration - start:.2f}")
    return duration


def generate_dance(
    song: Path,
    out: Path,
    *,
    model: Path | None = None,
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
    rig: Path | None = None,
    device: str = "cpu",
    formats: list[str] | None = None,
    name: str | None = None,
    quiet: bool = False,
) -> dict:
    """Check everything, generate, export; returns the JSON summary (`dancegen generate`'s path,
    shared by `make demo`)."""
    # Before torch loads: OpenMP threads that spin-wait collapse throughput when the cores
    # are shared (10x slower generation measured on a busy 2-core machine).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if quiet:  # the text encoder's weight-loading bar too
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from dancegen.errors import ArgumentError, InputFileError, MissingResourceError
    from dancegen.export import ALL_FORMATS

    prompt = check_prompt(prompt)
    weights = parse_guidance(guidance)
    if steps is not None and steps < 1:
        raise ArgumentError("--steps", f"must be at least 1, got {steps}")
    if out.suffix and out.suffix.lower() not in ALL_FORMATS and not out.is_dir():
        raise ArgumentError("--out", f"unknown output extension {out.suffix!r}", f"use one of {', '.join(ALL_FORMATS)} or a folder")
    for path, option in ((reference, "--reference"), (keyframes, "--keyframes"), (rig, "--rig")):
        if path is not None and not Path(path).is_file():
            raise InputFileError(path, f"{option} file not found")
    if model is None:
        if not DEFAULT_MODEL.is_file():
            raise MissingResourceError(
                f"{DEFAULT_MODEL}: no default model is installed (pass --model CKPT; train one with `dancegen train`)"
            )
        model = DEFAULT_MODEL
    elif not model.is_file():
        raise MissingResourceError(f"{model}: model checkpoint not found (check --model; train one with `dancegen train`)")
    check_song(song, start, seconds)

    from dancegen.export import export_motion
    from dancegen.pipelines.gcdance import GCDancePipeline

    pipeline = GCDancePipeline.from_checkpoint(model, device=device)
    motion = pipeline(
        song, prompt=prompt, genre=genre, seconds=seconds, start=start, seed=seed, guidance=weights, steps=steps,
        reference=reference, lock_joints=lock_joints, keyframes=keyframes, progress=not quiet,
    )
    motion.metadata.setdefault("name", song.stem)
    written = export_motion(
        motion, out, formats, rig=rig, music=song, music_start=start, prompt=prompt, name=name, quiet=quiet
    )
    return {
        "outputs": [str(path) for path in written],
        "frames": motion.num_frames,
        "seconds": motion.duration,
        "model": str(model),
        "prompt": prompt,
        "genre": motion.metadata.get("genre"),
        "genre_probability": motion.metadata.get("genre_probability"),
        "seed": motion.metadata.get("seed"),
    }


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("generate")
    def generate_command(
        song: Path = typer.Argument(..., help="Music file (wav, ogg, flac, mp3)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file (.bvh .npz .pkl .npy .glb .html .mp4) or folder."),
        model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (default: the shipped gcdance_small.pt)."),
        prompt: Optional[str] = typer.Option(None, "--prompt", "-p", help="Free-form description of the dance."),
        genre: Optional[str] = typer.Option(None, "--genre", "-g", help="A genre name the model knows."),
        seconds: Optional[float] = typer.Option(None, "--seconds", help="Length to generate (default: to the end)."),
        start: float = typer.Option(0.0, "--start", help="Where in the song to start, in seconds."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: random, stored in the output)."),
        guidance: Optional[str] = typer.Option(None, "--guidance", help="Guidance weights, e.g. music=2.5,text=3."),
        steps: Optional[int] = typer.Option(None, "--steps", help="Sampling steps (default: the model's)."),
        reference: Optional[Path] = typer.Option(None, "--reference", help="Motion whose locked joints are kept."),
        lock_joints: Optional[str] = typer.Option(
            None, "--lock-joints", help="upper_body, lower_body, hands or a comma list of joints (with --reference)."
        ),
        keyframes: Optional[Path] = typer.Option(None, "--keyframes", help="JSON file of (partial) poses at given times to pass through."),
        rig: Optional[Path] = typer.Option(None, "--rig", help="Write the BVH on your own character: a BVH of its rig."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object (implies no progress bar)."),
    ) -> None:
        """Generate one dance for the whole requested span of SONG."""
        summary = generate_dance(
            song, out, model=model, prompt=prompt, genre=genre, seconds=seconds, start=start, seed=seed,
            guidance=guidance, steps=steps, reference=reference, lock_joints=lock_joints, keyframes=keyframes,
            rig=rig, device=device, quiet=quiet or as_json,
        )
        if as_json:
            print(json.dumps(summary))
        else:
            genre_note = f", genre {summary['genre']}" if summary["genre"] else ""
            print(f"wrote {', '.join(summary['outputs'])} ({summary['frames']} frames, {summary['seconds']:.2f} s"
                  f"{genre_note}, seed {summary['seed']})")
