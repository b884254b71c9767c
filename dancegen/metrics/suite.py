"""The evaluation suite: a set of generated motions against a reference set, one report dict.

Set metrics (FID_k, FID_g, Div_k, Div_g) compare feature distributions; per-motion metrics (BAS,
PFC, PBC, FSR, PFF, RS, LR) are averaged over files (NaN/None skipped) and also computed on the
reference set, which is the "Ground Truth" row of the papers' tables. Motions with hands (52- or
55-joint SMPL-H/X layouts) additionally get FID_k and Div_k on the 30 finger joints
(`fid_k_hands`, `div_k_hands`), while the main features use the 22 body joints, as GCDance does.

Inputs are `MotionClip`s: SMPL-order joint positions (T, J, 3), metres, y-up, with a frame rate
and optional music beat times. `load_clips` and `attach_music` build them from files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from pydantic import Field

from dancegen.config import StrictConfig
from dancegen.errors import ArgumentError, InputFileError
from dancegen.metrics.beat_align import (
    BAS_VARIANTS,
    beat_align_score,
    music_beats_from_audio,
)
from dancegen.metrics.frechet import fid_and_diversity
from dancegen.metrics.freezing import FREEZE_MAX_S, FREEZE_MIN_S, freezing_scores
from dancegen.metrics.kinetic import kinetic_features, root_relative
from dancegen.metrics.manual import manual_features
from dancegen.metrics.physical import PhysicalJoints, foot_skating_ratio, pbc, pfc
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES
from dancegen.skeleton.smplx import SMPLX52_JOINT_NAMES

SET_METRICS = ("fid_k", "fid_g", "div_k", "div_g")
MOTION_METRICS = ("bas", "pfc", "pbc", "fsr", "pff", "rs", "lr")
METRIC_KEYS = SET_METRICS + MOTION_METRICS
METRIC_LABELS = {
    "fid_k": "FID_k", "fid_g": "FID_g", "div_k": "Div_k", "div_g": "Div_g", "bas": "BAS",
    "pfc": "PFC", "pbc": "PBC", "fsr": "FSR", "pff": "PFF", "rs": "RS", "lr": "LR",
    "fid_k_hands": "FID_k hands", "div_k_hands": "Div_k hands",
}
MOTION_EXTENSIONS = (".npy", ".npz", ".bvh", ".pkl")
AUDIO_EXTENSIONS = (".wav", ".ogg", ".mp3", ".flac")
BEATS_SUFFIX = ".beats.json"
SMPL_BODY_JOINTS = 22  # SMPL-H/X share SMPL's first 22 joints


class EvaluationConfig(StrictConfig):
    """Settings of one evaluation run (`dancegen evaluate` flags map onto these)."""

    metrics: list[Literal[METRIC_KEYS]] = Field(default_factory=lambda: list(METRIC_KEYS))  # type: ignore[valid-type]
    bas_variant: Literal["bailando", "fact", "lodge"] = "bailando"
    # Reproduce the references' bugs (kinetic acceleration precedence, LODGE's slide test and
    # untruncated beats) to match published numbers.
    reference_bugs: bool = False
    # Bailando crops motions to 1200 frames before computing features, LODGE to 1024.
    max_frames: int | None = Field(default=None, gt=0)
    # Shorter motions are rejected: too few frames for beats, features and jerk.
    min_seconds: float = Field(default=0.5, gt=0)
    freeze_min_s: float = Field(default=FREEZE_MIN_S, gt=0)
    freeze_max_s: float = Field(default=FREEZE_MAX_S, gt=0)


@dataclass
class MotionClip:
    name: str  # file stem: pairs generated files with music
    positions: np.ndarray  # (T, J, 3) SMPL-order joints, metres, y-up
    fps: float
    beat_times_s: np.ndarray | None = None
    source: str = ""  # path shown in error messages

    @property
    def where(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class JointLayout:
    """Which joints are body and hands, for the SMPL-family joint counts dancegen evaluates."""

    body: tuple[int, ...]
    hands: tuple[int, ...] | None
    physical: PhysicalJoints


# SMPL-H / dancegen smplx52 (52): 22 body + 15 left + 15 right finger joints; SMPL-X (55) puts
# its jaw and eyes between the body and the fingers. The PBC "hand" joint of a fingered layout
# is the middle finger's base.
SMPLX_FACE_JOINTS = 3
_LEFT_WRIST, _RIGHT_WRIST = SMPL24_JOINT_NAMES.index("left_wrist"), SMPL24_JOINT_NAMES.index("right_wrist")
_LEFT_MIDDLE, _RIGHT_MIDDLE = SMPLX52_JOINT_NAMES.index("left_middle1"), SMPLX52_JOINT_NAMES.index("right_middle1")
_FINGERS = len(SMPLX52_JOINT_NAMES) - SMPL_BODY_JOINTS
_BODY = tuple(range(SMPL_BODY_JOINTS))
JOINT_LAYOUTS = {
    24: JointLayout(tuple(range(24)), None, PhysicalJoints()),
    22: JointLayout(
        _BODY, None, PhysicalJoints(left_hand=(_LEFT_WRIST, _LEFT_WRIST), right_hand=(_RIGHT_WRIST, _RIGHT_WRIST))
    ),
    52: JointLayout(
        _BODY,
        tuple(range(SMPL_BODY_JOINTS, SMPL_BODY_JOINTS + _FINGERS)),
        PhysicalJoints(left_hand=(_LEFT_WRIST, _LEFT_MIDDLE), right_hand=(_RIGHT_WRIST, _RIGHT_MIDDLE)),
    ),
    55: JointLayout(
        _BODY,
        tuple(range(SMPL_BODY_JOINTS + SMPLX_FACE_JOINTS, SMPL_BODY_JOINTS + SMPLX_FACE_JOINTS + _FINGERS)),
        PhysicalJoints(
            left_hand=(_LEFT_WRIST, _LEFT_MIDDLE + SMPLX_FACE_JOINTS),
            right_hand=(_RIGHT_WRIST, _RIGHT_MIDDLE + SMPLX_FACE_JOINTS),
        ),
    ),
}


def joint_layout(num_joints: int, where: str = "motion") -> JointLayout:
    try:
        return JOINT_LAYOUTS[num_joints]
    except KeyError:
        raise InputFileError(
            where, f"has {num_joints} joints; the metrics need SMPL-order joints (22, 24, 52 or 55)",
            "retarget it to SMPL-24 first",
        ) from None


# --- per-motion and per-set computations -----------------------------------------------

def _clean(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def motion_scores(clip: MotionClip, config: EvaluationConfig) -> dict[str, float | None]:
    """The per-motion metrics that `config.metrics` asks for."""
    wanted = set(config.metrics)
    layout = joint_layout(clip.positions.shape[1], clip.where)
    p, fps = clip.positions, clip.fps
    scores: dict[str, float | None] = {}
    if "bas" in wanted:
        scores["bas"] = None if clip.beat_times_s is None else _clean(
            beat_align_score(p, clip.beat_times_s, fps, config.bas_variant, config.reference_bugs)
        )
    if "pfc" in wanted:
        scores["pfc"] = _clean(pfc(p, fps, layout.physical))
    if "pbc" in wanted:
        scores["pbc"] = _clean(pbc(p, fps, layout.physical))
    if "fsr" in wanted:
        scores["fsr"] = _clean(foot_skating_ratio(p, fps, layout.physical, config.reference_bugs))
    if wanted & {"pff", "rs", "lr"}:
        freezing = freezing_scores(p, fps, clip.beat_times_s, config.freeze_min_s, config.freeze_max_s)
        for key in ("pff", "rs", "lr"):
            if key in wanted:
                scores[key] = _clean(getattr(freezing, key))
    return scores


def clip_features(clip: MotionClip, config: EvaluationConfig) -> dict[str, np.ndarray]:
    """Kinetic / geometric feature vectors of one motion (root-relative, as Bailando)."""
    wanted = set(config.metrics)
    layout = joint_layout(clip.positions.shape[1], clip.where)
    positions = root_relative(clip.positions)
    body = positions[:, list(layout.body)]
    features = {}
    if wanted & {"fid_k", "div_k"}:
        features["kinetic"] = kinetic_features(body, reference_bugs=config.reference_bugs)
        if layout.hands is not None:
            features["kinetic_hands"] = kinetic_features(positions[:, list(layout.hands)], reference_bugs=config.reference_bugs)
    if wanted & {"fid_g", "div_g"}:
        features["manual"] = manual_features(body)
    return features


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None


def _check_sets(generated: Sequence[MotionClip], reference: Sequence[MotionClip], config: EvaluationConfig) -> None:
    if not generated:
        raise ArgumentError("--generated", "no motions to evaluate")
    if not reference and set(config.metrics) & set(SET_METRICS):
        raise ArgumentError("--reference", "no reference motions; FID and Div need a reference set")
    first = generated[0]
    for clip in [*generated, *reference]:
        if clip.positions.ndim != 3 or clip.positions.shape[-1] != 3:
            raise InputFileError(clip.where, f"joint positions must be (frames, joints, 3), got {clip.positions.shape}")
        if not np.isfinite(clip.positions).all():
            raise InputFileError(clip.where, "contains NaN or infinite joint positions", "re-export the motion")
        joint_layout(clip.positions.shape[1], clip.where)
        if clip.positions.shape[1] != first.positions.shape[1]:
            raise InputFileError(
                clip.where, f"has {clip.positions.shape[1]} joints but {first.where} has {first.positions.shape[1]}",
                "evaluate motions of one skeleton together",
            )
        if abs(clip.fps - first.fps) > 1e-6:
            raise InputFileError(
                clip.where, f"is {clip.fps:g} fps but {first.where} is {first.fps:g} fps",
                "resample to one frame rate, or pass --fps if a file's header is wrong",
            )
        if len(clip.positions) / clip.fps < config.min_seconds:
            raise InputFileError(
                clip.where, f"is too short ({len(clip.positions)} frames = {len(clip.positions) / clip.fps:.2f} s)",
                f"the metrics need at least {config.min_seconds:g} s",
            )
    if set(config.metrics) & set(SET_METRICS):
        for label, clips in (("generated", generated), ("reference", reference)):
            if len(clips) < 2:
                raise ArgumentError(label, "FID and Div need at least 2 motions in each set", "add motions or drop fid/div from --metrics")
    names = [c.name for c in generated]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise ArgumentError("--generated", f"two motions share the name {duplicate!r}", "file stems must be unique")


# (feature kind, FID key, Div key): hand features exist only for fingered layouts.
FEATURE_METRICS = (
    ("kinetic", "fid_k", "div_k"),
    ("kinetic_hands", "fid_k_hands", "div_k_hands"),
    ("manual", "fid_g", "div_g"),
)


def _constant_dimension_warning(key: str, generated: np.ndarray, reference: np.ndarray) -> str | None:
    """Dimensions constant over the reference set but not over the generated one.

    The reference normalisation divides them by 1e-10, so they swamp FID and Div; say so.
    """
    constant = reference.std(axis=0) == 0
    differs = (generated[:, constant] != reference[0, constant]).any(axis=0)
    if not differs.any():
        return None
    return (
        f"{key}: {int(differs.sum())} feature dimension(s) never vary over the reference set but do in the "
        "generated set; the reference normalisation (std + 1e-10) lets them dominate FID/Div (use more reference motions)"
    )


def _feature_set_metrics(
    gen_features: list[dict], ref_features: list[dict], wanted: set[str]
) -> tuple[dict, dict, list[str]]:
    """FID/Div of each feature kind: (generated row, reference row with its Div, warnings)."""
    row: dict[str, float | None] = {}
    reference_row: dict[str, float | None] = {}
    notes: list[str] = []
    for kind, fid_key, div_key in FEATURE_METRICS:
        if kind not in gen_features[0]:
            continue
        generated, reference = np.stack([f[kind] for f in gen_features]), np.stack([f[kind] for f in ref_features])
        note = _constant_dimension_warning(fid_key, generated, reference)
        if note:
            notes.append(note)
        result = fid_and_diversity(generated, reference)
        # The hand scores come with their body counterparts (fid_k -> fid_k_hands).
        if fid_key.removesuffix("_hands") in wanted:
            row[fid_key] = _clean(result["fid"])
        if div_key.removesuffix("_hands") in wanted:
            row[div_key] = _clean(result["div"])
            reference_row[div_key] = _clean(result["div_ref"])
    return row, reference_row, notes


def evaluate(
    generated: Sequence[MotionClip], reference: Sequence[MotionClip], config: EvaluationConfig | None = None
) -> dict:
    """Evaluate generated motions against reference motions; returns the JSON-ready report."""
    config = config or EvaluationConfig()
    if config.max_frames is not None:
        generated = [replace(c, positions=c.positions[: config.max_frames]) for c in generated]
        reference = [replace(c, positions=c.positions[: config.max_frames]) for c in reference]
    _check_sets(generated, reference, config)
    wanted = set(config.metrics)

    report: dict = {}
    reference_row: dict[str, float | None] = {}
    notes: list[str] = []
    if wanted & set(SET_METRICS):
        gen_features = [clip_features(c, config) for c in generated]
        ref_features = [clip_features(c, config) for c in reference]
        report, reference_row, notes = _feature_set_metrics(gen_features, ref_features, wanted)

    per_file: dict[str, dict] = {"generated": {}, "reference": {}}
    if wanted & set(MOTION_METRICS):
        for group, clips in (("generated", generated), ("reference", reference)):
            for clip in clips:
                per_file[group][clip.name] = motion_scores(clip, config)
        for key in MOTION_METRICS:
            if key in wanted:
                report[key] = _mean([scores[key] for scores in per_file["generated"].values()])
                reference_row[key] = _mean([scores[key] for scores in per_file["reference"].values()])

    report["reference"] = reference_row
    report["per_file"] = per_file
    report["warnings"] = notes
    report["settings"] = {
        "fps": generated[0].fps,
        "joints": int(generated[0].positions.shape[1]),
        "num_generated": len(generated),
        "num_reference": len(reference),
        "num_with_music": sum(c.beat_times_s is not None for c in generated),
        **config.model_dump(mode="json"),
    }
    return report


def format_markdown(report: dict) -> str:
    """The report's summary as a markdown table (generated vs reference)."""
    reference = report.get("reference", {})
    lines = ["| metric | generated | reference |", "|---|---:|---:|"]

    def cell(value) -> str:
        return "–" if value is None else f"{value:.4g}"

    for key, label in METRIC_LABELS.items():
        if key in report:
            lines.append(f"| {label} | {cell(report[key])} | {cell(reference.get(key))} |")
    return "\n".join(lines)


# --- files -----------------------------------------------------------------------------

def _is_smpl_ordered(joint_names: Sequence[str]) -> bool:
    return len(joint_names) in JOINT_LAYOUTS and tuple(joint_names[:SMPL_BODY_JOINTS]) == SMPL24_JOINT_NAMES[:SMPL_BODY_JOINTS]


def load_positions(path: Path, fps: float | None = None, up: str = "y") -> tuple[np.ndarray, float]:
    """Joint positions (T, J, 3) y-up and the frame rate of one motion file.

    A (T, J, 3) `.npy` is taken as joint positions in metres (`up` says its up axis; it has no
    frame rate, so `fps` is required); everything else (BVH, dancegen `.npz`, AIST++ `.pkl`,
    FineDance (T, 315) `.npy`) goes through `dancegen.motion.io.load_motion` and forward
    kinematics, retargeted to SMPL-24 when its skeleton is not SMPL-ordered.
    """
    array = None
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False, mmap_mode="r")
        except ValueError:
            pass  # an object array (AMP poselib): load_motion reads those safely
        except OSError as error:
            raise InputFileError(path, f"cannot read .npy: {error}") from None
    if array is not None:
        if array.ndim == 3 and array.shape[-1] == 3:
            if fps is None:
                raise InputFileError(path, "joint-position .npy files carry no frame rate", "pass --fps")
            positions = np.asarray(array, dtype=np.float64)
            if up == "z":
                from dancegen.skeleton.axes import z_up_to_y_up

                positions = z_up_to_y_up(positions)
            return positions, float(fps)
        if array.ndim != 2:
            raise InputFileError(
                path, f"has shape {array.shape}; expected joint positions (T, J, 3) or a FineDance motion (T, 315)"
            )
    from dancegen.motion.io import load_motion

    motion = load_motion(path, fps=fps)
    if not _is_smpl_ordered(motion.skeleton.joint_names):
        from dancegen.errors import DanceGenError
        from dancegen.motion.retarget import retarget

        try:
            motion = retarget(motion).motion
        except DanceGenError as error:
            # `evaluate` has no --mapping: the way out is to convert the file first.
            raise InputFileError(path, f"cannot be put on SMPL-24 for scoring ({str(error).split(' (')[0]})",
                                 "retarget it first: dancegen motion convert FILE out.npz --to smpl24 --mapping MAP.yaml") from None
    return motion.joint_positions(), float(motion.fps)


def load_clips(directory: str | Path, fps: float | None = None, up: str = "y", label: str = "motions") -> list[MotionClip]:
    """Every motion file in a directory (sorted by name), as clips."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputFileError(directory, "is not a directory", f"give the folder of {label}")
    paths = sorted(p for p in directory.iterdir() if p.suffix in MOTION_EXTENSIONS and not p.name.startswith("."))
    if not paths:
        raise InputFileError(directory, f"contains no motion files ({', '.join(MOTION_EXTENSIONS)})")
    clips = []
    for path in paths:
        positions, rate = load_positions(path, fps, up)
        clips.append(MotionClip(path.stem, positions, rate, source=str(path)))
    return clips


def read_beat_times(path: Path) -> np.ndarray:
    """Beat times (seconds) from a `beats.json` (`dancegen.audio.beats.load_beats_json`)."""
    from dancegen.audio.beats import load_beats_json

    beats = load_beats_json(path).beat_times
    if len(beats) == 0:
        raise InputFileError(path, "lists no beats (its tempo is unknown)", "annotate the beats or give the audio instead")
    return beats


def find_music(music_dir: Path, stem: str) -> Path | None:
    """`STEM.beats.json` if present, else `STEM.<audio>`."""
    beats = music_dir / f"{stem}{BEATS_SUFFIX}"
    if beats.is_file():
        return beats
    for extension in AUDIO_EXTENSIONS:
        audio = music_dir / f"{stem}{extension}"
        if audio.is_file():
            return audio
    return None


def attach_music(
    clips: list[MotionClip], music_dir: str | Path, variant: str = "bailando", reference_bugs: bool = False,
    required: bool = True,
) -> None:
    """Pair clips with music by file stem and set their beat times (in place)."""
    music_dir = Path(music_dir)
    if not music_dir.is_dir():
        raise InputFileError(music_dir, "is not a directory", "give the folder of music or beats.json files")
    if variant not in BAS_VARIANTS:
        raise ArgumentError("--bas-variant", f"unknown variant {variant!r}", f"choose {', '.join(BAS_VARIANTS)}")
    for clip in clips:
        source = find_music(music_dir, clip.name)
        if source is None:
            if required:
                raise InputFileError(
                    clip.where, f"has no music in {music_dir}",
                    f"add {clip.name}{BEATS_SUFFIX} or {clip.name}.wav there",
                )
            continue
        if source.name.endswith(BEATS_SUFFIX):
            clip.beat_times_s = read_beat_times(source)
        else:
            try:
                clip.beat_times_s = music_beats_from_audio(source, variant, reference_bugs)
            except Exception as error:  # librosa/soundfile raise many types for bad audio
                raise InputFileError(source, f"cannot read audio: {error}") from None
