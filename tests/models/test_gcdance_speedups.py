"""GCDance sampling shortcuts give the same numbers as the plain forward pass: the step cache
(music tokens, genre vector, cross-attention keys/values computed once per batch of
conditions), precomputed attention keys, and guidance passing the same tensors every step."""

from __future__ import annotations

import pytest
import torch

import dancegen.models.gcdance.network as network_module
from dancegen.models.blocks import Attention, RotaryEmbedding, apply_rotary
from dancegen.models.gcdance.config import GCDanceConfig, small_config
from dancegen.models.gcdance.network import GCDanceNetwork
from dancegen.sampling.guidance import guided

TOLERANCE = 1e-5


def tiny(skeleton: str) -> GCDanceConfig:
    config = small_config()
    config.network.skeleton = skeleton
    config.network.latent_dim, config.network.ff_dim, config.network.heads = 32, 64, 4
    config.network.body_layers = config.network.hand_layers = 2
    config.network.text_dim = 8
    return config


def random_network(config: GCDanceConfig, seed: int = 0) -> GCDanceNetwork:
    """Every weight random (FiLMs start at zero otherwise, hiding the conditions' paths)."""
    torch.manual_seed(seed)
    network = GCDanceNetwork(config, num_genres=3).eval()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0.0, 0.2)
    return network


def batch(config: GCDanceConfig, size: int = 6, frames: int = 10, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(size, frames, config.network.motion_dim, generator=generator)
    t = torch.randint(0, 1000, (size,), generator=generator)
    conditions = {
        "music": torch.randn(size, frames, config.music.total_dim, generator=generator),
        "text": torch.randn(size, config.network.text_dim, generator=generator),
    }
    drop = {"music": torch.tensor([False, True] * (size // 2)), "text": torch.tensor([False] * (size - 1) + [True])}
    return x, t, conditions, drop


@pytest.mark.parametrize("skeleton", ["smpl24", "smplx52"])
def test_step_cache_matches_the_plain_pass_at_every_step(skeleton):
    config = tiny(skeleton)
    network = random_network(config)
    x, t, conditions, drop = batch(config)
    with torch.inference_mode():
        plain = [network.forward_with_genre(x + k, t - k, conditions, drop) for k in range(3)]
        with network.step_cache():
            cached = [network.forward_with_genre(x + k, t - k, conditions, drop) for k in range(3)]
            assert len(network._step_cache) == 1  # one batch of conditions: computed once
            body, hands = next(iter(network._step_cache.values()))[1]
            assert body.memory_prefix is not None and len(body.memory_prefix) == 2
            assert hands is None if skeleton == "smpl24" else hands.memory_prefix is None
    for (expected, expected_logits), (got, got_logits) in zip(plain, cached):
        assert got.shape == expected.shape
        assert (got - expected).abs().max() <= TOLERANCE
        assert (got_logits - expected_logits).abs().max() <= TOLERANCE
    assert network._step_cache is None  # the cache lives only inside the context


def chunked_passes(network, x, t, conditions, drop) -> list[torch.Tensor]:
    """Two chunks × two drop patterns, sliced as guidance slices them (views of the same tensors)."""
    outputs = []
    for masks in (drop, {name: ~mask for name, mask in drop.items()}):
        for part in (slice(0, 3), slice(3, 6)):
            sliced = {name: value[part] for name, value in conditions.items()}
            outputs.append(network(x[part], t[part], sliced, {name: mask[part] for name, mask in masks.items()}))
    return outputs


@pytest.mark.parametrize("budget,entries", [(2**30, 4), (1, 1)])
def test_step_cache_tells_batches_apart_within_its_memory_budget(monkeypatch, budget, entries):
    config = tiny("smpl24")
    network = random_network(config, seed=3)
    x, t, conditions, drop = batch(config)
    monkeypatch.setattr(network_module, "STEP_CACHE_BYTES", budget)
    with torch.inference_mode():
        expected = chunked_passes(network, x, t, conditions, drop)
        with network.step_cache():
            got = [chunked_passes(network, x, t, conditions, drop) for _ in range(2)]
            # Each chunk and drop pattern computed once; over budget, only the first is kept
            # and the others are computed at every step.
            assert len(network._step_cache) == entries
    for step in got:
        for a, b in zip(expected, step):
            assert (a - b).abs().max() <= TOLERANCE


def test_attention_with_precomputed_keys_equals_the_full_context():
    torch.manual_seed(0)
    attention = Attention(16, heads=2).eval()
    rotary = RotaryEmbedding(8)(12, torch.device("cpu"))
    x, context = torch.randn(3, 12, 16), torch.randn(3, 15, 16)  # 12 frame tokens + 3 extra
    full = attention(x, context, rotary=rotary)
    prefix = attention.keys_values(context[:, :12], rotary)
    assert prefix[0].shape == (3, 2, 12, 8)
    assert torch.allclose(attention(x, context[:, 12:], rotary=rotary, context_prefix=prefix), full, atol=1e-6)
    partial = attention.keys_values(context[:, :5], rotary)  # a prefix shorter than the rotations
    assert torch.allclose(attention(x, context[:, 5:], rotary=rotary, context_prefix=partial), full, atol=1e-6)


def test_rotary_leaves_tokens_past_the_rotations_and_empty_rotations_alone():
    rotations = RotaryEmbedding(6)(9, torch.device("cpu"))
    x = torch.randn(2, 3, 11, 6)
    rotated = apply_rotary(x, rotations)
    assert torch.equal(rotated[..., 9:, :], x[..., 9:, :]) and not torch.allclose(rotated[..., 1:9, :], x[..., 1:9, :])
    assert torch.equal(apply_rotary(x, rotations[:0]), x)  # a prefix covering every rotated position


def test_guidance_passes_the_same_condition_tensors_every_step():
    seen = []

    def denoiser(x, t, conditions, drop):
        seen.append((conditions["music"].data_ptr(), drop["music"].data_ptr()))
        return x * (1 + 2 * drop["music"][:, None].float())  # 3x without music, x with it

    music = torch.randn(4, 3)
    model_fn = guided(denoiser, {"music": music}, {"music": 2.0}, ["music"], chunk_size=3)
    x = torch.randn(4, 3)
    first = model_fn(x, torch.zeros(4))
    second = model_fn(x, torch.zeros(4))
    assert torch.equal(first, second) and torch.allclose(first, -x)  # (1 − 2)·3x + 2·x
    assert len(seen) == 6 and seen[:3] == seen[3:]  # 8 inputs in chunks of 3, same tensors again
