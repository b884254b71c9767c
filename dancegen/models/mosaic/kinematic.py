"""Kinematic losses through token sampling (DanceMosaic supplementary, eqs. 8-13).

The adapters predict token logits; to put a loss on the motion those tokens make, a token is
drawn with the straight-through Gumbel-softmax (forward: the one-hot argmax of the perturbed
logits; backward: the softmax's gradient), looked up in the base codebook, summed with the
clip's own residual layers, decoded by the frozen tokenizer decoder, de-normalised and turned
into joint positions by the hml263 codec's differentiable recovery (`decode_positions_torch`).

    sampler = TokenMotion(tokenizer, codec, shift, scale)
    positions = sampler.positions(sampler.sample_one_hot(logits, 1.0, generator), residual_codes, frames)
    terms = kinematic_losses(positions, target_positions, contacts, threshold)
"""

from __future__ import annotations

import torch
from torch import nn

from dancegen.models.mosaic.tokenizer import MotionTokenizer

Tensor = torch.Tensor
# Feet among the 22 body joints in hml263's contact order: left ankle, left toe, right ankle, right toe.
FOOT_JOINTS = (7, 10, 8, 11)
GUMBEL_EPS = 1e-10


def gumbel_softmax_straight_through(logits: Tensor, temperature: float = 1.0,
                                    generator: torch.Generator | None = None) -> Tensor:
    """One-hot samples (..., K) whose gradient is the tempered softmax's (Jang et al. 2017)."""
    uniform = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
    gumbel = -torch.log(-torch.log(uniform + GUMBEL_EPS) + GUMBEL_EPS)
    soft = torch.softmax((logits + gumbel) / temperature, dim=-1)
    hard = torch.nn.functional.one_hot(soft.argmax(-1), logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


class TokenMotion(nn.Module):
    """Soft base tokens (+ the clip's residual layers) -> joint positions (B, T, 22, 3), differentiable."""

    def __init__(self, codec, shift: Tensor, scale: Tensor):
        super().__init__()
        self.codec = codec
        self.register_buffer("shift", shift.float(), persistent=False)
        self.register_buffer("scale", scale.float(), persistent=False)

    def feature_positions(self, features: Tensor) -> Tensor:
        """Normalised hml263 features (..., T, D) -> joint positions (..., T, 22, 3) in metres."""
        return self.codec.decode_positions_torch(features * self.scale + self.shift)

    def latent(self, tokenizer: MotionTokenizer, one_hot: Tensor, residual_codes: Tensor | None) -> Tensor:
        """(B, N, C): the one-hot base tokens' code vectors plus the residual layers' (fixed) ones."""
        latent = one_hot @ tokenizer.codebooks[0]
        if residual_codes is not None and residual_codes.shape[-1]:
            residual = torch.stack([tokenizer.codebooks[q + 1][residual_codes[..., q]]
                                    for q in range(residual_codes.shape[-1])]).sum(0)
            latent = latent + residual.detach()
        return latent

    def positions(self, tokenizer: MotionTokenizer, one_hot: Tensor, residual_codes: Tensor | None,
                  frames: int) -> Tensor:
        return self.feature_positions(tokenizer.decode_latent(self.latent(tokenizer, one_hot, residual_codes), frames))


def kinematic_losses(predicted: Tensor, target: Tensor, contacts: Tensor, threshold: float) -> dict[str, Tensor]:
    """Joint positions, velocity, acceleration (mean squared error) and foot contact (planted feet
    of the data must not slide in the prediction); positions (B, T, J, 3), contacts (B, T, 4)."""
    velocity = predicted[:, 1:] - predicted[:, :-1]
    target_velocity = target[:, 1:] - target[:, :-1]
    acceleration = velocity[:, 1:] - velocity[:, :-1]
    target_acceleration = target_velocity[:, 1:] - target_velocity[:, :-1]
    planted = (contacts[:, :-1] > threshold).to(predicted.dtype)  # (B, T-1, 4)
    foot_speed = velocity[:, :, list(FOOT_JOINTS)].pow(2).sum(-1)  # (B, T-1, 4)
    return {
        "positions": (predicted - target).pow(2).mean(),
        "velocity": (velocity - target_velocity).pow(2).mean(),
        "acceleration": (acceleration - target_acceleration).pow(2).mean(),
        "foot": (foot_speed * planted).sum() / planted.sum().clamp(min=1.0),
    }


def pose_discrepancy(predicted: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """D(P, P̂): mean joint-position error (metres) over the valid entries; positions
    (B, T, J, 3), valid (B, T, J) bool. Zero (still in the graph) when nothing is valid."""
    weight = valid.to(predicted.dtype)
    error = (predicted - target).norm(dim=-1)
    return (error * weight).sum() / weight.sum().clamp(min=1.0)
