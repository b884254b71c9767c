"""Reproduce dancegen's shipped default model, gcdance-small, from the shared data kit.

    python -m dancegen.recipes.gcdance_small --kit ../shared/data     # pair → train → evaluate → ship
    python -m dancegen.recipes.gcdance_small --kit ../shared/data --stage evaluate --model out/kit_model/model.pt

1. pair: every clip of the four commercially usable motion folders (cmu05, cmu_salsa,
   deepmimic, isaacgym_amp; never bandai, which is non-commercial) is retargeted to SMPL-24 and
   warped onto its two best-matching kit songs (`data.pairing.pair_folders`), one folder of
   pairs per motion folder under `out/kit_paired/pairs/` (a folder already paired is reused).
2. assemble: the pairs become one generic-folder dataset, `out/kit_paired/dataset/`, with a
   fixed split: the clips in HELD_OUT (all their pairs) are the test set, the rest train.
3. train: `configs/gcdance_small.yaml` on the train split (the CMU move descriptions reach the
   model as per-clip text, see `trainer.clip_prompt`).
4. evaluate: the model dances to each held-out pair's music (its move labels as prompt) and
   is scored against the real held-out clips: BAS, FID_k/Div_k, PFC, foot skating.
5. ship: the EMA inference bundle, with its name, description and licence in the header, is
   written to `dancegen/models/weights/gcdance-small.pt`.

Everything is deterministic given the kit (seeded training, fixed split, seeded sampling).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from dancegen.errors import DanceGenError
from dancegen.fileio import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / "configs" / "gcdance_small.yaml"
SHIPPED = REPO_ROOT / "dancegen" / "models" / "weights" / "gcdance-small.pt"
MODEL_NAME = "gcdance-small"
DESCRIPTION = ("dancegen's default model: GCDance small (1.6 M parameters) trained on the data kit's commercially "
               "usable dance (no Bandai); see MODEL_CARD.md")
LICENCE = ("CMU mocap terms + BSD-3-Clause + MIT (commercial use allowed); CC BY-SA 3.0 attribution/share-alike "
           "treated as applying (see MODEL_CARD.md)")
KIT_ENV = "DANCEGEN_KIT"
DEFAULT_WORK = Path("out") / "kit_paired"
DEFAULT_RUN = Path("out") / "kit_model"

# Motion folders allowed in a shipped model, with their true frame rate where the file lies
# (the salsa BVH headers say 120 fps; CMU captured subjects 60/61 at 60 fps, see the kit README).
MOTION_FOLDERS = {"cmu05": None, "cmu_salsa": 60.0, "deepmimic": None, "isaacgym_amp": None}
SONGS_PER_CLIP = 2  # each clip warped onto its two best-matching songs: twice the music variety
PAIR_FPS = 30.0  # the small config's frame rate
# Held out entirely (every pair): one CMU ballet clip and one whole salsa couple (lead and
# follow dance the same take, so both go, or the test set would leak into training).
HELD_OUT = ("005_13", "60_04_scaled", "61_04_scaled")
EVAL_SECONDS = 30.0  # scored span per held-out pair: long enough for several 4 s windows
EVAL_SEED = 0
FID_SEGMENT_SECONDS = 5.0  # EDGE scores FID_k on 5 s dances
SHIP_LIMIT_MB = 25.0  # the size budget for the committed checkpoint


def pair_kit(kit: Path, work: Path) -> dict[str, str]:
    """Pair each allowed motion folder with the kit's music; returns folder → outcome."""
    from dancegen.data.pairing import pair_folders

    outcome = {}
    for folder, motion_fps in MOTION_FOLDERS.items():
        target = work / "pairs" / folder
        if (target / "pairing_report.json").is_file():
            outcome[folder] = "reused"
            continue
        print(f"pairing {folder} ...", flush=True)
        # Every rig (iClone, CMU BVH, AMP humanoid, DeepMimic humanoid) is detected by a
        # retarget preset; pairing retargets to SMPL-24 and takes the genre from the folder name.
        source = kit / "motion" / folder
        try:
            run = pair_folders(source, kit / "music", target, fps=PAIR_FPS,
                               per_clip=SONGS_PER_CLIP, motion_fps=motion_fps, progress=print)
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


def train_model(dataset_dir: Path, run_dir: Path, overrides: list[str], minutes: float | None = None) -> Path:
    """Train the small config; with `minutes`, stop at the first checkpoint past that budget.

    The run goes in chunks of `train.checkpoint_every` steps, each resuming `last.ckpt`
    exactly, so stopping after N steps gives the same model as `train.max_steps=N` would.
    """
    from dancegen.families import load_family_config
    from dancegen.models.gcdance.task import GCDanceTask
    from dancegen.train.loop import train

    settings = [f"data.root={dataset_dir}", "data.split=train", f"train.out_dir={run_dir}",
                f"train.model_name={MODEL_NAME}", *overrides]
    config = load_family_config(CONFIG, settings)
    started = time.perf_counter()
    data = GCDanceTask(config)
    data.prepare(None, progress=True)
    chunk, step = config.train.checkpoint_every, 0
    while step < config.train.max_steps:
        target = min(step + chunk, config.train.max_steps)
        part = config.model_copy(update={"train": config.train.model_copy(update={"max_steps": target})})
        result = train(part, task=GCDanceTask(part, data=data.data), resume=run_dir / "last.ckpt" if step else None)
        step = result.step
        elapsed = (time.perf_counter() - started) / 60
        print(f"step {step}: loss {result.history[-1]['total']:.4f}, {elapsed:.1f} min", flush=True)
        if minutes is not None and elapsed * (step + chunk) / step > minutes:
            break  # the next chunk would overrun the budget
    minutes_used = (time.perf_counter() - started) / 60
    print(f"trained {step} steps in {minutes_used:.1f} min", flush=True)
    record = {"steps": step, "minutes": round(minutes_used, 2), "batch_size": config.train.batch_size,
              "windows": len(data.dataset(data.stages()[0])), "clips": len(data.data.motion),
              "clips_with_move_labels": sum(p >= 0 for p in data.data.prompts)}
    atomic_write_text(run_dir / "train_time.json", json.dumps(record) + "\n")
    return run_dir / "model.pt"


def evaluate_model(model: Path, dataset_dir: Path, steps: int | None = None) -> dict:
    """Generate on every held-out pair's music and score it against the real held-out clips."""
    import numpy as np

    from dancegen.data.annotations import read_annotation
    from dancegen.metrics.suite import EvaluationConfig, MotionClip, evaluate, read_beat_times
    from dancegen.motion.motion import Motion
    from dancegen.pipelines import load_pipeline

    pipeline = load_pipeline(model)
    names = (dataset_dir / "splits" / "test.txt").read_text().split()
    generated, real, prompts = [], [], {}
    for index, name in enumerate(names):
        truth = Motion.load_npz(dataset_dir / f"{name}.npz").resample(pipeline.fps)
        seconds = min(EVAL_SECONDS, (truth.num_frames - 1) / truth.fps)
        beats = read_beat_times(dataset_dir / f"{name}.beats.json")
        beats = beats[beats <= seconds]
        annotation = read_annotation(dataset_dir / f"{name}.annotation.json")
        moves = ", ".join(annotation.style.core_moves)
        prompts[name] = moves or annotation.genre
        dance = pipeline(dataset_dir / f"{name}.wav", prompt=moves or None, genre=None if moves else annotation.genre,
                         seconds=seconds, seed=EVAL_SEED + index, steps=steps)
        frames = min(dance.num_frames, truth.num_frames)
        generated.append(MotionClip(name, dance.joint_positions()[:frames], pipeline.fps, beats))
        real.append(MotionClip(name, truth.joint_positions()[:frames], pipeline.fps, beats))
        print(f"  {name}: {frames} frames, prompt {prompts[name]!r}", flush=True)
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
    return {"model": str(model), "held_out": names, "prompts": prompts, "seconds_per_clip": EVAL_SECONDS,
            "generated": summary, "real": reference, "warnings": report.get("warnings", []),
            "motion_range_m": float(np.ptp(np.concatenate([c.positions[:, 0] for c in generated]), axis=0).max())}


def segments(clips, seconds: float = FID_SEGMENT_SECONDS) -> list:
    """Consecutive `seconds`-long pieces of each clip (the remainder dropped)."""
    from dataclasses import replace

    pieces = []
    for clip in clips:
        length = int(round(seconds * clip.fps))
        for index, first in enumerate(range(0, len(clip.positions) - length + 1, length)):
            pieces.append(replace(clip, name=f"{clip.name}#{index}", positions=clip.positions[first : first + length],
                                  beat_times_s=None))
    return pieces


def ship(model: Path, target: Path = SHIPPED, kit_commit: str | None = None) -> Path:
    """Write the trained bundle as the shipped model, with its name, description and licence."""
    from dancegen.bundle import load_bundle, save_bundle

    size_mb = model.stat().st_size / 2**20
    if size_mb > SHIP_LIMIT_MB:
        raise DanceGenError(f"{model}: {size_mb:.1f} MB is over the {SHIP_LIMIT_MB:g} MB budget for the shipped model")
    bundle = load_bundle(model)
    training = {**bundle.header.training, "data": "shared data kit: " + ", ".join(MOTION_FOLDERS) + " (paired with kit songs)",
                "command": "make default-model", "held_out": list(HELD_OUT)}
    save_bundle(bundle.with_header(name=MODEL_NAME, description=DESCRIPTION, licence=LICENCE, training=training), target)
    print(f"shipped {model} ({size_mb:.1f} MB) as {target}", flush=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dancegen.recipes.gcdance_small", description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, default=os.environ.get(KIT_ENV),
                        help=f"the data kit's folder (default: ${KIT_ENV})")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="paired data folder")
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="training output folder")
    parser.add_argument("--stage", choices=("all", "pair", "train", "evaluate", "ship"), default="all")
    parser.add_argument("--model", type=Path, default=None, help="model to evaluate/ship (default: RUN/model.pt)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop training at the first checkpoint that would end past this many minutes")
    parser.add_argument("--eval-steps", type=int, default=None, help="sampling steps for the evaluation")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. train.max_steps=1500")
    args = parser.parse_args(argv)
    if args.kit is None and args.stage in ("all", "pair"):
        parser.error(f"--kit is required (or set {KIT_ENV}): the data kit's folder, e.g. ../shared/data")
    dataset_dir, model = args.work / "dataset", args.model or args.run / "model.pt"
    args.kit = Path(args.kit).resolve() if args.kit is not None else None
    try:
        if args.stage in ("all", "pair"):
            outcome = pair_kit(args.kit, args.work)
            splits = assemble(args.work / "pairs", dataset_dir)
            atomic_write_text(args.work / "kit_pairing.json", json.dumps({"folders": outcome, "splits": splits}, indent=1) + "\n")
            print(f"dataset {dataset_dir}: {len(splits['train'])} train, {len(splits['test'])} test pairs; {outcome}", flush=True)
        if args.stage in ("all", "train"):
            model = train_model(dataset_dir, args.run, args.overrides, args.minutes)
        if args.stage in ("all", "evaluate"):
            scores = evaluate_model(model, dataset_dir, args.eval_steps)
            atomic_write_text(args.run / "scores.json", json.dumps(scores, indent=1) + "\n")
            print(json.dumps({k: scores[k] for k in ("generated", "real")}, indent=1), flush=True)
        if args.stage in ("all", "ship"):
            ship(model)
    except DanceGenError as error:
        print(f"default model: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
