"""Inpainting: generate the unknown part of a motion around a known part.

GCDance eq. 15 (after EDGE and RePaint): after every denoising step to timestep t−1, the known
region is overwritten by the known motion noised to t−1,

    x_{t−1} = m ⊙ q(x_known, t−1) + (1 − m) ⊙ x_{t−1},

so the network always sees a consistent noisy picture, and at the last step (t−1 = clean) the
known region is exactly the known motion. Masks are over (frames, channels) of the model's
feature layout: temporal masks pin whole frames (keyframes, continuations), channel masks pin
features over time (locked joints); they combine with `|`.

A mask may also be a float blend weight m ∈ [0, 1] per element (a soft temporal mask around a
keyframe, `sampling.inbetween`): the same update with m as the weight, so an element of weight
1 is replaced and one of weight 0 is left alone exactly as with a boolean mask, and weights in
between pull the sample part of the way towards the known motion at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch

from dancegen.sampling.diffusion import GaussianDiffusion

Tensor = torch.Tensor


def frame_mask(num_frames: int, dim: int, frames: Iterable[int] | slice) -> Tensor:
    """(T, D) mask that is True on whole frames."""
    mask = torch.zeros(num_frames, dim, dtype=torch.bool)
    mask[frames if isinstance(frames, slice) else list(frames), :] = True
    return mask


def channel_mask(num_frames: int, dim: int, channels: Iterable[int] | slice) -> Tensor:
    """(T, D) mask that is True on the given feature channels in every frame."""
    mask = torch.zeros(num_frames, dim, dtype=torch.bool)
    mask[:, channels if isinstance(channels, slice) else list(channels)] = True
    return mask


@dataclass
class Inpainting:
    """A `GaussianDiffusion.sample` constraint pinning `known` where `mask` is True (bool), or
    blending it in with weight `mask` (float, in [0, 1]).

    known, mask: (B, T, D) or (T, D) (broadcast over the batch), in the model's feature space.
    """

    diffusion: GaussianDiffusion
    known: Tensor
    mask: Tensor

    def __call__(self, x: Tensor, t: int, generator: torch.Generator | None = None) -> Tensor:
        if not bool(self.mask.any()):
            return x
        known = self.known.to(device=x.device, dtype=x.dtype).expand_as(x)
        noised = self.diffusion.noise_to(known.contiguous(), t, generator)
        if self.mask.dtype == torch.bool:
            return torch.where(self.mask.to(x.device).expand_as(x), noised, x)
        weight = self.mask.to(device=x.device, dtype=x.dtype).expand_as(x)
        # Exact at both ends (1·a + 0·b = a for finite values): weight-1 elements equal the
        # boolean mask's result bit for bit, weight-0 elements are untouched.
        return weight * noised + (1 - weight) * x
