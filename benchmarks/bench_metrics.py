"""Metric suite speed: dancegen's vectorised metrics against per-frame loops shaped like the references.

Workload (issue target): 100 synthetic motions of 1200 frames x 24 joints at 60 fps, half of them
the "generated" set and half the "reference" set, each with music beats every 0.5 s.

The loop versions below were written for this benchmark after the structure of the reference
code (nothing is copied): the AIST++ API's per-joint, per-frame, per-window kinetic features and
per-frame geometric predicates, Bailando's BA loop over music beats and pairwise Div loop, and
EDGE / GCDance / LODGE's per-motion numpy for PFC, PBC and FSR (those references are already
array code, so they are timed as such). The script checks that both versions give the same
numbers (1e-5 relative) and reports the times and speedups; the "suite" row compares all the
loops with one `dancegen.metrics.evaluate` call that computes everything (and the freezing
metrics on top).

    .venv/bin/python benchmarks/bench_metrics.py [--motions 100] [--frames 1200] [--threads 1]

Prints a table and writes benchmarks/results/metrics.json. Target: suite speedup >= 50.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from scipy.ndimage import gaussian_filter1d

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "metrics"))
from metrics_synth import synthetic_dance  # noqa: E402

from dancegen.fileio import atomic_write_text  # noqa: E402
from dancegen.metrics import (  # noqa: E402
    EvaluationConfig, MotionClip, beat_align_score, evaluate, fid_and_diversity, foot_skating_ratio,
    kinetic_features, manual_features, pbc, pfc,
)
from dancegen.metrics.kinetic import root_relative  # noqa: E402
from dancegen.metrics.manual import MANUAL_TIME_PER_FRAME_S, PREDICATES, SCALES, VIRTUAL_POINTS  # noqa: E402
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "metrics.json"
FPS = 60.0
FRAME_TIME = 1 / 60
TARGET_SPEEDUP = 50.0


# --- per-frame loops, shaped like the reference implementations ---------------------------

def kinetic_loop(positions: np.ndarray, reference_bugs: bool) -> np.ndarray:
    frames, joints, _ = positions.shape
    out = []
    for joint in range(joints):
        horizontal = vertical = expenditure = 0.0
        for i in range(1, frames):
            velocity, count = np.zeros(3), 0
            for j in range(-2, 3):
                if i + j - 1 < 0 or i + j >= frames:
                    continue
                velocity += positions[i + j, joint] - positions[i + j - 1, joint]
                count += 1
            horizontal += np.linalg.norm(np.array([velocity[0], velocity[2]]) / (count * FRAME_TIME)) ** 2
            vertical += np.linalg.norm(np.array([velocity[1]]) / (count * FRAME_TIME)) ** 2
            acceleration, count = np.zeros(3), 0
            for j in range(-2, 3):
                k = i + j
                if k - 1 < 0 or k + 1 >= frames:
                    continue
                forward = (positions[k + 1, joint] - positions[k, joint]) / FRAME_TIME
                if reference_bugs:
                    backward = positions[k, joint] - positions[k - 1, joint] / FRAME_TIME
                else:
                    backward = (positions[k, joint] - positions[k - 1, joint]) / FRAME_TIME
                acceleration += (forward - backward) / FRAME_TIME
                count += 1
            expenditure += np.linalg.norm(acceleration / count)
        out += [horizontal / (frames - 1.0), vertical / (frames - 1.0), expenditure / (frames - 1.0)]
    return np.array(out, dtype=np.float32)


def manual_loop(positions: np.ndarray) -> np.ndarray:
    index = {name: i for i, name in enumerate(SMPL24_JOINT_NAMES)}
    rows = []
    for frame in range(1, len(positions)):
        now, before = positions[frame], positions[frame - 1]

        def at(name):
            if name == "y_min":
                return np.array([0.0, min(y for _, y, _ in now), 0.0])
            return np.array(VIRTUAL_POINTS[name]) if name in VIRTUAL_POINTS else now[index[name]]

        row = []
        for kind, names, limits in PREDICATES:
            a = [at(n) for n in names]
            if kind == "angle":
                u, v = a[1] - a[0], a[3] - a[2]
                angle = np.degrees(np.arccos(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))))
                row.append(limits[0] < angle < limits[1])
                continue
            threshold = limits[0] * SCALES[limits[1]]
            if kind in ("move", "nmove"):
                target = names[3] if kind == "nmove" else names[2]
                velocity = (at(target) - a[0]) - (before[index[target]] - before[index[names[0]]])
                direction = np.cross(a[2] - a[0], a[1] - a[0]) if kind == "nmove" else a[1] - a[0]
                value = np.dot(velocity, direction) / np.linalg.norm(direction) / MANUAL_TIME_PER_FRAME_S
            elif kind == "plane":
                normal = np.cross(a[2] - a[0], a[1] - a[0])
                value = np.dot(normal, a[3] - a[0]) / np.linalg.norm(normal)
            elif kind == "nplane":
                value = np.dot(a[1] - a[0], a[3] - a[2]) / np.linalg.norm(a[1] - a[0])
            else:
                value = np.linalg.norm(a[0] - before[index[names[0]]]) / MANUAL_TIME_PER_FRAME_S
            row.append(value > threshold)
        rows.append(row)
    return np.array(rows, dtype=np.float32).mean(axis=0)


def bas_loop(positions: np.ndarray, music_frames: np.ndarray) -> float:
    speed = np.mean(np.sqrt(np.sum((positions[1:] - positions[:-1]) ** 2, axis=2)), axis=1)
    smooth = gaussian_filter1d(speed, 5)
    beats = np.array([k for k in range(1, len(smooth) - 1) if smooth[k] < smooth[k - 1] and smooth[k] < smooth[k + 1]])
    music = [b for b in music_frames if b < len(speed)]
    return sum(np.exp(-np.min((beats - b) ** 2) / 2 / 9) for b in music) / len(music)


def physical_reference(positions: np.ndarray) -> tuple[float, float, float]:
    """EDGE PFC, GCDance PBC and LODGE FSR as those references compute them (per-motion numpy)."""
    dt = 1 / 30
    scale = FPS / 30  # per-frame steps in 30-fps units, as dancegen reports them

    def normalised(track, clamp):
        acceleration = np.diff(np.diff(track, axis=0) / dt, axis=0) / dt
        if clamp:
            acceleration[:, 1] = np.maximum(acceleration[:, 1], 0)
        magnitude = np.linalg.norm(acceleration, axis=-1)
        return magnitude / magnitude.max() if magnitude.max() != 0 else magnitude

    def steps(joints, axes):
        return np.linalg.norm(positions[2:, joints][..., axes] - positions[1:-1, joints][..., axes], axis=-1) * scale

    feet = steps([7, 10, 8, 11], [0, 2])
    foot = normalised(positions[:, 0], True) * np.minimum(feet[:, 0], feet[:, 1]) * np.minimum(feet[:, 2], feet[:, 3])
    body = steps([20, 22, 21, 23, 15], [0, 1, 2])
    pbc_value = (
        0.01 * np.minimum(body[:, 0], body[:, 1]) * normalised(positions[:, 13], False)
        + 0.01 * np.minimum(body[:, 2], body[:, 3]) * normalised(positions[:, 14], False)
        + 0.1 * body[:, 4] * normalised(positions[:, 12], False)
        - foot
    ).mean() * 1e4

    grounded = positions.copy()
    toes = grounded[0, [10, 11], 1]
    grounded[..., 1] -= toes.mean() if abs(toes[0] - toes[1]) < 0.02 else toes.min()
    velocity = np.zeros_like(grounded)
    velocity[:-1] = grounded[1:] - grounded[:-1]
    ratios = []
    for ankle, toe in ((7, 10), (8, 11)):
        contact = (grounded[:, ankle, 1] <= 0.08) & (grounded[:, toe, 1] <= 0.05)
        moving = np.linalg.norm(velocity[:, [ankle, toe]][..., [0, 2]], axis=-1) > 0.01 * 30 / FPS
        slides = (contact & moving.any(axis=-1)).sum()
        ratios.append(slides / contact.sum() if contact.sum() else 0.0)
    return float(foot.mean() * 1e4), float(pbc_value), float(np.mean(ratios))


def fid_div_loop(generated: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    gen, ref = (generated - mean) / (std + 1e-10), (reference - mean) / (std + 1e-10)
    s1, s2 = np.cov(gen, rowvar=False), np.cov(ref, rowvar=False)
    diff = gen.mean(axis=0) - ref.mean(axis=0)
    fid = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1.dot(s2))).real
    total, pairs = 0.0, 0
    for i in range(len(gen)):
        for j in range(i + 1, len(gen)):
            total += np.linalg.norm(gen[i] - gen[j])
            pairs += 1
    return float(fid), total / pairs


# --- benchmark ------------------------------------------------------------------------------

def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def agree(a, b, name: str) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    error = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-9)))
    if error > 1e-5:
        raise SystemExit(f"{name}: vectorised and loop values differ by {error:.2e} (relative)")
    return error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--motions", type=int, default=100)
    parser.add_argument("--frames", type=int, default=1200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    motions = [synthetic_dance(seed, args.frames, fps=FPS, bpm=100.0 + seed % 40) for seed in range(args.motions)]
    beats = [np.arange(0.1 + 0.01 * (i % 30), args.frames / FPS, 0.5) for i in range(args.motions)]
    half = args.motions // 2
    relative = [root_relative(m) for m in motions]
    rows = {}

    def compare(name, loop_fn, fast_fn):
        loop_values, loop_s = timed(loop_fn)
        fast_values, fast_s = timed(fast_fn)
        error = agree(fast_values, loop_values, name)
        rows[name] = {"loop_s": loop_s, "dancegen_s": fast_s, "speedup": loop_s / fast_s, "max_rel_diff": error}
        print(f"{name:>10}: loop {loop_s:8.2f} s  dancegen {fast_s:7.3f} s  x{loop_s / fast_s:8.1f}  diff {error:.1e}", flush=True)
        return fast_values

    kinetic = compare("kinetic", lambda: [kinetic_loop(p, False) for p in relative], lambda: [kinetic_features(p) for p in relative])
    compare("manual", lambda: [manual_loop(p) for p in relative], lambda: [manual_features(p) for p in relative])
    compare(
        "bas",
        lambda: [bas_loop(p, np.round(b * FPS).astype(int)) for p, b in zip(motions, beats)],
        lambda: [beat_align_score(p, b, FPS) for p, b in zip(motions, beats)],
    )
    compare(
        "physical",
        lambda: [physical_reference(p) for p in motions],
        lambda: [(pfc(p, FPS), pbc(p, FPS), foot_skating_ratio(p, FPS)) for p in motions],
    )
    kinetic = np.stack(kinetic)
    compare(
        "fid_div",
        lambda: fid_div_loop(kinetic[:half], kinetic[half:]),
        lambda: tuple(fid_and_diversity(kinetic[:half], kinetic[half:])[k] for k in ("fid", "div")),
    )

    clips = [MotionClip(f"m{i}", p, FPS, b) for i, (p, b) in enumerate(zip(motions, beats))]
    _, suite_s = timed(lambda: evaluate(clips[:half], clips[half:], EvaluationConfig()))
    loops_s = sum(row["loop_s"] for row in rows.values())
    rows["suite"] = {"loop_s": loops_s, "dancegen_s": suite_s, "speedup": loops_s / suite_s}
    print(f"{'suite':>10}: loops {loops_s:8.2f} s  evaluate() {suite_s:7.3f} s  x{loops_s / suite_s:8.1f} "
          f"(target >= {TARGET_SPEEDUP:g})")

    result = {
        "workload": {"motions": args.motions, "frames": args.frames, "joints": 24, "fps": FPS},
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "threads": args.threads},
        "results": rows,
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": rows["suite"]["speedup"] >= TARGET_SPEEDUP,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
