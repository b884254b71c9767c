"""Noise schedules: the β_t of the forward process q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I).

A schedule is just numbers; it knows nothing of networks or sampling. Four named schedules:

- `linear`: DDPM (Ho et al. 2020, sec. 4): β linear from 1e-4 to 0.02, 1000 steps. Same
  numbers as diffusers' `beta_schedule="linear"` for any step count.
- `cosine`: improved DDPM (Nichol & Dhariwal 2021, eq. 17), offset s = 0.008, β clipped at
  0.999, 1000 steps. This is EDGE's and GCDance's schedule (diffusers' `squaredcos_cap_v2`).
- `lda`: Listen, Denoise, Action! (Alexanderson et al. 2023): β linear from 0.01 to 0.7 over
  150 steps (`noise_schedule_start/end`, `n_noise_schedule` in LDA's dance hparams).
- `lrcm`: the same linear 0.01 → 0.7 β spread over 200 steps, LRCM's variant of LDA's schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dancegen.errors import ArgumentError

# Ho et al. 2020, sec. 4 (T = 1000).
DDPM_BETA_START = 1e-4
DDPM_BETA_END = 0.02
DDPM_STEPS = 1000
# Nichol & Dhariwal 2021, eq. 17 and the clipping note below it.
COSINE_OFFSET = 0.008
COSINE_MAX_BETA = 0.999
# LDA hparams/diffusion_dance_LDA.yaml: noise_schedule_start/end, n_noise_schedule.
LDA_BETA_START = 0.01
LDA_BETA_END = 0.7
LDA_STEPS = 150
LRCM_STEPS = 200

SCHEDULE_NAMES = ("linear", "cosine", "lda", "lrcm")


@dataclass(frozen=True)
class NoiseSchedule:
    """β_t for t = 0 … N−1 (float64, for exact cumulative products)."""

    name: str
    betas: torch.Tensor

    @property
    def num_steps(self) -> int:
        return self.betas.shape[0]

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """ᾱ_t = ∏_{s ≤ t} (1 − β_s)."""
        return torch.cumprod(1.0 - self.betas, dim=0)

    def signal_to_noise(self) -> torch.Tensor:
        alphas_cumprod = self.alphas_cumprod
        return alphas_cumprod / (1.0 - alphas_cumprod)


def linear_betas(start: float, end: float, steps: int) -> torch.Tensor:
    return torch.linspace(start, end, steps, dtype=torch.float64)


def cosine_betas(steps: int, offset: float = COSINE_OFFSET, max_beta: float = COSINE_MAX_BETA) -> torch.Tensor:
    """β_t = 1 − ᾱ(t+1)/ᾱ(t) with ᾱ(t) = cos²(((t/N) + s)/(1 + s) · π/2)."""

    def alpha_bar(fraction: float) -> float:
        return math.cos((fraction + offset) / (1 + offset) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), max_beta) for i in range(steps)]
    return torch.tensor(betas, dtype=torch.float64)


def make_schedule(name: str, num_steps: int | None = None) -> NoiseSchedule:
    """A named schedule; `num_steps` overrides its published step count."""
    if num_steps is not None and num_steps < 2:
        raise ArgumentError("num_steps", f"a schedule needs at least 2 steps, got {num_steps}")
    if name == "linear":
        betas = linear_betas(DDPM_BETA_START, DDPM_BETA_END, num_steps or DDPM_STEPS)
    elif name == "cosine":
        betas = cosine_betas(num_steps or DDPM_STEPS)
    elif name == "lda":
        betas = linear_betas(LDA_BETA_START, LDA_BETA_END, num_steps or LDA_STEPS)
    elif name == "lrcm":
        betas = linear_betas(LDA_BETA_START, LDA_BETA_END, num_steps or LRCM_STEPS)
    else:
        raise ArgumentError("schedule", f"unknown noise schedule {name!r}", f"choose one of {', '.join(SCHEDULE_NAMES)}")
    return NoiseSchedule(name, betas)
