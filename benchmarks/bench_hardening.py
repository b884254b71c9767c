"""Peak memory of the commands that read the largest inputs (issue #14, "Resources"):

- `dancegen audio beats` on a synthesized 60-minute song (44.1 kHz stereo wav);
- `dancegen generate --seconds 30` on that song (the default model, written as .bvh);
- `dancegen motion info` on a synthesized 1,000,000-frame BVH (the SMPL-24 rig: 75 channels a
  frame, about 600 MB of text).

Each command runs in its own process; its peak resident memory is the kernel's figure for that
process (`wait4` rusage, ru_maxrss). Target (issue): at most 1 GB for the two audio commands.
The inputs are written to --workdir once and reused.

    .venv/bin/python benchmarks/bench_hardening.py [--workdir /tmp/dancegen-bench-hardening]

Prints a table and writes benchmarks/results/hardening.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dancegen.fileio import atomic_path, atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "hardening.json"
SONG_MINUTES = 60
SONG_RATE = 44100
BVH_FRAMES = 1_000_000
TARGET_MB = 1024.0


def write_song(path: Path, minutes: int = SONG_MINUTES) -> None:
    """A 120 bpm groove, stereo 16-bit, written a minute at a time (this process stays small)."""
    import soundfile

    from dancegen.audio.synth import drum_pattern

    minute, _ = drum_pattern(120.0, 60.0, SONG_RATE, seed=0, start=0.25)
    rng = np.random.default_rng(0)
    with atomic_path(path) as tmp:
        with soundfile.SoundFile(str(tmp), "w", SONG_RATE, 2, "PCM_16", format="WAV") as handle:
            for _ in range(minutes):
                left = minute * rng.uniform(0.8, 1.0)
                right = np.roll(minute, 7) * rng.uniform(0.8, 1.0)
                handle.write(np.clip(np.stack([left, right], axis=1), -1, 1))


def write_long_bvh(path: Path, frames: int = BVH_FRAMES, block: int = 20_000) -> None:
    """A dance of `frames` frames on SMPL-24: the header `write_bvh` writes, then the rows a
    block at a time (a small random walk of angles, so every value is different)."""
    from dancegen.motion.bvh import write_bvh
    from dancegen.motion.motion import Motion
    from dancegen.skeleton.smpl import smpl24

    skeleton = smpl24()
    one = path.with_suffix(".head.bvh")
    write_bvh(Motion(skeleton, 60.0, np.tile([0.0, 0.0, 0.0, 1.0], (1, 24, 1)), np.zeros((1, 3))), one)
    header = one.read_text().split("MOTION")[0]
    one.unlink()
    rng = np.random.default_rng(0)
    channels = 6 + 3 * 23
    with atomic_path(path) as tmp:
        with open(tmp, "w") as handle:
            handle.write(f"{header}MOTION\nFrames: {frames}\nFrame Time: {1 / 60:.8f}\n")
            angles = np.zeros(channels)
            for start in range(0, frames, block):
                count = min(block, frames - start)
                steps = rng.normal(scale=0.5, size=(count, channels))
                rows = angles + np.cumsum(steps, axis=0)
                rows = (rows + 180.0) % 360.0 - 180.0
                rows[:, 1] = 0.9  # the root's height, metres
                angles = rows[-1]
                np.savetxt(handle, rows, fmt="%.3f")


def peak_of(args: list[str], cwd: Path, code_path: Path | None = None, memory_limit_gb: float | None = None) -> dict:
    """Run `dancegen ARGS` in a process of its own; its exit status, wall seconds and peak RSS
    (MB). `code_path`: run the dancegen package found there instead (an older checkout);
    `memory_limit_gb`: its address-space limit, so a version that needs far too much fails
    instead of taking the machine."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if code_path is not None:
        env["PYTHONPATH"] = str(code_path)

    def limit() -> None:
        if memory_limit_gb is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (int(memory_limit_gb * 2**30),) * 2)

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", "from dancegen.cli import main; main()", *args], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit)
    stderr = process.stderr.read().decode("utf-8", "replace").strip()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    result = {"peak_mb": round(usage.ru_maxrss / 1024.0, 1), "seconds": round(seconds, 2), "status": code}
    if code != 0:
        if code_path is None:
            raise SystemExit(f"dancegen {' '.join(args)} failed ({code}): {stderr}")
        result["failed"] = stderr.splitlines()[-1][:200] if stderr else f"exit status {code}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dancegen-bench-hardening"))
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a folder holding an older dancegen package (e.g. `git archive v0.1 dancegen | tar -x -C DIR`) "
                             "to measure the same commands with, under a 10 GB memory limit")
    options = parser.parse_args()
    work = options.workdir
    work.mkdir(parents=True, exist_ok=True)
    song, bvh = work / f"song-{SONG_MINUTES}min.wav", work / f"dance-{BVH_FRAMES}-frames.bvh"
    if not song.is_file():
        print(f"writing {song} ...", flush=True)
        write_song(song)
    if not bvh.is_file():
        print(f"writing {bvh} ...", flush=True)
        write_long_bvh(bvh)

    runs = {
        "audio_beats_60min": ["audio", "beats", str(song), "--json"],
        "generate_30s_of_60min": ["generate", str(song), "--seconds", "30", "-o", str(work / "dance.bvh"),
                                  "--seed", "0", "--quiet"],
        "motion_info_1M_frames": ["motion", "info", str(bvh)],
    }
    results, baseline = {}, {}
    for name, args in runs.items():
        results[name] = peak_of(args, work)
        line = f"{name:26s} peak {results[name]['peak_mb']:8.1f} MB   {results[name]['seconds']:7.1f} s"
        if options.baseline is not None:
            baseline[name] = peak_of(args, work, options.baseline, memory_limit_gb=10.0)
            old = baseline[name]
            line += f"   (baseline: {old['peak_mb']:.1f} MB, {old['seconds']:.1f} s{', failed: ' + old['failed'] if 'failed' in old else ''})"
        print(line, flush=True)

    audio = ("audio_beats_60min", "generate_30s_of_60min")
    report = {
        "machine": platform.machine(), "python": platform.python_version(), "cpus": os.cpu_count(),
        "song": {"minutes": SONG_MINUTES, "sample_rate": SONG_RATE, "channels": 2, "bytes": song.stat().st_size},
        "bvh": {"frames": BVH_FRAMES, "joints": 24, "bytes": bvh.stat().st_size},
        "runs": results,
        "baseline": {"code": str(options.baseline), "runs": baseline} if baseline else None,
        "target_mb": TARGET_MB,
        "audio_target_met": all(results[name]["peak_mb"] <= TARGET_MB for name in audio),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(report, indent=2) + "\n")
    print(f"audio commands within {TARGET_MB:.0f} MB: {report['audio_target_met']}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
