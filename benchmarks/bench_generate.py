"""Generation speed and memory of GCDance by song length and sampling steps.

For 30 s, 3 min and 10 min songs and several DDIM step counts, time the whole pipeline
(features in, `Motion` out: windowing, guided denoising, stitching, decoding) and the peak
memory of the process. Each case runs in its own subprocess so its peak is its own.

Timings do not depend on what the weights learned, so the model is the config's network with
random weights, and the music is random `baseline35`-shaped features (audio decoding and
feature extraction are benchmarked by the audio package).

Target (issue): the small config generates a 3-minute song in at most 60 s on 2 CPU cores.

    python benchmarks/bench_generate.py                 # small config, all cases
    python benchmarks/bench_generate.py --songs 180 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "generate.json"
SONG_SECONDS = (30, 180, 600)
STEPS = (10, 20, 50)
TARGET_SONG_SECONDS = 180
TARGET_WALL_SECONDS = 60.0
THREADS = 2  # the 2 CPU cores


def run_case(preset: str, song_seconds: float, steps: int, seed: int = 0) -> dict:
    """Generate once (after a short warm-up) and report time and peak memory of this process."""
    import numpy as np
    import torch

    from dancegen.models.gcdance.config import paper_config, small_config
    from dancegen.models.gcdance.network import GCDanceNetwork
    from dancegen.motion.normalize import Normalizer
    from dancegen.pipelines.gcdance import GCDancePipeline

    torch.set_num_threads(THREADS)
    torch.manual_seed(seed)
    config = small_config() if preset == "small" else paper_config()
    network = GCDanceNetwork(config, num_genres=10)
    motion_dim, music_dim = config.network.motion_dim, config.music.total_dim
    pipeline = GCDancePipeline(
        config,
        network,
        Normalizer("meanstd", np.zeros(motion_dim), np.ones(motion_dim)),
        Normalizer("meanstd", np.zeros(music_dim), np.ones(music_dim)),
        genres=[f"genre{i}" for i in range(10)],
        genre_embeddings=torch.randn(10, config.network.text_dim),
    )
    pipeline.genres[0] = "house"
    frames = int(song_seconds * config.data.fps)
    music = np.random.default_rng(seed).normal(size=(frames, music_dim)).astype(np.float32)
    pipeline(music[: int(config.data.fps * 4)], seed=seed, steps=1, genre="house")  # warm-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    motion = pipeline(music, seed=seed, steps=steps, genre="house")
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert motion.num_frames == frames
    windows = pipeline.config.sampling
    return {
        "preset": preset,
        "song_seconds": song_seconds,
        "steps": steps,
        "frames": frames,
        "guidance_passes": 2,
        "window_seconds": windows.window_seconds,
        "overlap_seconds": windows.overlap_seconds,
        "wall_seconds": round(wall, 2),
        "seconds_per_dance_second": round(wall / song_seconds, 4),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_before_generation_mb": round(before / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", choices=("small", "paper"))
    parser.add_argument("--songs", type=float, nargs="*", default=list(SONG_SECONDS))
    parser.add_argument("--steps", type=int, nargs="*", default=list(STEPS))
    parser.add_argument("--case", type=float, nargs=2, metavar=("SONG_SECONDS", "STEPS"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    if args.case:  # child process: one measurement, printed as JSON
        print(json.dumps(run_case(args.preset, args.case[0], int(args.case[1]))))
        return

    # Passive waiting: on a shared machine, OpenMP threads that spin while waiting for a core
    # made 2-thread generation 10x slower than 1 thread here; `dancegen generate` sets it too.
    environment = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS), OMP_WAIT_POLICY="PASSIVE")
    load_at_start = os.getloadavg()
    cases = []
    for song in args.songs:
        for steps in args.steps:
            command = [sys.executable, __file__, "--preset", args.preset, "--case", str(song), str(steps)]
            output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout
            case = json.loads(output.strip().splitlines()[-1])
            cases.append(case)
            print(
                f"{args.preset:5s} song {song:5.0f} s  steps {steps:3d}: {case['wall_seconds']:7.1f} s "
                f"({case['seconds_per_dance_second']:.3f} s per dance second), peak {case['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    target = [c for c in cases if c["song_seconds"] == TARGET_SONG_SECONDS]
    meets = {str(c["steps"]): c["wall_seconds"] <= TARGET_WALL_SECONDS for c in target}
    report = {
        "benchmark": "gcdance generation",
        "machine": {"cpus": os.cpu_count(), "threads": THREADS, "omp_wait_policy": "PASSIVE",
                    "platform": platform.platform(), "load_average_at_start": load_at_start,
                    "load_average_at_end": os.getloadavg()},
        "target": f"{args.preset} config: {TARGET_SONG_SECONDS} s song in <= {TARGET_WALL_SECONDS:.0f} s",
        "meets_target_by_steps": meets,
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from dancegen.fileio import atomic_write_text

    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
