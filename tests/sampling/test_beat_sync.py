"""Beat sync (`sampling.beat_sync`): the tempo rate, the feature stretch, the beat matching and
the time warp, on motion whose beats are known, and end to end through the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from dancegen.metrics.dance_quality import bas_vs_shifted
from dancegen.motion.motion import Motion
from dancegen.sampling.beat_sync import (
    BeatSyncConfig,
    kinematic_beats,
    match_beats,
    retime,
    stretch_features,
    tempo_rate,
    time_warp,
)
from dancegen.skeleton import smpl24

FPS = 30.0
CONFIG = BeatSyncConfig()


def swaying_motion(beat_times: np.ndarray, frames: int) -> Motion:
    """A body swaying side to side, turning (speed minimum: a motion beat) at `beat_times`."""
    skeleton = smpl24()
    t = np.arange(frames) / FPS
    # The phase passes a half turn at each beat: x = −cos(phase) turns around there.
    phase = np.interp(t, beat_times, np.arange(len(beat_times)) * np.pi)
    root = np.zeros((frames, 3))
    root[:, 0] = -0.2 * np.cos(phase)
    root[:, 1] = 0.9
    rotations = np.zeros((frames, skeleton.num_joints, 4))
    rotations[..., 3] = 1.0
    return Motion(skeleton, FPS, rotations, root)


def irregular_beats(seconds: float, interval: float, jitter: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = interval + rng.uniform(-jitter, jitter, int(seconds / interval) + 4)
    return np.concatenate([[-steps[0] / 2], np.cumsum(steps) - steps[0] / 2])


@pytest.mark.parametrize("bpm, expected", [(120, 0.53 / 0.5), (80, 0.53 / 0.75), (60, 0.7), (170, 0.53 / (60 / 170) / 2), (150, 0.53 / 0.4)])
def test_tempo_rate_puts_the_natural_motion_beat_on_a_beat_multiple(bpm, expected):
    rate = tempo_rate(60.0 / bpm, CONFIG)
    assert rate == pytest.approx(expected, rel=1e-3)
    assert CONFIG.min_rate <= rate <= CONFIG.max_rate
    # The motion beat falls every 1, 2 or 4 beats, never between two beats (off-beat accents).
    beats_per_motion_beat = CONFIG.natural_beat_s / rate / (60.0 / bpm)
    assert beats_per_motion_beat >= 1.0 - 1e-9 or rate == CONFIG.min_rate


def test_stretch_features_plays_the_song_slower_by_the_rate():
    features = np.stack([np.arange(100.0), np.arange(100.0) ** 2], axis=1).astype(np.float32)
    stretched = stretch_features(features, 1.25)
    assert stretched.shape == (125, 2) and stretched.dtype == np.float32
    np.testing.assert_allclose(stretched[:, 0], np.minimum(np.arange(125) / 1.25, 99), atol=1e-5)
    assert stretch_features(features, 0.7).shape == (70, 2)


def test_kinematic_beats_find_the_turns_of_a_sway():
    beats = irregular_beats(12.0, 0.5, 0.08)
    motion = swaying_motion(beats, 360)
    found = kinematic_beats(motion.joint_positions(), FPS, CONFIG.speed_sigma_s)
    inside = beats[(beats * FPS > 3) & (beats * FPS < 356)] * FPS
    distance = np.abs(found[:, None] - inside[None]).min(axis=0)
    assert len(found) == len(inside) and distance.max() <= 1.5  # beats fall between frames


def test_match_beats_pairs_beats_in_order_within_the_rate_limits():
    music = np.arange(10, 300, 15.0)  # 120 BPM at 30 fps
    motion = music * 1.1 + np.random.default_rng(1).uniform(-2, 2, len(music))
    pairs = match_beats(music, motion, 1.1, FPS, CONFIG)
    assert len(pairs) == len(music)  # every beat has its motion beat
    x, y = np.array(pairs).T
    assert (np.diff(x) > 0).all() and (np.diff(y) > 0).all()
    local = np.diff(y) / np.diff(x)
    assert (local >= 1.1 / CONFIG.local_tolerance).all() and (local <= 1.1 * CONFIG.local_tolerance).all()


def test_time_warp_is_monotone_hits_the_pairs_and_eases_into_the_beats():
    pairs = [(15.0, 16.0), (30.0, 34.0), (45.0, 49.0), (60.0, 67.0)]
    warp = time_warp(pairs, 90, 100, 1.1, CONFIG.local_tolerance)
    assert warp.shape == (90,) and warp[0] >= 0 and warp[-1] <= 99
    assert (np.diff(warp) > 0).all()
    for x, y in pairs:
        assert warp[int(x)] == pytest.approx(y, abs=1e-9)
    # Slowest playback on the knots: the rate there is the smaller neighbouring secant.
    x, y = np.array(pairs).T
    secants = np.diff(y) / np.diff(x)
    for k in (1, 2):
        knot = int(x[k])
        assert (warp[knot + 1] - warp[knot - 1]) / 2 <= min(secants[k - 1], secants[k]) + 0.03  # central difference


@pytest.mark.parametrize("bpm", [90, 128, 160])
def test_retime_moves_the_dance_onto_the_beats(bpm):
    """A sway at its own irregular ~0.53 s pulse, off the song's beat: before, BAS is no higher
    on the beats than half a beat off; after, clearly higher, the turns land on the beats and
    the poses and length are those of a re-timed clip."""
    seconds = 20.0
    frames = int(seconds * FPS)
    music_beats = np.arange(0.3, seconds, 60.0 / bpm)
    rate = tempo_rate(60.0 / bpm, CONFIG)
    sampled_frames = int(round(frames * rate))
    natural = irregular_beats(sampled_frames / FPS, CONFIG.natural_beat_s, 0.06, seed=bpm)
    sampled = swaying_motion(natural, sampled_frames)

    plain = swaying_motion(natural, frames)  # what the model gives unsynced: its own pulse
    before = bas_vs_shifted(plain.joint_positions(), music_beats, FPS)
    synced, report = retime(sampled, music_beats, frames, rate, bpm, CONFIG)
    after = bas_vs_shifted(synced.joint_positions(), music_beats, FPS)

    assert synced.num_frames == frames and synced.fps == FPS
    assert abs(before.margin) < 0.15
    assert after.margin > 0.3 and after.bas > 0.6
    assert report.matched >= 0.8 * report.music_beats
    turns = kinematic_beats(synced.joint_positions(), FPS, CONFIG.speed_sigma_s)
    on_beat = np.abs(turns[:, None] - music_beats[None] * FPS).min(axis=1) <= 1.5
    assert on_beat.mean() > 0.8
    # Poses are the sampled motion's poses: the sway's extent is unchanged.
    assert np.ptp(synced.root_translation[:, 0]) == pytest.approx(np.ptp(sampled.root_translation[:, 0]), rel=0.02)


def test_generate_with_beat_sync_follows_the_song_and_reports_it(tmp_path):
    from dancegen import load_pipeline
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, beats = drum_pattern(150.0, 8.0, seed=0)
    song = write_wav(tmp_path / "drums150.wav", samples, sample_rate=22050)
    pipeline = load_pipeline("gcdance-small")
    synced = pipeline(song, seconds=8.0, seed=0, steps=4, beat_sync=True)
    report = synced.metadata["beat_sync"]
    assert synced.num_frames == 240
    assert report["music_bpm"] == pytest.approx(150.0, rel=0.02)
    assert report["tempo_rate"] == pytest.approx(tempo_rate(0.4, pipeline.config.sampling.beat_sync), rel=0.02)
    assert report["matched"] >= 0.5 * report["music_beats"]
    assert synced.metadata["music"] == str(song) and synced.metadata["start"] == 0.0
    assert np.isfinite(synced.rotations).all()

    from dancegen.sampling.editing import Keyframe

    keyframe = Keyframe(time=4.0, rotations={1: np.array([0.0, 0.0, 0.0, 1.0])})
    pinned = pipeline(song, seconds=8.0, seed=0, steps=4, beat_sync=True, keyframes=[keyframe])
    assert pinned.metadata["beat_sync"] == {"skipped": "--keyframes and --lock-joints fix the timing"}


def test_given_beats_are_used_in_span_time_and_bad_ones_are_one_line(tmp_path):
    import json

    from dancegen import load_pipeline
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern
    from dancegen.errors import ArgumentError
    from dancegen.pipelines.request import GenerationRequest

    samples, _ = drum_pattern(100.0, 12.0, seed=1)
    song = write_wav(tmp_path / "drums.wav", samples, sample_rate=22050)
    # Beats on the off-beat of the drums: sync must follow the file, not the detector.
    off_beats = np.arange(0.3, 12.0, 0.6)
    beats_file = tmp_path / "beats.json"
    beats_file.write_text(json.dumps({"beats_s": off_beats.tolist()}))
    pipeline = load_pipeline("gcdance-small")
    request = GenerationRequest(song, start=2.0, seconds=8.0, beats=beats_file, beat_sync=True).checked(pipeline.header)
    np.testing.assert_allclose(pipeline.song_beats(request), off_beats[(off_beats >= 2) & (off_beats <= 10)] - 2.0)
    synced = pipeline(song, start=2.0, seconds=8.0, seed=0, steps=4, beat_sync=True, beats=beats_file)
    assert synced.metadata["beat_sync"]["music_bpm"] == pytest.approx(100.0, rel=1e-6)
    assert bas_vs_shifted(synced.joint_positions(), off_beats[off_beats >= 2] - 2.0, FPS).margin > 0.1

    with pytest.raises(ArgumentError, match="--beats"):
        pipeline.song_beats(GenerationRequest(song, beats=np.array([0.5, np.nan]), beat_sync=True).checked(pipeline.header))
