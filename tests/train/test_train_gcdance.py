"""GCDance training: a tiny model learns, every balancing mode steps, resumption is exact,
checkpoints carry what generation needs and refuse what they must."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gcdance_fixtures import GENRES, TEXT_DIM, tiny_config, train_tiny

from dancegen.bundle import load_bundle
from dancegen.errors import InputFileError, MissingResourceError
from dancegen.train.checkpoint import load_training_checkpoint
from dancegen.train.ema import EMA
from dancegen.train.loop import EpochBatches


def test_tiny_model_trains_with_a_falling_loss(tmp_path, dance_data):
    config = tiny_config(tmp_path, max_steps=60, checkpoint_every=1000)
    result = train_tiny(config, dance_data)
    simple = [record["simple"] for record in result.history]
    assert len(simple) == 60 and result.step == 60
    assert np.mean(simple[-10:]) < 0.5 * np.mean(simple[:10])
    for term in ("simple", "velocity", "fk", "foot", "genre"):  # every term is logged
        assert all(np.isfinite(record[term]) for record in result.history)
    logged = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == 60 and '"fk"' in logged[-1]


@pytest.mark.parametrize("balance", ["nash", "aligned"])
def test_multi_task_balancing_runs_a_step(tmp_path, dance_data, balance):
    config = tiny_config(tmp_path, max_steps=2, checkpoint_every=1000)
    config.loss.balance = balance
    result = train_tiny(config, dance_data)
    weights = {k: v for k, v in result.history[-1].items() if k.startswith("weight_")}
    assert set(weights) == {f"weight_{t}" for t in ("simple", "velocity", "fk", "foot", "genre")}
    assert all(np.isfinite(w) and w >= 0 for w in weights.values())
    assert weights != {f"weight_{t}": w for t, w in config.loss.weights.model_dump().items()}  # not the fixed ones


def test_resumed_run_takes_the_same_next_step(tmp_path, dance_data):
    uninterrupted = train_tiny(tiny_config(tmp_path / "a", max_steps=5, checkpoint_every=100), dance_data)
    first = train_tiny(tiny_config(tmp_path / "b", max_steps=3, checkpoint_every=100), dance_data)
    assert [r["simple"] for r in first.history] == [r["simple"] for r in uninterrupted.history[:3]]
    resumed = train_tiny(tiny_config(tmp_path / "b", max_steps=5, checkpoint_every=100), dance_data,
                         resume=tmp_path / "b" / "run" / "last.ckpt")
    assert resumed.step == 5 and len(resumed.history) == 2
    for after_crash, straight in zip(resumed.history, uninterrupted.history[3:]):
        assert after_crash == straight  # every loss term, bit for bit


def test_checkpoints_carry_config_normalizers_genres_and_version(tmp_path, dance_data):
    config = tiny_config(tmp_path, max_steps=2, checkpoint_every=1)
    train_tiny(config, dance_data)
    state = load_training_checkpoint(tmp_path / "run" / "last.ckpt")
    assert state["kind"] == "training" and state["step"] == 2 and state["family"] == "gcdance"
    assert (state["stage"], state["stage_step"]) == (0, 2)  # the one stage, done
    assert state["config"]["network"]["latent_dim"] == 32
    assert state["code_version"].startswith("dancegen ")
    assert set(state["assets"]["normalizers"]) == {"motion", "music"}
    bundle = load_bundle(tmp_path / "run" / "model.pt")
    header = bundle.header
    assert header.family == "gcdance" and header.name == "gcdance-run" and header.skeleton == "smpl24"
    assert header.genres == GENRES and header.training["steps"] == 2 and header.training["stages"] == ["denoiser"]
    assert header.modalities == ["music", "text"] and header.supports["keyframes"] and not header.supports["hands"]
    assert bundle.assets["genre_embeddings"].shape == (3, TEXT_DIM)
    network = bundle.component("network")
    assert torch.equal(network["body.output.weight"], state["ema"]["weights"]["network.body.output.weight"])
    assert np.allclose(bundle.normalizers["motion"]["shift"].numpy(), dance_data.motion_normalizer.shift)


def test_checkpoint_loading_errors_are_one_line(tmp_path):
    with pytest.raises(MissingResourceError, match="training checkpoint not found"):
        load_training_checkpoint(tmp_path / "missing.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputFileError, match="not a readable checkpoint"):
        load_training_checkpoint(garbage)

    class Hostile:
        def __reduce__(self):
            return (print, ("this must never run",))

    hostile = tmp_path / "hostile.ckpt"
    torch.save({"kind": "training", "config": {}, "payload": Hostile()}, hostile)
    with pytest.raises(InputFileError, match="refused") as error:
        load_training_checkpoint(hostile)
    assert "\n" not in str(error.value)
    plain = tmp_path / "plain.ckpt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(InputFileError, match="not a training checkpoint"):
        load_training_checkpoint(plain)


def test_epoch_batches_resume_mid_epoch_and_split_ranks():
    batches = EpochBatches(size=10, batch_size=3, seed=4)
    stream = batches.from_step(0)
    straight = [next(stream) for _ in range(7)]
    resumed = batches.from_step(4)
    assert [next(resumed) for _ in range(3)] == straight[4:]
    first_epoch = sum(straight[:3], [])
    assert all(len(b) == 3 for b in straight) and len(set(first_epoch)) == 9  # no repeats in an epoch
    ranks = [EpochBatches(10, 2, 4, rank, 2).from_step(0) for rank in (0, 1)]
    first = [next(r) for r in ranks]
    assert len(first[0]) == len(first[1]) == 2 and not set(first[0]) & set(first[1])


def test_ema_tracks_with_warmup():
    model = torch.nn.Linear(2, 1)
    initial = model.weight.detach().clone()
    ema = EMA(model, decay=0.99)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # first update decays by (1 + 0) / (10 + 0) = 0.1
    assert torch.allclose(ema.model.weight, 0.1 * initial + 0.9)
    assert ema.current_decay() == pytest.approx(2 / 11)
    other = EMA(torch.nn.Linear(2, 1), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.updates == 1 and other.decay == 0.99 and torch.equal(other.model.weight, ema.model.weight)
