"""Pairing unpaired mocap with music: warp each clip in time so its motion beats land on beats.

Dance mocap without music (the kit's CMU clips, most studio libraries) cannot train a
music-to-dance model as it is. Music has a beat grid; motion has beats of its own, the moments
the body comes to a momentary stop (local minima of mean joint speed, the kinematic beats of
AIST++/Bailando's beat-alignment score). Pairing:

1. finds the motion's beats and the song's beats (its `beats.json`, else beat tracking);
2. chooses which motion beats land on which music beats, and where in the song the clip
   starts, by dynamic programming: as many motion beats on beats as possible, while the
   playback speed between consecutive matched beats stays near 1 and within [0.84, 1.19]
   (the limits with a margin that smoothing may use);
3. turns those matches into a smooth monotone time warp: playback speed piecewise constant
   between matches, then Gaussian-smoothed. A smoothed speed is an average of speeds within
   [0.8, 1.25], so it stays within them; the piecewise speeds are solved for so that the
   smoothed warp still passes through the matches;
4. resamples the motion through the warp and measures the alignment before (the clip unwarped
   at the same place in the song) and after (beats found again on the warped motion).

The output of `pair_folders` is a generic-folder dataset (see `data.datasets.folder`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import lsq_linear
from scipy.signal import find_peaks

from dancegen.data.annotations import Annotation, GlobalStyle, write_annotation
from dancegen.data.datasets.base import AUDIO_EXTENSIONS, read_json
from dancegen.data.datasets.folder import PROVENANCE_SUFFIX
from dancegen.data.genres import KIT_FOLDER_GENRES, resolve_genre
from dancegen.data.windows import sample_motion_at
from dancegen.errors import DanceGenError, InputFileError
from dancegen.fileio import atomic_write_text
from dancegen.motion.motion import Motion

# Playback speed of the motion relative to its capture, at every instant (the bounds).
SPEED_LIMITS = (0.8, 1.25)
# Motion beats: speed smoothed over ~3 frames at 60 fps, minima at least 0.2 s apart (no dance
# stops more than 5 times a second) and at least 10 % of the median speed below their shoulders.
BEAT_SMOOTHING_S = 0.05
BEAT_MIN_GAP_S = 0.2
BEAT_PROMINENCE = 0.1
# Matching: at most 3 motion beats skipped between matches, matches at most 4 s apart.
MAX_SKIPPED_BEATS = 3
MAX_ANCHOR_GAP_S = 4.0
SKIP_PENALTY = 0.3  # per motion beat left off the beat
SPEED_PENALTY = 0.5  # at the speed limits, per match; zero at speed 1
# Matched beats keep 5 % clear of the speed limits so the smoothed warp can still pass through
# them exactly (adjacent segments at opposite limits cannot be smoothed without leaving them).
MATCH_MARGIN = 0.05
MATCH_LIMITS = (SPEED_LIMITS[0] * (1 + MATCH_MARGIN), SPEED_LIMITS[1] / (1 + MATCH_MARGIN))
# Warp smoothing: a speed change is spread over ~0.1 s (a fraction of a beat at 60-200 bpm).
WARP_SMOOTHING_S = 0.1
WARP_STEP_S = 1 / 240
# A motion beat counts as on the beat within 50 ms (about the ±70 ms beat-tracking window).
HIT_TOLERANCE_S = 0.05
MOTION_EXTENSIONS = (".bvh", ".npz", ".pkl", ".npy", ".txt")


# --- motion beats -----------------------------------------------------------------------------

def joint_speed(motion: Motion) -> np.ndarray:
    """(T,) mean speed of all joints, m/s (the first frame repeats the second's)."""
    positions = motion.joint_positions()
    speed = np.linalg.norm(np.diff(positions, axis=0), axis=-1).mean(axis=-1) * motion.fps
    return np.concatenate([speed[:1], speed]) if len(speed) else np.zeros(motion.num_frames)


def motion_beats(motion: Motion) -> np.ndarray:
    """Times (s) of the motion's beats: prominent local minima of the smoothed joint speed,
    refined to sub-frame precision by a parabola through the minimum and its neighbours."""
    if motion.num_frames < 3:
        return np.zeros(0)
    speed = gaussian_filter1d(joint_speed(motion), BEAT_SMOOTHING_S * motion.fps, mode="nearest")
    minima, _ = find_peaks(
        -speed,
        distance=max(1, int(BEAT_MIN_GAP_S * motion.fps)),
        prominence=BEAT_PROMINENCE * max(float(np.median(speed)), 1e-6),
    )
    left, mid, right = speed[minima - 1], speed[minima], speed[minima + 1]
    curvature = left - 2 * mid + right
    shift = np.where(curvature > 1e-12, 0.5 * (left - right) / np.where(curvature > 1e-12, curvature, 1), 0.0)
    return (minima + np.clip(shift, -0.5, 0.5)) / motion.fps


@dataclass
class BeatAlignment:
    """How well motion beats sit on music beats."""

    motion_beats: int
    mean_offset_ms: float  # mean distance from a motion beat to the nearest music beat
    hit_rate: float  # fraction of motion beats within HIT_TOLERANCE_S of a music beat


def beat_alignment(motion_beat_times: np.ndarray, music_beat_times: np.ndarray) -> BeatAlignment:
    motion_beat_times = np.asarray(motion_beat_times, dtype=np.float64)
    music_beat_times = np.sort(np.asarray(music_beat_times, dtype=np.float64))
    if len(motion_beat_times) == 0 or len(music_beat_times) == 0:
        return BeatAlignment(len(motion_beat_times), float("nan"), 0.0)
    after = np.clip(np.searchsorted(music_beat_times, motion_beat_times), 0, len(music_beat_times) - 1)
    before = np.clip(after - 1, 0, None)
    distance = np.minimum(np.abs(music_beat_times[after] - motion_beat_times),
                          np.abs(music_beat_times[before] - motion_beat_times))
    return BeatAlignment(len(motion_beat_times), float(distance.mean() * 1000),
                         float((distance <= HIT_TOLERANCE_S).mean()))


# --- matching motion beats to music beats ---------------------------------------------------

@dataclass
class BeatMatch:
    offset: float  # where in the song the clip's first frame plays (s)
    anchors: np.ndarray  # (M, 2) [output time, source motion time], from (0, 0) to the end
    matched: int  # motion beats placed on music beats
    score: float


def match_beats(
    motion_beat_times: np.ndarray,
    music_beat_times: np.ndarray,
    motion_duration: float,
    music_duration: float,
    limits: tuple[float, float] = MATCH_LIMITS,
) -> BeatMatch | None:
    """Best monotone matching of motion beats to music beats (dynamic programming).

    A state (i, j) is "motion beat i plays on music beat j". A path starts anywhere the song
    has room before (the clip's start plays at music time b_j - m_i >= 0, at speed 1), steps
    to a later (i', j') if the playback speed (m_i' - m_i) / (b_j' - b_j) is within `limits`,
    and must end where the song has room for the rest of the clip at speed 1. Score: +1 per
    match, minus SKIP_PENALTY per motion beat skipped, minus SPEED_PENALTY * |log speed| /
    log(limit). Returns None when no beat can be matched.
    """
    m = np.asarray(motion_beat_times, dtype=np.float64)
    b = np.asarray(music_beat_times, dtype=np.float64)
    K, N = len(m), len(b)
    if K == 0 or N == 0:
        return None
    low, high = limits
    log_limit = math.log(max(high, 1 / low))
    score = np.where(b[None, :] >= m[:, None], 1.0, -np.inf)
    back = np.full((K, N, 2), -1, dtype=np.int64)
    for i in range(1, K):
        for prev in range(max(0, i - MAX_SKIPPED_BEATS - 1), i):
            dm = m[i] - m[prev]
            if dm > MAX_ANCHOR_GAP_S or not np.isfinite(score[prev]).any():
                continue
            gain = 1.0 - SKIP_PENALTY * (i - prev - 1)
            for shift in range(1, N):  # music beat j follows j - shift
                db = b[shift:] - b[:-shift]
                if db.min() > dm / low:
                    break  # later shifts only widen the music gap
                ok = (db >= dm / high) & (db <= dm / low)
                if not ok.any():
                    continue
                speed = dm / np.where(ok, db, 1.0)
                candidate = np.where(ok, score[prev, :-shift] + gain - SPEED_PENALTY * np.abs(np.log(speed)) / log_limit, -np.inf)
                better = candidate > score[i, shift:]
                columns = np.nonzero(better)[0] + shift
                score[i, columns] = candidate[better]
                back[i, columns] = np.stack([np.full(len(columns), prev), columns - shift], axis=1)
    # The song must hold the rest of the clip after the last match.
    room = b[None, :] + (motion_duration - m[:, None]) <= music_duration + 1e-9
    final = np.where(room, score, -np.inf)
    if not np.isfinite(final).any():
        return None
    i, j = np.unravel_index(int(np.argmax(final)), final.shape)
    best = float(final[i, j])
    path = []
    while i >= 0:
        path.append((i, j))
        i, j = back[i, j]
    path.reverse()
    offset = b[path[0][1]] - m[path[0][0]]
    anchors = [(0.0, 0.0)] + [(b[j] - offset, m[i]) for i, j in path]
    last_u, last_t = anchors[-1]
    if motion_duration - last_t > 1e-9:
        anchors.append((last_u + motion_duration - last_t, motion_duration))
    return BeatMatch(float(offset), np.array(anchors), len(path), best)


# --- the time warp ----------------------------------------------------------------------------

@dataclass
class TimeWarp:
    """Output time u -> source motion time t = w(u): monotone, dt/du within the speed limits."""

    output_times: np.ndarray  # fine grid over [0, duration]
    source_times: np.ndarray  # w at those times
    anchors: np.ndarray  # (M, 2) the (u, t) points it was fitted through

    @property
    def duration(self) -> float:
        return float(self.output_times[-1])

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self.output_times, self.source_times)

    def inverse(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.source_times, self.output_times)

    def speed(self) -> np.ndarray:
        return np.diff(self.source_times) / np.diff(self.output_times)

    def anchor_error(self) -> float:
        """Largest distance (s) between the warp and the points it should pass through."""
        return float(np.abs(self(self.anchors[:, 0]) - self.anchors[:, 1]).max())


def smooth_warp(anchors: np.ndarray, limits: tuple[float, float] = SPEED_LIMITS,
                smoothing_s: float = WARP_SMOOTHING_S) -> TimeWarp:
    """A smooth monotone warp through `anchors` ((u, t) pairs, both increasing) whose speed
    dt/du stays within `limits` everywhere.

    The speed is piecewise constant between anchors and then Gaussian-smoothed: an average of
    speeds within the limits is within them, so the smoothed warp keeps the bounds. Smoothing
    leaks speed across anchors, so the piecewise speeds are not the raw slopes but the solution
    of a bounded least-squares problem: the smoothed speed must integrate to each segment's
    length (the smoothing is linear, so each segment's integral is linear in the speeds).
    """
    anchors = np.asarray(anchors, dtype=np.float64)
    u, t = anchors[:, 0], anchors[:, 1]
    low, high = limits
    grid = np.linspace(0.0, u[-1], max(2, int(math.ceil(u[-1] / WARP_STEP_S)) + 1))
    segment = np.clip(np.searchsorted(u, grid, side="right") - 1, 0, len(u) - 2)
    sigma = smoothing_s / (grid[1] - grid[0])

    def smoothed(speeds_on_grid: np.ndarray) -> np.ndarray:
        return gaussian_filter1d(speeds_on_grid, sigma, mode="nearest")

    def integral(speed: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum((speed[1:] + speed[:-1]) / 2 * np.diff(grid))])

    # Column k: how much each segment advances per unit of segment k's speed.
    effect = np.stack([np.diff(np.interp(u, grid, integral(smoothed((segment == k).astype(np.float64)))))
                       for k in range(len(u) - 1)], axis=1)
    slopes = lsq_linear(effect, np.diff(t), bounds=(low, high)).x
    source = integral(smoothed(slopes[segment]))
    return TimeWarp(grid, source, anchors)


def warp_motion(motion: Motion, warp: TimeWarp, fps: float) -> Motion:
    """The motion played through the warp, at `fps`."""
    count = max(1, int(round(warp.duration * fps)))
    source_times = np.clip(warp(np.arange(count) / fps), 0.0, (motion.num_frames - 1) / motion.fps)
    return sample_motion_at(motion, source_times, fps)


# --- one clip with one song -------------------------------------------------------------------

@dataclass
class Song:
    name: str
    audio_path: Path
    stems: tuple[Path, ...]  # further files summed with audio_path into the full mix
    duration: float
    beat_times: np.ndarray
    downbeat_times: np.ndarray
    bpm: float | None
    beats_source: str  # "beats.json" or "detected"


@dataclass
class Pairing:
    clip: str
    song: str
    offset: float  # seconds into the song where the output starts
    duration: float  # output length (s)
    matched_beats: int
    speed_range: tuple[float, float]
    anchor_error_ms: float
    before: BeatAlignment
    after: BeatAlignment
    motion: Motion = field(repr=False)
    warp: TimeWarp = field(repr=False)

    def report(self) -> dict[str, Any]:
        return {
            "clip": self.clip, "song": self.song, "offset_s": round(self.offset, 4),
            "duration_s": round(self.duration, 4), "matched_beats": self.matched_beats,
            "speed_min": round(self.speed_range[0], 4), "speed_max": round(self.speed_range[1], 4),
            "anchor_error_ms": round(self.anchor_error_ms, 3),
            "before": asdict(self.before), "after": asdict(self.after),
        }


def pair_motion(clip: str, motion: Motion, song: Song, fps: float, beats: np.ndarray | None = None,
                match: BeatMatch | None = None) -> Pairing | None:
    """Warp `motion` onto `song`'s beats; None if no motion beat can be put on a beat."""
    beats = motion_beats(motion) if beats is None else beats
    match = match or match_beats(beats, song.beat_times, motion.duration, song.duration)
    if match is None:
        return None
    warp = smooth_warp(match.anchors)
    warped = warp_motion(motion, warp, fps)
    music_beats = song.beat_times - match.offset  # in output time
    speed = warp.speed()
    return Pairing(
        clip=clip,
        song=song.name,
        offset=match.offset,
        duration=warped.duration,
        matched_beats=match.matched,
        speed_range=(float(speed.min()), float(speed.max())),
        anchor_error_ms=warp.anchor_error() * 1000,
        before=beat_alignment(beats, music_beats),
        after=beat_alignment(motion_beats(warped), music_beats),
        motion=warped,
        warp=warp,
    )


def best_pairings(clip: str, motion: Motion, songs: list[Song], fps: float, count: int = 1) -> list[Pairing]:
    """The `count` songs (each at its best place) whose beats the clip matches best."""
    beats = motion_beats(motion)
    matches = []
    for song in songs:
        match = match_beats(beats, song.beat_times, motion.duration, song.duration)
        if match is not None:
            matches.append((match.score, song.name, song, match))
    matches.sort(key=lambda item: (-item[0], item[1]))
    pairings = [pair_motion(clip, motion, song, fps, beats, match) for _, _, song, match in matches[:count]]
    return [p for p in pairings if p is not None]


# --- folders ----------------------------------------------------------------------------------

def find_songs(music_dir: Path, detect: Callable[[Path, tuple[Path, ...]], Any] | None = None) -> list[Song]:
    """Songs under a folder. A folder with a `beats.json` in the kit's layout (`audio`, `stems`,
    `beats_s`) is one song, its stems summed; any other audio file is a song of its own, with
    beats from `<stem>.beats.json` beside it if present. Songs without annotated beats go
    through `detect(audio_path, stems)` (default: `audio.beats.detect_beats`)."""
    songs: list[Song] = []
    claimed: set[Path] = set()
    # Absolute paths: load_audio reads a relative stem against its song's folder, not the cwd.
    files = _files_under(Path(music_dir).resolve())
    for beats_file in (p for p in files if p.name == "beats.json"):
        meta = read_json(beats_file)
        if not isinstance(meta, dict) or "audio" not in meta:
            continue
        audio = beats_file.parent / meta["audio"]
        stems = tuple(beats_file.parent / s for s in meta.get("stems") or () if s != meta["audio"])
        claimed.update((audio, *stems))
        songs.append(_song(beats_file.parent.name, audio, stems, beats_file, detect))
    for audio in (p for p in files if p.suffix.lower() in AUDIO_EXTENSIONS):
        if audio not in claimed:
            beats_file = audio.with_name(audio.stem + ".beats.json")
            songs.append(_song(audio.stem, audio, (), beats_file if beats_file.is_file() else None, detect))
    return songs


def _files_under(folder: Path) -> list[Path]:
    """Every file below `folder`, sorted, following linked folders (song libraries often are)."""
    return sorted(Path(top) / name for top, _, names in os.walk(folder, followlinks=True) for name in names)


def _song(name: str, audio: Path, stems: tuple[Path, ...], beats_file: Path | None, detect) -> Song:
    from dancegen.audio.io import audio_duration

    if not audio.is_file():
        raise InputFileError(audio, "audio file named by beats.json not found")
    duration = audio_duration(audio)
    beats = downbeats = None
    bpm = None
    if beats_file is not None:
        from dancegen.audio.beats import load_beats_json

        info = load_beats_json(beats_file)
        beats, downbeats, bpm = info.beat_times, info.downbeat_times, info.bpm
    source = "beats.json"
    if beats is None or len(beats) == 0:
        info = (detect or _detect_beats)(audio, stems)
        beats, downbeats, bpm, source = info.beat_times, info.downbeat_times, info.bpm, "detected"
    return Song(name, audio, stems, duration, np.asarray(beats, dtype=np.float64),
                np.asarray(downbeats if downbeats is not None else [], dtype=np.float64), bpm, source)


def _detect_beats(audio_path: Path, stems: tuple[Path, ...]):
    from dancegen.audio import load_audio
    from dancegen.audio.beats import detect_beats

    return detect_beats(load_audio(audio_path, stems=stems))


def clip_descriptions(motion_dir: Path) -> dict[str, list[str]]:
    """Per-clip move lists from a `descriptions.csv` (`clip_id,description`, as the kit's cmu05
    has: "dance - small jetes, pirouette" -> ["small jetes", "pirouette"])."""
    path = motion_dir / "descriptions.csv"
    if not path.is_file():
        return {}
    moves = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            text = (row.get("description") or "").split(" - ", 1)[-1]
            moves[row.get("clip_id", "")] = [m.strip() for m in text.split(",") if m.strip()]
    return moves


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class PairingRun:
    pairings: list[Pairing]
    skipped: list[tuple[str, str]]
    out_dir: Path

    def summary(self) -> dict[str, Any]:
        def mean(values):
            values = [v for v in values if np.isfinite(v)]
            return round(float(np.mean(values)), 4) if values else None

        return {
            "pairs": len(self.pairings),
            "skipped": [f"{clip}: {why}" for clip, why in self.skipped],
            "mean_offset_ms_before": mean([p.before.mean_offset_ms for p in self.pairings]),
            "mean_offset_ms_after": mean([p.after.mean_offset_ms for p in self.pairings]),
            "hit_rate_before": mean([p.before.hit_rate for p in self.pairings]),
            "hit_rate_after": mean([p.after.hit_rate for p in self.pairings]),
        }


def pair_folders(
    motion_dir: str | Path,
    music_dir: str | Path,
    out_dir: str | Path,
    fps: float = 30.0,
    to_smpl: bool = True,
    genre: str | None = None,
    per_clip: int = 1,
    motion_fps: float | None = None,
    progress: Callable[[str], None] | None = None,
    exclude_songs: Collection[str] = (),
) -> PairingRun:
    """Pair every motion file in `motion_dir` with its best-matching songs from `music_dir` and
    write a generic-folder dataset to `out_dir`: per pair the warped motion (`.npz`), the song
    segment (`.wav`), its beats (`.beats.json`), an annotation and a provenance record, plus
    `pairing_report.json` over the run. Songs named in `exclude_songs` (held out for
    evaluation) are never paired."""
    from dancegen.audio import load_audio
    from dancegen.audio.io import write_wav

    motion_dir, music_dir, out_dir = Path(motion_dir), Path(music_dir), Path(out_dir)
    for folder, what in ((motion_dir, "--motion"), (music_dir, "--music")):
        if not folder.exists():
            raise InputFileError(folder, f"{what} folder not found")
    motion_files = [motion_dir] if motion_dir.is_file() else sorted(
        p for p in motion_dir.iterdir() if p.suffix.lower() in MOTION_EXTENSIONS and p.is_file())
    if not motion_files:
        raise InputFileError(motion_dir, "no motion files", f"expected {', '.join(MOTION_EXTENSIONS)} files")
    songs = [s for s in find_songs(music_dir) if len(s.beat_times) and s.name not in exclude_songs]
    if not songs:
        raise InputFileError(music_dir, "no songs with beats", f"expected audio files ({', '.join(AUDIO_EXTENSIONS)})")
    style_dir = motion_dir if motion_dir.is_dir() else motion_dir.parent
    genre = resolve_genre(genre) if genre else KIT_FOLDER_GENRES.get(style_dir.name)
    descriptions = clip_descriptions(style_dir)
    say = progress or (lambda message: None)

    pairings, skipped = [], []
    for path in motion_files:
        try:
            motion, retarget_error = _load_for_pairing(path, motion_fps, to_smpl)
        except DanceGenError as error:  # one unreadable or unmappable clip does not stop the run
            skipped.append((path.name, str(error)))
            say(f"{path.name}: skipped ({error})")
            continue
        found = best_pairings(path.stem, motion, songs, fps, per_clip)
        if not found:
            why = "no motion beats found" if len(motion_beats(motion)) == 0 else "no song long enough to hold it"
            skipped.append((path.name, why))
            say(f"{path.name}: skipped ({why})")
            continue
        for pairing in found:
            song = next(s for s in songs if s.name == pairing.song)
            stem = f"{path.stem}__{song.name}"
            audio = load_audio(song.audio_path, start=pairing.offset, end=pairing.offset + pairing.duration, stems=song.stems)
            write_wav(out_dir / f"{stem}.wav", audio)
            pairing.motion.metadata.update({"paired_with": song.name, "source": str(path), "glitches": motion.metadata["glitches"]})
            pairing.motion.save_npz(out_dir / f"{stem}.npz")
            moves = tuple(descriptions.get(path.stem, ()))
            write_annotation(Annotation(GlobalStyle(genre=genre, core_moves=moves)), out_dir / f"{stem}.annotation.json")
            _write_segment_beats(out_dir / f"{stem}.beats.json", song, pairing)
            provenance = {
                "created_by": "dancegen data pair",
                "genre": genre,
                "motion": {"path": str(path), "sha256": sha256_of(path), "skeleton": motion.skeleton.name,
                           "retarget_error_m": retarget_error, "fps_out": fps,
                           "glitches_repaired": motion.metadata["glitches"]},
                "music": {"path": str(song.audio_path), "stems": [str(s) for s in song.stems],
                          "beats": song.beats_source, "bpm": song.bpm},
                "warp": {"anchors_output_s_source_s": np.round(pairing.warp.anchors, 4).tolist()},
                **pairing.report(),
            }
            atomic_write_text(out_dir / f"{stem}{PROVENANCE_SUFFIX}", json.dumps(provenance, indent=1) + "\n")
            pairings.append(pairing)
            say(_describe(pairing))
    if not pairings:
        raise DanceGenError(f"{motion_dir}: no clip could be paired with a song from {music_dir} "
                            f"({'; '.join(f'{c}: {w}' for c, w in skipped)})")
    run = PairingRun(pairings, skipped, out_dir)
    glitches = {p.clip: p.motion.metadata.get("glitches", []) for p in pairings}
    report = {"summary": run.summary(), "pairs": [p.report() for p in pairings],
              "glitches_repaired": {clip: found for clip, found in glitches.items() if found}}
    atomic_write_text(out_dir / "pairing_report.json", json.dumps(report, indent=1) + "\n")
    return run


def _load_for_pairing(path: Path, fps: float | None, to_smpl: bool) -> tuple[Motion, float | None]:
    """The clip, on SMPL-24 if asked (with the retarget's mean error in metres)."""
    from dancegen.motion.io import load_motion

    motion = load_motion(path, fps=fps)
    if not to_smpl or motion.skeleton.name == "smpl24":
        return repaired(motion), None
    from dancegen.motion.retarget import retarget

    result = retarget(motion)
    return repaired(result.motion), float(result.mean_error_m)


def repaired(motion: Motion) -> Motion:
    """The clip with its capture glitches (single-frame flips) repaired, listed in its
    metadata["glitches"] and from there in the pair's provenance and the pairing report."""
    from dancegen.motion.glitches import repair_glitches

    motion, glitches = repair_glitches(motion)
    motion.metadata["glitches"] = [glitch.summary() for glitch in glitches]
    return motion


def _write_segment_beats(path: Path, song: Song, pairing: Pairing) -> None:
    """The song's beats inside the segment, in segment time, in the kit's beats.json keys."""
    def inside(times: np.ndarray) -> list[float]:
        local = times - pairing.offset
        return [round(float(t), 4) for t in local[(local >= 0) & (local <= pairing.duration)]]

    data = {"audio": f"{path.name.removesuffix('.beats.json')}.wav", "bpm": song.bpm,
            "beats_s": inside(song.beat_times), "downbeats_s": inside(song.downbeat_times),
            "source": f"{song.name} ({song.beats_source}) from {pairing.offset:.3f} s"}
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def _describe(p: Pairing) -> str:
    return (f"{p.clip} + {p.song} @ {p.offset:.2f} s: {p.duration:.1f} s, {p.matched_beats} beats matched, "
            f"speed {p.speed_range[0]:.2f}-{p.speed_range[1]:.2f}; offset to beat "
            f"{p.before.mean_offset_ms:.0f} -> {p.after.mean_offset_ms:.0f} ms, "
            f"on beat {p.before.hit_rate:.0%} -> {p.after.hit_rate:.0%}")
