"""GCDance's training objectives and how they are balanced.

Terms (EDGE `p_losses`, kept by GCDance; all mean squared errors, GCDance's `loss_type="l2"`):
- `simple`: the denoiser output against its target (x0 or ε), over every channel;
- `velocity`: frame-to-frame differences of the predicted clean motion against the data's,
  contacts excluded;
- `fk`: joint positions after forward kinematics (on unnormalised features, where EDGE's code
  ran FK on normalised ones) against the data's;
- `foot`: speed of each foot joint in frames where the data's contact label says planted
  (`foot_contacts="labels"`, the default) or where the model predicts contact above
  `contact_threshold` (EDGE's rule, `"predicted"`), pushed to zero against foot skating;
- `genre`: binary cross-entropy of the genre head against the one-hot genre (windows of
  unknown genre left out).

Balancing: `edge` sums the terms with EDGE's fixed weights; `nash` (Nash-MTL, Navon et al.
2022) and `aligned` (Aligned-MTL, Senushkin et al. 2023) combine the per-term gradients through
torchjd, as GCDance trains with either. Every term is returned for logging either way.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dancegen.models.gcdance.config import LossConfig
from dancegen.motion.codecs import get_codec
from dancegen.motion.codecs.smpl6d import ROOT_OFFSET, contact_channels
from dancegen.skeleton.smpl import SMPL24_FOOT_JOINTS
from dancegen.skeleton.tree import Skeleton

Tensor = torch.Tensor

LOSS_TERMS = ("simple", "velocity", "fk", "foot", "genre")
LABEL_CONTACT = 0.5  # contact labels are 0/1 (resampled ones in between): planted above half


class GCDanceLoss(nn.Module):
    """The loss terms on normalised smpl6d features; FK runs on unnormalised ones."""

    def __init__(self, skeleton: Skeleton, feature_shift: Tensor, feature_scale: Tensor, config: LossConfig):
        super().__init__()
        self.config = config
        self.codec = get_codec("smpl6d", skeleton)
        self.register_buffer("shift", torch.as_tensor(feature_shift, dtype=torch.float32), persistent=False)
        self.register_buffer("scale", torch.as_tensor(feature_scale, dtype=torch.float32), persistent=False)
        self.feet = skeleton.indices(SMPL24_FOOT_JOINTS)

    def forward(
        self,
        output: Tensor,
        target: Tensor,
        predicted_clean: Tensor,
        clean: Tensor,
        genre_logits: Tensor | None = None,
        genre: Tensor | None = None,
    ) -> dict[str, Tensor]:
        terms = {"simple": F.mse_loss(output, target)}

        # Contacts are labels, not pose: the velocity term starts at the root position.
        pose_hat, pose = predicted_clean[..., ROOT_OFFSET:], clean[..., ROOT_OFFSET:]
        terms["velocity"] = F.mse_loss(pose_hat[:, 1:] - pose_hat[:, :-1], pose[:, 1:] - pose[:, :-1])

        raw_hat = predicted_clean * self.scale + self.shift
        raw = clean * self.scale + self.shift
        joints_hat = self.codec.decode_positions_torch(raw_hat)
        terms["fk"] = F.mse_loss(joints_hat, self.codec.decode_positions_torch(raw))

        feet = joints_hat[..., self.feet, :]
        foot_speed = feet[:, 1:] - feet[:, :-1]
        if self.config.foot_contacts == "labels":
            planted = (raw[:, :-1, contact_channels()] > LABEL_CONTACT).unsqueeze(-1)
        else:
            planted = (raw_hat[:, :-1, contact_channels()] > self.config.contact_threshold).unsqueeze(-1)
        terms["foot"] = (foot_speed * planted).pow(2).mean()

        if genre_logits is not None and genre is not None:
            known = genre >= 0
            one_hot = F.one_hot(genre.clamp(min=0), genre_logits.shape[-1]).to(genre_logits.dtype)
            per_item = F.binary_cross_entropy_with_logits(genre_logits, one_hot, reduction="none").mean(-1)
            # Always part of the graph (0 when no window has a known genre), as torchjd requires.
            terms["genre"] = (per_item * known).sum() / known.sum().clamp(min=1)
        return terms


class LossBalancer:
    """Turns the loss terms into parameter gradients: fixed weights or Jacobian descent."""

    def __init__(self, config: LossConfig, terms: Sequence[str]):
        self.config = config
        self.terms = tuple(terms)
        self.aggregator = None
        if config.balance == "nash":
            from torchjd.aggregation import NashMTL

            self.aggregator = NashMTL(n_tasks=len(self.terms), max_norm=config.nash_max_norm)
        elif config.balance == "aligned":
            from torchjd.aggregation import AlignedMTL

            self.aggregator = AlignedMTL()

    @property
    def uses_jacobians(self) -> bool:
        return self.aggregator is not None

    def fixed_total(self, losses: dict[str, Tensor]) -> Tensor:
        weights = self.config.weights
        return sum(getattr(weights, name) * losses[name] for name in self.terms)

    def backward(
        self,
        losses: dict[str, Tensor],
        parameters: Sequence[Tensor],
        backward: Callable[[Tensor], None] | None = None,
    ) -> dict[str, float]:
        """Fill `.grad` of `parameters`; returns the weight each term got."""
        if self.aggregator is None:
            (backward or Tensor.backward)(self.fixed_total(losses))
            return {name: getattr(self.config.weights, name) for name in self.terms}
        from torchjd.autojac import backward as jacobian_backward
        from torchjd.autojac import jac_to_grad

        parameters = list(parameters)
        jacobian_backward([losses[name] for name in self.terms], inputs=parameters)
        weights = jac_to_grad(parameters, self.aggregator)
        if weights is None:
            return {}
        return {name: float(w) for name, w in zip(self.terms, weights)}

    # Nash-MTL warm-starts its solver from the previous weights; keep them across resumes.
    def state_dict(self) -> dict:
        weighting = getattr(self.aggregator, "weighting", None)
        if weighting is not None and hasattr(weighting, "prvs_alpha"):
            return {"previous_weights": torch.as_tensor(weighting.prvs_alpha, dtype=torch.float64)}
        return {}

    def load_state_dict(self, state: dict) -> None:
        weighting = getattr(self.aggregator, "weighting", None)
        if "previous_weights" in state and weighting is not None and hasattr(weighting, "prvs_alpha"):
            weighting.prvs_alpha = state["previous_weights"].numpy().astype("float32")
