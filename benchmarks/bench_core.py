"""Core throughput on CPU: forward kinematics, foot contacts and the motion codecs, in frames/s.

For SMPL-24 and the 52-joint SMPL-X layout, on a synthetic 1200-frame clip (40 s at 30 fps):

- fk_clip: `Motion.joint_positions()` of one clip (float64, what data preparation runs);
- fk_batch: `skeleton_fk` on a (batch, T) float32 batch (what an FK loss runs);
- contacts: `foot_contacts(motion)`;
- <codec>_encode / <codec>_decode: one clip; <codec>_positions: `decode_positions_torch` on the
  float32 batch.

Each number is frames processed per second, best of `--repeats` runs.

    .venv/bin/python benchmarks/bench_core.py [--frames 1200] [--batch 8] [--repeats 5] [--threads 1]

Prints a table and writes benchmarks/results/core.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dancegen.fileio import atomic_write_text
from dancegen.motion import Motion
from dancegen.motion.codecs import CODEC_NAMES, get_codec
from dancegen.motion.contacts import foot_contacts
from dancegen.skeleton.fk import skeleton_fk
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.smplx import smplx52
from dancegen.skeleton.tree import Skeleton

RESULTS = Path(__file__).resolve().parent / "results" / "core.json"
FPS = 30.0


def synthetic_clip(skeleton: Skeleton, frames: int, seed: int = 0) -> Motion:
    """Smooth random joint rotations and a wandering root: realistic work for every code path."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / FPS
    shape = (1, skeleton.num_joints, 3)
    rotvecs = rng.uniform(0.2, 1.0, shape) * np.sin(2 * np.pi * rng.uniform(0.2, 1.5, shape) * t + rng.uniform(0, 6.3, shape))
    seconds = t[:, 0, 0]
    root = np.stack([np.sin(0.3 * seconds), 0.9 + 0.05 * np.sin(2 * seconds), np.cos(0.2 * seconds)], axis=-1)
    return Motion(skeleton, FPS, axis_angle_to_quat(torch.from_numpy(rotvecs)).numpy(), root)


def frames_per_second(work: Callable[[], object], frames: int, repeats: int) -> float:
    work()  # warm-up: first calls pay for allocations and lazy initialisation
    best = min(_timed(work) for _ in range(repeats))
    return frames / best


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bench_skeleton(skeleton: Skeleton, frames: int, batch: int, repeats: int) -> dict[str, float]:
    motion = synthetic_clip(skeleton, frames)
    quats = torch.from_numpy(motion.rotations).float().expand(batch, -1, -1, -1)
    roots = torch.from_numpy(motion.root_translation).float().expand(batch, -1, -1)
    results = {
        "fk_clip": frames_per_second(motion.joint_positions, frames, repeats),
        "fk_batch": frames_per_second(lambda: skeleton_fk(skeleton, quats, roots), frames * batch, repeats),
        "contacts": frames_per_second(lambda: foot_contacts(motion), frames, repeats),
    }
    for name in CODEC_NAMES:
        codec = get_codec(name, skeleton)
        features = codec.encode(motion)
        batched = torch.from_numpy(features).expand(batch, -1, -1)
        results[f"{name}_encode"] = frames_per_second(lambda: codec.encode(motion), frames, repeats)
        results[f"{name}_decode"] = frames_per_second(lambda: codec.decode(features, FPS), frames, repeats)
        results[f"{name}_positions"] = frames_per_second(
            lambda: codec.decode_positions_torch(batched), frames * batch, repeats
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: comparable on shared machines)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    results = {
        skeleton.name: bench_skeleton(skeleton, args.frames, args.batch, args.repeats)
        for skeleton in (smpl24(), smplx52())
    }
    names = list(results)
    print(f"frames/s, T={args.frames}, batch={args.batch}, {args.threads} thread(s), best of {args.repeats}")
    print(f"{'':20s}" + "".join(f"{n:>14s}" for n in names))
    for key in results[names[0]]:
        print(f"{key:20s}" + "".join(f"{results[n][key]:14,.0f}" for n in names))

    report = {
        "unit": "frames per second",
        "frames": args.frames,
        "batch": args.batch,
        "repeats": args.repeats,
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "results": {n: {k: round(v, 1) for k, v in r.items()} for n, r in results.items()},
    }
    atomic_write_text(RESULTS, json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
