"""Inference-time optimisation of a model's inputs against a pose objective.

After decoding, the input token embeddings e can be refined so that the decoded poses P̂ = G(e)
match target poses P (keyframes, a reference, locked joints) while the networks stay frozen:

    e* = argmin_e D(P, G(e)),   D = mean over valid (frame, joint) of ‖P − P̂‖₂

by Adam, 196 iterations at learning rate 0.06 (DanceMosaic's inference-time token
optimisation; the idea follows DNO, Karunratanakul et al. 2024, on diffusion noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from torch import nn

from dancegen.errors import ArgumentError

Tensor = torch.Tensor

LEARNING_RATE = 0.06
ITERATIONS = 196


@dataclass(frozen=True)
class OptimisationResult:
    """The optimised inputs (detached) and the objective along the way.

    `losses[0]` is the objective at the initial values, `losses[-1]` at the returned ones.
    """

    values: Tensor
    losses: list[float]


def pose_discrepancy(predicted: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """D(P, P̂): mean Euclidean distance over the valid entries of (B, T, J, 3) positions.

    `valid` is (B, T, J) bool; 0 when nothing is valid (so an empty constraint costs nothing).
    """
    distance = torch.linalg.vector_norm(predicted - target, dim=-1)
    # A float copy: a mask made under inference_mode could not be saved for backward.
    weight = valid.to(distance.dtype).clone()
    return (distance * weight).sum() / weight.sum().clamp(min=1.0)


def optimise_inputs(
    initial: Tensor,
    objective: Callable[[Tensor], Tensor],
    learning_rate: float = LEARNING_RATE,
    iterations: int = ITERATIONS,
    parameters_to_freeze: Iterable[nn.Parameter] = (),
    tolerance: float | None = None,
) -> OptimisationResult:
    """Minimise the scalar `objective(values)` over `values`, starting at `initial`, with Adam.

    Gradients are enabled inside (outside any caller's `torch.inference_mode()` / `no_grad()`),
    and only `values` receives them (`torch.autograd.grad`): no parameter's `.grad` changes.
    `parameters_to_freeze` get `requires_grad=False` while it runs (no graph is built for
    them) and their flags are restored afterwards. Tensors the objective closes over that were
    made under inference mode must only be read, not saved for backward (e.g. multiplied by
    `values`): clone them first. Stops early once the loss is at most `tolerance`.
    """
    if not initial.is_floating_point():
        raise ArgumentError("initial", f"must be a floating tensor, got {initial.dtype}")
    if iterations < 0:
        raise ArgumentError("iterations", f"must not be negative, got {iterations}")
    frozen = list(parameters_to_freeze)
    flags = [parameter.requires_grad for parameter in frozen]
    try:
        with torch.inference_mode(False), torch.enable_grad():
            for parameter in frozen:
                parameter.requires_grad_(False)
            values, losses = _descend(initial, objective, learning_rate, iterations, tolerance)
    finally:
        for parameter, flag in zip(frozen, flags):
            parameter.requires_grad_(flag)
    return OptimisationResult(values.detach(), losses)


def _descend(
    initial: Tensor,
    objective: Callable[[Tensor], Tensor],
    learning_rate: float,
    iterations: int,
    tolerance: float | None,
) -> tuple[Tensor, list[float]]:
    # clone() outside inference mode turns an inference tensor into an ordinary one.
    values = initial.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([values], lr=learning_rate)
    losses: list[float] = []
    for _ in range(iterations):
        loss = objective(values)
        losses.append(float(loss.detach()))
        if tolerance is not None and losses[-1] <= tolerance:
            return values, losses
        (values.grad,) = torch.autograd.grad(loss, [values])
        optimiser.step()
    with torch.no_grad():
        losses.append(float(objective(values)))
    return values, losses
