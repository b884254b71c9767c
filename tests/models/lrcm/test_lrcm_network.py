"""The LRCM network, MTMM and losses: shapes, memory on/off, conditioning paths, the derivative
losses by hand, configs and sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dancegen.errors import ArgumentError
from dancegen.families import load_family_config
from dancegen.models.lrcm.config import LossConfig, LRCMConfig, paper_config, small_config
from dancegen.models.lrcm.losses import derivative_losses
from dancegen.models.lrcm.network import LRCMNetwork, pack_text

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def tiny(**memory) -> LRCMConfig:
    config = LRCMConfig()
    net = config.network
    net.residual_layers, net.residual_channels, net.embedding_dim, net.heads = 2, 16, 16, 2
    net.text_dim, net.text_bottleneck, net.text_channels, net.dropout = 8, 8, 16, 0.0
    net.memory.hidden, net.memory.d_state, net.memory.frames = 8, 4, 4
    for key, value in memory.items():
        setattr(net.memory, key, value)
    return config


def inputs(batch=2, frames=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, t = torch.randn(batch, frames, 76, generator=g), torch.randint(0, 200, (batch,), generator=g)
    text = pack_text(torch.randn(batch, 8, generator=g), torch.randn(batch, frames, 8, generator=g), frames)
    memory = torch.randn(batch, 4, 76, generator=g)
    return x, t, {"music": torch.randn(batch, frames, 3, generator=g), "text": text}, memory


def randomise(module: torch.nn.Module, seed: int = 1) -> None:
    """Give zero-initialised outputs random weights so every path shows in the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if not parameter.any():
                parameter.copy_(torch.randn(parameter.shape, generator=g) * 0.1)


def test_shapes_and_any_length():
    torch.manual_seed(0)
    network = LRCMNetwork(tiny()).eval()
    for frames in (5, 12, 33):
        x, t, conditions, memory = inputs(frames=frames)
        assert network(x, t, conditions, memory=memory).shape == x.shape
        assert network(x, t, conditions).shape == x.shape


def test_memory_switch():
    torch.manual_seed(0)
    with_memory = LRCMNetwork(tiny()).eval()
    x, t, conditions, memory = inputs()
    # Zero-initialised fusion: an untrained MTMM is the identity (phase 3 starts at phase 2's model).
    assert torch.equal(with_memory(x, t, conditions, memory=memory), with_memory(x, t, conditions))
    randomise(with_memory)
    first = with_memory(x, t, conditions, memory=memory)
    assert not torch.allclose(first, with_memory(x, t, conditions, memory=memory * 2), atol=1e-5)
    # No memory input: exactly the network without an MTMM (same weights).
    without = LRCMNetwork(tiny(enabled=False)).eval()
    without.load_state_dict({k: v for k, v in with_memory.state_dict().items() if ".memory." not in k and not k.startswith("memory.")})
    plain = without(x, t, conditions)
    assert torch.equal(with_memory(x, t, conditions), plain)
    assert torch.equal(without(x, t, conditions, memory=memory), plain)  # MTMM off: memory ignored
    # Without memory the MTMM parameters take no part.
    with_memory(x, t, conditions).pow(2).mean().backward()
    assert all(p.grad is None for p in with_memory.memory_parameters())


def test_conditioning_paths():
    torch.manual_seed(0)
    network = LRCMNetwork(tiny(enabled=False)).eval()
    randomise(network)
    x, t, conditions, _ = inputs()
    both = torch.tensor([True, True])
    dropped = network(x, t, conditions, {"music": both, "text": both})
    assert torch.allclose(dropped, network(x, t, {"music": None, "text": None}), atol=1e-6)
    assert not torch.allclose(dropped, network(x, t, conditions), atol=1e-4)
    partial = network(x, t, conditions, {"text": torch.tensor([True, False])})
    assert torch.allclose(partial[1], network(x, t, conditions)[1], atol=1e-6)
    # Phase 1 (use_local=False): the local text does not matter; otherwise it does.
    other = dict(conditions, text=conditions["text"].clone())
    other["text"][..., 8:] += 1.0
    assert torch.allclose(network(x, t, conditions, use_local=False), network(x, t, other, use_local=False), atol=1e-6)
    assert not torch.allclose(network(x, t, conditions), network(x, t, other), atol=1e-4)


def test_derivative_losses_match_a_hand_computation():
    predicted = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [4.0, 2.0]]])
    real = torch.tensor([[[0.0, 0.0], [0.0, 1.0], [0.0, 3.0], [0.0, 6.0]]])
    config = LossConfig(pattern=0.6, scale=0.4)
    terms = derivative_losses(predicted, real, config)
    # velocity: predicted steps (1,0), (0,2), (3,0) → units (1,0), (0,1), (1,0), norms 1, 2, 3;
    # real steps (0,1), (0,2), (0,3) → units (0,1) ×3, norms 1, 2, 3.
    direction = ((1 + 1) + 0 + (1 + 1)) / 6  # mean over 3 frames × 2 channels
    assert terms["velocity"].item() == pytest.approx(0.6 * direction + 0.4 * 0.0)
    # acceleration: predicted (-1,2), (3,-2); real (0,1), (0,1).
    p = np.array([[-1, 2], [3, -2]], float)
    r = np.array([[0, 1], [0, 1]], float)
    pn, rn = np.linalg.norm(p, axis=1), np.linalg.norm(r, axis=1)
    expected = 0.6 * ((p / pn[:, None] - r / rn[:, None]) ** 2).mean() + 0.4 * (np.log(pn.mean()) - np.log(rn.mean())) ** 2
    assert terms["acceleration"].item() == pytest.approx(expected, rel=1e-5)
    j = np.array([4.0, -4.0])  # predicted jerk; the real jerk is (0, 0), its norm floored at 1e-6
    assert terms["jerk"].item() == pytest.approx(0.6 * ((j / np.linalg.norm(j)) ** 2).mean()
                                                  + 0.4 * (np.log(np.linalg.norm(j)) - np.log(1e-6)) ** 2, rel=1e-4)
    keep = torch.tensor([False])
    assert derivative_losses(predicted, real, config, keep)["velocity"].item() == 0.0


def test_config_checks_and_presets():
    with pytest.raises(ArgumentError, match="music.dim: is 5 but lda3 has 3 columns"):
        load_family_config(None, ["music.dim=5"], default_family="lrcm")
    with pytest.raises(ArgumentError, match="network.codec: unknown codec"):
        load_family_config(None, ["network.codec=bvh"], default_family="lrcm")
    with pytest.raises(ArgumentError, match="unknown modality 'pose'"):
        load_family_config(None, ["train.condition_dropout.pose=0.1"], default_family="lrcm")
    assert load_family_config(CONFIGS / "lrcm_small.yaml") == small_config()
    assert load_family_config(CONFIGS / "lrcm_paper.yaml") == paper_config()
    assert load_family_config(None, ["network.codec=smpl6d"], default_family="lrcm").network.motion_dim == 151
    size = LRCMNetwork(small_config()).num_parameters()
    assert 0.5e6 < size < 3e6


@pytest.mark.slow
def test_paper_size_builds_and_takes_a_training_step():
    config = paper_config()
    torch.manual_seed(0)
    network = LRCMNetwork(config)
    assert 280e6 < network.num_parameters() < 350e6
    x, t, conditions, _ = inputs(batch=1, frames=16)
    conditions["text"] = pack_text(torch.randn(1, 384), None, 16)
    memory = torch.randn(1, 5, 76)
    optimizer = torch.optim.SGD(network.parameters(), lr=1e-3)
    loss = network(x, t, conditions, memory=memory).pow(2).mean()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("kind", ["epsilon", "v", "x0"])
def test_every_output_kind_gives_the_true_noise_from_its_true_target(kind):
    from dancegen.models.lrcm.network import epsilon_from_output

    generator = torch.Generator().manual_seed(0)
    clean, noise = torch.randn(3, 5, 4, generator=generator), torch.randn(3, 5, 4, generator=generator)
    signal = torch.tensor([0.99, 0.5, 1e-3])  # ᾱ_t of each item
    a, s = signal.sqrt().reshape(-1, 1, 1), (1 - signal).sqrt().reshape(-1, 1, 1)
    noisy = a * clean + s * noise
    target = {"epsilon": noise, "v": a * noise - s * clean, "x0": clean}[kind]
    assert torch.allclose(epsilon_from_output(target, noisy, signal, kind), noise, atol=1e-5)
