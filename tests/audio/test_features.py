"""Feature kinds: shapes at any fps, frame alignment, and parity with the reference recipes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dancegen.audio import Audio
from dancegen.audio.features import FEATURE_KINDS, extract_features, feature_dim, num_frames
from dancegen.errors import ArgumentError

RATE = 22050


@pytest.mark.parametrize("fps", [30, 29.97, 12, 60])
def test_every_kind_has_one_row_per_motion_frame(groove, fps):
    audio = Audio(groove[0].samples[: int(3.3 * RATE)], RATE)
    for kind, spec in FEATURE_KINDS.items():
        features = extract_features(audio, kind, fps=fps)
        assert features.shape == (math.ceil(audio.duration * fps), spec.dim) == (num_frames(audio.duration, fps), feature_dim(kind))
        assert features.dtype == np.float32 and np.all(np.isfinite(features)), kind


def test_num_frames_is_ceil_of_duration_times_fps():
    assert num_frames(10.0, 30) == 300 and num_frames(10.01, 30) == 301 and num_frames(0.001, 30) == 1


def test_baseline35_matches_the_edge_recipe(groove):
    """EDGE's extract() written out with librosa, as in data/audio_extraction/baseline_features.py."""
    import librosa

    audio = Audio(groove[0].samples[: 6 * RATE], RATE)
    sr, hop = 30 * 512, 512
    data = audio.resampled(sr).samples
    envelope = librosa.onset.onset_strength(y=data, sr=sr)
    mfcc = librosa.feature.mfcc(y=data, sr=sr, n_mfcc=20).T
    chroma = librosa.feature.chroma_cens(y=data, sr=sr, hop_length=hop, n_chroma=12).T
    peaks = librosa.onset.onset_detect(onset_envelope=envelope.flatten(), sr=sr, hop_length=hop)
    start_bpm = librosa.feature.tempo(y=audio.resampled(22050).samples)[0]
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=hop, start_bpm=start_bpm, tightness=100)
    peak_onehot, beat_onehot = np.zeros_like(envelope), np.zeros_like(envelope)
    peak_onehot[peaks], beat_onehot[beats] = 1.0, 1.0
    reference = np.concatenate([envelope[:, None], mfcc, chroma, peak_onehot[:, None], beat_onehot[:, None]], axis=-1)

    ours = extract_features(audio, "baseline35", fps=30)
    assert len(reference) == len(ours) + 1  # librosa's extra frame at exactly 6.0 s is cropped
    np.testing.assert_allclose(ours, reference[: len(ours)], rtol=1e-5, atol=1e-5)


def test_onehot_beats_and_beat_activation_sit_on_the_beats(groove):
    audio, truth = groove
    fps = 30
    baseline = extract_features(audio, "baseline35", fps=fps)
    beat_frames = np.flatnonzero(baseline[:, 34])
    true_frames = np.round(truth * fps)
    # EDGE's librosa tracker: every detected beat within 2 frames (67 ms) of a true beat.
    assert len(beat_frames) >= len(truth) - 2
    assert np.abs(beat_frames[:, None] - true_frames[None, :]).min(axis=1).max() <= 2

    lda = extract_features(audio, "lda3", fps=fps)
    activation = lda[:, 2]
    assert activation[true_frames.astype(int)].min() > 0.5  # a peak at every beat ...
    off_beats = np.round((truth[:-1] + 0.25) * fps).astype(int)
    assert activation[off_beats].max() < 0.05  # ... and quiet between them
    assert lda[:, 1].max() > 0 and np.all(lda[:, 1] >= 0)  # spectral flux


def test_flux_frame_i_is_the_music_at_time_i_over_fps():
    """A single click at 1.0 s lands in frame fps * 1.0, whatever the frame rate."""
    samples = np.zeros(2 * RATE, np.float32)
    click = int(1.0 * RATE)
    samples[click : click + 200] = np.hanning(200) * 0.8
    audio = Audio(samples, RATE)
    for fps in (24, 30, 60):
        flux = extract_features(audio, "lda3", fps=fps)[:, 1]
        assert abs(int(np.argmax(flux)) - fps) <= 1, fps
        envelope = extract_features(audio, "baseline35", fps=fps)[:, 0]
        assert abs(int(np.argmax(envelope)) - fps) <= 1, fps


def test_stft_is_gcdance_log_magnitude(groove):
    import librosa

    audio = Audio(groove[0].samples[: 2 * RATE], RATE)
    expected = np.log1p(np.abs(librosa.stft(audio.resampled(15360).samples, n_fft=384, hop_length=512)).T)
    ours = extract_features(audio, "stft", fps=30)
    assert ours.shape == (60, 193)
    np.testing.assert_allclose(ours, expected[:60], rtol=1e-5, atol=1e-6)


def test_silent_audio_gives_finite_features():
    audio = Audio(np.zeros(RATE, np.float32), RATE)
    for kind in FEATURE_KINDS:
        features = extract_features(audio, kind, fps=30)
        assert features.shape[0] == 30 and np.all(np.isfinite(features)), kind
    assert not extract_features(audio, "lda3", fps=30)[:, 2].any()  # no beats, no activation


def test_bad_kind_or_fps_is_an_argument_error(groove):
    with pytest.raises(ArgumentError, match="unknown feature kind 'jukebox2'"):
        extract_features(groove[0], "jukebox2")
    for fps in (0, -5, 1000, float("nan"), True):
        with pytest.raises(ArgumentError, match="fps"):
            extract_features(groove[0], "stft", fps=fps)


def test_beat_clock_turns_once_per_beat_and_once_per_bar(groove):
    audio, beats = groove
    clock = extract_features(audio, "beat_clock", fps=30)
    assert clock.shape == (num_frames(audio.duration, 30), 4)
    np.testing.assert_allclose(clock[:, 0] ** 2 + clock[:, 1] ** 2, 1.0, atol=1e-5)  # unit circles
    beat_phase = np.unwrap(np.arctan2(clock[:, 0], clock[:, 1])) / (2 * np.pi)
    bar_phase = np.unwrap(np.arctan2(clock[:, 2], clock[:, 3])) / (2 * np.pi)
    seconds = len(clock) / 30
    assert (beat_phase[-1] - beat_phase[0]) / seconds == pytest.approx(2.0, rel=0.03)  # 120 bpm
    assert (bar_phase[-1] - bar_phase[0]) / seconds == pytest.approx(0.5, rel=0.03)  # 4/4
    # The phase is a whole number of turns on the beats the groove was made with.
    on_beats = np.interp(beats[(beats > 1) & (beats < 11)], np.arange(len(clock)) / 30, beat_phase)
    assert np.abs(on_beats - np.round(on_beats)).max() < 0.06  # within 30 ms at 120 bpm


def test_kinds_join_with_plus(groove):
    audio, _ = groove
    joined = extract_features(audio, "baseline35+beat_clock", fps=30)
    assert feature_dim("baseline35+beat_clock") == 39 and joined.shape[1] == 39
    np.testing.assert_array_equal(joined[:, :35], extract_features(audio, "baseline35", fps=30))
    np.testing.assert_array_equal(joined[:, 35:], extract_features(audio, "beat_clock", fps=30))
    with pytest.raises(ArgumentError, match="unknown feature kind 'clock'"):
        feature_dim("baseline35+clock")
