"""DanceMosaic end to end: a tiny model trained through all five stages, bundled, loaded by
`load_pipeline` and the CLI; exact frame counts, locked joints, keyframes, long songs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models" / "mosaic"))
from mosaic_fixtures import FPS, TEXT_DIM, synthetic_clip, synthetic_data, tiny_config  # noqa: E402

from cli_runner import run_cli  # noqa: E402
from dancegen.bundle import load_bundle, save_bundle  # noqa: E402
from dancegen.errors import ArgumentError  # noqa: E402
from dancegen.models.mosaic.task import MosaicTask  # noqa: E402
from dancegen.pipelines import load_pipeline  # noqa: E402
from dancegen.sampling.editing import body_part_joints  # noqa: E402
from dancegen.train.loop import train  # noqa: E402


class FakeEncoder:
    name = "fake"

    def encode(self, texts):
        return np.stack([np.random.default_rng(len(text)).normal(size=TEXT_DIM).astype(np.float32) for text in texts])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("mosaic")
    config = tiny_config(directory, steps=8)
    task = MosaicTask(config, data=synthetic_data())
    train(config, task=task, progress=False)
    path = save_bundle(task.bundle(task.build_module(), 40), directory / "fresh.pt")  # task.bundle on any module
    assert set(load_bundle(path).components) == {"tokenizer", "t2m", "music_adapter", "pose_adapter", "residual"}
    return directory / "run" / "model.pt"


@pytest.fixture(scope="module")
def pipeline(model):
    pipeline = load_pipeline(model)
    pipeline._text_encoder = FakeEncoder()  # no MiniLM in the unit tests
    return pipeline


@pytest.fixture(scope="module")
def music():
    return synthetic_clip(200, genre=1, seed=42)[1]  # (200, 35) raw features, 6.7 s


@pytest.mark.parametrize("seconds,frames", [(1.0, 30), (0.1, 3), (2.5, 75), (None, 200)])
def test_output_has_exactly_the_requested_frames(pipeline, music, seconds, frames):
    motion = pipeline(music, seconds=seconds, seed=0, genre="house")
    assert motion.num_frames == frames and motion.fps == FPS and motion.skeleton.name == "smpl24"
    assert np.isfinite(motion.rotations).all() and np.isfinite(motion.root_translation).all()


def test_seeds_prompts_and_guidance(pipeline, music):
    a = pipeline(music, seconds=1.5, seed=3, prompt="big arm swings")
    b = pipeline(music, seconds=1.5, seed=3, prompt="big arm swings")
    c = pipeline(music, seconds=1.5, seed=4, prompt="big arm swings")
    assert np.array_equal(a.rotations, b.rotations) and not np.allclose(a.rotations, c.rotations)
    assert a.metadata["prompt"] == "big arm swings" and a.metadata["family"] == "mosaic"
    genre = pipeline(music, seconds=1.5, seed=3, genre="krump")
    assert genre.metadata["prompt"] == "A person dances on Krump style."
    strong = pipeline(music, seconds=1.5, seed=3, genre="krump", guidance={"text": 6.0, "music": 0.0})
    assert not np.allclose(genre.rotations, strong.rotations)
    with pytest.raises(ArgumentError, match="speed is not a modality of mosaic"):
        pipeline(music, seconds=1.0, guidance={"speed": 1.0})


def test_locked_joints_follow_the_reference_exactly(pipeline, music):
    reference = synthetic_clip(90, genre=2, seed=7)[0]
    motion = pipeline(music, seconds=2.0, seed=0, reference=reference, lock_joints="lower_body")
    locked = body_part_joints(reference.skeleton, "lower_body")
    assert motion.num_frames == 60
    assert np.array_equal(motion.rotations[:, locked], reference.rotations[:60, locked])
    assert np.array_equal(motion.root_translation, reference.root_translation[:60])
    optimisation = motion.metadata["token_optimisation"]
    assert optimisation["last"] <= optimisation["first"]  # D(P, P̂) fell (or held) under Adam


def test_keyframes_are_met(pipeline, music, tmp_path):
    keys = tmp_path / "keys.json"
    quaternion = [0.0, 0.0, np.sin(0.4), np.cos(0.4)]
    keys.write_text(json.dumps({"keyframes": [
        {"time": 0.5, "rotations": {"left_elbow": quaternion}},
        {"time": 1.5, "root": [0.2, 0.9, 0.1], "rotations": {"head": [0, 0, 0, 1]}},
    ]}))
    motion = pipeline(music, seconds=2.0, seed=2, keyframes=keys)
    skeleton = motion.skeleton
    assert motion.num_frames == 60
    assert np.allclose(motion.rotations[15, skeleton.index("left_elbow")], quaternion, atol=1e-9)
    assert np.allclose(motion.root_translation[45], [0.2, 0.9, 0.1], atol=1e-9)
    # The pinned joints' positions: exactly the pose the keyframe asks for at its frame.
    positions = motion.joint_positions()
    assert np.linalg.norm(positions[45, 0] - [0.2, 0.9, 0.1]) < 1e-6


def test_long_songs_decode_in_segments(pipeline, music):
    """4 s of music with 1 s segments: four segments and three re-decoded seams."""
    motion = pipeline(music, seconds=4.0, seed=1, genre="popping")
    assert motion.num_frames == 120
    steps = np.linalg.norm(np.diff(motion.joint_positions(), axis=0), axis=-1)
    assert np.isfinite(steps).all()


def test_the_cli_generates_with_the_model(model, tmp_path, capsys):
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(110.0, 2.0, seed=2)
    song = write_wav(tmp_path / "song.wav", samples, sample_rate=22050)
    out = tmp_path / "x.npz"
    code, stdout, err = run_cli(["generate", song, "--model", model, "--out", out, "--seed", 1, "--genre", "house",
                                 "--guidance", "text=4,music=1,pose=1", "--json", "-q"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["family"] == "mosaic" and json.loads(stdout)["frames"] == 60
    from dancegen import Motion

    assert Motion.load_npz(out).num_frames == 60
