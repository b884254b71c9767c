"""Fréchet distance (FID_k, FID_g) and diversity (Div_k, Div_g) of motion feature sets.

Reference: Bailando `utils/metrics_new.py` (lisiyao21/Bailando @cc90b98): `normalize`,
`calc_fid`, `calculate_avg_distance`; the same code is in LODGE `metric/metrics_finedance.py`,
GCDance `eval/eval_metrics.py`, and (normalisation + Fréchet distance) in FACT's
`tools/calculate_scores.py` (google-research/mint).

1. Both feature sets are standardised with the *reference* (ground-truth) set's per-dimension
   mean and standard deviation (population std, + 1e-10).
2. FID = |mu_g - mu_r|^2 + tr(S_g) + tr(S_r) - 2 tr(sqrtm(S_g S_r)), with sample covariances
   (`np.cov`, N-1) and scipy's `sqrtm`; if that is not finite, 1e-5 is added to both
   diagonals; a complex result keeps its real part.
3. Div = mean Euclidean distance over all unordered pairs of standardised feature vectors.

With fewer motions than feature dimensions (72 kinetic, 32 geometric) the covariances are
singular and sqrtm is ill-conditioned: FID is then reproducible only to about 1e-4 relative
across machines and library versions. Compare FIDs from sets of the same size.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from scipy.spatial.distance import pdist

# Bailando `normalize`: std + 1e-10 keeps constant dimensions finite.
STD_EPSILON = 1e-10
# Bailando `calc_fid` eps, added to the covariance diagonals when sqrtm is not finite.
SINGULAR_OFFSET = 1e-5


def _as_feature_matrix(features, name: str) -> np.ndarray:
    matrix = np.stack(features) if isinstance(features, (list, tuple)) else np.asarray(features)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a list of feature vectors or an (N, D) array, got shape {matrix.shape}")
    if len(matrix) < 2:
        raise ValueError(f"{name} has {len(matrix)} motion(s); FID and Div need at least 2")
    return matrix


def normalize_by_reference(reference, generated) -> tuple[np.ndarray, np.ndarray]:
    """Standardise both sets with the reference set's statistics.

    In float64: the reference does this in float32, whose sums depend on the order files were
    listed in (1e-7 relative, amplified by sqrtm); float64 makes FID independent of file order.
    """
    reference = _as_feature_matrix(reference, "reference features").astype(np.float64)
    generated = _as_feature_matrix(generated, "generated features").astype(np.float64)
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    return (reference - mean) / (std + STD_EPSILON), (generated - mean) / (std + STD_EPSILON)


def frechet_distance(generated: np.ndarray, reference: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (already standardised) feature sets."""
    mu_g, mu_r = generated.mean(axis=0), reference.mean(axis=0)
    sigma_g, sigma_r = np.cov(generated, rowvar=False), np.cov(reference, rowvar=False)
    with warnings.catch_warnings():
        # Singular covariances are routine here (see the module docstring); the value stands.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma_g.dot(sigma_r))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma_g.shape[0]) * SINGULAR_OFFSET
            covmean = linalg.sqrtm((sigma_g + offset).dot(sigma_r + offset))
    diff = mu_g - mu_r
    value = diff.dot(diff) + np.trace(sigma_g) + np.trace(sigma_r) - 2 * np.trace(covmean).real
    return float(value)


def diversity(features: np.ndarray) -> float:
    """Mean pairwise Euclidean distance (float64; the reference accumulates in float32)."""
    return float(pdist(np.asarray(features, dtype=np.float64)).mean())


def fid_and_diversity(generated, reference) -> dict[str, float]:
    """FID and Div of a generated set against a reference set of raw (unnormalised) features.

    Returns `fid`, `div` (generated set) and `div_ref` (the reference set's own diversity).
    """
    reference_n, generated_n = normalize_by_reference(reference, generated)
    return {
        "fid": frechet_distance(generated_n, reference_n),
        "div": diversity(generated_n),
        "div_ref": diversity(reference_n),
    }
