"""Evidence for the LRCM family: long-form seams, timed text steering, the metric table, speed.

Four sections, each optional (`--sections`), all on material the shipped model never saw (the
held-out songs and clips of `dancegen.recipes.kit`):

1. seams: a 3-minute dance on an unseen song (looped if shorter): jerk at the segment seams
   (`motion.metadata["segments"]`) over interior jerk (target <= 1.2) and single-frame pelvis
   flips; the real held-out clips on the same segment grid are the no-seam control (about 1);
2. steering: on unseen songs, an annotation with "spin" and "jump" spans at fixed times, against
   the same seed without it and with the spans shifted by half a cycle. Root yaw rate inside the
   "spin" spans over outside (target >= 2) and pelvis-height peaks inside the "jump" spans over
   outside, each measured on both span layouts, so the effect has to move with the text; the
   real held-out clips with their own annotations are the reference;
3. metrics: BAS against the true and half-beat shifted beats, foot skating, PFC, PFF/RS/LR and
   Div_k / FID_k of 5 s pieces on the paired held-out dataset (`--dataset`), generated vs real;
4. speed: CPU seconds (process time of the whole generation call) and wall seconds per dance
   second, and peak RSS, for 30 s / 3 min / 10 min songs, each in a fresh subprocess, with the
   model's sampling settings and with `--steps`; target: real time on 2 cores.

    python benchmarks/bench_lrcm.py                                   # everything: long on 2 cores
    python benchmarks/bench_lrcm.py --model runs/lrcm/model.pt --sections seams steering \\
        --long-seconds 60 --seeds 1 --out /tmp/lrcm.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dancegen.fileio import atomic_write_text
from dancegen.recipes import kit as kit_recipe

REPO = Path(__file__).resolve().parents[1]
DEFAULT_KIT = Path(os.environ.get(kit_recipe.KIT_ENV, REPO.parent / "shared" / "data"))
DEFAULT_DATASET = REPO / kit_recipe.DEFAULT_WORK / "dataset_lrcm"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "lrcm.json"
DEFAULT_MODEL = "lrcm-small"
SECTIONS = ("seams", "steering", "metrics", "speed")
THREADS = 2  # the target machine's 2 cores

# Targets (the LRCM issue).
SEAM_JERK_TARGET = 1.2  # seam jerk / interior jerk at most this
SPIN_RATIO_TARGET = 2.0  # yaw rate inside "spin" spans / outside at least this
REAL_TIME_TARGET = 1.0  # CPU seconds / (cores x dance seconds) at most this

SEAM_RADIUS_FRAMES = 1  # `seam_jerk_ratio`'s reach: kinks a frame off the nominal seam count
SEAM_REACH_FRAMES = 3  # a pelvis flip this close to a seam counts as "at the seam"

# Steering: a cycle of STEER_CYCLE_S seconds with a "spin" span and a "jump" span in it; the
# shifted control moves both by half a cycle, so each lands where the other was.
STEER_CYCLE_S = 8.0
SPIN_SPAN_S = (1.0, 3.0)  # within the cycle
JUMP_SPAN_S = (5.0, 7.0)
STEER_SHIFT_S = STEER_CYCLE_S / 2
SPIN_TOKEN, JUMP_TOKEN = "spin", "jump"
STEER_GENRES = ("salsa", "modern_ballet", "casual")  # the first the model knows is the global text
PEAK_GAP_S = 1.0  # pelvis-height peaks closer than this are one peak

# Speed: a short generation first, so lazy initialisation is not timed.
WARMUP_SECONDS = 1.0
BYTES_PER_KB = 1024  # ru_maxrss is in kilobytes on Linux


# --- the model and the inputs ----------------------------------------------------------------

def load_model(model: str):
    from dancegen import load_pipeline

    return load_pipeline(model)


def text_genre(pipeline) -> str | None:
    """The global text of the steering and speed runs: a genre the model was trained with."""
    return next((g for g in STEER_GENRES if g in pipeline.genres), pipeline.genres[0] if pipeline.genres else None)


@dataclass
class Song:
    name: str
    audio: Path
    beats_file: Path


def held_out_songs(kit: Path) -> list[Song]:
    """`kit.HELD_OUT_SONGS`, found under `music/<collection>/<name>`, with their audio file."""
    songs = []
    for name in kit_recipe.HELD_OUT_SONGS:
        folders = sorted((kit / "music").glob(f"*/{name}"))
        if not folders:
            raise FileNotFoundError(f"{kit / 'music'}: held-out song {name} not found; is this the data kit?")
        meta = json.loads((folders[0] / "beats.json").read_text())
        songs.append(Song(name, folders[0] / meta["audio"], folders[0] / "beats.json"))
    return songs


def looped_wav(song: Song, seconds: float, folder: Path) -> Path:
    """The song itself when it lasts `seconds`, else its audio repeated to that length (a wav)."""
    from dancegen.audio import load_audio
    from dancegen.audio.io import audio_duration, write_wav

    if audio_duration(song.audio) >= seconds:
        return song.audio
    audio = load_audio(song.audio)
    needed = int(math.ceil(seconds * audio.sample_rate)) + audio.sample_rate  # a second spare
    repeats = int(math.ceil(needed / len(audio.samples)))
    samples = np.tile(audio.samples, repeats)[:needed]
    return write_wav(folder / f"{song.name}_{seconds:g}s.wav", samples, sample_rate=audio.sample_rate)


def real_clips(kit: Path, fps: float) -> dict[str, Any]:
    """The held-out clips (`kit.HELD_OUT`) as SMPL-24 motions at the model's frame rate."""
    from dancegen.motion.io import load_motion
    from dancegen.motion.retarget import retarget
    from dancegen.skeleton.smpl import smpl24

    clips = {}
    for stem in kit_recipe.HELD_OUT:
        for folder, clip_fps in kit_recipe.MOTION_FOLDERS.items():
            path = kit / "motion" / folder / f"{stem}.bvh"
            if path.is_file():
                clips[stem] = retarget(load_motion(path, fps=clip_fps), smpl24()).motion.resample(fps)
    return clips


# --- per-motion measures ---------------------------------------------------------------------

def heading_deg(positions: np.ndarray) -> np.ndarray:
    """(T,) unwrapped yaw of the body's front (hips + shoulders across, up = y), degrees."""
    from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES as names

    def joint(name: str) -> np.ndarray:
        return positions[:, names.index(name)]

    across = (joint("right_hip") - joint("left_hip")) + (joint("right_shoulder") - joint("left_shoulder"))
    return np.degrees(np.unwrap(np.arctan2(across[:, 2], -across[:, 0])))


def yaw_rate_dps(positions: np.ndarray, fps: float) -> np.ndarray:
    return np.abs(np.gradient(heading_deg(positions))) * fps


def pelvis_lift(positions: np.ndarray) -> np.ndarray:
    """(T,) pelvis height above its median over the dance, metres."""
    height = positions[:, 0, 1]
    return height - np.median(height)


def seam_frames(segments: list[list[int]], frames: int) -> np.ndarray:
    """Where a segment chain can kink: each later segment's first frame and the end of its
    inpainted overlap (the previous segment's last frame)."""
    from dancegen.metrics.dance_quality import window_seam_frames

    if len(segments) < 2:
        return np.zeros(0, dtype=np.int64)
    starts = [start for start, _ in segments]
    overlap = segments[0][1] - segments[1][0]
    return window_seam_frames(starts, overlap, frames)


def seam_scores(motion, segments: list[list[int]]) -> dict[str, Any]:
    from dancegen.metrics.dance_quality import pelvis_flips, seam_jerk_ratio

    positions, fps = motion.joint_positions(), motion.fps
    seams = seam_frames(segments, len(positions))
    flips = pelvis_flips(motion.rotations[:, 0])
    minutes = motion.num_frames / fps / 60.0
    at_seams = int(sum(np.abs(seams - flip).min() <= SEAM_REACH_FRAMES for flip in flips)) if len(seams) else 0
    ratio = seam_jerk_ratio(positions, fps, seams, SEAM_RADIUS_FRAMES) if len(seams) else None
    return {"seconds": motion.num_frames / fps, "segments": len(segments), "seam_frames": len(seams),
            "seam_jerk_ratio": ratio, "pelvis_flips": int(len(flips)), "pelvis_flips_per_min": len(flips) / minutes,
            "flips_at_seams": at_seams}


def mean_of(rows: list[dict], key: str) -> float | None:
    values = [row[key] for row in rows if row.get(key) is not None and math.isfinite(row[key])]
    return float(np.mean(values)) if values else None


# --- 1. seams --------------------------------------------------------------------------------

def segment_grid(pipeline, frames: int) -> list[list[int]]:
    """The model's segment plan over `frames` frames (for motion it did not generate)."""
    from dancegen.sampling.autoregressive import SegmentPlan

    sampling = pipeline.config.sampling
    plan = SegmentPlan.from_seconds(frames, pipeline.fps, sampling.segment_seconds, sampling.overlap_seconds)
    return [[segment.start, segment.end] for segment in plan.segments()]


def seams_section(pipeline, args, song: Song, real: dict, workdir: Path) -> dict[str, Any]:
    audio = looped_wav(song, args.long_seconds, workdir)
    tick = time.perf_counter()
    dance = pipeline(audio, seconds=args.long_seconds, seed=args.seed, steps=args.steps, genre=text_genre(pipeline))
    generated = {"song": song.name, "looped": audio != song.audio, "generation_s": time.perf_counter() - tick,
                 **seam_scores(dance, dance.metadata["segments"])}
    reference = [{"clip": name, **seam_scores(motion, segment_grid(pipeline, motion.num_frames))}
                 for name, motion in real.items()]
    ratio = generated["seam_jerk_ratio"]
    return {"generated": generated, "real": reference, "real_seam_jerk_ratio": mean_of(reference, "seam_jerk_ratio"),
            "real_pelvis_flips_per_min": mean_of(reference, "pelvis_flips_per_min"),
            "target_seam_jerk_ratio": SEAM_JERK_TARGET,
            "meets_target": None if ratio is None else bool(ratio <= SEAM_JERK_TARGET)}


# --- 2. timed text steering ------------------------------------------------------------------

def steering_annotation(seconds: float, genre: str | None, shift_s: float = 0.0):
    """"spin" and "jump" spans in every STEER_CYCLE_S of `seconds`, moved by `shift_s` (mod the cycle)."""
    from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan

    spans = []
    for cycle in range(int(math.ceil(seconds / STEER_CYCLE_S))):
        for token, (start, end) in ((SPIN_TOKEN, SPIN_SPAN_S), (JUMP_TOKEN, JUMP_SPAN_S)):
            first = cycle * STEER_CYCLE_S + (start + shift_s) % STEER_CYCLE_S
            last = min(first + (end - start), seconds)
            if last > first:
                spans.append(LocalSpan(first, last, (token,)))
    return Annotation(GlobalStyle(genre=genre), tuple(spans))


def token_mask(annotation, token: str, frames: int, fps: float) -> np.ndarray:
    """(T,) frames inside the spans that name `token`."""
    times = np.arange(frames) / fps
    mask = np.zeros(frames, dtype=bool)
    for span in annotation.spans:
        if token in span.tokens:
            mask |= (times >= span.start) & (times < span.end)
    return mask


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def spin_scores(rate: np.ndarray, mask: np.ndarray) -> dict[str, float | None]:
    if not mask.any() or mask.all():
        return {"yaw_rate_inside_dps": None, "yaw_rate_outside_dps": None, "spin_ratio": None}
    inside, outside = float(rate[mask].mean()), float(rate[~mask].mean())
    return {"yaw_rate_inside_dps": inside, "yaw_rate_outside_dps": outside,
            "spin_ratio": inside / outside if outside > 0 else None}


def jump_scores(lift: np.ndarray, mask: np.ndarray, fps: float) -> dict[str, float | None]:
    """Highest pelvis lift per "jump" span vs per equally long window outside them, and the share
    of the dance's highest peaks (as many as there are spans) that fall inside the spans."""
    from scipy.signal import find_peaks

    spans = runs(mask)
    if not spans or mask.all():
        return {"jump_peak_inside_m": None, "jump_peak_outside_m": None, "jump_peak_ratio": None,
                "top_peaks_inside_share": None, "top_peak_times_s": [], "chance_share": None}
    length = int(round(np.mean([end - start for start, end in spans])))
    inside = float(np.mean([lift[start:end].max() for start, end in spans]))
    windows = [lift[first : first + length].max() for start, end in runs(~mask)
               for first in range(start, end - length + 1, length)]
    outside = float(np.mean(windows)) if windows else None
    peaks, _ = find_peaks(lift, distance=max(1, int(round(PEAK_GAP_S * fps))))
    top = peaks[np.argsort(lift[peaks])[::-1][: len(spans)]]
    return {"jump_peak_inside_m": inside, "jump_peak_outside_m": outside,
            "jump_peak_ratio": inside / outside if outside and outside > 0 else None,
            "top_peaks_inside_share": float(mask[top].mean()) if len(top) else None,
            "top_peak_times_s": sorted(round(float(frame / fps), 2) for frame in top),
            "chance_share": float(mask.mean())}


def steering_scores(positions: np.ndarray, fps: float, layouts: dict) -> dict[str, dict]:
    """Spin and jump scores of one dance measured on each span layout."""
    rate, lift, frames = yaw_rate_dps(positions, fps), pelvis_lift(positions), len(positions)
    return {name: spin_scores(rate, token_mask(layout, SPIN_TOKEN, frames, fps))
            | jump_scores(lift, token_mask(layout, JUMP_TOKEN, frames, fps), fps)
            for name, layout in layouts.items()}


STEER_KEYS = ("spin_ratio", "yaw_rate_inside_dps", "yaw_rate_outside_dps", "jump_peak_ratio",
              "jump_peak_inside_m", "jump_peak_outside_m", "top_peaks_inside_share", "chance_share")


def steering_section(pipeline, args, songs: list[Song], workdir: Path, dataset: Path) -> dict[str, Any]:
    genre = text_genre(pipeline)
    layouts = {"spans": steering_annotation(args.steer_seconds, genre),
               "shifted_spans": steering_annotation(args.steer_seconds, genre, STEER_SHIFT_S)}
    conditions = {"annotated": layouts["spans"], "no_annotation": None, "shifted": layouts["shifted_spans"]}
    rows = []
    for index, song in enumerate(songs):
        audio = looped_wav(song, args.steer_seconds, workdir)
        for take in range(args.seeds):
            seed = args.seed + index * args.seeds + take
            for condition, annotation in conditions.items():
                dance = pipeline(audio, seconds=args.steer_seconds, seed=seed, steps=args.steps, genre=genre,
                                 annotation=annotation)
                measured = steering_scores(dance.joint_positions(), dance.fps, layouts)
                rows.append({"song": song.name, "seed": seed, "condition": condition, **measured})
            print(f"  steering {song.name} seed {seed}: spin ratio {fmt(rows[-3]['spans']['spin_ratio'])} "
                  f"(no text {fmt(rows[-2]['spans']['spin_ratio'])}, shifted {fmt(rows[-1]['spans']['spin_ratio'])})",
                  flush=True)
    summary = {condition: {layout: {key: mean_of([r[layout] for r in rows if r["condition"] == condition], key)
                                    for key in STEER_KEYS} for layout in layouts} for condition in conditions}
    spin = summary["annotated"]["spans"]["spin_ratio"]
    return {"genre": genre, "seconds": args.steer_seconds, "layouts": {k: v.to_dict()["local"] for k, v in layouts.items()},
            "summary": summary, "real_reference": real_steering(dataset, pipeline.fps), "per_dance": rows,
            "target_spin_ratio": SPIN_RATIO_TARGET, "meets_target": None if spin is None else bool(spin >= SPIN_RATIO_TARGET)}


def real_steering(dataset: Path, fps: float) -> dict[str, Any] | None:
    """The held-out clips measured on their own annotations' spin and jump spans."""
    from dancegen.data.annotations import read_annotation
    from dancegen.motion.motion import Motion

    test = dataset / "splits" / "test.txt"
    if not test.is_file():
        return None
    rows = []
    for name in test.read_text().split():
        motion = Motion.load_npz(dataset / f"{name}.npz").resample(fps)
        annotation = read_annotation(dataset / f"{name}.annotation.json")
        rows.append({"clip": name, **steering_scores(motion.joint_positions(), fps, {"own": annotation})["own"]})
    return {"clips": len(rows), **{key: mean_of(rows, key) for key in STEER_KEYS}}


# --- 3. the metric table ---------------------------------------------------------------------

MOTION_METRICS = ["bas", "pfc", "fsr", "pff", "rs", "lr"]
SET_METRICS = ["fid_k", "div_k"]


def held_out_dances(pipeline, dataset: Path, steps: int | None) -> tuple[list, list]:
    """(generated, real) `MotionClip`s for every held-out pair, as `kit.evaluate_model` makes them."""
    from dancegen.metrics.suite import MotionClip, read_beat_times
    from dancegen.motion.motion import Motion

    generated, real = [], []
    for index, name in enumerate((dataset / "splits" / "test.txt").read_text().split()):
        truth = Motion.load_npz(dataset / f"{name}.npz").resample(pipeline.fps)
        seconds = min(kit_recipe.EVAL_SECONDS, (truth.num_frames - 1) / truth.fps)
        beats = read_beat_times(dataset / f"{name}.beats.json")
        beats = beats[beats <= seconds]
        options = kit_recipe.held_out_request(pipeline, dataset, name, seconds)
        dance = pipeline(dataset / f"{name}.wav", seconds=seconds, seed=kit_recipe.EVAL_SEED + index, steps=steps, **options)
        frames = min(dance.num_frames, truth.num_frames)
        generated.append(MotionClip(name, dance.joint_positions()[:frames], pipeline.fps, beats))
        real.append(MotionClip(name, truth.joint_positions()[:frames], pipeline.fps, beats))
        print(f"  metrics {name}: {frames} frames", flush=True)
    return generated, real


def shifted_bas(clips: list) -> dict[str, float | None]:
    from dancegen.metrics.dance_quality import bas_vs_shifted

    controls = [bas_vs_shifted(c.positions, c.beat_times_s, c.fps) for c in clips if len(c.beat_times_s) >= 2]
    rows = [{"bas_true_grid": c.bas, "bas_half_beat_shifted": c.bas_shifted, "bas_margin": c.margin} for c in controls]
    return {key: mean_of(rows, key) for key in ("bas_true_grid", "bas_half_beat_shifted", "bas_margin")}


def metrics_section(pipeline, args) -> dict[str, Any]:
    from dancegen.metrics.suite import EvaluationConfig, evaluate

    generated, real = held_out_dances(pipeline, args.dataset, args.steps)
    per_motion = evaluate(generated, real, EvaluationConfig(metrics=MOTION_METRICS))
    pieces = evaluate(kit_recipe.segments(generated), kit_recipe.segments(real), EvaluationConfig(metrics=SET_METRICS))
    generated_row = {key: per_motion.get(key) for key in MOTION_METRICS} | {key: pieces.get(key) for key in SET_METRICS}
    real_row = {key: per_motion["reference"].get(key) for key in MOTION_METRICS} | {"div_k": pieces["reference"].get("div_k")}
    table = {"generated": generated_row | shifted_bas(generated), "real": real_row | shifted_bas(real)}
    return {"dataset": str(args.dataset), "clips": [c.name for c in generated], "seconds_per_clip": kit_recipe.EVAL_SECONDS,
            "piece_seconds": kit_recipe.FID_SEGMENT_SECONDS, **table,
            "warnings": per_motion.get("warnings", []) + pieces.get("warnings", [])}


# --- 4. speed --------------------------------------------------------------------------------

def run_case(model: str, audio: Path, seconds: float, steps: int | None, threads: int) -> dict[str, Any]:
    """One timed generation in this (fresh) process: CPU and wall time of the call, peak RSS."""
    import torch

    torch.set_num_threads(threads)
    pipeline = load_model(model)
    genre = text_genre(pipeline)
    pipeline(audio, seconds=WARMUP_SECONDS, seed=0, steps=steps, genre=genre)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, wall = time.process_time(), time.perf_counter()
    dance = pipeline(audio, seconds=seconds, seed=0, steps=steps, genre=genre)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"song_seconds": seconds, "steps": steps, "sampling": dance.metadata["sampling"],
            "segments": len(dance.metadata["segments"]), "frames": dance.num_frames,
            "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "cpu_s_per_dance_s": round(cpu / seconds, 4), "wall_s_per_dance_s": round(wall / seconds, 4),
            "rtf_on_cores": round(cpu / (threads * seconds), 4),
            "peak_rss_mb": round(peak / BYTES_PER_KB, 1), "rss_before_generation_mb": round(rss_before / BYTES_PER_KB, 1)}


def speed_section(args, song: Song, workdir: Path) -> dict[str, Any]:
    # Passive OpenMP waiting: spinning threads on a shared machine slow 2-thread runs down badly.
    environment = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
                       OMP_WAIT_POLICY="PASSIVE")
    audio = looped_wav(song, max(args.speed_seconds), workdir)
    load_at_start = os.getloadavg()
    cases = []
    for seconds in args.speed_seconds:
        for steps in [None] + ([args.steps] if args.steps is not None else []):
            command = [sys.executable, __file__, "--model", str(args.model), "--threads", str(args.threads),
                       "--case", str(audio), str(seconds), "default" if steps is None else str(steps)]
            output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout
            cases.append(json.loads(output.strip().splitlines()[-1]))
            case = cases[-1]
            print(f"  speed {seconds:g} s, steps {case['sampling']['steps']}: {case['cpu_s_per_dance_s']:.3f} CPU s and "
                  f"{case['wall_s_per_dance_s']:.3f} wall s per dance s, RTF on {args.threads} cores "
                  f"{case['rtf_on_cores']:.2f}, peak {case['peak_rss_mb']:.0f} MB", flush=True)
    return {"song": song.name, "threads": args.threads, "omp_wait_policy": "PASSIVE", "cases": cases,
            "target_rtf_on_cores": REAL_TIME_TARGET,
            "meets_target": {f"{c['song_seconds']:g}s_steps_{c['sampling']['steps']}": c["rtf_on_cores"] <= REAL_TIME_TARGET
                             for c in cases},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg()}}


# --- the run ---------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    pipeline = load_model(args.model)
    songs = held_out_songs(args.kit)
    report: dict[str, Any] = {"model": str(args.model), "family": pipeline.header.family,
                              "settings": {key: (str(value) if isinstance(value, Path) else value)
                                           for key, value in vars(args).items() if key != "case"}}
    with tempfile.TemporaryDirectory(prefix="bench-lrcm-") as folder:
        workdir = Path(folder)
        if "seams" in args.sections:
            report["seams"] = seams_section(pipeline, args, songs[0], real_clips(args.kit, pipeline.fps), workdir)
        if "steering" in args.sections:
            report["steering"] = steering_section(pipeline, args, songs, workdir, args.dataset)
        if "metrics" in args.sections:
            has_split = (args.dataset / "splits" / "test.txt").is_file()
            report["metrics"] = metrics_section(pipeline, args) if has_split else {
                "skipped": f"{args.dataset}: no splits/test.txt (build it with the lrcm recipe or pass --dataset)"}
        if "speed" in args.sections:
            report["speed"] = speed_section(args, songs[0], workdir)
    report["wall_s"] = time.perf_counter() - started
    return report


def fmt(value: Any, form: str = "{:.2f}") -> str:
    return form.format(value) if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def seam_lines(seams: dict[str, Any]) -> list[str]:
    dance = seams["generated"]
    return [f"seams ({dance['seconds']:.0f} s on {dance['song']}, {dance['segments']} segments): seam jerk "
            f"x{fmt(dance['seam_jerk_ratio'])} (target <= {SEAM_JERK_TARGET}; real {fmt(seams['real_seam_jerk_ratio'])}), "
            f"pelvis flips {dance['pelvis_flips']} ({fmt(dance['pelvis_flips_per_min'], '{:.1f}')}/min, "
            f"{dance['flips_at_seams']} at seams; real {fmt(seams['real_pelvis_flips_per_min'], '{:.1f}')}/min)"]


def steering_lines(steer: dict[str, Any]) -> list[str]:
    lines = [f"steering (spin: yaw rate in spin spans / outside, target >= {SPIN_RATIO_TARGET}; jump: pelvis peak "
             "in jump spans / outside; measured on the spans | on the shifted spans):"]
    for condition, layouts in steer["summary"].items():
        on, off = layouts["spans"], layouts["shifted_spans"]
        lines.append(f"  {condition:13s} spin {fmt(on['spin_ratio'])} | {fmt(off['spin_ratio'])}   jump "
                     f"{fmt(on['jump_peak_ratio'])} | {fmt(off['jump_peak_ratio'])}   top peaks in jump spans "
                     f"{fmt(on['top_peaks_inside_share'])} (chance {fmt(on['chance_share'])})")
    real = steer["real_reference"]
    if real:
        lines.append(f"  real held-out on their own spans: spin {fmt(real['spin_ratio'])}, "
                     f"jump {fmt(real['jump_peak_ratio'])}")
    return lines


METRIC_ROWS = ("bas_true_grid", "bas_half_beat_shifted", "bas_margin", "fsr", "pfc", "pff", "rs", "lr", "div_k", "fid_k")


def metric_lines(table: dict[str, Any]) -> list[str]:
    if "skipped" in table:
        return [f"metrics: skipped ({table['skipped']})"]
    lines = ["metrics (generated | real held-out):"]
    for key in METRIC_ROWS:
        lines.append(f"  {key:22s} {fmt(table['generated'].get(key), '{:.3f}')} | {fmt(table['real'].get(key), '{:.3f}')}")
    return lines


def speed_lines(speed: dict[str, Any]) -> list[str]:
    return [f"speed {case['song_seconds']:g} s, {case['sampling']['method']} {case['sampling']['steps']} steps: "
            f"RTF on {speed['threads']} cores {case['rtf_on_cores']:.2f} (target <= {REAL_TIME_TARGET}), "
            f"{case['wall_s_per_dance_s']:.3f} wall s/s, peak {case['peak_rss_mb']:.0f} MB" for case in speed["cases"]]


def summary_lines(report: dict[str, Any]) -> list[str]:
    formatters = {"seams": seam_lines, "steering": steering_lines, "metrics": metric_lines, "speed": speed_lines}
    lines = [f"model {report['model']}"]
    for section, formatter in formatters.items():
        if section in report:
            lines += formatter(report[section])
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"bundle path or shipped name (default {DEFAULT_MODEL})")
    parser.add_argument("--kit", type=Path, default=DEFAULT_KIT, help="the data kit (default: $DANCEGEN_KIT or ../shared/data)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="paired held-out dataset (metrics, real steering)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--long-seconds", type=float, default=180.0, help="length of the seams dance")
    parser.add_argument("--steer-seconds", type=float, default=30.0, help="length of each steering dance")
    parser.add_argument("--seeds", type=int, default=3, help="steering dances per song and condition")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    parser.add_argument("--speed-seconds", type=float, nargs="+", default=[30.0, 180.0, 600.0])
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report")
    parser.add_argument("--case", nargs=3, metavar=("AUDIO", "SECONDS", "STEPS"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> str | None:
    """A one-line complaint about the arguments, or None."""
    if not (args.kit / "manifest.json").is_file():
        return f"--kit: {args.kit} is not the data kit (no manifest.json); pass --kit or set {kit_recipe.KIT_ENV}"
    if args.seeds < 1:
        return f"--seeds: must be at least 1, got {args.seeds}"
    if args.steer_seconds < STEER_CYCLE_S:
        return f"--steer-seconds: at least one steering cycle ({STEER_CYCLE_S:g} s), got {args.steer_seconds:g}"
    if min(args.long_seconds, *args.speed_seconds) <= WARMUP_SECONDS:
        return f"--long-seconds / --speed-seconds: must be longer than {WARMUP_SECONDS:g} s"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.case:  # child process of the speed section: one measurement, printed as JSON
        audio, seconds, steps = args.case
        print(json.dumps(run_case(args.model, Path(audio), float(seconds), None if steps == "default" else int(steps),
                                  args.threads)))
        return 0
    problem = check_args(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    report = run(args)
    lines = summary_lines(report)
    report["summary"] = lines
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(report, indent=1, default=float) + "\n")
    print(f"wrote {args.out} ({report['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
