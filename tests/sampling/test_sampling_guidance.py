"""Multi-modal classifier-free guidance and training-time condition dropout."""

from __future__ import annotations

import pytest
import torch

from dancegen.errors import ArgumentError
from dancegen.sampling import condition_dropout, guidance_terms, guided

ORDER = ("music", "text", "pose")


def test_guidance_terms_reduce_to_plain_and_classic_cfg():
    assert guidance_terms(ORDER, {}) == [(1.0, frozenset(ORDER))]
    classic = guidance_terms(ORDER[:2], {"music": 2.5, "text": 2.5})
    assert classic == [(-1.5, frozenset()), (2.5, frozenset(ORDER[:2]))]
    terms = guidance_terms(ORDER, {"music": 2.0, "text": 3.0, "pose": 1.0})
    assert sum(c for c, _ in terms) == pytest.approx(1.0)
    assert [c for c, _ in terms] == [-1.0, -1.0, 2.0, 1.0]
    assert [sorted(kept) for _, kept in terms] == [[], ["music"], ["music", "text"], ["music", "pose", "text"]]
    with pytest.raises(ArgumentError, match="no modality named style"):
        guidance_terms(ORDER, {"style": 2.0})


def _additive_denoiser(effects):
    """Output = x + Σ_{kept m} effect_m · condition_m: guidance must scale each effect by w_m."""
    calls = []

    def denoiser(x, t, conditions, drop):
        calls.append(x.shape[0])
        out = x.clone()
        for name, value in conditions.items():
            keep = (~drop[name]).float().reshape(-1, 1, 1)
            out = out + keep * effects[name] * value.reshape(value.shape[0], 1, -1)
        return out

    return denoiser, calls


def test_guided_scales_each_modality_by_its_weight():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, 3, generator=generator)
    conditions = {"music": torch.randn(4, 3, generator=generator), "text": torch.randn(4, 3, generator=generator)}
    effects = {"music": 1.0, "text": -0.5}
    denoiser, calls = _additive_denoiser(effects)
    model_fn = guided(denoiser, conditions, {"music": 2.0, "text": 4.0}, ORDER)
    result = model_fn(x, torch.zeros(4, dtype=torch.long))
    expected = x + 2.0 * conditions["music"][:, None] * effects["music"] + 4.0 * conditions["text"][:, None] * effects["text"]
    assert torch.allclose(result, expected, atol=1e-5)
    assert calls == [12]  # three chain nodes in one batched pass

    chunked_fn = guided(denoiser, conditions, {"music": 2.0, "text": 4.0}, ORDER, chunk_size=5)
    assert torch.allclose(chunked_fn(x, torch.zeros(4, dtype=torch.long)), result, atol=1e-6)
    assert calls[1:] == [5, 5, 2]


def test_guided_skips_missing_modalities_and_unit_weights():
    x = torch.zeros(2, 3, 2)
    denoiser, calls = _additive_denoiser({"music": 1.0})
    model_fn = guided(denoiser, {"music": torch.ones(2, 2), "text": None}, {"text": 5.0}, ORDER)
    assert torch.allclose(model_fn(x, torch.zeros(2, dtype=torch.long)), torch.ones(2, 3, 2))
    assert calls == [2]  # weight 1 on music and text absent: a single conditional pass


def test_condition_dropout_rates_are_independent():
    masks = condition_dropout(20000, {"music": 0.25, "text": 0.5}, torch.Generator().manual_seed(0))
    assert masks["music"].dtype == torch.bool and masks["music"].shape == (20000,)
    assert float(masks["music"].float().mean()) == pytest.approx(0.25, abs=0.015)
    assert float(masks["text"].float().mean()) == pytest.approx(0.5, abs=0.015)
    both = float((masks["music"] & masks["text"]).float().mean())
    assert both == pytest.approx(0.125, abs=0.01)
