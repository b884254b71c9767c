"""One GCDance training step's computation: noise a batch, denoise it, score it.

`GCDanceModule` bundles the network, the diffusion process and the loss terms. It draws every
random number (timesteps, noise, condition dropout) from the generator it is given, so a run
is reproducible and resumable to the bit. The optimisation itself (balancing, clipping, EMA,
devices) lives in `trainer.py`.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from dancegen.models.gcdance.config import GCDanceConfig
from dancegen.models.gcdance.losses import LOSS_TERMS, GCDanceLoss
from dancegen.models.gcdance.network import GCDanceNetwork
from dancegen.motion.normalize import Normalizer
from dancegen.sampling.diffusion import GaussianDiffusion
from dancegen.sampling.guidance import condition_dropout
from dancegen.sampling.schedules import make_schedule
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.smplx import smplx52
from dancegen.skeleton.tree import Skeleton

Tensor = torch.Tensor
SKELETONS = {"smpl24": smpl24, "smplx52": smplx52}


def config_skeleton(config: GCDanceConfig) -> Skeleton:
    return SKELETONS[config.network.skeleton]()


def make_diffusion(config: GCDanceConfig) -> GaussianDiffusion:
    return GaussianDiffusion(make_schedule(config.diffusion.schedule, config.diffusion.num_steps), config.diffusion.prediction)


class GCDanceModule(nn.Module):
    """Network + diffusion + losses. `genre_embeddings` (G, E): the prompt embedding of each
    genre of the vocabulary, looked up by a batch's genre indices (−1 = unknown).
    `prompt_embeddings` (P, E): clips' own move-label texts, looked up by a batch's `prompt`
    indices; where one is given (≥ 0) it replaces the genre prompt as the text condition."""

    def __init__(
        self,
        config: GCDanceConfig,
        motion_normalizer: Normalizer,
        genre_embeddings: Tensor,
        prompt_embeddings: Tensor | None = None,
    ):
        super().__init__()
        self.config = config
        self.network = GCDanceNetwork(config, num_genres=genre_embeddings.shape[0])
        self.diffusion = make_diffusion(config)
        self.objective = GCDanceLoss(
            config_skeleton(config),
            torch.from_numpy(motion_normalizer.shift),
            torch.from_numpy(motion_normalizer.scale),
            config.loss,
        )
        self.register_buffer("genre_embeddings", genre_embeddings.float(), persistent=False)
        if prompt_embeddings is None:
            prompt_embeddings = genre_embeddings.new_zeros(0, genre_embeddings.shape[-1])
        self.register_buffer("prompt_embeddings", prompt_embeddings.float(), persistent=False)

    @property
    def loss_terms(self) -> tuple[str, ...]:
        return LOSS_TERMS if self.network.genre_head is not None else LOSS_TERMS[:-1]

    def forward(self, batch: Mapping[str, Tensor], generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Loss terms for a batch: `motion` (B, T, D) and `music` (B, T, M) normalised, `genre` (B,)."""
        clean, music, genre = batch["motion"], batch["music"], batch["genre"]
        example = self.diffusion.training_example(clean, generator)
        drop = condition_dropout(clean.shape[0], self.config.train.condition_dropout, generator, clean.device)
        known_text = genre >= 0
        text = self.genre_embeddings[genre.clamp(min=0)] if len(self.genre_embeddings) else None
        prompt = batch.get("prompt")
        if prompt is not None and len(self.prompt_embeddings):
            has_prompt = prompt >= 0
            own = self.prompt_embeddings[prompt.clamp(min=0)]
            text = own if text is None else torch.where(has_prompt[:, None], own, text)
            known_text = known_text | has_prompt
        drop["text"] = drop.get("text", torch.zeros_like(known_text)) | ~known_text
        output, logits = self.network.forward_with_genre(
            example.noisy, example.timesteps, {"music": music, "text": text}, drop
        )
        predicted = self.diffusion.predicted_clean(output, example.noisy, example.timesteps)
        return self.objective(output, example.target, predicted, clean, logits, genre)
