"""`dancegen data`: look into datasets, check annotations, classify genres, pair mocap with music."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable

# Where `--to` may put paired motion: SMPL-24 (what the models train on) or the source rig.
PAIR_TARGETS = ("smpl24", "none")

data_app = typer.Typer(
    help="Datasets, text annotations, the genre classifier, and pairing unpaired mocap with music.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@data_app.command("info")
@quietable
def info(
    directory: Path = typer.Argument(..., help="dataset folder (AIST++, FineDance, Motorica or a generic folder)"),
    kind: str = typer.Option("auto", "--kind", help="aistpp, finedance, motorica, folder or auto"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Summarise a dataset: layout, clips per split and genre, clips left out and why."""
    from dancegen.data.datasets import open_dataset

    summary = open_dataset(directory, kind, skip_missing=True).summary()
    lines = [
        f"dataset   {summary['root']} ({summary['kind']})",
        f"clips     {summary['clips']} ({summary['with_annotation']} with a text annotation)",
        "splits    " + (", ".join(f"{k} {v}" for k, v in summary["splits"].items()) or "none"),
        "genres    " + (", ".join(f"{k} {v}" for k, v in summary["genres"].items()) or "none"),
    ]
    if summary["skipped"]:
        lines += [f"left out  {len(summary['skipped'])}:", *(f"  {line}" for line in summary["skipped"])]
    Output(quiet, as_json).result(summary, "\n".join(lines))


@data_app.command("annotation")
@quietable
def annotation(
    file: Path = typer.Argument(..., help="annotation: .json sidecar or LRCM plain text"),
    audio: Optional[Path] = typer.Option(None, "--audio", help="check that no span ends after this audio"),
    convert: Optional[Path] = typer.Option(None, "--convert", help="write it again here (.json or plain text)"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Check a text annotation (and convert it between the JSON and plain formats)."""
    from dancegen.audio.io import audio_duration
    from dancegen.data.annotations import read_annotation, write_annotation

    output = Output(quiet, as_json)
    duration = audio_duration(audio) if audio is not None else None
    result = read_annotation(file, duration)
    output.say(f"{file}: ok, global: {result.global_text() or '(none)'}; {len(result.spans)} local spans")
    if convert is not None:
        write_annotation(result, convert)
        output.say(f"wrote {convert}")
    output.result({"file": str(file), "ok": True, "global": result.global_text() or None, "spans": len(result.spans),
                   "annotation": result.to_dict(), "converted": None if convert is None else str(convert)})


@data_app.command("genre")
@quietable
def genre(
    text: str = typer.Argument(..., help='a free-form description, e.g. "fast footwork and spins on the floor"'),
    vocabulary: Optional[str] = typer.Option(
        None, "--vocabulary", help="only this dataset's genres: aistpp, finedance, motorica, kit (default: all)"
    ),
    head: Optional[Path] = typer.Option(None, "--head", help="genre head .pt (default: the shipped one)"),
    top: int = typer.Option(3, "--top", help="how many genres to list"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Map a free-form description to a dance genre and print GCDance's prompt for it."""
    from dancegen.data.genre_classifier import (
        GenreClassifier,
        default_classifier,
        text_encoder,
    )
    from dancegen.data.genres import GENRES, genre_prompt, get_vocabulary
    from dancegen.errors import ArgumentError
    from dancegen.text.clean import clean_text

    text = clean_text(text, "TEXT", example="fast footwork and spins")  # control characters out; words in
    if top < 1:
        raise ArgumentError("--top", f"must be at least 1, got {top}")
    get_vocabulary(vocabulary)  # a bad --vocabulary is told before the text encoder loads
    classifier = GenreClassifier.load(head) if head else default_classifier()
    genres, probs = classifier.probabilities(text_encoder(classifier.encoder_name).encode([text]), vocabulary)
    ranked = sorted(zip(genres, probs[0]), key=lambda item: -item[1])[: max(1, top)]
    best = ranked[0][0]
    lines = [f"genre   {best} ({GENRES[best].name}), p = {ranked[0][1]:.2f}", f"prompt  {genre_prompt(best)}"]
    if len(ranked) > 1:
        lines.append("then    " + ", ".join(f"{g} {p:.2f}" for g, p in ranked[1:]))
    document = {"text": text, "genre": best, "name": GENRES[best].name, "probability": float(ranked[0][1]),
                "prompt": genre_prompt(best), "ranked": [{"genre": g, "probability": float(p)} for g, p in ranked]}
    Output(quiet, as_json).result(document, "\n".join(lines))


@data_app.command("train-genre-classifier")
@quietable
def train_genre_classifier(
    descriptions: Optional[Path] = typer.Option(None, "--descriptions", help="description set YAML (default: the shipped one)"),
    out: Optional[Path] = typer.Option(None, "--out", help="where to write the head (default: the shipped genre_head.pt)"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Train the text -> genre head on the description set and report held-out accuracy.

    --json gives the full held-out report and the head's path.
    """
    from dancegen.data import genre_classifier as gc
    from dancegen.errors import ArgumentError
    from dancegen.limits import limits

    if not 0 <= seed <= limits().max_seed:  # torch generators take 64-bit seeds
        raise ArgumentError("--seed", f"must be an integer from 0 to {limits().max_seed}, got {seed}")
    config = gc.GenreClassifierConfig(seed=seed)
    classifier = gc.train_genre_classifier(config, gc.load_descriptions(descriptions or gc.DESCRIPTIONS_PATH))
    target = out or gc.HEAD_PATH
    classifier.save(target)
    report = classifier.metrics["heldout"]
    Output(quiet, as_json).result({**classifier.metrics, "head": str(target)}, "\n".join([
        f"trained on {classifier.metrics['train_examples']} examples, held out {report['examples']}",
        "held-out accuracy  " + ", ".join(f"{k} {v:.1%}" for k, v in report["accuracy"].items()),
        f"wrote {target}",
    ]))


@data_app.command("pair")
@quietable
def pair(
    motion: Path = typer.Option(..., "--motion", help="folder of motion files (or one file) without music"),
    music: Path = typer.Option(..., "--music", help="folder of songs (audio, with beats.json where known)"),
    out: Path = typer.Option(..., "--out", help="output folder: a generic-folder dataset"),
    fps: float = typer.Option(30.0, "--fps", help="frame rate of the paired motion"),
    to: str = typer.Option("smpl24", "--to", help="retarget to smpl24 (what models train on) or keep the rig: none"),
    genre_name: Optional[str] = typer.Option(None, "--genre", help="genre of the clips (default: from the kit folder)"),
    per_clip: int = typer.Option(1, "--per-clip", help="pair each clip with this many songs (the best matches)"),
    motion_fps: Optional[float] = typer.Option(None, "--motion-fps", help="the motion files' true frame rate"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Warp each motion clip so its beats land on a song's beats; write motion + music pairs."""
    from dancegen.data.pairing import pair_folders
    from dancegen.errors import ArgumentError

    if to not in PAIR_TARGETS:
        raise ArgumentError("--to", f"unknown target {to!r}", f"use one of {', '.join(PAIR_TARGETS)}")
    from dancegen.motion.io import check_fps

    check_fps("--fps", fps)
    check_fps("--motion-fps", motion_fps)
    if per_clip < 1:
        raise ArgumentError("--per-clip", f"must be at least 1, got {per_clip}")
    output = Output(quiet, as_json)
    run = pair_folders(motion, music, out, fps=fps, to_smpl=to == "smpl24", genre=genre_name,
                       per_clip=per_clip, motion_fps=motion_fps, progress=output.say)
    summary = run.summary()
    report = out / "pairing_report.json"
    output.result({**summary, "out": str(out), "report": str(report)}, "\n".join([
        f"paired {summary['pairs']} clips into {out}; skipped {len(summary['skipped'])}",
        f"motion beat to music beat: {summary['mean_offset_ms_before']} ms before, "
        f"{summary['mean_offset_ms_after']} ms after; on the beat (±50 ms): "
        f"{summary['hit_rate_before']:.0%} before, {summary['hit_rate_after']:.0%} after",
        f"report: {report}",
    ]))


@data_app.command("annotate")
@quietable
def annotate(
    motion_dir: Path = typer.Argument(..., help="folder of motion files (npz, bvh, pkl, npy, DeepMimic txt)"),
    out: Optional[Path] = typer.Option(None, "--out", help="where the sidecars go (default: beside the motion files)"),
    genre_name: Optional[str] = typer.Option(None, "--genre", help="genre of the clips (default: from the kit folder)"),
    fps: Optional[float] = typer.Option(None, "--fps", help="the motion files' true frame rate"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace existing sidecars instead of keeping their style"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Detect moves in each motion file and write `<stem>.annotation.json` (global style + timed moves)."""
    from dancegen.data.autoannotate import annotate_folder
    from dancegen.motion.io import check_fps

    check_fps("--fps", fps)  # positive, finite, within max_fps
    output = Output(quiet, as_json)
    run = annotate_folder(motion_dir, out, genre=genre_name, fps=fps, overwrite=overwrite, progress=output.say)
    counts = ", ".join(f"{token} {count}" for token, count in run.counts().most_common()) or "none"
    document = {"out": str(out or motion_dir), "written": [str(path) for path, _ in run.written],
                "skipped": [f"{name}: {why}" for name, why in run.skipped], "moves": dict(run.counts().most_common())}
    output.result(document, f"annotated {len(run.written)} files into {out or motion_dir}; skipped {len(run.skipped)}\n"
                            f"moves     {counts}")


def register(app: typer.Typer) -> None:
    """Add `dancegen data info|annotation|annotate|genre|train-genre-classifier|pair` to the app."""
    app.add_typer(data_app, name="data")
