"""Beat-tracking accuracy: F-measure of detected audio beats against annotations (mir_eval).

A detected beat is correct if it lies within +-70 ms of an annotated one (each annotation
matched at most once); F = 2PR / (P + R). As in MIREX and mir_eval's own evaluator, beats in
the first 5 s are ignored by default (`trim=True`), because trackers need a few seconds to lock
on and annotations often start late.
"""

from __future__ import annotations

import numpy as np

# mir_eval.beat defaults: `f_measure_threshold=0.07`, `trim_beats(min_beat_time=5.0)`.
BEAT_TOLERANCE_S = 0.07
TRIM_BEFORE_S = 5.0


def beat_f_measure(
    reference_beats_s, estimated_beats_s, tolerance_s: float = BEAT_TOLERANCE_S, trim: bool = True
) -> float:
    """F-measure in [0, 1] of estimated beat times against reference beat times (seconds)."""
    import mir_eval

    reference = np.sort(np.asarray(reference_beats_s, dtype=np.float64))
    estimated = np.sort(np.asarray(estimated_beats_s, dtype=np.float64))
    if trim:
        reference = mir_eval.beat.trim_beats(reference, TRIM_BEFORE_S)
        estimated = mir_eval.beat.trim_beats(estimated, TRIM_BEFORE_S)
    if len(reference) == 0 or len(estimated) == 0:
        return 0.0  # mir_eval's value too, minus its warning
    return float(mir_eval.beat.f_measure(reference, estimated, f_measure_threshold=tolerance_s))
