"""DanceMosaic's five stages on the shared loop: falling losses, what each stage freezes, the
paper size, and the HumanML3D-format loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mosaic_fixtures import TEXT_DIM, tiny_config, train_tiny

from dancegen.models.mosaic.config import STAGES, paper_config
from dancegen.models.mosaic.humanml3d import HumanML3DDataset
from dancegen.models.mosaic.task import MosaicModule, MosaicTask


def stage_state(module: MosaicModule, name: str) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in module.network.component(name).state_dict().items()}


def test_every_stage_trains_with_a_falling_loss(tmp_path, mosaic_data):
    result = train_tiny(tiny_config(tmp_path, steps=40), mosaic_data)
    assert [r["stage"] for r in result.history] == [name for name in STAGES for _ in range(40)]
    for stage in STAGES:
        records = [r for r in result.history if r["stage"] == stage]
        term = "reconstruction" if stage == "tokenizer" else "ce"
        losses = [r[term] for r in records]
        assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5]), (stage, losses[:5], losses[-5:])
    music = [r for r in result.history if r["stage"] == "music_adapter"][0]
    assert {"positions", "velocity", "acceleration", "foot"} <= set(music)
    assert "pose" in [r for r in result.history if r["stage"] == "pose_adapter"][0]


@pytest.mark.parametrize("trained", ["t2m", "music_adapter"])
def test_each_stage_freezes_everything_else(tmp_path, mosaic_data, trained):
    config = tiny_config(tmp_path, steps=0, **{trained: 3})
    torch.manual_seed(config.train.seed)  # the loop's initialisation, again
    initial = MosaicTask(config, data=mosaic_data).build_module()
    train_tiny(config, mosaic_data)
    after = MosaicModule(config, mosaic_data.motion_normalizer, torch.from_numpy(mosaic_data.genre_embeddings))
    state = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)["module"]
    after.load_state_dict(state, strict=False)
    for name in ("tokenizer", "t2m", "music_adapter", "pose_adapter", "residual"):
        before, now = stage_state(initial, name), stage_state(after, name)
        changed = [key for key in before if not torch.equal(before[key], now[key])]
        if name == trained:
            assert changed, f"{name} did not train"
        else:
            assert not changed, f"{name} changed in stage {trained}: {changed[:3]}"
    if trained == "music_adapter":  # it started as a copy of the (frozen) T2M layers
        assert bool(after.network.music_adapter.initialised)


def test_text_dropout_and_conditions(mosaic_data):
    module = MosaicTask(tiny_config_for_module(), data=mosaic_data).build_module()
    batch = {"genre": torch.tensor([0, 1, -1, 2]), "prompt": torch.tensor([-1, -1, -1, -1])}
    text, drop = module.text(batch, torch.Generator().manual_seed(0), dropout=0.0)
    assert text.shape == (4, TEXT_DIM) and drop.tolist() == [False, False, True, False]
    assert torch.equal(text[1], module.genre_embeddings[1])
    _, always = module.text(batch, torch.Generator().manual_seed(0), dropout=1.0)
    assert always.all()


def tiny_config_for_module():
    from pathlib import Path

    return tiny_config(Path("unused"))


@pytest.mark.slow
def test_the_paper_config_builds_and_takes_a_step(mosaic_data):
    config = paper_config()
    config.transformer.text_dim = TEXT_DIM
    module = MosaicModule(config, mosaic_data.motion_normalizer, torch.from_numpy(mosaic_data.genre_embeddings))
    sizes = {name: sum(p.numel() for p in module.network.component(name).parameters()) for name in STAGES}
    assert module.network.tokenizer.codebooks.shape == (6, 512, 512)
    assert len(module.network.t2m.layers) == 8 and module.network.t2m.token_embedding.embedding_dim == 384
    batch = {"motion": torch.from_numpy(np.stack([m[:64] for m in mosaic_data.motion[:2]])),
             "music": torch.from_numpy(np.stack([m[:64] for m in mosaic_data.music[:2]])),
             "genre": torch.tensor([0, 1]), "prompt": torch.tensor([-1, -1])}
    for stage in ("tokenizer", "music_adapter"):
        losses = module(batch, torch.Generator().manual_seed(0), stage)
        sum(losses.values()).backward()
        assert all(torch.isfinite(value) for value in losses.values())
    assert sizes["t2m"] > 10_000_000


def write_humanml3d(root, clips: int = 3, frames: int = 40):
    rng = np.random.default_rng(0)
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    for index in range(clips):
        np.save(root / "new_joint_vecs" / f"{index:06d}.npy", rng.normal(size=(frames, 263)).astype(np.float32))
        (root / "texts" / f"{index:06d}.txt").write_text(
            f"a person spins #a/DET person/NOUN#0.0#0.0\nsomeone jumps {index} times#x#0.0#0.0\n")
    (root / "train.txt").write_text("000000\n000001\n")
    return root


class FakeEncoder:
    name = "fake"

    def encode(self, texts):
        return np.stack([np.full(TEXT_DIM, len(text), np.float32) for text in texts])


def test_humanml3d_folders_load_as_windows(tmp_path):
    root = write_humanml3d(tmp_path / "hml")
    dataset = HumanML3DDataset(root, window=16, stride=8, text_encoder=FakeEncoder(), text_dim=TEXT_DIM, split="train")
    assert len(dataset.clips) == 2 and len(dataset) == 2 * 4  # starts 0, 8, 16, 24 of 40 frames
    assert dataset.captions == ["a person spins", "someone jumps 0 times", "someone jumps 1 times"]
    assert dataset.prompt_embeddings.shape == (3, TEXT_DIM)
    item = dataset[1]
    assert item["motion"].shape == (16, 263) and item["genre"] == -1
    assert dataset.captions[int(item["prompt"])] in ("a person spins", "someone jumps 0 times")
    stacked = np.concatenate([clip.features for clip in dataset.clips])
    assert np.allclose(stacked.mean(0), 0, atol=1e-5)  # normalised with statistics fitted on the clips
    # The T2M stage trains on it as on dance windows.
    config = tiny_config(tmp_path)
    module = MosaicModule(config, dataset.normalizer, torch.zeros(1, TEXT_DIM), torch.from_numpy(dataset.prompt_embeddings))
    batch = {key: torch.stack([dataset[i][key] for i in range(4)]) for key in item}
    losses = module(batch, torch.Generator().manual_seed(0), "t2m")
    assert set(losses) == {"ce"} and torch.isfinite(losses["ce"])
