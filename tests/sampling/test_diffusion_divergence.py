"""A sampler that diverges says so in one line instead of handing NaN motion to the decoder."""

import pytest
import torch

from dancegen.errors import DanceGenError
from dancegen.sampling.diffusion import make_diffusion


def test_a_diverging_sampler_says_so_in_one_line():
    diffusion = make_diffusion("lrcm", None, "epsilon")
    noise = torch.randn(1, 8, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(DanceGenError, match="diverged.*undertrained") as error:
        diffusion.sample(lambda x, t: torch.full_like(x, float("nan")), noise, steps=4, eta=1.0)
    assert "\n" not in str(error.value)


def test_an_exact_noise_estimate_samples_finite_motion():
    diffusion = make_diffusion("lrcm", 50, "epsilon")
    clean = torch.zeros(1, 8, 3)
    out = diffusion.sample(lambda x, t: x / (1 - diffusion.alphas_cumprod[t[0]]).sqrt().float(), torch.randn(1, 8, 3),
                           steps=None, eta=0.0)
    assert torch.isfinite(out).all() and out.abs().max() < 1e-3  # x_t = √(1-ᾱ) ε exactly when x_0 = 0
    assert clean.shape == out.shape
