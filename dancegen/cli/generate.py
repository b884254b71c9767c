"""`dancegen generate`: a dance for a song, steered by text, genre, locked joints or keyframes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

# Where the shipped default model lives (package data); `--model` overrides it.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "weights" / "gcdance_small.pt"


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


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("generate")
    def generate_command(
        song: Path = typer.Argument(..., help="Music file (wav, ogg, flac, mp3)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file (.bvh .npz .pkl .npy .glb .html .mp4) or folder."),
        model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (model.pt or last.ckpt)."),
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
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Generate one dance for the whole requested span of SONG."""
        # Before torch loads: OpenMP threads that spin-wait collapse throughput when the cores
        # are shared (10x slower generation measured on a busy 2-core machine).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from dancegen.errors import InputFileError, MissingResourceError
        from dancegen.export import export_motion
        from dancegen.pipelines.gcdance import GCDancePipeline

        if not song.is_file():
            raise InputFileError(song, "no such music file")
        if model is None:
            if not DEFAULT_MODEL.is_file():
                raise MissingResourceError(
                    f"{DEFAULT_MODEL}: no default model is installed (pass --model CKPT; train one with `dancegen train`)"
                )
            model = DEFAULT_MODEL
        weights = parse_guidance(guidance)
        pipeline = GCDancePipeline.from_checkpoint(model, device=device)
        motion = pipeline(
            song,
            prompt=prompt,
            genre=genre,
            seconds=seconds,
            start=start,
            seed=seed,
            guidance=weights,
            steps=steps,
            reference=reference,
            lock_joints=lock_joints,
            keyframes=keyframes,
            progress=not quiet,
        )
        motion.metadata.setdefault("name", song.stem)
        written = export_motion(motion, out, music=song, music_start=start, quiet=quiet)
        summary = {
            "outputs": [str(path) for path in written],
            "frames": motion.num_frames,
            "seconds": motion.duration,
            "genre": motion.metadata.get("genre"),
            "genre_probability": motion.metadata.get("genre_probability"),
            "seed": motion.metadata.get("seed"),
        }
        if as_json:
            print(json.dumps(summary))
        else:
            genre_note = f", genre {summary['genre']}" if summary["genre"] else ""
            print(f"wrote {', '.join(summary['outputs'])} ({motion.num_frames} frames, {motion.duration:.2f} s"
                  f"{genre_note}, seed {summary['seed']})")
