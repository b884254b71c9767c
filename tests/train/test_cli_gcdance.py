"""`dancegen train` and `dancegen generate`: configs, errors as one line, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from gcdance_fixtures import synthetic_clip

import json

import numpy as np

from dancegen.cli import main
from dancegen.cli.generate import parse_guidance
from dancegen.families import load_family_config
from dancegen.errors import ArgumentError
from dancegen.models.gcdance.config import GCDanceConfig, paper_config, small_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def test_shipped_configs_are_the_presets():
    assert load_family_config(CONFIGS / "gcdance_small.yaml") == small_config()
    assert load_family_config(CONFIGS / "gcdance_paper.yaml") == paper_config()
    tweaked = load_family_config(CONFIGS / "gcdance_small.yaml", ["train.max_steps=7", "loss.balance=aligned"])
    assert isinstance(tweaked, GCDanceConfig)
    assert tweaked.train.max_steps == 7 and tweaked.loss.balance == "aligned"


def test_help_lists_train_and_generate(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "train" in out and "generate" in out


def test_train_config_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("network:\n  latent_dims: 64\n")
    code, _, err = run(["train", "--config", str(bad)], capsys)
    assert code == 2 and "latent_dims" in err and err.count("\n") == 1
    code, _, err = run(["train", "--config", str(CONFIGS / "gcdance_small.yaml"), "train.max_steps=1"], capsys)
    assert code == 2 and "data.root: is not set" in err and err.count("\n") == 1
    code, _, err = run(["train", "loss.balance=magic"], capsys)
    assert code == 2 and "loss.balance" in err


def test_generate_input_errors_are_one_line(tmp_path, capsys, tiny_checkpoint):
    code, _, err = run(["generate", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "out.npz")], capsys)
    assert code == 2 and "no such music file" in err
    song = tmp_path / "song.wav"
    song.write_bytes(b"")
    code, _, err = run(["generate", str(song), "-o", str(tmp_path / "out.npz"), "--model", str(tmp_path / "none.pt")], capsys)
    assert code == 2 and "model file not found" in err and err.count("\n") == 1
    code, _, err = run(
        ["generate", str(song), "-o", str(tmp_path / "o.npz"), "--model", str(tiny_checkpoint), "--guidance", "music=lots"],
        capsys,
    )
    assert code == 2 and "--guidance" in err and not (tmp_path / "o.npz").exists()


def test_parse_guidance():
    assert parse_guidance("music=2.5, text=3") == {"music": 2.5, "text": 3.0}
    assert parse_guidance(None) == {}
    with pytest.raises(ArgumentError, match="no modality name"):
        parse_guidance("=2")


def write_song(path: Path, seconds: float, bpm: float = 120.0, seed: int = 0) -> Path:
    from dancegen.audio import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(bpm=bpm, seconds=seconds, sample_rate=22050, seed=seed)
    return write_wav(path, samples, 22050)


def test_generate_writes_the_requested_span(tmp_path, capsys, tiny_checkpoint):
    from dancegen.motion.io import load_motion
    from dancegen.motion.motion import Motion

    song = write_song(tmp_path / "song.wav", 5.0)
    out = tmp_path / "dance.npz"
    code, stdout, _ = run(
        ["generate", str(song), "--model", str(tiny_checkpoint), "--genre", "krump", "--seed", "1", "--steps", "2",
         "--guidance", "music=1.5,text=2", "-o", str(out), "--json", "-q"],
        capsys,
    )
    summary = json.loads(stdout)
    assert code == 0 and summary["frames"] == 150 and summary["genre"] == "krump" and summary["seed"] == 1
    motion = Motion.load_npz(out)
    assert motion.num_frames == 150 and motion.metadata["guidance"] == {"music": 1.5, "text": 2.0}

    reference = synthetic_clip(90, genre=0, seed=3)[0]
    reference_path = tmp_path / "reference.npz"
    reference.save_npz(reference_path)
    edited = tmp_path / "edited.npz"
    code, _, _ = run(
        ["generate", str(song), "--model", str(tiny_checkpoint), "--start", "1", "--seconds", "2", "--seed", "2",
         "--steps", "2", "--reference", str(reference_path), "--lock-joints", "upper_body", "-o", str(edited), "-q"],
        capsys,
    )
    assert code == 0
    motion = Motion.load_npz(edited)
    joints = [reference.skeleton.index(n) for n in ("head", "left_elbow", "right_wrist")]
    assert motion.num_frames == 60
    assert np.array_equal(motion.rotations[:, joints], reference.rotations[:60, joints])
    bvh = tmp_path / "dance.bvh"
    code, _, _ = run(["generate", str(song), "--model", str(tiny_checkpoint), "--seconds", "1", "--steps", "1",
                      "-o", str(bvh), "-q"], capsys)
    assert code == 0 and load_motion(bvh).num_frames == 30


def test_train_then_resume_then_generate_from_the_command_line(tmp_path, capsys):
    """A folder dataset on disk → `dancegen train` → `--resume` → `dancegen generate`."""
    from dancegen.data.annotations import Annotation, GlobalStyle, write_annotation

    data = tmp_path / "paired"
    data.mkdir()
    names = []
    for index, genre in enumerate(("salsa", "modern_ballet")):
        name = f"clip{index}"
        synthetic_clip(150, genre=index, seed=index)[0].save_npz(data / f"{name}.npz")
        write_song(data / f"{name}.wav", 5.0, bpm=100 + 20 * index, seed=index)
        write_annotation(Annotation(GlobalStyle(genre=genre)), data / f"{name}.annotation.json")
        names.append(name)
    (data / "splits").mkdir()
    (data / "splits" / "train.txt").write_text("\n".join(names) + "\n")
    out = tmp_path / "run"
    tiny = ["network.latent_dim=32", "network.ff_dim=64", "network.heads=2", "network.body_layers=1",
            "train.batch_size=4", "train.warmup_steps=0", "train.checkpoint_every=2", "sampling.steps=2"]
    code, stdout, err = run(
        ["train", "--config", str(CONFIGS / "gcdance_small.yaml"), f"data.root={data}", "train.max_steps=2", *tiny,
         "-o", str(out), "-q", "--json"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(stdout)["steps"] == 2 and (out / "model.pt").is_file() and (out / "config.yaml").is_file()
    code, stdout, err = run(["train", "--resume", str(out / "last.ckpt"), "train.max_steps=3", "-q", "--json"], capsys)
    assert code == 0 and json.loads(stdout)["steps"] == 3, err
    dance = tmp_path / "dance.npz"
    code, stdout, err = run(
        ["generate", str(data / "clip0.wav"), "--model", str(out / "model.pt"), "--genre", "salsa",
         "--seed", "0", "-o", str(dance), "-q", "--json"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(stdout)["frames"] == 150 and json.loads(stdout)["genre"] == "salsa"
