"""Schedules and the DDPM/DDIM loop, checked against diffusers and against exact oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler

from dancegen.errors import ArgumentError
from dancegen.sampling import CLEAN, GaussianDiffusion, make_schedule


def test_schedules_match_published_numbers_and_diffusers():
    cosine = make_schedule("cosine")
    reference = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").betas.double()
    assert cosine.num_steps == 1000
    assert torch.allclose(cosine.betas, reference, atol=1e-6)
    linear = make_schedule("linear")
    assert torch.allclose(linear.betas, DDPMScheduler(num_train_timesteps=1000).betas.double(), atol=1e-7)
    lda, lrcm = make_schedule("lda"), make_schedule("lrcm")
    assert (lda.num_steps, lrcm.num_steps) == (150, 200)
    assert float(lda.betas[0]) == pytest.approx(0.01) and float(lda.betas[-1]) == pytest.approx(0.7)
    assert float(lrcm.betas[-1]) == pytest.approx(0.7)
    assert make_schedule("cosine", 50).num_steps == 50
    with pytest.raises(ArgumentError, match="unknown noise schedule 'quadratic'"):
        make_schedule("quadratic")


def test_sampling_timesteps_trailing():
    diffusion = GaussianDiffusion(make_schedule("lda"))
    steps = diffusion.sampling_timesteps(40)
    assert len(steps) == 40 and steps[0] == 149 and steps[-1] >= 0
    assert all(a > b for a, b in zip(steps, steps[1:]))
    assert diffusion.sampling_timesteps() == list(range(149, -1, -1))
    with pytest.raises(ArgumentError, match="between 1 and 150"):
        diffusion.sampling_timesteps(151)


def _toy_model(prediction: str):
    """A deterministic stand-in for a network: smooth in x and t."""

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        scale = (t.float() / 1000.0).reshape(-1, 1, 1)
        return torch.tanh(0.5 * x) * (1 - scale) + 0.1 * scale

    return model


@pytest.mark.parametrize("prediction", ["x0", "epsilon"])
def test_ddim_matches_diffusers(prediction):
    schedule = make_schedule("cosine", 100)
    diffusion = GaussianDiffusion(schedule, prediction=prediction)
    scheduler = DDIMScheduler(
        num_train_timesteps=100,
        trained_betas=schedule.betas.numpy(),
        clip_sample=False,
        prediction_type="sample" if prediction == "x0" else "epsilon",
        timestep_spacing="trailing",
        set_alpha_to_one=True,
    )
    scheduler.set_timesteps(20)
    assert diffusion.sampling_timesteps(20) == scheduler.timesteps.tolist()
    model = _toy_model(prediction)
    noise = torch.randn(2, 8, 5, generator=torch.Generator().manual_seed(0))
    ours = diffusion.sample(model, noise.clone(), steps=20, eta=0.0)
    theirs = noise.clone()
    for t in scheduler.timesteps:
        theirs = scheduler.step(model(theirs, torch.full((2,), int(t))), t, theirs).prev_sample
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_ddpm_ancestral_matches_diffusers():
    schedule = make_schedule("lda")
    diffusion = GaussianDiffusion(schedule, prediction="epsilon")
    scheduler = DDPMScheduler(
        num_train_timesteps=150, trained_betas=schedule.betas.numpy(), clip_sample=False, prediction_type="epsilon"
    )
    scheduler.set_timesteps(150)
    model = _toy_model("epsilon")
    noise = torch.randn(1, 6, 4, generator=torch.Generator().manual_seed(1))
    ours = diffusion.sample(model, noise.clone(), eta=1.0, generator=torch.Generator().manual_seed(7))
    theirs, generator = noise.clone(), torch.Generator().manual_seed(7)
    for t in scheduler.timesteps:
        theirs = scheduler.step(model(theirs, torch.full((1,), int(t))), t, theirs, generator=generator).prev_sample
    assert torch.allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize("prediction", ["x0", "epsilon"])
@pytest.mark.parametrize("steps,eta", [(10, 0.0), (50, 1.0), (None, 0.5)])
def test_oracle_denoiser_recovers_the_data(prediction, steps, eta):
    """A denoiser that knows x0 must lead the sampler exactly to x0, whatever the path."""
    diffusion = GaussianDiffusion(make_schedule("cosine", 200), prediction=prediction)
    target = torch.randn(3, 7, 4, generator=torch.Generator().manual_seed(2))

    def oracle(x, t):
        if prediction == "x0":
            return target
        alpha = diffusion.alphas_cumprod[t].float().reshape(-1, 1, 1)
        return (x - alpha.sqrt() * target) / (1 - alpha).sqrt()

    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(3))
    result = diffusion.sample(oracle, noise, steps=steps, eta=eta, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(result, target, atol=1e-4)


def test_training_example_follows_the_forward_process():
    diffusion = GaussianDiffusion(make_schedule("cosine"), prediction="x0")
    clean = torch.randn(64, 10, 3, generator=torch.Generator().manual_seed(5))
    example = diffusion.training_example(clean, torch.Generator().manual_seed(6))
    assert example.timesteps.shape == (64,) and example.timesteps.dtype == torch.long
    assert int(example.timesteps.min()) >= 0 and int(example.timesteps.max()) < 1000
    alpha = diffusion.alphas_cumprod[example.timesteps].float().reshape(-1, 1, 1)
    expected = alpha.sqrt() * clean + (1 - alpha).sqrt() * example.noise
    assert torch.allclose(example.noisy, expected, atol=1e-5)
    assert torch.equal(example.target, clean)
    epsilon_model = GaussianDiffusion(make_schedule("cosine"), prediction="epsilon")
    eps = epsilon_model.training_example(clean)
    assert torch.equal(eps.target, eps.noise)
    # x̂0 from a perfect ε (kept to moderate noise levels, where 1/√ᾱ does not blow up rounding).
    timesteps = torch.arange(64) * 10
    noisy = epsilon_model.add_noise(clean, eps.noise, timesteps)
    assert torch.allclose(epsilon_model.predicted_clean(eps.noise, noisy, timesteps), clean, atol=1e-3)


def test_noise_to_clean_is_identity_and_seeded_noise_is_reproducible():
    diffusion = GaussianDiffusion(make_schedule("cosine", 100))
    clean = torch.ones(2, 4, 3)
    assert torch.equal(diffusion.noise_to(clean, CLEAN), clean)
    a = diffusion.noise_to(clean, 50, torch.Generator().manual_seed(0))
    b = diffusion.noise_to(clean, 50, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.equal(a, clean)
    assert np.isclose(float(a.mean()), float(diffusion.alphas_cumprod[50].sqrt()), atol=0.6)
