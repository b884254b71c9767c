"""dancegen's metrics reproduce the reference implementations on the same inputs.

The expected values in reference_values.json were produced by running the references themselves
(AIST++ API, Bailando, EDGE, GCDance, LODGE; repositories and commits in its `_provenance`) on the
deterministic motions of metrics_synth.py. Agreement is required to 1e-5 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metrics_synth import click_track, synthetic_dance, synthetic_set

from dancegen.metrics.beat_align import beat_align_score, motion_beats, music_beats_from_samples
from dancegen.metrics.frechet import fid_and_diversity
from dancegen.metrics.kinetic import kinetic_features, root_relative
from dancegen.metrics.manual import manual_features
from dancegen.metrics.physical import foot_skating_ratio, pbc, pfc

EXPECTED = json.loads((Path(__file__).parent / "reference_values.json").read_text())
RTOL = 1e-5

FEATURE_INPUTS = {
    "a": lambda: synthetic_dance(7, 90),
    "b": lambda: synthetic_dance(8, 61, fps=30.0, bpm=100.0),
    "c": lambda: synthetic_dance(9, 75)[:, :22],
}


@pytest.mark.parametrize("key", sorted(FEATURE_INPUTS))
def test_kinetic_and_manual_features_match_aistplusplus_api(key):
    positions = FEATURE_INPUTS[key]()
    expected = EXPECTED["features"][key]
    buggy = kinetic_features(positions, reference_bugs=True)
    fixed = kinetic_features(positions)
    manual = manual_features(positions)
    assert buggy.shape == fixed.shape == (positions.shape[1] * 3,) and buggy.dtype == np.float32
    np.testing.assert_allclose(buggy, expected["kinetic_bug"], rtol=RTOL)
    np.testing.assert_allclose(fixed, expected["kinetic_fixed"], rtol=RTOL)
    np.testing.assert_allclose(manual, expected["manual"], rtol=0, atol=1e-7)
    # The precedence bug changes every energy-expenditure value, and only those.
    per_joint_bug, per_joint_fixed = buggy.reshape(-1, 3), fixed.reshape(-1, 3)
    np.testing.assert_array_equal(per_joint_bug[:, :2], per_joint_fixed[:, :2])
    assert (np.abs(per_joint_bug[:, 2] - per_joint_fixed[:, 2]) > 1.0).all()


def test_fid_and_div_match_bailando_end_to_end():
    expected = EXPECTED["bailando_fid"]
    generated = synthetic_set(1000, 100, 90, bpm=100.0)
    reference = synthetic_set(2000, 120, 90, bpm=120.0)

    def features(motions, extract):
        return [extract(root_relative(m)) for m in motions]

    buggy_kinetic = lambda m: kinetic_features(m, reference_bugs=True)  # noqa: E731
    kinetic = fid_and_diversity(features(generated, buggy_kinetic), features(reference, buggy_kinetic))
    geometric = fid_and_diversity(features(generated, manual_features), features(reference, manual_features))
    assert kinetic["fid"] == pytest.approx(expected["fid_k"], rel=RTOL)
    assert kinetic["div"] == pytest.approx(expected["div_k"], rel=RTOL)
    assert kinetic["div_ref"] == pytest.approx(expected["div_k_gt"], rel=RTOL)
    assert geometric["fid"] == pytest.approx(expected["fid_m"], rel=RTOL)
    assert geometric["div"] == pytest.approx(expected["div_m"], rel=RTOL)
    assert geometric["div_ref"] == pytest.approx(expected["div_m_gt"], rel=RTOL)


def test_fid_and_div_match_bailando_on_feature_matrices():
    expected = EXPECTED["matrix_fid"]
    rng = np.random.default_rng(5)
    generated = rng.normal(0.3, 1.2, (50, 12)).astype(np.float32)
    reference = rng.normal(0.0, 1.0, (60, 12)).astype(np.float32)
    result = fid_and_diversity(generated, reference)
    for key in ("fid", "div", "div_ref"):
        assert result[key] == pytest.approx(expected[key], rel=RTOL)


@pytest.mark.parametrize("index", range(4))
def test_bas_matches_bailando(index):
    expected = EXPECTED["bailando_bas"]
    key = f"m{index}"
    positions = synthetic_dance(300 + index, 300, bpm=120.0)
    beat_times = np.array(expected["beat_frames"][key]) / 60.0
    np.testing.assert_array_equal(motion_beats(positions, 60.0), expected["per_motion"][f"{key}_motion_beats"])
    assert beat_align_score(positions, beat_times, 60.0) == pytest.approx(expected["per_motion"][key], rel=RTOL)


def test_bas_mean_matches_bailando():
    expected = EXPECTED["bailando_bas"]
    scores = [
        beat_align_score(synthetic_dance(300 + i, 300, bpm=120.0), np.array(expected["beat_frames"][f"m{i}"]) / 60.0, 60.0)
        for i in range(4)
    ]
    assert np.mean(scores) == pytest.approx(expected["mean"], rel=RTOL)


@pytest.mark.parametrize("index", range(3))
def test_pfc_matches_edge_and_pbc_matches_gcdance(index):
    positions = synthetic_dance(400 + index, 150, fps=30.0, bpm=110.0)
    assert pfc(positions, 30.0) == pytest.approx(EXPECTED["edge_pfc"][f"p{index}"], rel=RTOL)
    assert pbc(positions, 30.0) == pytest.approx(EXPECTED["gcdance_pbc"][f"p{index}"], rel=RTOL)


@pytest.mark.parametrize("seed", [0, 2, 3, 5])
def test_foot_skating_matches_lodge(seed):
    positions = synthetic_dance(500 + seed, 120, fps=30.0, bpm=90.0, freezes=((0.5, 1.0), (2.5, 0.7)), jitter_m=0.004)
    expected = EXPECTED["lodge_fsr"][f"f{seed}"]["ratio"]
    # LODGE's ratios are float32 (torch integer division), hence the looser bound.
    assert foot_skating_ratio(positions, 30.0, reference_bugs=True) == pytest.approx(expected, rel=1e-6)


def test_lodge_music_beats_match_lodge():
    audio, rate = click_track()
    beats = music_beats_from_samples(audio, rate, "lodge", reference_bugs=True)
    np.testing.assert_array_equal(np.round(beats * 30).astype(int), EXPECTED["lodge_audio_beats"]["frames"])
