"""The T2M transformer, the ControlNet-style adapters, the residual transformer and the
straight-through Gumbel-softmax."""

from __future__ import annotations

import pytest
import torch
from mosaic_fixtures import TEXT_DIM, tiny_config

from dancegen.models.mosaic.kinematic import gumbel_softmax_straight_through
from dancegen.models.mosaic.network import POSE_SIGNAL_DIM, MosaicNetwork

TOKENS, FRAMES = 8, 30


@pytest.fixture
def network(tmp_path):
    torch.manual_seed(0)
    return MosaicNetwork(tiny_config(tmp_path)).eval()


def inputs(generator_seed: int = 0):
    generator = torch.Generator().manual_seed(generator_seed)
    tokens = torch.randint(0, 33, (2, TOKENS), generator=generator)  # 32 codes + [MASK]
    text = torch.randn(2, TEXT_DIM, generator=generator)
    music = torch.randn(2, FRAMES, 35, generator=generator)
    pose = torch.randn(2, FRAMES, POSE_SIGNAL_DIM, generator=generator)
    return tokens, {"text": text, "music": music, "pose": pose}


def test_fresh_adapters_leave_the_t2m_logits_exactly_unchanged(network):
    tokens, conditions = inputs()
    plain = network.t2m(tokens, conditions["text"])
    with_adapters = network.base_logits(tokens, conditions)
    assert plain.shape == (2, TOKENS, 32)
    assert torch.equal(plain, with_adapters)
    # ...and once its zero layers have learned something, the adapter does change them.
    torch.nn.init.normal_(network.music_adapter.zero[0].weight, std=0.1)
    assert not torch.allclose(plain, network.base_logits(tokens, conditions))


def test_a_dropped_modality_is_the_same_as_an_absent_one(network):
    torch.manual_seed(1)
    for linear in (*network.music_adapter.zero, *network.pose_adapter.zero):
        torch.nn.init.normal_(linear.weight, std=0.1)
    tokens, conditions = inputs()
    drop = {"music": torch.tensor([True, False]), "pose": torch.tensor([True, True]), "text": torch.tensor([True, False])}
    logits = network.base_logits(tokens, conditions, drop)
    unconditional = network.base_logits(tokens[:1], {})
    music_only = network.base_logits(tokens[1:], {"text": conditions["text"][1:], "music": conditions["music"][1:]})
    assert torch.allclose(logits[:1], unconditional, atol=1e-5)
    assert torch.allclose(logits[1:], music_only, atol=1e-5)


def test_adapters_start_as_a_copy_of_the_t2m_layers_once(network):
    adapter = network.pose_adapter
    assert not bool(adapter.initialised)
    adapter.initialise_from(network.t2m)
    for ours, theirs in zip(adapter.layers.state_dict().values(), network.t2m.layers.state_dict().values()):
        assert torch.equal(ours, theirs)
    with torch.no_grad():
        network.t2m.layers[0].ff[1].weight.add_(1.0)
    adapter.initialise_from(network.t2m)  # already initialised: kept
    assert not torch.equal(adapter.layers[0].ff[1].weight, network.t2m.layers[0].ff[1].weight)


def test_residual_transformer_reads_only_the_layers_below(network):
    generator = torch.Generator().manual_seed(3)
    codes = torch.randint(0, 32, (2, TOKENS, 3), generator=generator)
    _, conditions = inputs()
    layer = torch.tensor([1, 2])
    logits = network.residual_logits(codes, layer, conditions["text"], conditions["music"])
    assert logits.shape == (2, TOKENS, 32)
    changed = codes.clone()
    changed[:, :, 1:] = (changed[:, :, 1:] + 1) % 32  # layers 1, 2: item 0 (layer 1) reads neither, item 1 reads 1
    again = network.residual_logits(changed, layer, conditions["text"], conditions["music"])
    assert torch.allclose(again[0], logits[0], atol=1e-6) and not torch.allclose(again[1], logits[1])


def test_straight_through_gumbel_softmax_is_one_hot_with_gradients():
    logits = torch.randn(2, 5, 7, requires_grad=True)
    sample = gumbel_softmax_straight_through(logits, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(sample.detach().sum(-1), torch.ones(2, 5))
    assert set(sample.detach().unique().tolist()) == {0.0, 1.0}
    (sample * torch.arange(7.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    again = gumbel_softmax_straight_through(logits, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(again, sample)  # seeded: reproducible
