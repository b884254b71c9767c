"""Independent (per-modality) guidance composition, on logits and on denoisers."""

from __future__ import annotations

import pytest
import torch

from dancegen.errors import ArgumentError
from dancegen.sampling.guidance import combine_independent, guidance_terms, guided, guided_logits

ORDER = ("text", "audio", "pose")
WEIGHTS = {"text": 2.0, "audio": 3.5, "pose": 1.5}


def _chain_reference(outputs_by_kept, order, weights):
    """The chain formula written out: y(∅) + Σ_i w_i (y(m_1..m_i) − y(m_1..m_{i−1}))."""
    result = outputs_by_kept[frozenset()]
    for depth, name in enumerate(order):
        result = result + weights.get(name, 1.0) * (
            outputs_by_kept[frozenset(order[: depth + 1])] - outputs_by_kept[frozenset(order[:depth])]
        )
    return result


def _network(effects, seed=0):
    """Logits = base(tokens) + a random non-additive function of which modalities are kept."""
    generator = torch.Generator().manual_seed(seed)
    table = torch.randn(64, 5, generator=generator)
    calls = []

    def network_fn(tokens, conditions, drop):
        calls.append({name: mask.clone() for name, mask in drop.items()})
        logits = table[tokens].clone()
        key = torch.zeros(tokens.shape[0])
        for index, (name, value) in enumerate(conditions.items()):
            keep = (~drop[name]).float()
            logits = logits + keep[:, None, None] * effects[name] * value[:, None, :]
            key = key + keep * (index + 1) ** 2
        return logits + torch.sin(key)[:, None, None]  # interactions: guidance must not be additive-only

    return network_fn, calls


def _conditions(batch, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(batch, 5, generator=generator) for name in ORDER}


def test_guidance_terms_independent_and_chain_unchanged():
    terms = guidance_terms(ORDER, WEIGHTS, "independent")
    assert terms == [(1.0 - 7.0, frozenset()), (2.0, frozenset({"text"})), (3.5, frozenset({"audio"})), (1.5, frozenset({"pose"}))]
    assert guidance_terms(ORDER, {"text": 0.5, "audio": 0.5, "pose": 0.0}, "independent") == [
        (0.5, frozenset({"text"})),
        (0.5, frozenset({"audio"})),
    ]
    assert guidance_terms(ORDER, WEIGHTS) == guidance_terms(ORDER, WEIGHTS, "chain")
    assert [c for c, _ in guidance_terms(ORDER, WEIGHTS)] == [-1.0, -1.5, 2.0, 1.5]
    with pytest.raises(ArgumentError, match="composition"):
        guidance_terms(ORDER, WEIGHTS, "sum")


def test_combine_independent_is_the_formula():
    generator = torch.Generator().manual_seed(0)
    outputs = {key: torch.randn(2, 4, 8, generator=generator) for key in (None, *ORDER)}
    expected = (1 - 7.0) * outputs[None] + 2.0 * outputs["text"] + 3.5 * outputs["audio"] + 1.5 * outputs["pose"]
    assert torch.allclose(combine_independent(outputs, WEIGHTS), expected, atol=1e-5)
    half = {"text": 0.4, "audio": 0.6}
    assert torch.allclose(
        combine_independent({"text": outputs["text"], "audio": outputs["audio"]}, half),
        0.4 * outputs["text"] + 0.6 * outputs["audio"],
    )
    with pytest.raises(ArgumentError, match="unconditional"):
        combine_independent({"text": outputs["text"]}, {"text": 2.0})


def test_guided_logits_batches_passes_with_their_drop_masks():
    effects = {"text": 1.0, "audio": -0.5, "pose": 2.0}
    network_fn, calls = _network(effects)
    conditions = _conditions(3)
    tokens = torch.randint(0, 64, (3, 7), generator=torch.Generator().manual_seed(2))
    logits = guided_logits(network_fn, conditions, WEIGHTS, ORDER)(tokens)
    assert len(calls) == 1  # one batched pass of 4 × 3
    drop = calls[0]
    assert {name: mask.shape for name, mask in drop.items()} == {name: (12,) for name in ORDER}
    # pass order: ∅, text alone, audio alone, pose alone
    for index, name in enumerate(ORDER):
        kept = [not bool(drop[name][p * 3]) for p in range(4)]
        assert kept == [p == index + 1 for p in range(4)]
        assert all((drop[name][p * 3 : p * 3 + 3] == drop[name][p * 3]).all() for p in range(4))
    single = {
        key: network_fn(tokens, conditions, {n: torch.full((3,), n != key) for n in ORDER}) for key in (None, *ORDER)
    }
    assert torch.allclose(logits, combine_independent(single, WEIGHTS), atol=1e-5)
    chunked = guided_logits(network_fn, conditions, WEIGHTS, ORDER, chunk_size=5)(tokens)
    assert torch.allclose(chunked, logits, atol=1e-6)
    assert [len(next(iter(c.values()))) for c in calls[-3:]] == [5, 5, 2]


def test_guided_logits_chain_matches_the_chain_formula():
    network_fn, _ = _network({"text": 1.0, "audio": 0.3, "pose": -1.0}, seed=4)
    conditions = _conditions(2, seed=5)
    tokens = torch.randint(0, 64, (2, 6), generator=torch.Generator().manual_seed(6))
    logits = guided_logits(network_fn, conditions, WEIGHTS, ORDER, composition="chain")(tokens)
    outputs = {
        frozenset(ORDER[:depth]): network_fn(tokens, conditions, {n: torch.full((2,), n not in ORDER[:depth]) for n in ORDER})
        for depth in range(4)
    }
    assert torch.allclose(logits, _chain_reference(outputs, ORDER, WEIGHTS), atol=1e-5)


def test_guided_chain_default_unchanged_and_independent_option():
    def denoiser(x, t, conditions, drop):
        out = x * 0.7 + t[:, None, None] * 0.01
        for index, (name, value) in enumerate(conditions.items()):
            keep = (~drop[name]).float()[:, None, None]
            out = out + keep * torch.tanh(value[:, None, :] * (index + 1) + out)
        return out

    generator = torch.Generator().manual_seed(7)
    x = torch.randn(3, 4, 5, generator=generator)
    t = torch.arange(3)
    conditions = _conditions(3, seed=8)
    result = guided(denoiser, conditions, WEIGHTS, ORDER)(x, t)
    assert torch.equal(result, guided(denoiser, conditions, WEIGHTS, ORDER, composition="chain")(x, t))
    outputs = {
        frozenset(ORDER[:d]): denoiser(x, t, conditions, {n: torch.full((3,), n not in ORDER[:d]) for n in ORDER})
        for d in range(4)
    }
    assert torch.allclose(result, _chain_reference(outputs, ORDER, WEIGHTS), atol=1e-5)
    independent = guided(denoiser, conditions, WEIGHTS, ORDER, composition="independent")(x, t)
    single = {
        key: denoiser(x, t, conditions, {n: torch.full((3,), n != key) for n in ORDER}) for key in (None, *ORDER)
    }
    assert torch.allclose(independent, combine_independent(single, WEIGHTS), atol=1e-5)
