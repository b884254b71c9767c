"""DanceMosaic's transformers: the masked T2M transformer, its adapters, the residual transformer.

- `MaskedTransformer` (MoMask's T2M): base-layer tokens, [MASK] where unknown, after one text
  token (MiniLM embedding, or a learned null embedding when the text is dropped); predicts
  every position's token.
- `Adapter` (DanceMosaic's music and pose adapters, ControlNet-style): a trainable copy of the
  T2M layers that reads the T2M's input plus a condition projected to the token rate; after
  each of its layers a zero-initialised linear layer adds its state into the (frozen) T2M
  layer's output, so a fresh adapter changes nothing and training grows its influence.
- `ResidualTransformer` (MoMask): predicts quantizer layer q from the sum of the code vectors
  of layers < q, told q by an embedding; half its layers cross-attend to the music.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from dancegen.models.mosaic.config import TransformerConfig

Tensor = torch.Tensor
POSITION_INIT_STD = 0.02


class Block(nn.Module):
    """Pre-norm transformer layer: self-attention, optional cross-attention, feed-forward."""

    def __init__(self, dim: int, heads: int, ff_mult: int, dropout: float, cross: bool = False):
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross_norm = nn.LayerNorm(dim) if cross else None
        self.cross = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True) if cross else None
        self.ff = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(ff_mult * dim, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor, memory: Tensor | None = None) -> Tensor:
        h = self.attention_norm(x)
        x = x + self.attention(h, h, h, need_weights=False)[0]
        if self.cross is not None:
            h = self.cross_norm(x)
            x = x + self.cross(h, memory, memory, need_weights=False)[0]
        return x + self.ff(x)


def blocks(config: TransformerConfig, count: int, cross_every: int = 0) -> nn.ModuleList:
    """`count` layers; with `cross_every` = 2, every second one cross-attends."""
    return nn.ModuleList(
        Block(config.dim, config.heads, config.ff_mult, config.dropout, cross=bool(cross_every) and i % cross_every == 1)
        for i in range(count)
    )


class TextCondition(nn.Module):
    """One conditioning token from a text embedding; a learned null token where dropped."""

    def __init__(self, text_dim: int, dim: int):
        super().__init__()
        self.project = nn.Linear(text_dim, dim)
        self.null = nn.Parameter(torch.zeros(dim))

    def forward(self, text: Tensor | None, drop: Tensor | None, batch: int) -> Tensor:
        null = self.null.expand(batch, -1)
        if text is None:
            return null[:, None]
        token = self.project(text.to(self.null.dtype)).expand(batch, -1)
        if drop is not None:
            token = torch.where(drop[:, None], null, token)
        return token[:, None]


class TokenRate(nn.Module):
    """A per-frame signal (B, T, F) -> token-rate features (B, ceil(T / rate), D): each token
    reads its `rate` frames (the last repeated to fill the final token) through one linear map."""

    def __init__(self, in_dim: int, dim: int, rate: int):
        super().__init__()
        self.rate = rate
        self.project = nn.Linear(in_dim * rate, dim)

    def forward(self, signal: Tensor) -> Tensor:
        extra = -signal.shape[1] % self.rate
        if extra:
            signal = torch.cat([signal, signal[:, -1:].expand(-1, extra, -1)], dim=1)
        return self.project(rearrange(signal, "b (n r) f -> b n (r f)", r=self.rate))


class MaskedTransformer(nn.Module):
    """Base-layer token logits (B, N, K) from tokens (B, N) with `mask_id` = K where unknown."""

    def __init__(self, codebook_size: int, config: TransformerConfig):
        super().__init__()
        self.codebook_size = codebook_size
        self.token_embedding = nn.Embedding(codebook_size + 1, config.dim)  # + [MASK]
        self.positions = nn.Parameter(torch.randn(config.max_tokens + 1, config.dim) * POSITION_INIT_STD)
        self.text = TextCondition(config.text_dim, config.dim)
        self.layers = blocks(config, config.layers)
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, codebook_size)

    @property
    def mask_id(self) -> int:
        return self.codebook_size

    def inputs(self, tokens: Tensor, text: Tensor | None, text_drop: Tensor | None) -> Tensor:
        """(B, 1 + N, D): the text token, then the token embeddings, plus positions."""
        embedded = self.token_embedding(tokens)
        sequence = torch.cat([self.text(text, text_drop, tokens.shape[0]), embedded], dim=1)
        return sequence + self.positions[: sequence.shape[1]]

    def forward(self, tokens: Tensor, text: Tensor | None = None, text_drop: Tensor | None = None,
                controls: Sequence[Sequence[Tensor]] = ()) -> Tensor:
        """`controls`: per adapter, one (B, 1 + N, D) residual per layer, added after that layer."""
        return self.run(self.inputs(tokens, text, text_drop), controls)

    def run(self, h: Tensor, controls: Sequence[Sequence[Tensor]] = ()) -> Tensor:
        for index, layer in enumerate(self.layers):
            h = layer(h)
            for control in controls:
                h = h + control[index]
        return self.head(self.norm(h[:, 1:]))


class Adapter(nn.Module):
    """A trainable copy of the T2M layers fed the T2M's input plus a token-rate condition.

    `initialise_from(t2m)` copies the T2M's layer weights (ControlNet); the module keeps a flag
    so it happens once, at the start of the adapter's training stage, and survives resumes.
    """

    def __init__(self, config: TransformerConfig, signal_dim: int, rate: int):
        super().__init__()
        self.layers = blocks(config, config.layers)
        self.signal = TokenRate(signal_dim, config.dim, rate)
        self.zero = nn.ModuleList(nn.Linear(config.dim, config.dim) for _ in range(config.layers))
        for linear in self.zero:
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def initialise_from(self, t2m: MaskedTransformer) -> None:
        if not bool(self.initialised):
            self.layers.load_state_dict(t2m.layers.state_dict())
            self.initialised.fill_(True)

    def forward(self, t2m_inputs: Tensor, signal: Tensor) -> list[Tensor]:
        """Per layer, the (B, 1 + N, D) residual to add to the T2M's hidden state."""
        condition = self.signal(signal)[:, : t2m_inputs.shape[1] - 1]
        h = t2m_inputs + F.pad(condition, (0, 0, 1, 0))  # nothing on the text token
        controls = []
        for layer, zero in zip(self.layers, self.zero):
            h = layer(h)
            controls.append(zero(h))
        return controls


class ResidualTransformer(nn.Module):
    """Logits (B, N, K) of quantizer layer q (1..Q-1) from the code sum of layers < q."""

    def __init__(self, codebook_size: int, num_quantizers: int, config: TransformerConfig, music_dim: int, rate: int):
        super().__init__()
        self.num_quantizers = num_quantizers
        inputs = num_quantizers - 1  # layers 0..Q-2 are ever inputs; 1..Q-1 are ever predicted
        self.token_embedding = nn.Parameter(torch.randn(inputs, codebook_size, config.dim) * POSITION_INIT_STD)
        self.layer_embedding = nn.Embedding(num_quantizers, config.dim)
        self.positions = nn.Parameter(torch.randn(config.max_tokens + 1, config.dim) * POSITION_INIT_STD)
        self.text = TextCondition(config.text_dim, config.dim)
        self.music = TokenRate(music_dim, config.dim, rate)
        self.null_music = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.layers = blocks(config, config.residual_layers, cross_every=2)
        self.norm = nn.LayerNorm(config.dim)
        self.heads = nn.Parameter(torch.randn(inputs, config.dim, codebook_size) * POSITION_INIT_STD)
        self.head_bias = nn.Parameter(torch.zeros(inputs, codebook_size))

    def code_sum(self, codes: Tensor, layer: Tensor) -> Tensor:
        """(B, N, D): Σ_{j < layer} embedding_j[codes_j], `layer` (B,) in 1..Q-1."""
        depth = self.token_embedding.shape[0]
        used = torch.arange(depth, device=codes.device)[None] < layer[:, None]  # (B, Q-1)
        total = 0
        for j in range(min(depth, codes.shape[-1])):
            total = total + self.token_embedding[j][codes[..., j].clamp(min=0)] * used[:, j, None, None]
        return total

    def forward(self, codes: Tensor, layer: Tensor, text: Tensor | None, text_drop: Tensor | None,
                music: Tensor | None, music_drop: Tensor | None = None) -> Tensor:
        batch, tokens = codes.shape[:2]
        x = self.code_sum(codes, layer) + self.layer_embedding(layer)[:, None]
        h = torch.cat([self.text(text, text_drop, batch), x], dim=1) + self.positions[: tokens + 1]
        memory = self.null_music.expand(batch, 1, -1)
        if music is not None:
            projected = self.music(music)
            if music_drop is not None:
                projected = torch.where(music_drop[:, None, None], memory.expand_as(projected), projected)
            memory = projected
        for block in self.layers:
            h = block(h, memory)
        out = self.norm(h[:, 1:])
        index = layer - 1
        return torch.einsum("bnd,bdk->bnk", out, self.heads[index]) + self.head_bias[index][:, None]
