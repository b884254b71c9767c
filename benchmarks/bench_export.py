"""Export and viewer throughput on CPU: how long each output of one dance takes to write.

On a synthetic SMPL-24 clip (`--seconds` at 30 fps):

- glb_write / glb_read: `write_glb` and `load_glb` (seconds of dance per second of work);
- npz_write: `write_smpl_npz`; page_write: `write_page` (page size in MB as well);
- video_frames: software rasteriser alone, frames/s at `--size`;
- video_total: `render_video` with ffmpeg (H.264 veryfast), seconds of dance per second.

    .venv/bin/python benchmarks/bench_export.py [--seconds 60] [--video-seconds 10] [--size 1280x720]

Prints a table and writes benchmarks/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dancegen.export.gltf import write_glb
from dancegen.export.smpl_params import write_smpl_npz
from dancegen.export.video import VideoConfig, parse_size, render_frames, render_video
from dancegen.fileio import atomic_write_text
from dancegen.motion import Motion
from dancegen.motion.glb import load_glb
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import smpl24
from dancegen.viewer.page import BUNDLE_PATH, write_page

RESULTS = Path(__file__).resolve().parent / "results" / "export.json"
FPS = 30.0


def dance(seconds: float, seed: int = 0) -> Motion:
    """Every joint swinging at its own rate, the root wandering: a full-size clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS))[:, None, None] / FPS
    shape = (1, 24, 3)
    rotvecs = rng.uniform(0.1, 0.8, shape) * np.sin(2 * np.pi * rng.uniform(0.2, 1.2, shape) * t + rng.uniform(0, 6.3, shape))
    s = t[:, 0, 0]
    root = np.stack([0.5 * np.sin(0.4 * s), 0.92 + 0.04 * np.sin(5 * s), 0.5 * np.cos(0.3 * s)], axis=-1)
    return Motion(smpl24(), FPS, axis_angle_to_quat(torch.from_numpy(rotvecs)).numpy(), root)


def best_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--video-seconds", type=float, default=10.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    motion, short = dance(args.seconds), dance(args.video_seconds)
    width, height = parse_size(args.size)
    config = VideoConfig(width=width, height=height)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        results["glb_write_x_realtime"] = args.seconds / best_seconds(lambda: write_glb(motion, folder / "d.glb"), args.repeats)
        results["glb_read_x_realtime"] = args.seconds / best_seconds(lambda: load_glb(folder / "d.glb"), args.repeats)
        results["glb_mb"] = (folder / "d.glb").stat().st_size / 1e6
        results["npz_write_x_realtime"] = args.seconds / best_seconds(lambda: write_smpl_npz(motion, folder / "d.npz"), args.repeats)
        if BUNDLE_PATH.is_file():
            results["page_write_x_realtime"] = args.seconds / best_seconds(lambda: write_page(motion, folder / "d.html"), args.repeats)
            results["page_mb"] = (folder / "d.html").stat().st_size / 1e6
        frames = short.num_frames
        results["video_frames_per_s"] = frames / best_seconds(lambda: sum(1 for _ in render_frames(short, config)), 1)
        if shutil.which("ffmpeg"):
            results["video_total_x_realtime"] = args.video_seconds / best_seconds(
                lambda: render_video(short, folder / "d.mp4", config=config), 1)
    report = {"machine": platform.processor() or platform.machine(), "seconds": args.seconds,
              "video_seconds": args.video_seconds, "size": args.size, "results": results}
    for name, value in results.items():
        print(f"{name:26s} {value:10.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(report, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
