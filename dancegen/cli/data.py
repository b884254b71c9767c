"""`dancegen data`: look into datasets, check annotations, classify genres, pair mocap with music."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

# Where `--to` may put paired motion: SMPL-24 (what the models train on) or the source rig.
PAIR_TARGETS = ("smpl24", "none")

data_app = typer.Typer(
    help="Datasets, text annotations, the genre classifier, and pairing unpaired mocap with music.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@data_app.command("info")
def info(
    directory: Path = typer.Argument(..., help="dataset folder (AIST++, FineDance, Motorica or a generic folder)"),
    kind: str = typer.Option("auto", "--kind", help="aistpp, finedance, motorica, folder or auto"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Summarise a dataset: layout, clips per split and genre, clips left out and why."""
    from dancegen.data.datasets import open_dataset

    summary = open_dataset(directory, kind, skip_missing=True).summary()
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    print(f"dataset   {summary['root']} ({summary['kind']})")
    print(f"clips     {summary['clips']} ({summary['with_annotation']} with a text annotation)")
    print("splits    " + (", ".join(f"{k} {v}" for k, v in summary["splits"].items()) or "none"))
    print("genres    " + (", ".join(f"{k} {v}" for k, v in summary["genres"].items()) or "none"))
    if summary["skipped"]:
        print(f"left out  {len(summary['skipped'])}:")
        for line in summary["skipped"]:
            print(f"  {line}")


@data_app.command("annotation")
def annotation(
    file: Path = typer.Argument(..., help="annotation: .json sidecar or LRCM plain text"),
    audio: Optional[Path] = typer.Option(None, "--audio", help="check that no span ends after this audio"),
    convert: Optional[Path] = typer.Option(None, "--convert", help="write it again here (.json or plain text)"),
) -> None:
    """Check a text annotation (and convert it between the JSON and plain formats)."""
    from dancegen.audio.io import audio_duration
    from dancegen.data.annotations import read_annotation, write_annotation

    duration = audio_duration(audio) if audio is not None else None
    result = read_annotation(file, duration)
    print(f"{file}: ok, global: {result.global_text() or '(none)'}; {len(result.spans)} local spans")
    if convert is not None:
        write_annotation(result, convert)
        print(f"wrote {convert}")


@data_app.command("genre")
def genre(
    text: str = typer.Argument(..., help='a free-form description, e.g. "fast footwork and spins on the floor"'),
    vocabulary: Optional[str] = typer.Option(
        None, "--vocabulary", help="only this dataset's genres: aistpp, finedance, motorica, kit (default: all)"
    ),
    head: Optional[Path] = typer.Option(None, "--head", help="genre head .pt (default: the shipped one)"),
    top: int = typer.Option(3, "--top", help="how many genres to list"),
) -> None:
    """Map a free-form description to a dance genre and print GCDance's prompt for it."""
    from dancegen.data.genre_classifier import GenreClassifier, default_classifier, text_encoder
    from dancegen.data.genres import GENRES, genre_prompt
    from dancegen.errors import ArgumentError

    if not text.strip():
        raise ArgumentError("TEXT", "is empty", "describe the dance in words")
    classifier = GenreClassifier.load(head) if head else default_classifier()
    genres, probs = classifier.probabilities(text_encoder(classifier.encoder_name).encode([text]), vocabulary)
    ranked = sorted(zip(genres, probs[0]), key=lambda item: -item[1])[: max(1, top)]
    best = ranked[0][0]
    print(f"genre   {best} ({GENRES[best].name}), p = {ranked[0][1]:.2f}")
    print(f"prompt  {genre_prompt(best)}")
    if len(ranked) > 1:
        print("then    " + ", ".join(f"{g} {p:.2f}" for g, p in ranked[1:]))


@data_app.command("train-genre-classifier")
def train_genre_classifier(
    descriptions: Optional[Path] = typer.Option(None, "--descriptions", help="description set YAML (default: the shipped one)"),
    out: Optional[Path] = typer.Option(None, "--out", help="where to write the head (default: the shipped genre_head.pt)"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    as_json: bool = typer.Option(False, "--json", help="print the full held-out report as JSON"),
) -> None:
    """Train the text -> genre head on the description set and report held-out accuracy."""
    from dancegen.data import genre_classifier as gc

    config = gc.GenreClassifierConfig(seed=seed)
    classifier = gc.train_genre_classifier(config, gc.load_descriptions(descriptions or gc.DESCRIPTIONS_PATH))
    target = out or gc.HEAD_PATH
    classifier.save(target)
    report = classifier.metrics["heldout"]
    if as_json:
        print(json.dumps(classifier.metrics, indent=2))
    else:
        print(f"trained on {classifier.metrics['train_examples']} examples, held out {report['examples']}")
        print("held-out accuracy  " + ", ".join(f"{k} {v:.1%}" for k, v in report["accuracy"].items()))
    print(f"wrote {target}")


@data_app.command("pair")
def pair(
    motion: Path = typer.Option(..., "--motion", help="folder of motion files (or one file) without music"),
    music: Path = typer.Option(..., "--music", help="folder of songs (audio, with beats.json where known)"),
    out: Path = typer.Option(..., "--out", help="output folder: a generic-folder dataset"),
    fps: float = typer.Option(30.0, "--fps", help="frame rate of the paired motion"),
    to: str = typer.Option("smpl24", "--to", help="retarget to smpl24 (what models train on) or keep the rig: none"),
    genre_name: Optional[str] = typer.Option(None, "--genre", help="genre of the clips (default: from the kit folder)"),
    per_clip: int = typer.Option(1, "--per-clip", help="pair each clip with this many songs (the best matches)"),
    motion_fps: Optional[float] = typer.Option(None, "--motion-fps", help="the motion files' true frame rate"),
) -> None:
    """Warp each motion clip so its beats land on a song's beats; write motion + music pairs."""
    from dancegen.data.pairing import pair_folders
    from dancegen.errors import ArgumentError

    if to not in PAIR_TARGETS:
        raise ArgumentError("--to", f"unknown target {to!r}", f"use one of {', '.join(PAIR_TARGETS)}")
    if fps <= 0 or per_clip < 1:
        raise ArgumentError("--fps/--per-clip", "must be positive")
    run = pair_folders(motion, music, out, fps=fps, to_smpl=to == "smpl24", genre=genre_name,
                       per_clip=per_clip, motion_fps=motion_fps, progress=print)
    summary = run.summary()
    print(f"paired {summary['pairs']} clips into {out}; skipped {len(summary['skipped'])}")
    print(f"motion beat to music beat: {summary['mean_offset_ms_before']} ms before, "
          f"{summary['mean_offset_ms_after']} ms after; on the beat (±50 ms): "
          f"{summary['hit_rate_before']:.0%} before, {summary['hit_rate_after']:.0%} after")
    print(f"report: {out / 'pairing_report.json'}")


@data_app.command("annotate")
def annotate(
    motion_dir: Path = typer.Argument(..., help="folder of motion files (npz, bvh, pkl, npy, DeepMimic txt)"),
    out: Optional[Path] = typer.Option(None, "--out", help="where the sidecars go (default: beside the motion files)"),
    genre_name: Optional[str] = typer.Option(None, "--genre", help="genre of the clips (default: from the kit folder)"),
    fps: Optional[float] = typer.Option(None, "--fps", help="the motion files' true frame rate"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace existing sidecars instead of keeping their style"),
) -> None:
    """Detect moves in each motion file and write `<stem>.annotation.json` (global style + timed moves)."""
    from dancegen.data.autoannotate import annotate_folder
    from dancegen.errors import ArgumentError

    if fps is not None and fps <= 0:
        raise ArgumentError("--fps", f"must be positive, got {fps}")
    run = annotate_folder(motion_dir, out, genre=genre_name, fps=fps, overwrite=overwrite, progress=print)
    counts = ", ".join(f"{token} {count}" for token, count in run.counts().most_common()) or "none"
    print(f"annotated {len(run.written)} files into {out or motion_dir}; skipped {len(run.skipped)}")
    print(f"moves     {counts}")


def register(app: typer.Typer) -> None:
    """Add `dancegen data info|annotation|annotate|genre|train-genre-classifier|pair` to the app."""
    app.add_typer(data_app, name="data")
