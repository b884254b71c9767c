"""Inference-time optimisation of input embeddings against a pose discrepancy."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dancegen.errors import ArgumentError
from dancegen.sampling.token_optimisation import OptimisationResult, optimise_inputs, pose_discrepancy

FRAMES, JOINTS, DIM = 6, 4, 16


def test_pose_discrepancy_hand_computed():
    predicted = torch.zeros(1, 2, 2, 3)
    target = torch.zeros(1, 2, 2, 3)
    target[0, 0, 0] = torch.tensor([3.0, 4.0, 0.0])  # distance 5
    target[0, 0, 1] = torch.tensor([1.0, 0.0, 0.0])  # distance 1
    target[0, 1, 0] = torch.tensor([0.0, 0.0, 2.0])  # distance 2, invalid below
    valid = torch.tensor([[[True, True], [False, True]]])
    assert float(pose_discrepancy(predicted, target, valid)) == pytest.approx((5 + 1 + 0) / 3)
    assert float(pose_discrepancy(predicted, target, torch.ones_like(valid))) == pytest.approx(8 / 4)
    none = pose_discrepancy(predicted, target, torch.zeros_like(valid))
    assert float(none) == 0.0 and not math.isnan(float(none))


def _toy_problem(seed=0):
    """A frozen linear 'decoder' from per-frame embeddings to joint positions, and a target."""
    torch.manual_seed(seed)
    decoder = nn.Linear(DIM, JOINTS * 3)
    generator = torch.Generator().manual_seed(seed)
    target_embeddings = torch.randn(1, FRAMES, DIM, generator=generator)
    with torch.no_grad():
        target = decoder(target_embeddings).reshape(1, FRAMES, JOINTS, 3)
    valid = torch.rand(1, FRAMES, JOINTS, generator=generator) < 0.7
    initial = torch.randn(1, FRAMES, DIM, generator=generator)
    return decoder, target, valid, initial


def _objective(decoder, target, valid):
    return lambda embeddings: pose_discrepancy(decoder(embeddings).reshape(1, FRAMES, JOINTS, 3), target, valid)


def test_optimise_inputs_lowers_the_discrepancy_and_leaves_the_decoder_alone():
    decoder, target, valid, initial = _toy_problem()
    weight_before = decoder.weight.detach().clone()
    decoder.bias.requires_grad_(False)  # a flag that must come back as it was
    result = optimise_inputs(initial, _objective(decoder, target, valid), parameters_to_freeze=decoder.parameters())
    assert isinstance(result, OptimisationResult)
    assert len(result.losses) == 197 and result.losses[-1] < result.losses[0] / 20
    assert result.values.shape == initial.shape and not result.values.requires_grad
    assert result.values.grad_fn is None
    with torch.no_grad():
        assert float(_objective(decoder, target, valid)(result.values)) == pytest.approx(result.losses[-1], rel=1e-5)
    assert decoder.weight.requires_grad and not decoder.bias.requires_grad
    assert decoder.weight.grad is None and decoder.bias.grad is None
    assert torch.equal(decoder.weight, weight_before)
    assert not initial.requires_grad


def test_optimise_inputs_works_under_inference_mode_and_stops_early():
    decoder, _, _, initial = _toy_problem(seed=1)
    with torch.inference_mode():
        target = decoder(torch.randn(1, FRAMES, DIM)).reshape(1, FRAMES, JOINTS, 3)  # inference tensors
        valid = torch.ones(1, FRAMES, JOINTS, dtype=torch.bool)
        start = initial * 1.0
        result = optimise_inputs(start, _objective(decoder, target, valid), iterations=60, parameters_to_freeze=decoder.parameters())
        assert not torch.is_grad_enabled()
    assert result.losses[-1] < result.losses[0] / 3
    assert decoder.weight.requires_grad and decoder.weight.grad is None
    early = optimise_inputs(initial, _objective(decoder, target.clone(), valid.clone()), tolerance=result.losses[0] / 2)
    assert len(early.losses) < 60 and early.losses[-1] <= result.losses[0] / 2
    assert all(loss > result.losses[0] / 2 for loss in early.losses[:-1])


def test_optimise_inputs_restores_flags_when_the_objective_fails():
    decoder, _, _, initial = _toy_problem()

    def failing(values):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        optimise_inputs(initial, failing, parameters_to_freeze=decoder.parameters())
    assert decoder.weight.requires_grad and decoder.bias.requires_grad
    with pytest.raises(ArgumentError, match="initial"):
        optimise_inputs(torch.zeros(2, dtype=torch.long), failing)
