"""Kinetic / geometric features and FID / Div: properties that pin the formulas down."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_synth import synthetic_dance

from dancegen.metrics.frechet import diversity, fid_and_diversity, frechet_distance, normalize_by_reference
from dancegen.metrics.kinetic import check_positions, kinetic_features, root_relative
from dancegen.metrics.manual import HIP_WIDTH, HUMERUS_LENGTH, NUM_MANUAL_FEATURES, SHOULDER_WIDTH, manual_features


def test_kinetic_features_of_constant_velocity_are_closed_form():
    # Every joint moves at (1, 2, 0) m/s at 60 fps: KE_h = 1, KE_v = 4, no acceleration.
    frames, fps = 30, 60.0
    positions = np.zeros((frames, 2, 3)) + (np.arange(frames)[:, None, None] / fps) * np.array([1.0, 2.0, 0.0])
    per_joint = kinetic_features(positions).reshape(2, 3)
    np.testing.assert_allclose(per_joint[:, 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(per_joint[:, 1], 4.0, rtol=1e-6)
    np.testing.assert_allclose(per_joint[:, 2], 0.0, atol=1e-3)
    # The precedence bug turns the missing acceleration into ~|p| / dt^2: enormous.
    assert kinetic_features(positions, reference_bugs=True).reshape(2, 3)[:, 2].min() > 100.0


def test_kinetic_features_are_translation_invariant_only_without_the_bug():
    positions = synthetic_dance(3, 80)
    shifted = positions + np.array([5.0, 0.0, -3.0])
    np.testing.assert_allclose(kinetic_features(shifted), kinetic_features(positions), rtol=1e-5)
    bug_a, bug_b = kinetic_features(positions, reference_bugs=True), kinetic_features(shifted, reference_bugs=True)
    assert not np.allclose(bug_a.reshape(-1, 3)[:, 2], bug_b.reshape(-1, 3)[:, 2], rtol=1e-3)


def test_root_relative_zeroes_the_first_root():
    positions = synthetic_dance(4, 20)
    relative = root_relative(positions)
    np.testing.assert_allclose(relative[0, 0], 0.0)
    np.testing.assert_allclose(relative - positions, np.broadcast_to(-positions[0, 0], positions.shape))


def test_manual_feature_scales_are_the_smpl_template_lengths():
    assert HUMERUS_LENGTH == pytest.approx(0.256838, abs=1e-6)
    assert SHOULDER_WIDTH == pytest.approx(0.390848, abs=1e-6)
    assert HIP_WIDTH == pytest.approx(0.119247, abs=1e-6)


def test_manual_features_of_a_still_upright_pose():
    still = np.repeat(synthetic_dance(5, 2)[:1], 10, axis=0)
    features = manual_features(still)
    assert features.shape == (NUM_MANUAL_FEATURES,) and features.dtype == np.float32
    assert set(np.unique(features)) <= {0.0, 1.0}  # one pose: each predicate always or never
    velocity_predicates = [0, 1, 4, 5, 9, 10, 11, 12, 13, 21, 22, 31]
    np.testing.assert_array_equal(features[velocity_predicates], 0.0)  # nothing moves
    assert features[28] == 0.0  # an upright spine is not 70-110 degrees from vertical


def test_manual_features_accept_22_joints_and_reject_fewer():
    positions = synthetic_dance(6, 40)
    np.testing.assert_array_equal(manual_features(positions[:, :22]), manual_features(positions[:, :22].copy()))
    with pytest.raises(ValueError, match="22 joints"):
        manual_features(positions[:, :15])


@pytest.mark.parametrize(
    "bad, message",
    [(np.zeros((10, 24)), "shape"), (np.zeros((1, 24, 3)), "frames"), (np.full((10, 24, 3), np.nan), "NaN")],
)
def test_positions_are_checked(bad, message):
    with pytest.raises(ValueError, match=message):
        check_positions(bad, min_frames=3)


def test_fid_is_zero_for_identical_sets_and_grows_with_a_shift(rng):
    features = rng.normal(size=(40, 5))
    reference_n, generated_n = normalize_by_reference(features, features)
    assert frechet_distance(generated_n, reference_n) == pytest.approx(0.0, abs=1e-8)
    # Standardised shift of 2 sigma in every one of 5 dimensions: |mu|^2 = 5 * 4 = 20.
    shifted = fid_and_diversity(features + 2 * features.std(axis=0), features)["fid"]
    assert shifted == pytest.approx(20.0, rel=1e-6)


def test_diversity_is_the_mean_pairwise_distance():
    triangle = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert diversity(triangle) == pytest.approx((3.0 + 4.0 + 5.0) / 3)


def test_fid_needs_two_motions_per_set():
    with pytest.raises(ValueError, match="at least 2"):
        fid_and_diversity(np.ones((1, 4)), np.ones((5, 4)))
