"""LRCM's training objective: L = L_diff + λ_v L_vel + λ_a L_acc + λ_j L_jerk (eq. 17).

- `diffusion`: MSE of the denoiser output against its target (ε for LRCM, as LDA).
- `velocity`, `acceleration`, `jerk`: the first three time derivatives (frame differences) of
  the predicted clean motion x̂_0 against the real motion's, both in normalised features.
  Our reading of eq. 17's "L2-normalisation", from the authors' `Motion_loss_V2`: each frame's
  derivative vector d_t (over all channels) is split into its direction d_t / ‖d_t‖ and its
  size; a term is `pattern` · MSE(directions) + `scale` · (log mean ‖d̂‖ − log mean ‖d‖)², so
  the terms compare the shape of the motion's change independently of its magnitude and keep
  the magnitudes as a separate target. The authors square the plain difference of the mean
  norms (and clamp the sum at 10); the log-ratio is our change: a noisy x̂_0 has derivative
  norms tens of times the data's, and the squared difference then swamped L_diff.
- x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t explodes where ᾱ_t is tiny (LRCM's β reaches 0.7), so the
  derivative terms average only over batch items with ᾱ_t ≥ `min_signal` (zero, still in
  the graph, when there are none).
Every term is returned (the loop logs them); `WeightedSum` combines them with the λ.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dancegen.models.lrcm.config import LossConfig

Tensor = torch.Tensor

LOSS_TERMS = ("diffusion", "velocity", "acceleration", "jerk")
DERIVATIVE_TERMS = LOSS_TERMS[1:]  # orders 1, 2, 3
NORM_FLOOR = 1e-6  # below this a derivative has no direction (the authors' clamp)


def derivatives(motion: Tensor, order: int) -> Tensor:
    """The `order`-th frame difference of (B, T, D) motion, (B, T − order, D)."""
    for _ in range(order):
        motion = motion[:, 1:] - motion[:, :-1]
    return motion


def normalised_derivative_loss(predicted: Tensor, real: Tensor, pattern: float, scale: float) -> Tensor:
    """Per item (B,): `pattern` · mean squared error of unit derivative vectors + `scale` ·
    squared log-ratio of the mean derivative norms."""
    predicted_norm = predicted.norm(dim=-1, keepdim=True).clamp_min(NORM_FLOOR)
    real_norm = real.norm(dim=-1, keepdim=True).clamp_min(NORM_FLOOR)
    direction = (predicted / predicted_norm - real / real_norm).pow(2).mean(dim=(1, 2))
    size = (predicted_norm.mean(dim=(1, 2)).log() - real_norm.mean(dim=(1, 2)).log()).pow(2)
    return pattern * direction + scale * size


def derivative_losses(predicted_clean: Tensor, clean: Tensor, config: LossConfig,
                      keep: Tensor | None = None) -> dict[str, Tensor]:
    """velocity / acceleration / jerk terms averaged over the items `keep` (B,) selects.

    Items left out are indexed away rather than weighted by zero: an exploded x̂_0 would turn
    a zero weight's gradient into NaN."""
    if keep is not None:
        predicted_clean, clean = predicted_clean[keep], clean[keep]
    terms = {}
    for order, name in enumerate(DERIVATIVE_TERMS, start=1):
        if clean.shape[0] == 0 or clean.shape[1] <= order:  # nothing to compare: 0, still in the graph
            terms[name] = predicted_clean.sum() * 0.0
            continue
        terms[name] = normalised_derivative_loss(
            derivatives(predicted_clean, order), derivatives(clean, order), config.pattern, config.scale
        ).mean()
    return terms


def lrcm_losses(output: Tensor, target: Tensor, predicted_clean: Tensor, clean: Tensor, signal: Tensor,
                config: LossConfig) -> dict[str, Tensor]:
    """Every term for one batch; `signal` (B,) is ᾱ_t of each item's timestep."""
    terms = {"diffusion": F.mse_loss(output, target)}
    terms.update(derivative_losses(predicted_clean, clean, config, signal >= config.min_signal))
    return terms


class WeightedSum:
    """The loop's combiner: 1 · diffusion + λ_v velocity + λ_a acceleration + λ_j jerk."""

    uses_jacobians = False

    def __init__(self, config: LossConfig):
        self.weights = {"diffusion": 1.0, "velocity": config.velocity, "acceleration": config.acceleration,
                        "jerk": config.jerk}

    def backward(self, losses: dict[str, Tensor], parameters, backward=None) -> dict[str, float]:
        total = sum(self.weights[name] * losses[name] for name in LOSS_TERMS)
        (backward or Tensor.backward)(total)
        return dict(self.weights)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
