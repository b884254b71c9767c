"""Dance evaluation metrics, numerically faithful to the reference implementations.

Every function takes SMPL-order joint positions (T, J, 3) in metres, y-up, and where it matters
a frame rate. `evaluate` runs the whole suite on a generated and a reference set. Formulas,
constants and the papers that use them: docs/metrics.md.
"""

from dancegen.metrics.beat_align import beat_align_score, motion_beats, music_beats_from_audio
from dancegen.metrics.beat_tracking import beat_f_measure
from dancegen.metrics.editing import constraint_distance, jerk, seam_smoothness
from dancegen.metrics.freezing import FreezingScores, freezing_scores
from dancegen.metrics.frechet import diversity, fid_and_diversity, frechet_distance, normalize_by_reference
from dancegen.metrics.kinetic import kinetic_features
from dancegen.metrics.manual import manual_features
from dancegen.metrics.physical import foot_skating_ratio, pbc, pfc
from dancegen.metrics.suite import EvaluationConfig, MotionClip, evaluate, format_markdown

__all__ = [
    "EvaluationConfig",
    "FreezingScores",
    "MotionClip",
    "beat_align_score",
    "beat_f_measure",
    "constraint_distance",
    "diversity",
    "evaluate",
    "fid_and_diversity",
    "foot_skating_ratio",
    "format_markdown",
    "freezing_scores",
    "frechet_distance",
    "jerk",
    "kinetic_features",
    "manual_features",
    "motion_beats",
    "music_beats_from_audio",
    "normalize_by_reference",
    "pbc",
    "pfc",
    "seam_smoothness",
]
