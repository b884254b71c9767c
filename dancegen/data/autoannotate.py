"""Automatic decoupled annotation: global style and timed local moves read off the motion itself.

LRCM annotates its data by hand (and with an LLM). For data without text, `annotate_motion`
detects what can be measured from joint positions on an SMPL-24 body (any rig is retargeted
first): spins and turns from the heading of the hips and shoulders, jumps from both feet
leaving the floor, kicks, arm raises, floor work, travel, freezes, stomps and claps. Each
detector gives a per-frame mask; the masks are cut into non-overlapping spans whose tokens are
every move detected in them. The global style gets the genre (when given), the moving range
from the floor area the root covers and the expressiveness from how fast the hands and feet
move. Every threshold is a named field of `AutoAnnotateConfig` (units in the name), documented
in docs/annotations.md. Distances are for an SMPL-sized body (legs of `REFERENCE_LEG_M`) and
scale with the measured leg length, so a small figure gets proportionally smaller thresholds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from pydantic import Field
from scipy.ndimage import gaussian_filter1d

from dancegen.config import StrictConfig
from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan, read_annotation, write_annotation
from dancegen.data.genres import KIT_FOLDER_GENRES, resolve_genre
from dancegen.errors import DanceGenError, InputFileError
from dancegen.motion.motion import Motion
from dancegen.text.moves import DEFAULT_VOCABULARY

# SMPL-24 leg length, hip to knee to ankle (metres): the body the thresholds are stated for.
REFERENCE_LEG_M = 0.81
ANNOTATION_SUFFIX = ".annotation.json"
MOTION_EXTENSIONS = (".bvh", ".npz", ".pkl", ".npy", ".txt", ".glb")
FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")


class AutoAnnotateConfig(StrictConfig):
    """Detector thresholds (SI units; distances for a body with SMPL's leg length)."""

    smooth_s: float = Field(0.05, ge=0)  # Gaussian smoothing of positions before differencing
    floor_percentile: float = Field(2.0, ge=0, le=50)  # a foot joint's floor level: this percentile of its height
    contact_height_m: float = Field(0.06, gt=0)  # a foot joint this close to its floor is planted
    # spin / turn: heading change of hips + shoulders
    spin_min_deg: float = Field(300.0, gt=0)
    spin_window_s: float = Field(2.0, gt=0)
    turn_min_deg: float = Field(150.0, gt=0)
    turn_window_s: float = Field(1.5, gt=0)
    turn_min_rate_dps: float = Field(90.0, gt=0)  # frames turning slower than this end a turn or spin
    # jump: every foot joint off the floor and the pelvis above its standing height
    jump_clearance_m: float = Field(0.05, gt=0)
    jump_rise_m: float = Field(0.04, gt=0)
    jump_min_air_s: float = Field(0.08, gt=0)
    jump_pad_s: float = Field(0.1, ge=0)  # take-off and landing added around the flight
    # kick: one ankle high and fast while the other foot is planted
    kick_height_m: float = Field(0.35, gt=0)
    kick_speed_mps: float = Field(2.5, gt=0)
    kick_window_s: float = Field(0.2, ge=0)  # the speed peak may come this long before the foot is high
    # arm raise: a wrist above the top of the head
    arm_raise_margin_m: float = Field(0.05)
    arm_raise_min_s: float = Field(0.3, gt=0)
    # floor work: pelvis low or a hand at the floor
    floor_pelvis_height_m: float = Field(0.5, gt=0)
    floor_hand_height_m: float = Field(0.12, gt=0)
    floor_min_s: float = Field(0.3, gt=0)
    # travel: the root's speed over the floor, smoothed
    travel_speed_mps: float = Field(0.5, gt=0)
    travel_smooth_s: float = Field(0.25, gt=0)
    travel_min_s: float = Field(1.0, gt=0)
    # freeze: mean joint speed near zero
    freeze_speed_mps: float = Field(0.1, gt=0)
    freeze_min_s: float = Field(0.7, gt=0)
    # stomp: a foot coming down fast onto the floor while the other foot stays planted
    stomp_speed_mps: float = Field(2.0, gt=0)
    stomp_window_s: float = Field(0.15, gt=0)  # looked back from touch-down for the fast descent
    # clap: the wrists meet after closing in fast
    clap_distance_m: float = Field(0.12, gt=0)
    clap_speed_mps: float = Field(1.5, gt=0)
    event_span_s: float = Field(0.3, gt=0)  # span given to an instant move (stomp, clap)
    # spans
    min_span_s: float = Field(0.2, gt=0)  # shorter pieces are merged into their neighbour
    core_move_fraction: float = Field(0.25, gt=0, le=1)  # a move covering this much of the clip is a core move
    # global style
    range_small_m: float = Field(0.75, gt=0)  # diagonal of the floor area the root covers (5-95th percentile)
    range_large_m: float = Field(2.0, gt=0)
    introvert_speed_mps: float = Field(0.6, gt=0)  # mean speed of wrists and ankles relative to the pelvis
    extrovert_speed_mps: float = Field(1.2, gt=0)
    # mean reach of the wrists (out from the body's vertical axis, plus up above the shoulders) / arm length
    extrovert_extension: float = Field(0.9, gt=0)


@dataclass
class Body:
    """Joint tracks of an SMPL-24 motion, in metres, y-up, floor at y = 0."""

    positions: np.ndarray  # (T, 24, 3)
    fps: float
    names: tuple[str, ...]
    scale: float  # leg length / REFERENCE_LEG_M
    floor_percentile: float
    foot_lift: np.ndarray = field(init=False)  # (T, 4) height of each foot joint above its own floor

    def __post_init__(self) -> None:
        feet = self.y(*FOOT_JOINTS)  # an ankle rests higher than a toe: each joint has its own floor
        self.foot_lift = feet - np.percentile(feet, self.floor_percentile, axis=0)

    def joint(self, name: str) -> np.ndarray:
        return self.positions[:, self.names.index(name)]

    def y(self, *names: str) -> np.ndarray:
        return np.stack([self.joint(n)[:, 1] for n in names], axis=1)

    def speed(self, track: np.ndarray) -> np.ndarray:
        """|d track / dt| over the last axis, same length (central differences)."""
        if len(track) < 2:
            return np.zeros(track.shape[:-1])
        return np.linalg.norm(np.gradient(track, axis=0), axis=-1) * self.fps

    def frames(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.fps)))


def smpl_body(motion: Motion, config: AutoAnnotateConfig) -> Body:
    """The motion on SMPL-24 (retargeted when its rig is another one), floor at y = 0."""
    from dancegen.motion.retarget import is_smpl_family, retarget

    if not is_smpl_family(motion.skeleton):
        motion = retarget(motion).motion
    positions = motion.joint_positions()
    if config.smooth_s > 0 and len(positions) > 2:
        positions = gaussian_filter1d(positions, config.smooth_s * motion.fps, axis=0, mode="nearest")
    names = tuple(motion.skeleton.joint_names)
    feet = positions[:, [names.index(n) for n in FOOT_JOINTS], 1]
    positions = positions.copy()
    positions[..., 1] -= np.percentile(feet.min(axis=1), config.floor_percentile)
    leg = sum(np.linalg.norm(positions[:, names.index(a)] - positions[:, names.index(b)], axis=-1).mean()
              for a, b in (("left_hip", "left_knee"), ("left_knee", "left_ankle")))
    return Body(positions, motion.fps, names, float(leg) / REFERENCE_LEG_M, config.floor_percentile)


# --- mask helpers ------------------------------------------------------------------------------


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) frame ranges where `mask` is true."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2], edges[1::2]))


def keep_long(mask: np.ndarray, min_frames: int) -> np.ndarray:
    out = np.zeros_like(mask, dtype=bool)
    for start, stop in runs(mask):
        if stop - start >= min_frames:
            out[start:stop] = True
    return out


def _pad(mask: np.ndarray, frames: int) -> np.ndarray:
    out = mask.copy()
    for start, stop in runs(mask):
        out[max(0, start - frames):stop + frames] = True
    return out


def _events(frames_at: Iterable[int], count: int, before: int, after: int) -> np.ndarray:
    out = np.zeros(count, bool)
    for frame in frames_at:
        out[max(0, frame - before):frame + after] = True
    return out


# --- detectors: (Body, config) -> (T,) bool ------------------------------------------------------


def heading(body: Body) -> np.ndarray:
    """(T,) unwrapped yaw (radians) of the body's front: up x (hips + shoulders, right minus left)."""
    across = (body.joint("right_hip") - body.joint("left_hip")) + (body.joint("right_shoulder") - body.joint("left_shoulder"))
    return np.unwrap(np.arctan2(across[:, 2], -across[:, 0]))


def rotation_mask(yaw: np.ndarray, fps: float, min_deg: float, window_s: float, min_rate_dps: float) -> np.ndarray:
    """Frames of the one-way turning runs (|yaw rate| >= `min_rate_dps`, one sign) that rotate by
    `min_deg` within some `window_s`; the whole run is marked, the still frames around it not."""
    count = len(yaw)
    if count < 2:
        return np.zeros(count, bool)
    rate = np.rad2deg(np.gradient(yaw)) * fps
    out = np.zeros(count, bool)
    window, threshold = max(1, int(round(window_s * fps))), np.deg2rad(min_deg)
    for sign in (1.0, -1.0):
        for start, stop in runs(sign * rate >= min_rate_dps):
            turned = yaw[start:stop]
            for lag in range(1, min(window, len(turned) - 1) + 1):
                if (np.abs(turned[lag:] - turned[:-lag]) >= threshold).any():
                    out[start:stop] = True
                    break
    return out


def detect_spin(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    return rotation_mask(heading(body), body.fps, config.spin_min_deg, config.spin_window_s, config.turn_min_rate_dps)


def detect_turn(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    """A partial turn: enough heading change, but not a spin."""
    turn = rotation_mask(heading(body), body.fps, config.turn_min_deg, config.turn_window_s, config.turn_min_rate_dps)
    return turn & ~detect_spin(body, config)


def _planted(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    """(T, 2) left/right foot on the floor (ankle or toe low)."""
    low = body.foot_lift < config.contact_height_m * body.scale
    return np.stack([low[:, 0] | low[:, 2], low[:, 1] | low[:, 3]], axis=1)


def detect_jump(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    airborne = (body.foot_lift > config.jump_clearance_m * body.scale).all(axis=1)
    pelvis = body.joint("pelvis")[:, 1]
    standing = _planted(body, config).any(axis=1)
    baseline = np.median(pelvis[standing]) if standing.any() else np.median(pelvis)
    flight = keep_long(airborne & (pelvis > baseline + config.jump_rise_m * body.scale), body.frames(config.jump_min_air_s))
    return _pad(flight, body.frames(config.jump_pad_s) if config.jump_pad_s else 0)


def detect_kick(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    planted = _planted(body, config)
    out = np.zeros(len(planted), bool)
    for side, ankle in enumerate(("left_ankle", "right_ankle")):
        high = (body.foot_lift[:, side] > config.kick_height_m * body.scale) & planted[:, 1 - side]
        speed = body.speed(body.joint(ankle))
        for start, stop in runs(high):
            if speed[max(0, start - body.frames(config.kick_window_s)):stop].max() >= config.kick_speed_mps * body.scale:
                out[start:stop] = True
    return out


def detect_arm_raise(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    wrists = body.y("left_wrist", "right_wrist").max(axis=1)
    return keep_long(wrists > body.joint("head")[:, 1] + config.arm_raise_margin_m * body.scale,
                     body.frames(config.arm_raise_min_s))


def detect_floor_work(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    low = body.joint("pelvis")[:, 1] < config.floor_pelvis_height_m * body.scale
    hand = body.y("left_wrist", "right_wrist").min(axis=1) < config.floor_hand_height_m * body.scale
    return keep_long(low | hand, body.frames(config.floor_min_s))


def detect_travel(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    root = body.joint("pelvis")[:, [0, 2]]
    if len(root) < 2:
        return np.zeros(len(root), bool)
    speed = np.linalg.norm(np.gradient(root, axis=0), axis=1) * body.fps
    speed = gaussian_filter1d(speed, config.travel_smooth_s * body.fps, mode="nearest")
    return keep_long(speed > config.travel_speed_mps * body.scale, body.frames(config.travel_min_s))


def detect_freeze(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    speed = body.speed(body.positions).mean(axis=1)
    return keep_long(speed < config.freeze_speed_mps * body.scale, body.frames(config.freeze_min_s))


def detect_stomp(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    planted = _planted(body, config)
    window, count = body.frames(config.stomp_window_s), len(planted)
    half = body.frames(config.event_span_s / 2)
    hits = []
    for side, ankle in enumerate(("left_ankle", "right_ankle")):
        fall = -np.gradient(body.joint(ankle)[:, 1]) * body.fps if count > 1 else np.zeros(count)
        for start, _ in runs(planted[:, side]):
            if start == 0 or not planted[start - 1:start + 1, 1 - side].all():
                continue  # no touch-down, or both feet come down (a jump's landing)
            if fall[max(0, start - window):start + 1].max() >= config.stomp_speed_mps * body.scale:
                hits.append(start)
    return _events(hits, count, half, half)


def detect_clap(body: Body, config: AutoAnnotateConfig) -> np.ndarray:
    gap = np.linalg.norm(body.joint("left_wrist") - body.joint("right_wrist"), axis=1)
    closing = -np.gradient(gap) * body.fps if len(gap) > 1 else np.zeros_like(gap)
    window, half = body.frames(config.stomp_window_s), body.frames(config.event_span_s / 2)
    hits = [start for start, _ in runs(gap < config.clap_distance_m * body.scale)
            if closing[max(0, start - window):start + 1].max() >= config.clap_speed_mps * body.scale]
    return _events(hits, len(gap), half, half)


DETECTORS: dict[str, Callable[[Body, AutoAnnotateConfig], np.ndarray]] = {
    "spin": detect_spin, "turn": detect_turn, "jump": detect_jump, "kick": detect_kick,
    "arm raise": detect_arm_raise, "floor work": detect_floor_work, "travel": detect_travel,
    "freeze": detect_freeze, "stomp": detect_stomp, "clap": detect_clap,
}
assert set(DETECTORS) <= set(DEFAULT_VOCABULARY.detectable), "detected moves must be in the move vocabulary"


# --- spans and the global style -----------------------------------------------------------------


def masks_to_spans(masks: dict[str, np.ndarray], fps: float, min_span_s: float) -> tuple[LocalSpan, ...]:
    """Non-overlapping spans, each a run of frames with the same set of detected moves; pieces
    shorter than `min_span_s` join the piece before (or after) them that they touch."""
    names = list(masks)
    if not names:
        return ()
    table = np.stack([masks[n] for n in names], axis=1)
    pieces: list[list] = []  # [start, stop, set of tokens]
    start = 0
    for frame in range(1, len(table) + 1):
        if frame == len(table) or (table[frame] != table[start]).any():
            if table[start].any():
                pieces.append([start, frame, {names[k] for k in np.flatnonzero(table[start])}])
            start = frame
    min_frames = max(1, int(round(min_span_s * fps)))
    merged: list[list] = []
    for piece in pieces:
        if merged and merged[-1][1] == piece[0] and (piece[1] - piece[0] < min_frames or merged[-1][1] - merged[-1][0] < min_frames):
            merged[-1][1], merged[-1][2] = piece[1], merged[-1][2] | piece[2]
        else:
            merged.append(piece)
    return tuple(LocalSpan(a / fps, b / fps, DEFAULT_VOCABULARY.order(sorted(tokens))) for a, b, tokens in merged)


def reach(body: Body) -> float:
    """How far the arms reach out: mean over frames and wrists of the wrist's horizontal distance
    from the pelvis plus its height above the shoulder, over the arm's length (arms hanging
    ~0.4, held out sideways ~1.3)."""
    pelvis, total = body.joint("pelvis"), []
    for side in ("left", "right"):
        shoulder, elbow, wrist = (body.joint(f"{side}_{part}") for part in ("shoulder", "elbow", "wrist"))
        arm = (np.linalg.norm(shoulder - elbow, axis=1) + np.linalg.norm(elbow - wrist, axis=1)).mean()
        out = np.linalg.norm((wrist - pelvis)[:, [0, 2]], axis=1) + np.maximum(wrist[:, 1] - shoulder[:, 1], 0.0)
        total.append(out.mean() / max(arm, 1e-6))
    return float(np.mean(total))


def global_style(body: Body, config: AutoAnnotateConfig, genre: str | None,
                 spans: tuple[LocalSpan, ...], duration: float) -> GlobalStyle:
    root = body.joint("pelvis")[:, [0, 2]]
    extent = float(np.linalg.norm(np.percentile(root, 95, axis=0) - np.percentile(root, 5, axis=0)))
    size = extent / body.scale
    moving_range = "small" if size < config.range_small_m else "large" if size >= config.range_large_m else "medium"
    pelvis = body.joint("pelvis")
    speeds = [body.speed(body.joint(n) - pelvis).mean() for n in ("left_wrist", "right_wrist", "left_ankle", "right_ankle")]
    limb_speed = float(np.mean(speeds)) / body.scale
    extension = reach(body)
    if limb_speed >= config.extrovert_speed_mps or extension >= config.extrovert_extension:
        expressiveness = "extrovert"
    elif limb_speed < config.introvert_speed_mps:
        expressiveness = "introvert"
    else:
        expressiveness = "neutral"
    covered = Counter()
    for span in spans:
        for token in span.tokens:
            covered[token] += span.end - span.start
    core = DEFAULT_VOCABULARY.order([t for t, seconds in covered.items() if seconds >= config.core_move_fraction * duration])
    return GlobalStyle(genre, expressiveness, moving_range, core)


def annotate_motion(motion: Motion, genre: str | None = None, config: AutoAnnotateConfig | None = None) -> Annotation:
    """The decoupled annotation of a motion: global tokens (genre as given, moving range,
    expressiveness, core moves) and timed local moves detected in it."""
    config = config or AutoAnnotateConfig()
    genre = resolve_genre(genre) if genre else None
    body = smpl_body(motion, config)
    masks = {token: np.asarray(detect(body, config), bool) for token, detect in DETECTORS.items()}
    spans = masks_to_spans(masks, motion.fps, config.min_span_s)
    style = global_style(body, config, genre, spans, motion.duration)
    return Annotation(style, spans).validate(motion.duration + 1e-6, "auto-annotation")


# --- agreement with text descriptions -------------------------------------------------------------

# A description naming the key counts as agreeing when any of these tokens is detected
# ("turn" in a description is met by a spin as well as by a partial turn).
AGREEING_TOKENS = {"turn": ("turn", "spin"), "spin": ("spin",)}


def described_moves(description: Iterable[str]) -> set[str]:
    """The detectable moves a text description names ("jete en tourant" -> {jump, turn})."""
    found = {m.token for phrase in description for m in DEFAULT_VOCABULARY.find_all(phrase)}
    return found & set(DETECTORS)


def agreement(pairs: Iterable[tuple[Iterable[str], Annotation]]) -> dict[str, dict[str, int]]:
    """Per detectable move: in how many clips a description names it (`described`), how many of
    those the detector found (`found`), and in how many undescribed clips it fired (`extra`)."""
    table = {token: {"described": 0, "found": 0, "undescribed": 0, "extra": 0} for token in DETECTORS}
    for description, annotation in pairs:
        named, detected = described_moves(description), set(token_counts(annotation))
        for token, row in table.items():
            hit = bool(detected & set(AGREEING_TOKENS.get(token, (token,))))
            if token in named:
                row["described"] += 1
                row["found"] += hit
            else:
                row["undescribed"] += 1
                row["extra"] += token in detected
    return table


# --- folders --------------------------------------------------------------------------------------


def token_counts(annotation: Annotation) -> Counter:
    return Counter(token for span in annotation.spans for token in span.tokens)


def keep_existing(existing: Annotation, detected: Annotation) -> Annotation:
    """An existing sidecar's global style (and its spans, if it has any) win over detections;
    only the style fields it leaves empty are filled in."""
    old, new = existing.style, detected.style
    style = GlobalStyle(old.genre or new.genre, old.expressiveness or new.expressiveness,
                        old.moving_range or new.moving_range, old.core_moves or new.core_moves)
    return Annotation(style, existing.spans or detected.spans)


@dataclass
class AnnotateRun:
    written: list[tuple[Path, Annotation]]
    skipped: list[tuple[str, str]]

    def counts(self) -> Counter:
        total = Counter()
        for _, annotation in self.written:
            total.update(token_counts(annotation))
        return total


def motion_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in MOTION_EXTENSIONS
                  and ".annotation" not in p.name and ".beats" not in p.name and ".provenance" not in p.name)


def annotate_folder(motion_dir: str | Path, out_dir: str | Path | None = None, genre: str | None = None,
                    fps: float | None = None, overwrite: bool = False, config: AutoAnnotateConfig | None = None,
                    progress: Callable[[str], None] | None = None) -> AnnotateRun:
    """Write `<stem>.annotation.json` beside (or into `out_dir` for) every motion file of a
    folder. The genre is `genre`, else the kit folder's; a `descriptions.csv` (the kit's
    cmu05) gives core moves; an existing sidecar's style and spans are kept unless `overwrite`."""
    from dancegen.data.pairing import clip_descriptions
    from dancegen.motion.io import load_motion

    motion_dir = Path(motion_dir)
    if not motion_dir.is_dir():
        raise InputFileError(motion_dir, "motion folder not found", "give a folder of motion files")
    files = motion_files(motion_dir)
    if not files:
        raise InputFileError(motion_dir, "no motion files", f"expected {', '.join(MOTION_EXTENSIONS)} files")
    out_dir = Path(out_dir) if out_dir is not None else motion_dir
    genre = resolve_genre(genre) if genre else KIT_FOLDER_GENRES.get(motion_dir.name)
    descriptions = clip_descriptions(motion_dir)
    say = progress or (lambda line: None)
    run = AnnotateRun([], [])
    for path in files:
        target = out_dir / f"{path.stem}{ANNOTATION_SUFFIX}"
        try:
            annotation = annotate_motion(load_motion(path, fps=fps), genre, config)
            described = tuple(descriptions.get(path.stem, ()))
            if described:
                annotation = keep_existing(Annotation(GlobalStyle(core_moves=described)), annotation)
            if target.is_file() and not overwrite:
                annotation = keep_existing(read_annotation(target), annotation)
        except DanceGenError as error:  # one unreadable clip does not stop the folder
            run.skipped.append((path.name, str(error)))
            say(f"{path.name}: skipped ({error})")
            continue
        write_annotation(annotation, target)
        run.written.append((target, annotation))
        counts = ", ".join(f"{t} {n}" for t, n in sorted(token_counts(annotation).items())) or "no moves"
        say(f"{path.name}: {len(annotation.spans)} spans ({counts}); global: {annotation.global_text() or '(none)'}")
    return run
