"""The GCDance generation pipeline on a tiny trained model: span lengths, seeds, genres,
locked joints and keyframes met exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gcdance_fixtures import FPS, GENRES, synthetic_clip

from dancegen.errors import ArgumentError
from dancegen.pipelines.gcdance import GCDancePipeline
from dancegen.sampling.editing import body_part_joints


# The tiny model barely moves (under 1 cm per frame), so keyframes are held to what real dance
# does at 30 fps: joints move up to a few cm per frame.
KEYFRAME_STEP_BUDGET_M = 0.06


@pytest.fixture(scope="module")
def pipeline(tiny_checkpoint):
    return GCDancePipeline.from_checkpoint(tiny_checkpoint)


@pytest.fixture(scope="module")
def music():
    return synthetic_clip(200, genre=1, seed=42)[1]  # (200, 35) raw features, 6.7 s at 30 fps


@pytest.mark.parametrize("seconds,frames", [(None, 200), (1.0, 30), (2.5, 75), (0.1, 3)])
def test_output_covers_exactly_the_requested_span(pipeline, music, seconds, frames):
    motion = pipeline(music, seconds=seconds, seed=0)
    assert motion.num_frames == frames and motion.fps == FPS and motion.skeleton.name == "smpl24"
    assert np.isfinite(motion.rotations).all() and np.isfinite(motion.root_translation).all()
    assert np.allclose(np.linalg.norm(motion.rotations, axis=-1), 1.0, atol=1e-6)


def test_seeds_and_metadata(pipeline, music):
    a = pipeline(music, seconds=2.0, start=1.0, seed=3, genre="House")
    b = pipeline(music, seconds=2.0, start=1.0, seed=3, genre="house")
    c = pipeline(music, seconds=2.0, start=1.0, seed=4, genre="house")
    assert np.array_equal(a.rotations, b.rotations)
    assert not np.allclose(a.rotations, c.rotations)
    assert a.metadata["genre"] == "house" and a.metadata["prompt"] == "This is a House type of music."
    assert a.metadata["seed"] == 3 and a.metadata["sampling"]["steps"] == 4
    no_genre = pipeline(music, seconds=2.0, seed=3)
    assert no_genre.metadata["genre"] is None and no_genre.metadata["prompt"] is None


def test_guidance_weights_change_the_dance(pipeline, music):
    plain = pipeline(music, seconds=2.0, seed=1, genre="krump", guidance={"music": 1.0, "text": 1.0})
    strong = pipeline(music, seconds=2.0, seed=1, genre="krump", guidance={"music": 3.0, "text": 5.0})
    assert not np.allclose(plain.rotations, strong.rotations)
    with pytest.raises(ArgumentError, match="pose is not a modality of gcdance"):
        pipeline(music, seconds=1.0, seed=1, guidance={"pose": 2.0})


def test_bad_requests_are_one_line_errors(pipeline, music):
    with pytest.raises(ArgumentError, match="not a genre this model knows.*house, krump, popping"):
        pipeline(music, genre="ballet jazz")
    with pytest.raises(ArgumentError, match="either --prompt or --genre"):
        pipeline(music, genre="house", prompt="fast")
    with pytest.raises(ArgumentError, match="runs past the end of the music"):
        pipeline(music, start=5.0, seconds=3.0)
    with pytest.raises(ArgumentError, match="needs --reference"):
        pipeline(music, lock_joints="upper_body")
    assert len(GENRES) == 3


def test_locked_joints_follow_the_reference_exactly(pipeline, music):
    reference = synthetic_clip(90, genre=2, seed=7)[0]
    motion = pipeline(music, seconds=2.0, seed=0, reference=reference, lock_joints="lower_body")
    locked = body_part_joints(reference.skeleton, "lower_body")
    free = sorted(set(range(24)) - set(locked))
    frames = 60
    assert np.array_equal(motion.rotations[:, locked], reference.rotations[:frames, locked])
    assert np.array_equal(motion.root_translation, reference.root_translation[:frames])
    assert not np.allclose(motion.rotations[:, free], reference.rotations[:frames, free], atol=1e-2)
    # The network saw the lock too: the unpinned decode already sits close to it.
    assert motion.metadata["edits"] == [f"reference joints {','.join(reference.skeleton.joint_names[j] for j in locked)}"]


def test_keyframes_are_met_exactly(pipeline, music, tmp_path):
    keys = tmp_path / "keys.json"
    quaternion = [0.0, 0.0, np.sin(0.4), np.cos(0.4)]
    keys.write_text(json.dumps({"keyframes": [
        {"time": 0.0, "root": [0.0, 0.95, 0.0]},
        {"time": 1.0, "rotations": {"left_elbow": quaternion, "right_knee": [0.3, 0.0, 0.0]}},
        {"time": 3.9, "root": [0.5, 0.9, -0.2], "rotations": {"head": [0, 0, 0, 1]}},
    ]}))
    motion = pipeline(music, seconds=4.0, seed=2, keyframes=keys)
    skeleton = motion.skeleton
    assert np.array_equal(motion.root_translation[0], [0.0, 0.95, 0.0])
    assert np.allclose(motion.rotations[30, skeleton.index("left_elbow")], quaternion, atol=1e-12)
    assert np.allclose(motion.rotations[117, skeleton.index("head")], [0, 0, 0, 1])
    assert np.array_equal(motion.root_translation[117], [0.5, 0.9, -0.2])
    # ...and reached, not jumped to (pasting them onto their frames alone jumped 55 cm).
    steps = np.linalg.norm(np.diff(motion.joint_positions(), axis=0), axis=-1)
    assert steps.max() <= KEYFRAME_STEP_BUDGET_M


def test_whole_song_from_an_audio_file(pipeline, tmp_path):
    from dancegen.audio import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(bpm=120, seconds=7.3, sample_rate=22050)
    song = write_wav(tmp_path / "song.wav", samples, 22050)
    assert pipeline(song, seed=0).num_frames == 219  # ceil(7.3 s × 30 fps): the whole song
    assert pipeline(song, start=1.0, seconds=2.0, seed=0).num_frames == 60
    with pytest.raises(ArgumentError, match="7 s from 1 s runs past the end of song.wav.*at most 6.30"):
        pipeline(song, start=1.0, seconds=7.0)
    with pytest.raises(ArgumentError, match="past the end"):
        pipeline(song, start=8.0)


def test_free_text_goes_through_the_genre_classifier(pipeline, music, monkeypatch):
    """The prompt is classified within the model's own genres; the chosen genre's prompt
    embedding drives generation and the choice is recorded."""
    import dancegen.data.genre_classifier as classifier

    seen = {}

    def fake_predict(text, vocabulary=None):
        seen["text"], seen["genres"] = text, vocabulary.genres
        return "popping", 0.8

    monkeypatch.setattr(classifier, "predict_genre", fake_predict)
    motion = pipeline(music, seconds=1.0, seed=5, prompt="robotic isolations that hit every beat")
    assert seen == {"text": "robotic isolations that hit every beat", "genres": tuple(GENRES)}
    assert motion.metadata["genre"] == "popping" and motion.metadata["genre_probability"] == 0.8
    assert motion.metadata["prompt"] == "robotic isolations that hit every beat"
    explicit = pipeline(music, seconds=1.0, seed=5, genre="popping")
    assert np.array_equal(motion.rotations, explicit.rotations)  # same genre, same seed, same dance
