"""Inpainting: generate the unknown part of a motion around a known part.

GCDance eq. 15 (after EDGE and RePaint): after every denoising step to timestep t−1, the known
region is overwritten by the known motion noised to t−1,

    x_{t−1} = m ⊙ q(x_known, t−1) + (1 − m) ⊙ x_{t−1},

so the network always sees a consistent noisy picture, and at the last step (t−1 = clean) the
known region is exactly the known motion. Masks are boolean over (frames, channels) of the
model's feature layout: temporal masks pin whole frames (keyframes, continuations), channel
masks pin features over time (locked joints); they combine with `|`.
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
    """A `GaussianDiffusion.sample` constraint pinning `known` where `mask` is True.

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
        return torch.where(self.mask.to(x.device).expand_as(x), noised, x)
