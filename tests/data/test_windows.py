"""Frame-rate conversion, windows, time-stretch augmentation and deterministic splits."""

from __future__ import annotations

import numpy as np
import pytest

from data_synth import beat_motion
from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan
from dancegen.data.sample import DanceSample
from dancegen.data.windows import (
    convert_fps, deterministic_split, iter_windows, make_windows, split_for, time_stretch, window,
)


@pytest.fixture
def sample() -> DanceSample:
    motion = beat_motion(np.arange(0.5, 4.0, 0.5), 4.0, fps=60.0)
    features = np.arange(motion.num_frames, dtype=np.float32)[:, None].repeat(3, axis=1)
    annotation = Annotation(GlobalStyle("house"), (LocalSpan(1.0, 2.0, ("jack",)), LocalSpan(3.0, 3.5, ("loft",))))
    return DanceSample("clip", motion, annotation, audio_path="song.wav", audio_start=10.0, audio_features=features)


def test_60_to_30_fps_keeps_every_other_frame_exactly(sample):
    half = convert_fps(sample, 30.0)
    assert half.fps == 30.0 and half.num_frames == 120
    np.testing.assert_allclose(np.abs(np.sum(half.motion.rotations * sample.motion.rotations[::2], -1)), 1.0, atol=1e-9)
    np.testing.assert_allclose(half.audio_features[:, 0], np.arange(0, 240, 2))
    back = convert_fps(half, 60.0)
    assert back.num_frames == 240
    # Odd frames come back by slerp between their neighbours: close to the originals.
    assert np.abs(back.motion.joint_positions() - sample.motion.joint_positions()).max() < 0.01


def test_windows_cut_every_part_in_step(sample):
    pieces = make_windows(sample, length_s=1.0, stride_s=0.5)
    assert [p.source["window_frames"][0] for p in pieces] == list(range(0, 181, 30))
    piece = pieces[2]  # frames 60-120: seconds 1-2
    assert piece.num_frames == 60 and piece.audio_start == pytest.approx(11.0)
    np.testing.assert_array_equal(piece.audio_features[:, 0], np.arange(60, 120))
    assert piece.annotation.spans == (LocalSpan(0.0, 1.0, ("jack",)),)
    with pytest.raises(ValueError, match="outside"):
        window(sample, 200, 60)


def test_time_stretch_moves_motion_features_and_spans_together(sample):
    slow = time_stretch(sample, 1.1)
    assert slow.num_frames == 264 and slow.source["time_stretch"] == pytest.approx(1.1)
    assert slow.annotation.spans[0] == LocalSpan(pytest.approx(1.1), pytest.approx(2.2), ("jack",))
    # Frame k of the stretched clip shows source time k / (fps * 1.1).
    np.testing.assert_allclose(slow.audio_features[110, 0], 100.0, atol=1e-4)
    np.testing.assert_allclose(slow.motion.joint_positions()[110], sample.motion.joint_positions()[100], atol=1e-6)


def test_stretched_windows_all_have_the_requested_length(sample):
    pieces = list(iter_windows([sample], length_s=1.0, stride_s=0.5, max_stretch=0.1, rng=np.random.default_rng(0)))
    stretches = [p.source["time_stretch"] for p in pieces]
    assert len(pieces) >= 5 and all(p.num_frames == 60 for p in pieces)
    assert all(0.9 <= s <= 1.1 for s in stretches) and len(set(stretches)) == len(stretches)
    assert all(p.audio_features.shape == (60, 3) for p in pieces)


def test_splits_are_deterministic_and_proportional():
    names = [f"clip_{i:04d}" for i in range(2000)]
    first = deterministic_split(names, seed=3)
    assert first == deterministic_split(reversed(names), seed=3)
    sizes = {k: len(v) for k, v in first.items()}
    assert abs(sizes["train"] - 1600) < 80 and abs(sizes["val"] - 200) < 50 and abs(sizes["test"] - 200) < 50
    assert split_for("clip_0007", seed=3) == next(k for k, v in first.items() if "clip_0007" in v)
    assert deterministic_split(names, seed=4) != first
