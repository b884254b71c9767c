"""The GCDance denoiser: an EDGE-style FiLM transformer decoder with body and hand experts.

Inputs per window of T frames:
- `x_t` (B, T, D): noisy smpl6d motion features (D = 151 for SMPL-24, 319 for 52 joints);
- `t` (B,): diffusion timesteps;
- conditions: `music` (B, T, M), frame-aligned music features (hand-crafted, then the
  foundation encoder's columns when one is configured), and `text` (B, E), the embedding of
  the genre prompt "This is a {genre} type of music.";
- `drop`: per-modality (B,) masks for classifier-free guidance.

How the conditions enter (GCDance sec. 3, eqs. 3–4, and the authors' code):
- music is projected to tokens the decoder cross-attends to (rotary positions, so frame i
  looks at the music around i), and its mean drives FiLM together with the timestep;
- the prompt embedding goes through an adapter MLP to a genre vector g, which joins the
  cross-attention memory as a token and, gated with the timestep condition c as
  σ(c)⊙c + σ(g)⊙g, drives the FiLM of every feed-forward block;
- dropped modalities are replaced by learned null embeddings.

Experts: on the 52-joint layout the body expert denoises contacts, root and the 22 body joints;
the hand expert denoises the 30 finger joints and cross-attends to the body expert's hidden
states (added to the music tokens), so hands follow the body. As in the authors' code each
expert has its own condition encoder. On SMPL-24 there is only the body expert. A genre head
on the pooled body states predicts the dance's genre: the classification task GCDance trains
alongside denoising, which keeps genre information flowing through the decoder.

Sampling runs the network on the same conditions at every denoising step: inside
`step_cache()` what does not depend on the step (music tokens and summary, genre vector, the
body expert's cross-attention keys/values of the music tokens) is computed once per batch.

The network knows nothing about noise schedules.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping

import torch
from einops import rearrange
from torch import nn

from dancegen.models.blocks import FiLMDecoderLayer, RotaryEmbedding, TimestepEmbedding, mlp
from dancegen.models.gcdance.config import MODALITIES, GCDanceConfig

Tensor = torch.Tensor

TIME_TOKENS = 2  # EDGE feeds the timestep to cross-attention as two extra tokens
# Memory for one `step_cache` (the default model needs ~0.55 MiB per window and guidance
# pass): a 30-s song's batch fits whole; longer songs cache their first batch and recompute
# the rest. Caching every batch of a 10-min song saved ~6 % of its CPU but raised its peak
# RSS from 588 to 980 MB; a 48-MiB budget still cost +106 MB.
STEP_CACHE_BYTES = 16 * 2**20


class ConditionEncoder(nn.Module):
    """Music, genre prompt and timestep → cross-attention memory and FiLM vectors."""

    def __init__(self, music_dim: int, foundation_dim: int, text_dim: int, latent: int):
        super().__init__()
        self.music_dim = music_dim
        # Hand-crafted and foundation features are fused by summing their projections, as
        # GCDance does with STFT and wav2clip, then refined per frame.
        self.music_in = nn.Linear(music_dim, latent)
        self.foundation_in = nn.Linear(foundation_dim, latent) if foundation_dim else None
        self.music_tokens = mlp(latent, latent, latent)
        self.music_summary = nn.Sequential(nn.LayerNorm(latent), mlp(latent, latent, latent))
        self.null_music_token = nn.Parameter(torch.randn(latent) * 0.02)
        self.null_music_summary = nn.Parameter(torch.randn(latent) * 0.02)
        self.genre_adapter = mlp(text_dim, latent, latent, nn.ReLU)  # eq. 3
        self.null_genre = nn.Parameter(torch.randn(latent) * 0.02)
        self.time_embedding = TimestepEmbedding(latent)
        self.time_cond = nn.Linear(self.time_embedding.out_dim, latent)
        self.time_tokens = nn.Linear(self.time_embedding.out_dim, latent * TIME_TOKENS)

    def music(self, music: Tensor | None, dropped: Tensor, batch: int, frames: int) -> tuple[Tensor, Tensor]:
        """(tokens (B, T, L), summary (B, L)), null embeddings where dropped."""
        latent = self.null_music_token.shape[0]
        if music is None:
            return self.null_music_token.expand(batch, frames, latent), self.null_music_summary.expand(batch, latent)
        projected = self.music_in(music[..., : self.music_dim])
        if self.foundation_in is not None:
            projected = projected + self.foundation_in(music[..., self.music_dim :])
        tokens = self.music_tokens(projected)
        summary = self.music_summary(tokens.mean(dim=1))
        keep = rearrange(~dropped, "b -> b 1 1")
        return torch.where(keep, tokens, self.null_music_token), torch.where(keep[:, 0], summary, self.null_music_summary)

    def genre(self, text: Tensor | None, dropped: Tensor, batch: int) -> Tensor:
        if text is None:
            return self.null_genre.expand(batch, -1)
        return torch.where(rearrange(~dropped, "b -> b 1"), self.genre_adapter(text), self.null_genre)

    def invariant(self, music: Tensor | None, text: Tensor | None, drop: Mapping[str, Tensor], batch: int, frames: int):
        """(music tokens, music summary, genre vector): everything that does not depend on t."""
        no_drop = torch.zeros(batch, dtype=torch.bool, device=self.null_genre.device)
        music_tokens, music_summary = self.music(music, drop.get("music", no_drop), batch, frames)
        return music_tokens, music_summary, self.genre(text, drop.get("text", no_drop), batch)

    def step(self, t: Tensor, music_summary: Tensor, genre: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(extra memory tokens (B, 3, L), FiLM cond, feed-forward cond) at timesteps t."""
        time = self.time_embedding(t)
        cond = self.time_cond(time) + music_summary
        ff_cond = torch.sigmoid(cond) * cond + torch.sigmoid(genre) * genre  # GCDance's gated units (eq. 4)
        time_tokens = rearrange(self.time_tokens(time), "b (n d) -> b n d", n=TIME_TOKENS)
        return torch.cat([genre[:, None], time_tokens], dim=1), cond, ff_cond

    def forward(self, t: Tensor, music: Tensor | None, text: Tensor | None, drop: Mapping[str, Tensor], frames: int):
        """(music tokens (B, T, L), extra memory tokens (B, 3, L), FiLM cond, feed-forward cond)."""
        music_tokens, music_summary, genre = self.invariant(music, text, drop, t.shape[0], frames)
        extra_tokens, cond, ff_cond = self.step(t, music_summary, genre)
        return music_tokens, extra_tokens, cond, ff_cond


@dataclass
class StepInvariant:
    """An expert's tensors that stay fixed over the denoising steps of one batch of windows."""

    music_tokens: Tensor  # (B, T, L)
    music_summary: Tensor  # (B, L)
    genre: Tensor  # (B, L)
    # Per layer: the cross-attention's rotated keys and values of the music tokens, or None
    # (the hand expert adds the body's states to its music tokens: those change every step).
    memory_prefix: list[tuple[Tensor, Tensor]] | None = None

    def nbytes(self) -> int:
        tensors = [self.music_tokens, self.music_summary, self.genre]
        tensors += [part for pair in self.memory_prefix or [] for part in pair]
        return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


class ExpertDecoder(nn.Module):
    """One expert: its own condition encoder and FiLM decoder over a group of channels."""

    def __init__(self, channels: int, layers: int, config: GCDanceConfig):
        super().__init__()
        net = config.network
        latent = net.latent_dim
        self.conditions = ConditionEncoder(config.music.dim, config.music.foundation_dim, net.text_dim, latent)
        self.input = nn.Linear(channels, latent)
        self.memory_norm = nn.LayerNorm(latent)
        self.layers = nn.ModuleList(
            FiLMDecoderLayer(latent, net.heads, net.ff_dim, latent, net.dropout) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(latent)
        self.output = nn.Linear(latent, channels)

    def invariant(
        self, conditions, drop, batch: int, frames: int, rotary: Tensor | None, with_keys: bool
    ) -> StepInvariant:
        """The step-invariant tensors; `with_keys`: also the music tokens' cross-attention keys
        and values (valid only when nothing is added to the music tokens)."""
        tokens, summary, genre = self.conditions.invariant(
            conditions.get("music"), conditions.get("text"), drop, batch, frames
        )
        prefix = None
        if with_keys:
            memory = self.memory_norm(tokens)  # LayerNorm is per token: the music part alone
            prefix = [layer.cross_attention.keys_values(memory, rotary) for layer in self.layers]
        return StepInvariant(tokens, summary, genre, prefix)

    def hidden(
        self,
        x: Tensor,
        t: Tensor,
        conditions,
        drop,
        rotary,
        context: Tensor | None = None,
        invariant: StepInvariant | None = None,
    ) -> Tensor:
        """Final hidden states (B, T, L); `context` (B, T, L) is added to the music tokens;
        `invariant`: this batch's `invariant(...)`, computed once for all steps."""
        if invariant is None:
            invariant = self.invariant(conditions, drop, x.shape[0], x.shape[1], rotary, with_keys=False)
        extra_tokens, cond, ff_cond = self.conditions.step(t, invariant.music_summary, invariant.genre)
        prefixes = invariant.memory_prefix
        if prefixes is not None and context is None:
            memory = self.memory_norm(extra_tokens)
        else:
            music_tokens = invariant.music_tokens if context is None else invariant.music_tokens + context
            memory = self.memory_norm(torch.cat([music_tokens, extra_tokens], dim=1))
            prefixes = [None] * len(self.layers)
        h = self.input(x)
        for layer, prefix in zip(self.layers, prefixes):
            h = layer(h, memory, cond, ff_cond, rotary, memory_prefix=prefix)
        return self.norm(h)


class GCDanceNetwork(nn.Module):
    modalities = MODALITIES

    def __init__(self, config: GCDanceConfig, num_genres: int = 0):
        super().__init__()
        net = config.network
        self.body_dim, self.hand_dim, self.motion_dim = net.body_dim, net.hand_dim, net.motion_dim
        self.num_genres = num_genres
        self.rotary = RotaryEmbedding(net.latent_dim // net.heads)
        self.body = ExpertDecoder(self.body_dim, net.body_layers, config)
        if self.hand_dim:
            self.hands = ExpertDecoder(self.hand_dim, net.hand_layers, config)
            self.body_to_hands = nn.Linear(net.latent_dim, net.latent_dim)
        else:
            self.hands = None
        self.genre_head = nn.Linear(net.latent_dim, num_genres) if num_genres else None
        self._step_cache: dict | None = None  # see `step_cache`
        self._step_cache_bytes = 0

    @contextmanager
    def step_cache(self) -> Iterator[None]:
        """Within it, each batch of conditions (the same tensors, as sampling passes them every
        step) has its step-invariant tensors — music tokens and summary, genre vector, the
        music tokens' rotated cross-attention keys/values — computed once. The condition
        tensors must not be modified in place meanwhile."""
        self._step_cache, self._step_cache_bytes = {}, 0
        try:
            yield
        finally:
            self._step_cache, self._step_cache_bytes = None, 0

    def _cached_invariants(self, x: Tensor, conditions, drop, rotary) -> tuple[StepInvariant | None, ...]:
        """(body, hands) invariants from the step cache, computed on a miss; (None, None) outside it."""
        if self._step_cache is None:
            return None, None
        key = _condition_key(x, conditions, drop)
        entry = self._step_cache.get(key)
        if entry is None:
            if self._step_cache_bytes >= STEP_CACHE_BYTES:
                return None, None  # over budget: this batch is computed at every step
            batch, frames = x.shape[:2]
            body = self.body.invariant(conditions, drop, batch, frames, rotary, with_keys=True)
            hands = None if self.hands is None else self.hands.invariant(conditions, drop, batch, frames, rotary, False)
            self._step_cache_bytes += body.nbytes() + (hands.nbytes() if hands is not None else 0)
            # The entry keeps the condition tensors alive, so their memory cannot be reused by
            # other tensors that would then match the key.
            entry = self._step_cache[key] = (dict(conditions), (body, hands))
        return entry[1]

    def forward_with_genre(
        self,
        x: Tensor,
        t: Tensor,
        conditions: Mapping[str, Tensor | None],
        drop: Mapping[str, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """(prediction (B, T, D), genre logits (B, G) or None)."""
        drop = drop or {}
        rotary = self.rotary(x.shape[1], x.device)
        body_invariant, hand_invariant = self._cached_invariants(x, conditions, drop, rotary)
        body_hidden = self.body.hidden(x[..., : self.body_dim], t, conditions, drop, rotary, invariant=body_invariant)
        prediction = self.body.output(body_hidden)
        if self.hands is not None:
            context = self.body_to_hands(body_hidden)
            hand_hidden = self.hands.hidden(
                x[..., self.body_dim :], t, conditions, drop, rotary, context, invariant=hand_invariant
            )
            prediction = torch.cat([prediction, self.hands.output(hand_hidden)], dim=-1)
        logits = self.genre_head(body_hidden.mean(dim=1)) if self.genre_head is not None else None
        return prediction, logits

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        conditions: Mapping[str, Tensor | None],
        drop: Mapping[str, Tensor] | None = None,
    ) -> Tensor:
        return self.forward_with_genre(x, t, conditions, drop)[0]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _condition_key(x: Tensor, conditions: Mapping[str, Tensor | None], drop: Mapping[str, Tensor]) -> tuple:
    """Which condition tensors (by memory and layout) and drop masks (by value) a batch has."""
    tensors = tuple(
        (name, value.data_ptr(), tuple(value.shape), value.stride(), value.dtype)
        for name, value in sorted(conditions.items())
        if value is not None
    )
    masks = tuple((name, mask.cpu().numpy().tobytes()) for name, mask in sorted(drop.items()))
    return tuple(x.shape[:2]), tensors, masks
