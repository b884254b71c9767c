"""The shared blocks and the GCDance network: shapes, conditioning paths, experts, sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dancegen.models.blocks import FiLM, RotaryEmbedding, SinusoidalEmbedding, apply_rotary
from dancegen.models.gcdance.config import paper_config, small_config
from dancegen.models.gcdance.network import GCDanceNetwork
from dancegen.models.gcdance.config import GCDanceConfig
from dancegen.motion.normalize import Normalizer
from dancegen.models.gcdance.task import GCDanceModule


def tiny(skeleton: str = "smpl24") -> GCDanceConfig:
    config = small_config()
    config.network.skeleton = skeleton
    config.network.latent_dim, config.network.ff_dim, config.network.heads = 32, 64, 2
    config.network.body_layers = config.network.hand_layers = 1
    config.network.text_dim = 8
    return config


def inputs(config: GCDanceConfig, batch: int = 2, frames: int = 12, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, config.network.motion_dim, generator=generator)
    t = torch.randint(0, 1000, (batch,), generator=generator)
    conditions = {
        "music": torch.randn(batch, frames, config.music.total_dim, generator=generator),
        "text": torch.randn(batch, config.network.text_dim, generator=generator),
    }
    return x, t, conditions


def test_blocks_sinusoids_film_identity_and_rotary_relativity():
    embedding = SinusoidalEmbedding(8)(torch.tensor([0, 5]))
    assert embedding.shape == (2, 8) and torch.allclose(embedding[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    film = FiLM(4, 6)
    x = torch.randn(3, 5, 6)
    assert torch.equal(film(x, torch.randn(3, 4)), x)  # zero-initialised: starts as the identity
    rotations = RotaryEmbedding(4)(10, torch.device("cpu"))
    q, k = torch.randn(4), torch.randn(4)

    def score(m: int, n: int) -> float:
        rq = apply_rotary(q.expand(1, 1, 10, 4), rotations)[0, 0, m]
        rk = apply_rotary(k.expand(1, 1, 10, 4), rotations)[0, 0, n]
        return float(rq @ rk)

    assert score(7, 4) == pytest.approx(score(3, 0), abs=1e-5)  # only the offset matters
    assert score(5, 5) == pytest.approx(float(q @ k), abs=1e-5)
    extra = torch.randn(1, 1, 12, 4)
    rotated = apply_rotary(extra, rotations)
    assert torch.equal(rotated[..., 10:, :], extra[..., 10:, :])  # tokens past the frames stay put
    assert torch.allclose(rotated.norm(dim=-1), extra.norm(dim=-1), atol=1e-5)


def test_body_only_network_on_smpl24():
    config = tiny()
    network = GCDanceNetwork(config, num_genres=5)
    assert network.hands is None and config.network.motion_dim == 151
    x, t, conditions = inputs(config)
    prediction, logits = network.forward_with_genre(x, t, conditions)
    assert prediction.shape == x.shape and logits.shape == (2, 5)
    for frames in (7, 40):  # rotary positions: any window length runs
        assert network(*inputs(config, frames=frames)[:2], inputs(config, frames=frames)[2]).shape[1] == frames


def test_dropped_conditions_use_the_null_embeddings():
    config = tiny()
    network = GCDanceNetwork(config).eval()
    x, t, conditions = inputs(config)
    drop_all = {"music": torch.tensor([True, True]), "text": torch.tensor([True, True])}
    dropped = network(x, t, conditions, drop_all)
    assert torch.allclose(dropped, network(x, t, {"music": None, "text": None}), atol=1e-6)
    assert not torch.allclose(dropped, network(x, t, conditions), atol=1e-4)
    # Dropping is per item: item 1 keeps its music.
    partial = network(x, t, conditions, {"music": torch.tensor([True, False])})
    assert torch.allclose(partial[1], network(x, t, conditions)[1], atol=1e-6)
    assert torch.allclose(partial[0], network(x, t, {"music": None, "text": conditions["text"]})[0], atol=1e-6)
    # The genre prompt reaches the output (through its memory token, before FiLM has learned).
    other_text = dict(conditions, text=torch.randn(2, 8, generator=torch.Generator().manual_seed(9)))
    assert not torch.allclose(network(x, t, other_text), network(x, t, conditions), atol=1e-5)


def test_hand_expert_follows_the_body_on_52_joints():
    config = tiny("smplx52")
    network = GCDanceNetwork(config).eval()
    assert (config.network.motion_dim, config.network.body_dim, config.network.hand_dim) == (319, 139, 180)
    x, t, conditions = inputs(config)
    base = network(x, t, conditions)
    moved_hands = x.clone()
    moved_hands[..., 139:] += 1.0
    changed = network(moved_hands, t, conditions)
    assert torch.allclose(changed[..., :139], base[..., :139], atol=1e-6)  # the body ignores the hands
    moved_body = x.clone()
    moved_body[..., :139] += 1.0
    assert not torch.allclose(network(moved_body, t, conditions)[..., 139:], base[..., 139:], atol=1e-4)


def test_config_sizes():
    small, paper = GCDanceNetwork(small_config(), 10), GCDanceNetwork(paper_config(), 16)
    assert 1.0e6 < small.num_parameters() < 3.0e6  # ≤ 25 MB checkpoints with room to spare
    assert 80e6 < paper.num_parameters() < 95e6  # the paper's ~88 M


def test_paper_config_runs_one_training_step():
    config = paper_config()
    torch.manual_seed(0)
    dim = config.network.motion_dim
    normalizer = Normalizer("meanstd", np.zeros(dim), np.ones(dim))
    module = GCDanceModule(config, normalizer, torch.randn(16, config.network.text_dim))
    optimizer = torch.optim.AdamW(module.network.parameters(), lr=1e-4)
    frames = config.data.window_frames
    assert frames == 120
    clean = torch.zeros(1, frames, dim)
    clean[..., 7:] = torch.tensor([1.0, 0, 0, 0, 1, 0]).repeat(52)  # identity rotations
    batch = {"motion": clean, "music": torch.randn(1, frames, config.music.total_dim), "genre": torch.tensor([3])}
    losses = module(batch, torch.Generator().manual_seed(0))
    total = sum(config.loss.weights.model_dump()[name] * value for name, value in losses.items())
    before = module.network.body.output.weight.detach().clone()
    total.backward()
    optimizer.step()
    assert set(losses) == {"simple", "velocity", "fk", "foot", "genre"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert not torch.equal(before, module.network.body.output.weight)


def test_the_foot_term_fires_on_the_datas_contact_labels():
    """EDGE's rule holds feet still only where the model predicts contact > 0.95, which a model
    predicting soft contacts never does (dancegen 0.1's foot term sat at zero); the labels fire."""
    import torch

    from dancegen.models.gcdance.losses import GCDanceLoss
    from dancegen.motion.codecs import get_codec
    from dancegen.skeleton import smpl24

    config = small_config()
    codec = get_codec("smpl6d", smpl24())
    frames = 12
    clean = torch.zeros(1, frames, codec.dim)
    clean[..., 7:] = torch.tensor([1.0, 0, 0, 0, 1.0, 0]).repeat(24)  # rest pose
    clean[..., :4] = 1.0  # planted throughout
    predicted = clean.clone()
    predicted[..., 4] = torch.linspace(0, 0.3, frames)  # the root (and feet) slide 3 cm a frame
    predicted[..., :4] = 0.6  # a soft contact prediction
    shift, scale = torch.zeros(codec.dim), torch.ones(codec.dim)
    config.loss.foot_contacts = "labels"
    labels = GCDanceLoss(smpl24(), shift, scale, config.loss)(predicted, clean, predicted, clean)
    config.loss.foot_contacts = "predicted"
    edge = GCDanceLoss(smpl24(), shift, scale, config.loss)(predicted, clean, predicted, clean)
    assert edge["foot"] == 0.0
    assert float(labels["foot"]) == pytest.approx((0.3 / 11) ** 2 / 3, rel=1e-4)  # x moves, y and z do not
