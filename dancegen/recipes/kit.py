"""What every shipped model's recipe shares: the data kit's pairing, the honest split, the
evaluation against real held-out dance, and shipping a bundle with its provenance.

    work = prepare_kit(Path("../shared/data"), Path("out/kit_paired"))   # pair + assemble
    scores = evaluate_model(Path("runs/x/model.pt"), work / "dataset")
    ship(Path("runs/x/model.pt"), ShippedModel(...))

The split holds out both dance and music: the clips in HELD_OUT (every pair made from them) and
the songs in HELD_OUT_SONGS (never paired with a training clip) are the test material, so a
score on them is a score on dance and music no shipped model has seen. Every step is
deterministic given the kit.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from dancegen.errors import DanceGenError
from dancegen.fileio import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = REPO_ROOT / "dancegen" / "models" / "weights"
KIT_ENV = "DANCEGEN_KIT"
DEFAULT_WORK = Path("out") / "kit_paired"

# Motion folders allowed in a shipped model, with their true frame rate where the file lies
# (the salsa BVH headers say 120 fps; CMU captured subjects 60/61 at 60 fps, see the kit README).
# Never bandai: its licence is non-commercial.
MOTION_FOLDERS = {"cmu05": None, "cmu_salsa": 60.0, "deepmimic": None, "isaacgym_amp": None}
SONGS_PER_CLIP = 2  # each clip warped onto its two best-matching songs: twice the music variety
PAIR_FPS = 30.0  # the small configs' frame rate
# Held out entirely (every pair): one CMU ballet clip and one whole salsa couple (lead and
# follow dance the same take, so both go, or the test set would leak into training).
HELD_OUT = ("005_13", "60_04_scaled", "61_04_scaled")
# Songs never paired with any clip: the benchmarks' "unseen songs" (gcdance-small never saw them either).
HELD_OUT_SONGS = ("sectoid-metal_madness", "parsec47_ptn0", "rrootage_stg_b")
LICENCE = ("CMU mocap terms + BSD-3-Clause + MIT (commercial use allowed); CC BY-SA 3.0 attribution/share-alike "
           "treated as applying (see MODEL_CARD.md)")
EVAL_SECONDS = 30.0  # scored span per held-out pair: long enough for several training windows
EVAL_SEED = 0
FID_SEGMENT_SECONDS = 5.0  # EDGE scores FID_k on 5 s dances
SHIP_LIMIT_MB = 25.0  # size budget for a committed model file


@dataclass(frozen=True)
class ShippedModel:
    """A shipped model's name, file and what its header says about it."""

    name: str
    description: str
    command: str  # how to rebuild it
    licence: str = LICENCE

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.pt"


# --- data -------------------------------------------------------------------------------------


def pair_kit(kit: Path, work: Path) -> dict[str, str]:
    """Pair each allowed motion folder with the kit's music (held-out songs excluded); returns
    folder → outcome. A folder already paired is reused."""
    from dancegen.data.pairing import pair_folders

    outcome = {}
    for folder, motion_fps in MOTION_FOLDERS.items():
        target = work / "pairs" / folder
        if (target / "pairing_report.json").is_file():
            outcome[folder] = "reused"
            continue
        print(f"pairing {folder} ...", flush=True)
        try:
            run = pair_folders(kit / "motion" / folder, kit / "music", target, fps=PAIR_FPS, per_clip=SONGS_PER_CLIP,
                               motion_fps=motion_fps, progress=print, exclude_songs=HELD_OUT_SONGS)
            outcome[folder] = f"{len(run.pairings)} pairs"
        except DanceGenError as error:  # e.g. a rig no retarget preset covers: train without it
            outcome[folder] = f"skipped: {error}"
            print(f"  {folder} skipped: {error}", flush=True)
    return outcome


def held_out(stem: str) -> bool:
    return stem.split("__", 1)[0] in HELD_OUT


def assemble(pairs_dir: Path, dataset_dir: Path) -> dict[str, list[str]]:
    """One folder dataset (hard links to the pairs) plus `splits/{train,test}.txt`."""
    dataset_dir.mkdir(parents=True, exist_ok=True)
    stems = []
    for folder in sorted(p for p in pairs_dir.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.name == "pairing_report.json":
                continue
            target = dataset_dir / path.name
            if not target.exists():
                try:
                    os.link(path, target)
                except OSError:
                    shutil.copy2(path, target)
            if path.suffix == ".npz":
                stems.append(path.stem)
    splits = {"train": [s for s in stems if not held_out(s)], "test": [s for s in stems if held_out(s)]}
    for split, names in splits.items():
        atomic_write_text(dataset_dir / "splits" / f"{split}.txt", "".join(f"{n}\n" for n in names))
    return splits


def prepare_kit(kit: Path, work: Path, dataset: str = "dataset") -> Path:
    """Pair the kit and assemble `work/<dataset>`; returns that folder."""
    outcome = pair_kit(kit, work)
    dataset_dir = work / dataset
    splits = assemble(work / "pairs", dataset_dir)
    atomic_write_text(work / "kit_pairing.json", json.dumps({"folders": outcome, "splits": splits}, indent=1) + "\n")
    print(f"dataset {dataset_dir}: {len(splits['train'])} train, {len(splits['test'])} test pairs; {outcome}", flush=True)
    return dataset_dir


# --- training ---------------------------------------------------------------------------------


def train_family(config_path: Path, dataset_dir: Path, run_dir: Path, model_name: str, overrides: list[str],
                 prepare: Callable[[Any], None] | None = None) -> Path:
    """Train any family's config on the kit's train split, resuming `run_dir/last.ckpt` if a
    run was interrupted; writes `train_time.json`; returns the bundle's path."""
    from dancegen.families import get_family, load_family_config
    from dancegen.train.loop import train

    settings = [f"data.root={dataset_dir}", "data.split=train", f"train.out_dir={run_dir}",
                f"train.model_name={model_name}", *overrides]
    config = load_family_config(config_path, settings)
    task = get_family(config.family).task_class()(config)
    if prepare is not None:
        prepare(task)
    last = run_dir / "last.ckpt"
    started = time.perf_counter()
    result = train(config, task=task, resume=last if last.is_file() else None)
    minutes = (time.perf_counter() - started) / 60
    record = {"steps": result.step, "minutes": round(minutes, 2), "batch_size": config.train.batch_size,
              "final_losses": result.history[-1] if result.history else None}
    atomic_write_text(run_dir / "train_time.json", json.dumps(record) + "\n")
    print(f"trained {result.step} steps in {minutes:.1f} min", flush=True)
    return run_dir / "model.pt"


# --- evaluation -------------------------------------------------------------------------------


def held_out_request(pipeline, dataset_dir: Path, name: str, seconds: float) -> dict[str, Any]:
    """The text a held-out pair is generated with, by what the model takes: its timed
    annotation (models with timed text), its move labels as a prompt, or its genre."""
    from dancegen.data.annotations import read_annotation
    from dancegen.families import model_capabilities

    annotation = read_annotation(dataset_dir / f"{name}.annotation.json")
    supports = model_capabilities(pipeline.header)
    moves = ", ".join(annotation.style.core_moves)
    if supports.timed_text:
        return {"annotation": annotation.window(0.0, seconds), "prompt": annotation.global_text() or None}
    if moves:
        return {"prompt": moves}
    return {"genre": annotation.genre if annotation.genre in pipeline.header.genres else None}


def evaluate_model(model: Path, dataset_dir: Path, steps: int | None = None) -> dict:
    """Generate on every held-out pair's music and score it against the real held-out clips:
    BAS, PFC, foot skating on each dance; FID_k / Div_k over 5 s pieces."""
    import numpy as np

    from dancegen.metrics.suite import EvaluationConfig, MotionClip, evaluate, read_beat_times
    from dancegen.motion.motion import Motion
    from dancegen.pipelines import load_pipeline

    pipeline = load_pipeline(model)
    names = (dataset_dir / "splits" / "test.txt").read_text().split()
    generated, real, texts = [], [], {}
    for index, name in enumerate(names):
        truth = Motion.load_npz(dataset_dir / f"{name}.npz").resample(pipeline.fps)
        seconds = min(EVAL_SECONDS, (truth.num_frames - 1) / truth.fps)
        beats = read_beat_times(dataset_dir / f"{name}.beats.json")
        beats = beats[beats <= seconds]
        options = held_out_request(pipeline, dataset_dir, name, seconds)
        texts[name] = {key: str(value) for key, value in options.items() if value is not None}
        dance = pipeline(dataset_dir / f"{name}.wav", seconds=seconds, seed=EVAL_SEED + index, steps=steps, **options)
        frames = min(dance.num_frames, truth.num_frames)
        generated.append(MotionClip(name, dance.joint_positions()[:frames], pipeline.fps, beats))
        real.append(MotionClip(name, truth.joint_positions()[:frames], pipeline.fps, beats))
        print(f"  {name}: {frames} frames", flush=True)
    motion_metrics = EvaluationConfig(metrics=["bas", "pfc", "fsr"])
    set_metrics = EvaluationConfig(metrics=["fid_k", "div_k"])
    report = evaluate(generated, real, motion_metrics)
    # FID_k/Div_k over 5 s pieces (EDGE's evaluation length): six 30 s clips alone are too few
    # samples for a 72-d covariance.
    pieces = evaluate(segments(generated), segments(real), set_metrics)
    summary = {key: (pieces if key in ("fid_k", "div_k") else report).get(key) for key in ("bas", "fid_k", "div_k", "pfc", "fsr")}
    reference = {key: report["reference"].get(key) for key in ("bas", "pfc", "fsr")}
    reference["div_k"] = pieces["reference"].get("div_k")
    # Context for FID_k on sets this small: real training clips scored against the real held-out ones.
    training = []
    for name in (dataset_dir / "splits" / "train.txt").read_text().split():
        clip = Motion.load_npz(dataset_dir / f"{name}.npz").resample(pipeline.fps)
        training.append(MotionClip(name, clip.joint_positions()[: int(EVAL_SECONDS * pipeline.fps)], pipeline.fps))
    reference["fid_k_real_train_vs_held_out"] = evaluate(segments(training), segments(real), set_metrics).get("fid_k")
    return {"model": str(model), "held_out": names, "text": texts, "seconds_per_clip": EVAL_SECONDS,
            "generated": summary, "real": reference, "warnings": report.get("warnings", []),
            "motion_range_m": float(np.ptp(np.concatenate([c.positions[:, 0] for c in generated]), axis=0).max())}


def segments(clips, seconds: float = FID_SEGMENT_SECONDS) -> list:
    """Consecutive `seconds`-long pieces of each clip (the remainder dropped)."""
    pieces = []
    for clip in clips:
        length = int(round(seconds * clip.fps))
        for index, first in enumerate(range(0, len(clip.positions) - length + 1, length)):
            pieces.append(replace(clip, name=f"{clip.name}#{index}", positions=clip.positions[first : first + length],
                                  beat_times_s=None))
    return pieces


# --- shipping ---------------------------------------------------------------------------------


def ship(model: Path, shipped: ShippedModel) -> Path:
    """Write the trained bundle as a shipped model, with name, description, licence and provenance."""
    from dancegen.bundle import load_bundle, save_bundle

    size_mb = model.stat().st_size / 2**20
    if size_mb > SHIP_LIMIT_MB:
        raise DanceGenError(f"{model}: {size_mb:.1f} MB is over the {SHIP_LIMIT_MB:g} MB budget for a shipped model")
    bundle = load_bundle(model)
    training = {**bundle.header.training, "data": "shared data kit: " + ", ".join(MOTION_FOLDERS) + " (paired with kit songs)",
                "command": shipped.command, "held_out": list(HELD_OUT), "held_out_songs": list(HELD_OUT_SONGS)}
    header = dict(name=shipped.name, description=shipped.description, licence=shipped.licence, training=training)
    save_bundle(bundle.with_header(**header), shipped.path)
    print(f"shipped {model} ({size_mb:.1f} MB) as {shipped.path}", flush=True)
    return shipped.path


# --- the command line every recipe shares -----------------------------------------------------


def recipe_main(argv: list[str] | None, prog: str, doc: str, shipped: ShippedModel, default_run: Path,
                train_model: Callable[[Path, Path, list[str], float | None], Path],
                dataset: Callable[[Path, Path], Path] | None = None) -> int:
    """pair → train → evaluate → ship, or one of them (`--stage`). `train_model(dataset_dir,
    run_dir, overrides, minutes)` trains; `dataset(kit_or_None, work)` builds (or, given None,
    names) the family's dataset folder (default: the paired kit as it is)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--kit", type=Path, default=os.environ.get(KIT_ENV), help=f"the data kit's folder (default: ${KIT_ENV})")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="paired data folder")
    parser.add_argument("--run", type=Path, default=default_run, help="training output folder")
    parser.add_argument("--stage", choices=("all", "pair", "train", "evaluate", "ship"), default="all")
    parser.add_argument("--model", type=Path, default=None, help="model to evaluate/ship (default: RUN/model.pt)")
    parser.add_argument("--minutes", type=float, default=None, help="training time budget, where the recipe supports it")
    parser.add_argument("--eval-steps", type=int, default=None, help="sampling steps for the evaluation")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. train.max_steps=1500")
    args = parser.parse_args(argv)
    if args.kit is None and args.stage in ("all", "pair"):
        parser.error(f"--kit is required (or set {KIT_ENV}): the data kit's folder, e.g. ../shared/data")
    build = dataset or (lambda kit, work: prepare_kit(kit, work) if kit is not None else work / "dataset")
    model = args.model or args.run / "model.pt"
    try:
        kit = Path(args.kit).resolve() if args.stage in ("all", "pair") else None
        dataset_dir = build(kit, args.work)
        if args.stage in ("all", "train"):
            model = train_model(dataset_dir, args.run, args.overrides, args.minutes)
        if args.stage in ("all", "evaluate"):
            scores = evaluate_model(model, dataset_dir, args.eval_steps)
            atomic_write_text(args.run / "scores.json", json.dumps(scores, indent=1) + "\n")
            print(json.dumps({k: scores[k] for k in ("generated", "real")}, indent=1), flush=True)
        if args.stage in ("all", "ship"):
            ship(model, shipped)
    except DanceGenError as error:
        print(f"{shipped.name}: error: {error}", file=sys.stderr)
        return 2
    return 0
