"""Whole-process speed of `dancegen generate`, per model and song length, cold and warm.

For each model (default: every installed one, `dancegen.catalog.available_models`) and song
length (30 s, 3 min, 10 min of a synthesized drum groove looped to length) this runs:

1. `dancegen generate` itself as a subprocess: wall seconds, CPU seconds (user + system of
   the child, from `os.wait4`) and peak RSS — what a user waits for;
2. the same call in a child that times its stages (`--stages-child`): it wraps, before the
   package loads them, `load_pipeline` (model load), `extract_features` (features), the text
   encoder's load and `embed_texts` (text), `export_motion` (export); sampling is the rest of
   the pipeline call; imports are the time to the first of them; exit is what the parent
   waits after the child's last stage (it leaves as the CLI does, through its fast exit).
   Wall and CPU seconds per stage (`time.process_time`: the CPU figure is less sensitive to
   other load on a shared machine).

"cold" runs each model's first song with empty caches: a fresh NUMBA_CACHE_DIR (librosa's
compiled functions) and DANCEGEN_CACHE; "warm" repeats it with those caches filled
(`--repeats` times, the fastest kept). Files the OS has cached cannot be dropped.

Results go to results/generate.json; the printout compares with the speed issue's baseline
(default model, 2 cores: 30 s song 11.6 s wall, 3 min 25.9 s, 10 min 120 s and 1.2 GB).
With a GPU (`--device cuda`, or detected) the CUDA runs are added; CPU figures always come.

    python benchmarks/bench_generate.py                      # every model, 30 s / 3 min / 10 min
    python benchmarks/bench_generate.py --songs 30 --repeats 1 --models gcdance-small
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "generate.json"
SONG_SECONDS = (30, 180, 600)
GROOVE_SECONDS = 30.0  # one synthesized groove, looped to the song's length
GROOVE_BPM = 120.0
SAMPLE_RATE = 22050
# The measurements (default model, 20 steps, 2 cores): song s -> (wall s, peak RSS MB).
BASELINE = {30: (11.6, None), 180: (25.9, None), 600: (120.0, 1200.0)}
TARGETS = {"30 s wall warm": 5.0, "30 s wall cold": 10.0, "180 s wall": 18.0, "600 s peak RSS MB": 700.0}
STAGES = ("imports", "model_load", "features", "text", "sampling", "export", "exit")


# --- the song ----------------------------------------------------------------------------------


def make_song(seconds: float, folder: Path) -> Path:
    import numpy as np

    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    path = folder / f"groove_{int(seconds)}s.wav"
    if not path.exists():
        groove, _ = drum_pattern(GROOVE_BPM, GROOVE_SECONDS, SAMPLE_RATE, seed=0)
        repeats = int(np.ceil(seconds / GROOVE_SECONDS))
        write_wav(path, np.tile(groove, repeats)[: int(seconds * SAMPLE_RATE)], SAMPLE_RATE)
    return path


# --- running one process -----------------------------------------------------------------------


def run_measured(command: list[str], env: dict) -> dict:
    """Wall, CPU seconds and peak RSS (MB) of one child process, from os.wait4."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{err[-2000:]}")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "user_s": round(usage.ru_utime, 3),
        "system_s": round(usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "stdout": out,
        "ended": time.time(),
    }


def generate_args(model: str, song: Path, out: Path, steps: int | None, device: str, prompt: str | None) -> list[str]:
    args = [str(song), "--out", str(out), "--model", model, "--seed", "0", "--quiet", "--device", device]
    args += ["--steps", str(steps)] if steps else []
    args += ["--prompt", prompt] if prompt else []
    return args


def one_case(
    model: str, song: Path, folder: Path, env: dict, stage_env: dict, args: argparse.Namespace, device: str
) -> dict:
    """The CLI run under `env`, the stage-timing run under `stage_env` (its own empty caches
    for a cold case: the CLI run has just filled `env`'s)."""
    out = folder / f"{song.stem}_{Path(model).stem}.npz"
    cli = [sys.executable, "-m", "dancegen", "generate", *generate_args(model, song, out, args.steps, device, args.prompt)]
    whole = run_measured(cli, env)
    whole.pop("stdout"), whole.pop("ended")
    stages_file = folder / "stages.json"
    child = [sys.executable, __file__, "--stages-child", str(stages_file), "--",
             *generate_args(model, song, out, args.steps, device, args.prompt)]
    staged = run_measured(child, stage_env)
    stages = json.loads(stages_file.read_text())
    stages["exit"] = {"wall_s": round(max(0.0, staged["ended"] - stages.pop("_done_at")), 3), "cpu_s": None}
    return {"process": whole, "stages": stages}


# --- the stage-timing child --------------------------------------------------------------------


class StageClock:
    """Wall and CPU seconds spent inside wrapped functions, per stage (outermost calls only)."""

    def __init__(self):
        self.totals = {stage: [0.0, 0.0] for stage in STAGES}
        self.depth = {stage: 0 for stage in STAGES}

    def wrap(self, stage: str, function):
        def timed(*args, **kwargs):
            outermost = self.depth[stage] == 0
            self.depth[stage] += 1
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth[stage] -= 1
                if outermost:
                    self.totals[stage][0] += time.perf_counter() - wall
                    self.totals[stage][1] += time.process_time() - cpu

        return timed


def stages_child(output: Path, cli_args: list[str]) -> None:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    # As `dancegen generate` sets it before torch loads: without it, spin-waiting OpenMP
    # threads made sampling 4x slower here on a busy 2-core machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch  # noqa: F401  (imports: what every generation loads first)

    import dancegen.audio.features as features
    import dancegen.export as export
    import dancegen.pipelines as pipelines
    import dancegen.text as text

    clock = StageClock()
    features.extract_features = clock.wrap("features", features.extract_features)
    text.embed_texts = clock.wrap("text", text.embed_texts)
    text.shared_text_encoder = clock.wrap("text", text.shared_text_encoder)
    export.export_motion = clock.wrap("export", export.export_motion)
    load_pipeline = clock.wrap("model_load", pipelines.load_pipeline)
    calls = {}

    def load_and_time_calls(*args, **kwargs):
        pipeline = load_pipeline(*args, **kwargs)
        cls = type(pipeline)
        original = cls.__call__

        def called(self, *a, **k):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(self, *a, **k)
            finally:
                calls["wall"], calls["cpu"] = time.perf_counter() - wall, time.process_time() - cpu

        cls.__call__ = called
        return pipeline

    pipelines.load_pipeline = load_and_time_calls
    imports = (time.perf_counter() - wall0, time.process_time() - cpu0)
    from dancegen.cli import generate as generate_cli  # noqa: F401

    from dancegen.cli import main

    try:
        main(["generate", *cli_args])
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
    inside = clock.totals
    sampling = [calls["wall"] - inside["features"][0] - inside["text"][0],
                calls["cpu"] - inside["features"][1] - inside["text"][1]]
    stages = {"imports": imports, **{name: tuple(inside[name]) for name in ("model_load", "features", "text")},
              "sampling": sampling, "export": tuple(inside["export"])}
    report = {name: {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)} for name, (wall, cpu) in stages.items()}
    report["_done_at"] = time.time()
    output.write_text(json.dumps(report))
    sys.stdout.flush()
    os._exit(0)  # leave as the CLI does (its fast exit)


# --- the driver --------------------------------------------------------------------------------


def default_models() -> list[str]:
    from dancegen.catalog import available_models

    return [entry.header.name for entry in available_models()]


def environment(cache_dir: Path, threads: int | None) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir / "numba"), DANCEGEN_CACHE=str(cache_dir / "dancegen"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def per_dance_second(case: dict, seconds: float) -> dict:
    process = case["process"]
    return {"cpu_s_per_dance_s": round(process["cpu_s"] / seconds, 4), "rtf": round(process["wall_s"] / seconds, 4)}


def bench_model(model: str, args: argparse.Namespace, folder: Path, device: str) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_caches_") as caches:
        env = environment(Path(caches) / "shared", args.threads)
        for index, seconds in enumerate(args.songs):
            song = make_song(seconds, folder)
            modes = (["cold"] if index == 0 else []) + ["warm"] * args.repeats
            best = {}
            for mode in modes:
                stage_env = environment(Path(caches) / "stages_cold", args.threads) if mode == "cold" else env
                case = one_case(model, song, folder, env, stage_env, args, device)
                if mode not in best or case["process"]["wall_s"] < best[mode]["process"]["wall_s"]:
                    best[mode] = case
                print(f"  {model} {device} {seconds:>4.0f} s {mode}: {case['process']['wall_s']:.2f} s wall, "
                      f"{case['process']['cpu_s']:.2f} CPU-s, {case['process']['peak_rss_mb']:.0f} MB", flush=True)
            for mode, case in best.items():
                rows.append({"model": model, "device": device, "song_seconds": seconds, "caches": mode, **case,
                             **per_dance_second(case, seconds)})
    return rows


def ratios(rows: list[dict]) -> list[str]:
    """Lines comparing the default model's warm CPU runs with the issue's baseline."""
    from dancegen.catalog import DEFAULT_MODEL

    lines = []
    for row in rows:
        if row["model"] != DEFAULT_MODEL or row["device"] != "cpu" or row["song_seconds"] not in BASELINE:
            continue
        wall, rss = BASELINE[row["song_seconds"]]
        line = f"{row['song_seconds']:>4} s {row['caches']}: {row['process']['wall_s']:.2f} s wall = {row['process']['wall_s'] / wall:.2f}x the baseline's {wall} s"
        if rss:
            line += f"; peak RSS {row['process']['peak_rss_mb']:.0f} MB = {row['process']['peak_rss_mb'] / rss:.2f}x {rss:.0f} MB"
        lines.append(line)
    return lines


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--stages-child":
        return stages_child(Path(sys.argv[2]), sys.argv[4:] if sys.argv[3] == "--" else sys.argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="model names or bundle paths (default: every installed one)")
    parser.add_argument("--songs", nargs="*", type=float, default=list(SONG_SECONDS), help="song lengths in seconds")
    parser.add_argument("--repeats", type=int, default=2, help="warm runs per case (the fastest is kept)")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: each model's)")
    parser.add_argument("--prompt", default=None, help="a text prompt (times the text encoder too)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu, plus cuda when present)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the runs (default: unset)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    models = args.models or default_models()
    started = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_songs_") as folder:
        for model in models:
            for device in devices:
                rows += bench_model(model, args, Path(folder), device)
    result = {
        "benchmark": "dancegen generate, whole process",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "load_average_at_start": started, "load_average_at_end": os.getloadavg()},
        "baseline": {f"{song} s": {"wall_s": wall, "peak_rss_mb": rss} for song, (wall, rss) in BASELINE.items()},
        "targets": TARGETS,
        "stage_method": "in-process wrappers (see the module docstring); exit = wait after the last stage",
        "cases": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    for line in ratios(rows):
        print(line)
    for row in rows:
        split = ", ".join(f"{name} {row['stages'][name]['wall_s']:.2f}" for name in STAGES if name in row["stages"])
        print(f"{row['model']} {row['device']} {row['song_seconds']:.0f} s {row['caches']}: "
              f"{row['cpu_s_per_dance_s']:.3f} CPU-s per dance-s; stages (wall s): {split}")


if __name__ == "__main__":
    main()
