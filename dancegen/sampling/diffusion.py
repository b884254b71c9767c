"""Gaussian diffusion over motion features: the training objective and the DDPM/DDIM loop.

`GaussianDiffusion` turns any denoiser into a sampler. The denoiser is a plain function
`model_fn(x_t (B, T, D), t (B,)) -> output (B, T, D)` whose output is either the clean motion
(`prediction="x0"`, EDGE and GCDance) or the noise (`prediction="epsilon"`, DDPM and LDA).
Conditions, guidance and networks stay outside: callers bind them into `model_fn`.

Sampling is DDIM (Song et al. 2021, eq. 12) over a subsequence of timesteps; η = 1 over all
N steps is exactly DDPM ancestral sampling with the posterior variance β̃_t (Ho et al. 2020).
We compute the update ourselves rather than through diffusers' `DDIMScheduler`, whose step
assumes the previous timestep is t − N // steps; that disagrees with its own timestep list
whenever the step count does not divide N (LDA's 150 steps sampled in 40, say), and
inpainting must re-noise the known motion to exactly the timestep the sampler moves to.
The tests check both updates against diffusers where diffusers' assumption holds.

Constraints (inpainting, long-form window overlap) are functions `(x, t, generator) -> x`
applied to the initial noise and after every step; `t` is the noise level `x` now has, and
t = -1 means clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch
from tqdm.auto import tqdm

from dancegen.errors import ArgumentError, DanceGenError
from dancegen.sampling.schedules import NoiseSchedule, make_schedule

Tensor = torch.Tensor
Prediction = Literal["x0", "epsilon"]
ModelFn = Callable[[Tensor, Tensor], Tensor]
Constraint = Callable[[Tensor, int, "torch.Generator | None"], Tensor]

CLEAN = -1  # the "timestep" of noiseless data


@dataclass
class TrainingExample:
    """One draw of the forward process for a batch."""

    noisy: Tensor  # x_t (B, T, D)
    timesteps: Tensor  # t (B,) long
    noise: Tensor  # ε (B, T, D)
    target: Tensor  # what the denoiser must output: x_0 or ε


def _per_sample(values: Tensor, timesteps: Tensor, like: Tensor) -> Tensor:
    """Gather a per-timestep coefficient and shape it to broadcast over `like`."""
    gathered = values.to(like.device)[timesteps]
    return gathered.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)


class GaussianDiffusion:
    def __init__(self, schedule: NoiseSchedule, prediction: Prediction = "x0"):
        if prediction not in ("x0", "epsilon"):
            raise ArgumentError("prediction", f"unknown prediction target {prediction!r}", "use x0 or epsilon")
        self.schedule = schedule
        self.prediction = prediction
        self.alphas_cumprod = schedule.alphas_cumprod  # float64: coefficients are taken from here
        self._sqrt_alpha = self.alphas_cumprod.sqrt().float()
        self._sqrt_one_minus_alpha = (1.0 - self.alphas_cumprod).sqrt().float()

    @property
    def num_steps(self) -> int:
        return self.schedule.num_steps

    # --- forward process and training ----------------------------------------------------

    def add_noise(self, clean: Tensor, noise: Tensor, timesteps: Tensor) -> Tensor:
        """q(x_t | x_0): √ᾱ_t x_0 + √(1 − ᾱ_t) ε, one timestep per batch item."""
        return (
            _per_sample(self._sqrt_alpha, timesteps, clean) * clean
            + _per_sample(self._sqrt_one_minus_alpha, timesteps, clean) * noise
        )

    def training_example(self, clean: Tensor, generator: torch.Generator | None = None,
                         num_timesteps: int | None = None) -> TrainingExample:
        """Uniform timesteps (from the first `num_timesteps`, default all) and Gaussian noise for
        a batch of clean motions (B, T, D)."""
        batch = clean.shape[0]
        timesteps = torch.randint(0, num_timesteps or self.num_steps, (batch,), generator=generator, device=clean.device)
        noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
        noisy = self.add_noise(clean, noise, timesteps)
        target = clean if self.prediction == "x0" else noise
        return TrainingExample(noisy, timesteps, noise, target)

    def predicted_clean(self, output: Tensor, noisy: Tensor, timesteps: Tensor) -> Tensor:
        """x̂_0 from the denoiser output, per batch item (used by losses on ε-models)."""
        if self.prediction == "x0":
            return output
        sqrt_alpha = _per_sample(self._sqrt_alpha, timesteps, noisy)
        return (noisy - _per_sample(self._sqrt_one_minus_alpha, timesteps, noisy) * output) / sqrt_alpha

    # --- reverse process --------------------------------------------------------------------

    def sampling_timesteps(self, steps: int | None = None) -> list[int]:
        """Descending timesteps, "trailing" spacing: always starts at N − 1 (pure noise)."""
        steps = self.num_steps if steps is None else steps
        if not 1 <= steps <= self.num_steps:
            raise ArgumentError("--steps", f"must be between 1 and {self.num_steps}, got {steps}")
        stride = self.num_steps / steps
        return [int(round(self.num_steps - k * stride)) - 1 for k in range(steps)]

    def step(
        self,
        output: Tensor,
        noisy: Tensor,
        t: int,
        t_prev: int,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        clip_clean: float | None = None,
    ) -> Tensor:
        """One DDIM update from timestep t to t_prev (t_prev = -1: to clean data).

        `clip_clean`: clamp the clean estimate to ±clip_clean and take the noise from the
        clamped estimate (diffusers' `clip_sample`). An ε-model's clean estimate divides by √ᾱ_t,
        which on steep schedules (LRCM's ᾱ_T ≈ 1e-43) turns any error into a huge value; with
        normalised features a clamp of a few standard deviations keeps the sampler on the data.
        """
        alpha = float(self.alphas_cumprod[t])
        alpha_prev = 1.0 if t_prev == CLEAN else float(self.alphas_cumprod[t_prev])
        if self.prediction == "x0":
            clean = output
            noise = (noisy - alpha**0.5 * clean) / (1 - alpha) ** 0.5
        else:
            noise = output
            clean = (noisy - (1 - alpha) ** 0.5 * noise) / alpha**0.5
        if clip_clean is not None:
            clean = clean.clamp(-clip_clean, clip_clean)
            noise = (noisy - alpha**0.5 * clean) / (1 - alpha) ** 0.5
        # σ_t of DDIM eq. 16; η = 1 gives the DDPM posterior standard deviation.
        sigma = eta * ((1 - alpha_prev) / (1 - alpha) * (1 - alpha / alpha_prev)) ** 0.5
        direction = max(1 - alpha_prev - sigma**2, 0.0) ** 0.5
        previous = alpha_prev**0.5 * clean + direction * noise
        if sigma > 0:
            fresh = torch.randn(noisy.shape, generator=generator, device=noisy.device, dtype=noisy.dtype)
            previous = previous + sigma * fresh
        return previous

    @torch.no_grad()
    def sample(
        self,
        model_fn: ModelFn,
        noise: Tensor,
        *,
        steps: int | None = None,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        constraints: Sequence[Constraint] = (),
        progress: bool = False,
        clip_clean: float | None = None,
    ) -> Tensor:
        """Run the reverse process from `noise` (B, T, D) to clean features (`clip_clean`: see `step`)."""
        timesteps = self.sampling_timesteps(steps)
        x = noise
        for constrain in constraints:
            x = constrain(x, timesteps[0], generator)
        batch = x.shape[0]
        for index in tqdm(range(len(timesteps)), desc="denoising", disable=not progress, leave=False):
            t = timesteps[index]
            t_prev = timesteps[index + 1] if index + 1 < len(timesteps) else CLEAN
            output = model_fn(x, torch.full((batch,), t, device=x.device, dtype=torch.long))
            x = self.step(output, x, t, t_prev, eta, generator, clip_clean)
            for constrain in constraints:
                x = constrain(x, t_prev, generator)
        if not torch.isfinite(x).all():
            # ε-models amplify a poor noise estimate by 1/√α_t at every step: with steep
            # schedules (LRCM's β up to 0.7) an undertrained network diverges.
            raise DanceGenError("sampling diverged (the motion went to infinity): the model is probably undertrained; "
                                "train it longer or sample with DDIM (sampling.method=ddim)")
        return x

    def noise_to(self, clean: Tensor, t: int, generator: torch.Generator | None = None) -> Tensor:
        """Clean features noised to timestep `t` (unchanged for t = -1)."""
        if t == CLEAN:
            return clean
        noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
        return self.add_noise(clean, noise, torch.full((clean.shape[0],), t, device=clean.device))


def make_diffusion(schedule: str, num_steps: int | None = None, prediction: Prediction = "x0") -> GaussianDiffusion:
    """The diffusion process a config's `diffusion` section names."""
    return GaussianDiffusion(make_schedule(schedule, num_steps), prediction)
