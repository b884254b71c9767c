"""What a job is in terms of the generation API: a checked `GenerationRequest` for the
uploaded song, run by a loaded pipeline and exported with `export_motion`, exactly as
`dancegen generate` does it. The server calls `check_job` before it queues a job (a bad genre
or a span past the song's end is a 400 at once, not a failed job later); a worker calls it
again on the job's files and then `run_job`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from dancegen.errors import ArgumentError, DanceGenError, LimitError
from dancegen.serve.config import JobOptions, LimitsConfig, ServeConfig

if TYPE_CHECKING:
    from dancegen.catalog import ModelEntry
    from dancegen.motion.motion import Motion
    from dancegen.pipelines.request import GenerationRequest

RESULT_NAME = "dance"  # every job's files are dance.<ext>: no client text in any path
SONG_NAME = "song"  # the upload is kept as song<ext>, the extension checked against the audio formats


def model_entries(config: ServeConfig) -> dict[str, "ModelEntry"]:
    """The models clients may name, by name. Only names: a client never gives a path."""
    from dancegen.catalog import available_models

    entries = {entry.header.name: entry for entry in available_models()}
    if config.models is None:
        return entries
    unknown = [name for name in config.models if name not in entries]
    if unknown:
        raise ArgumentError("models", f"no installed model named {unknown[0]!r}", f"installed: {', '.join(entries) or 'none'}")
    return {name: entries[name] for name in config.models}


def pick_model(name: str | None, entries: dict[str, "ModelEntry"], config: ServeConfig) -> "ModelEntry":
    from dancegen.catalog import DEFAULT_MODEL

    chosen = name or config.default_model or (DEFAULT_MODEL if DEFAULT_MODEL in entries else next(iter(entries), None))
    if chosen not in entries:
        raise ArgumentError("model", f"no model named {chosen!r} on this server", f"use one of {', '.join(entries) or '(none)'}")
    return entries[chosen]


def check_limits(song: Path, options: JobOptions, limits: LimitsConfig) -> float:
    """The song's duration, after the server's own limits (stricter than the library's)."""
    from dancegen.pipelines.request import check_song

    duration = check_song(song)
    if duration > limits.max_song_seconds:
        raise LimitError(f"song: {duration:.0f} s long; this server takes songs up to {limits.max_song_seconds:g} s "
                         "(upload a shorter excerpt)")
    if options.steps is not None and options.steps > limits.max_steps:
        raise LimitError(f"steps: {options.steps} is more than this server's {limits.max_steps}")
    return duration


def job_request(song: Path, options: JobOptions, entry: "ModelEntry") -> "GenerationRequest":
    """The options as a request checked against the model's header and the song's (no weights)."""
    from dancegen.pipelines.request import GenerationRequest, parse_guidance

    return GenerationRequest(
        song, start=options.start, seconds=options.seconds, prompt=options.prompt, genre=options.genre,
        moves=options.moves, seed=options.seed, steps=options.steps, guidance=parse_guidance(options.guidance),
        foot_lock=options.foot_lock, beat_sync=options.beat_sync,
    ).checked(entry.header)


def check_job(song: Path, options: JobOptions, entries: dict[str, "ModelEntry"],
              config: ServeConfig) -> tuple["ModelEntry", "GenerationRequest", float]:
    """Everything a job can be refused for, before it is queued: (model, request, song seconds)."""
    entry = pick_model(options.model, entries, config)
    duration = check_limits(song, options, config.limits)
    if "fbx" in (options.format_list() or ()):
        from dancegen.motion.fbx import require_blender

        require_blender("formats: fbx")  # refused now, not after the dance is generated
    return entry, job_request(song, options, entry), duration


def public_error(error: DanceGenError, song: Path, shown_as: str) -> DanceGenError:
    """The error as the client should read it: the uploaded file's own name where the message
    names the server's copy (no server paths leave the server). Same class, for the status code."""
    folder = str(song.parent)
    pattern = f"{re.escape(str(song))}|{re.escape(folder)}|(?<![\\w.]){re.escape(song.name)}"
    text = re.sub(pattern, lambda match: "(the job's folder)" if match[0] == folder else shown_as, str(error))
    return (LimitError if isinstance(error, LimitError) else DanceGenError)(text)


def export_result(motion: "Motion", request: "GenerationRequest", song: Path, options: JobOptions, out: Path) -> list[str]:
    """Every requested format into `out`, which appears whole or not at all: the files go to a
    sibling folder first (each written atomically by `export_motion`) that is renamed at the end."""
    from dancegen.export import export_motion

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # a crashed try's leftovers
    partial.mkdir(parents=True)
    written = export_motion(motion, partial, options.format_list(), music=playable_song(song),
                            music_start=request.start, prompt=request.prompt, name=RESULT_NAME)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(partial, out)
    # The viewer may put a large song beside its page: every file of the folder is a result.
    return sorted({path.name for path in written} | {path.name for path in out.iterdir()})


def playable_song(song: Path) -> Path:
    """The song as the viewer page can embed it: itself, or (AIFF, which browsers do not play)
    a WAV copy beside it, made once."""
    from dancegen.viewer.page import MUSIC_TYPES

    if song.suffix.lower() in MUSIC_TYPES:
        return song
    copy = song.with_name(song.stem + ".page.wav")
    if not copy.is_file():
        from dancegen.audio.io import load_audio, write_wav

        write_wav(copy, load_audio(song))
    return copy


def summary(motion: "Motion", entry: "ModelEntry", request: "GenerationRequest") -> dict[str, Any]:
    """The result's numbers: the fields of `dancegen generate --json` but the paths."""
    return {
        "frames": motion.num_frames,
        "seconds": motion.duration,
        "fps": motion.fps,
        "model": entry.header.name,
        "family": entry.header.family,
        "prompt": request.prompt,
        "genre": motion.metadata.get("genre"),
        "genre_probability": motion.metadata.get("genre_probability"),
        "seed": motion.metadata.get("seed"),
        "foot_lock": motion.metadata.get("foot_lock"),
        "beat_sync": motion.metadata.get("beat_sync"),
    }


def warm_up(pipeline: Any, entry: "ModelEntry") -> None:
    """One short generation and export on a synthetic drum loop, in a temporary folder."""
    import tempfile

    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    with tempfile.TemporaryDirectory(prefix="dancegen-warm-up-") as folder:
        samples, _ = drum_pattern(120.0, 2.0, sample_rate=22050, seed=0)
        song = write_wav(Path(folder) / "drums.wav", samples, sample_rate=22050)
        options = JobOptions(seconds=1.0, steps=1, seed=0)
        request = job_request(song, options, entry)
        export_result(generate(pipeline, request, "warm-up"), request, song, options, Path(folder) / "out")


def generate(pipeline: Any, request: "GenerationRequest", name: str,
             on_progress: Callable[[float, str], None] | None = None) -> "Motion":
    """The dance for a checked request; `on_progress(fraction, stage)` hears how far sampling is."""
    from dancegen.serve.progress import watch_progress

    with watch_progress(on_progress):
        motion = pipeline(request, progress=on_progress is not None)
    motion.metadata.setdefault("name", name)
    return motion
