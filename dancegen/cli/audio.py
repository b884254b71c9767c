"""`dancegen audio`: tempo, beats and downbeats of a song; music features for training."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable

audio_app = typer.Typer(
    help="Analyse music: tempo, beats and downbeats; features at the motion frame rate.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

FILE_HELP = "audio file (wav, flac, ogg, mp3)"
STEM_HELP = "another part of the same song to mix in (repeatable), e.g. --stem guitar.ogg"


@audio_app.command("beats")
@quietable
def beats(
    file: Path = typer.Argument(..., help=FILE_HELP),
    stems: Optional[List[str]] = typer.Option(None, "--stem", help=STEM_HELP),
    start: Optional[float] = typer.Option(None, "--start", help="analyse from this time (s)"),
    end: Optional[float] = typer.Option(None, "--end", help="analyse up to this time (s)"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Print the tempo (bpm), the beat times and the downbeat times (seconds).

    --json gives bpm, beats_s and downbeats_s.
    """
    from dancegen.audio.beats import detect_beats_in_file

    # Streamed: an hour-long song is analysed in blocks (bounded memory).
    audio = detect_beats_in_file(file, start=start, end=end, stems=stems or ())
    info = audio.info
    note = None
    if not info.found:
        note = "no beats found (the audio is silent)" if audio.is_silent else "no beats found"
    output = Output(quiet, as_json)
    if as_json:
        report = {"file": str(file), "duration_s": round(audio.duration, 4), **info.to_dict()}
        if note:
            report["note"] = note
        output.result(report)
        return
    if note:
        output.warn(f"{file}: {note}")
        return
    output.say(f"bpm: {info.bpm:.2f}")
    output.say(f"beats ({len(info.beat_times)}): " + " ".join(f"{t:.3f}" for t in info.beat_times))
    output.say(f"downbeats ({len(info.downbeat_times)}): " + " ".join(f"{t:.3f}" for t in info.downbeat_times))


@audio_app.command("features")
@quietable
def features(
    file: Path = typer.Argument(..., help=FILE_HELP),
    kind: str = typer.Option("baseline35", "--kind", help="baseline35, lda3, lda14 or stft"),
    fps: float = typer.Option(30.0, "--fps", help="motion frame rate: row i is the music at time i / fps"),
    out: Path = typer.Option(..., "-o", "--out", help="output .npy file, (frames, dims) float32"),
    stems: Optional[List[str]] = typer.Option(None, "--stem", help=STEM_HELP),
    start: Optional[float] = typer.Option(None, "--start", help="from this time (s)"),
    end: Optional[float] = typer.Option(None, "--end", help="up to this time (s)"),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="reuse features cached in $DANCEGEN_CACHE"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Extract music features at the motion frame rate and save them as .npy."""
    import numpy as np

    from dancegen.audio import load_audio
    from dancegen.audio.features import extract_features, feature_kind
    from dancegen.errors import ArgumentError
    from dancegen.fileio import atomic_path

    feature_kind(kind)  # an unknown kind fails before any decoding
    if out.suffix.lower() != ".npy":
        raise ArgumentError("--out", f"{out} must end in .npy")
    audio = load_audio(file, start=start, end=end, stems=stems or ())
    values = extract_features(audio, kind, fps=fps, cache=cache)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, values, allow_pickle=False)
    Output(quiet, as_json).result(
        {"file": str(file), "out": str(out), "kind": kind, "fps": fps, "frames": values.shape[0], "dims": values.shape[1]},
        f"{out}: {values.shape[0]} frames x {values.shape[1]} {kind} features at {fps:g} fps",
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.add_typer(audio_app, name="audio")
