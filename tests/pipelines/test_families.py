"""The family registry end to end: a toy fourth family, registered from a test, trains with the
shared loop (two stages, freezing, exact resume across the stage boundary) and generates
through `dancegen generate --model` and `load_pipeline`, without touching shared code."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from cli_runner import run_cli
from toy_family import TOY, ToyConfig

from dancegen.families import get_family, load_family_config, register_family, unregister_family
from dancegen.errors import ArgumentError
from dancegen.train.loop import train


@pytest.fixture
def toy():
    register_family(TOY)
    yield TOY
    unregister_family("toy")


@pytest.fixture
def song(tmp_path):
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(110.0, 3.0, seed=2)
    return write_wav(tmp_path / "song.wav", samples, sample_rate=22050)


def toy_config(tmp_path, **toy) -> ToyConfig:
    return load_family_config(None, [f"toy.{k}={v}" for k, v in toy.items()] + [
        f"train.out_dir={tmp_path / 'run'}", "train.batch_size=16", "train.warmup_steps=0", "train.learning_rate=0.01",
        "train.log_every=1", "train.checkpoint_every=1000", "train.accelerator=cpu", "train.ema_decay=0.5",
    ], default_family="toy")


def test_the_registry_refuses_unknown_and_duplicate_families(toy):
    assert get_family("toy") is toy
    with pytest.raises(ArgumentError, match="unknown model family 'nope'.*gcdance"):
        get_family("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_family(type(toy)(**{**toy.__dict__, "description": "another"}))
    with pytest.raises(ArgumentError, match="toy.hidden: Input should be a valid integer"):
        load_family_config(None, ["toy.hidden=many"], default_family="toy")


def test_two_stages_train_what_they_say_with_a_falling_loss(tmp_path, toy):
    config = toy_config(tmp_path, encoder_steps=15, decoder_steps=40)
    result = train(config, progress=False)
    stages = [record["stage"] for record in result.history]
    assert stages == ["encoder"] * 15 + ["decoder"] * 40 and result.step == 55
    losses = [record["mse"] for record in result.history]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])

    state = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)
    assert (state["stage"], state["stage_step"], state["step"]) == (1, 40, 55)
    assert state["family"] == "toy" and state["config"]["toy"]["decoder_steps"] == 40
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == list(range(1, 56)) and logged[0]["stage"] == "encoder"


def test_each_stage_freezes_everything_else(tmp_path, toy):
    config = toy_config(tmp_path, encoder_steps=3, decoder_steps=0)
    task = toy.task_class()(config)
    train(config, task=task, progress=False)
    after_encoder = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)["module"]
    torch.manual_seed(config.train.seed)  # the run's initialisation, again
    initial = task.build_module().state_dict()
    assert not torch.equal(after_encoder["encoder.weight"], initial["encoder.weight"])
    assert torch.equal(after_encoder["decoder.weight"], initial["decoder.weight"])  # frozen in "encoder"


def test_a_run_stopped_at_a_stage_boundary_resumes_into_the_next_stage(tmp_path, toy):
    straight = train(toy_config(tmp_path / "a", encoder_steps=4, decoder_steps=5), progress=False)
    first = train(toy_config(tmp_path / "b", encoder_steps=4, decoder_steps=0), progress=False)
    resumed = train(toy_config(tmp_path / "b", encoder_steps=4, decoder_steps=5),
                    resume=tmp_path / "b" / "run" / "last.ckpt", progress=False)
    assert [r["stage"] for r in resumed.history] == ["decoder"] * 5 and resumed.step == 9
    assert first.history == straight.history[:4]
    assert resumed.history == straight.history[4:]  # bit for bit across the boundary


def test_metrics_log_is_cut_back_to_the_checkpoint_on_resume(tmp_path, toy):
    train(toy_config(tmp_path, encoder_steps=3, decoder_steps=0), progress=False)
    log = tmp_path / "run" / "metrics.jsonl"
    # A crashed run's leftovers: records past the checkpoint, and a line torn mid-write.
    log.write_text(log.read_text() + json.dumps({"step": 4, "mse": 9.0}) + "\n" + '{"step": 5, "ms')
    train(toy_config(tmp_path, encoder_steps=3, decoder_steps=3), resume=tmp_path / "run" / "last.ckpt", progress=False)
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert json.loads(log.read_text().splitlines()[3])["mse"] != 9.0


def test_toy_model_generates_through_the_cli_and_the_api(tmp_path, toy, song, capsys):
    config_file = tmp_path / "toy.yaml"
    config_file.write_text(yaml.safe_dump({"family": "toy", "toy": {"encoder_steps": 2, "decoder_steps": 2},
                                           "train": {"batch_size": 8, "warmup_steps": 0, "accelerator": "cpu",
                                                     "model_name": "toy-small"}}))
    code, out, err = run_cli(["train", "--config", config_file, "-o", tmp_path / "run", "-q", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["family"] == "toy" and json.loads(out)["steps"] == 4
    model = tmp_path / "run" / "model.pt"

    code, out, err = run_cli(["models", model, "--json"], capsys)
    listed = {entry["name"]: entry for entry in json.loads(out)}
    assert code == 0 and listed["toy-small"]["family"] == "toy" and listed["toy-small"]["supports"] == ["long_form"]
    assert listed["gcdance-small"]["default"]

    code, out, err = run_cli(["generate", song, "--model", model, "-o", tmp_path / "dance.npz", "--seconds", 2,
                              "--seed", 4, "--json", "-q", "--no-foot-lock"], capsys)
    assert code == 0, err
    assert json.loads(out)["family"] == "toy" and json.loads(out)["frames"] == 60
    from dancegen import Motion, load_pipeline

    written = Motion.load_npz(tmp_path / "dance.npz")
    direct = load_pipeline(model)(song, seconds=2, seed=4)
    assert written.num_frames == 60 and np.allclose(written.rotations, direct.rotations)

    code, out, err = run_cli(["generate", song, "--model", model, "-o", tmp_path / "x.npz", "--prompt", "salsa"], capsys)
    assert code == 2 and "does not support text" in err and err.count("\n") == 1
    assert not (tmp_path / "x.npz").exists()
