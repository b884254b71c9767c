"""The LRCM denoiser: LDA's stack of residual blocks with LRCM's Conformer conditioning.

Inputs per segment of T frames:
- `x_t` (B, T, D): noisy motion features (the `expmap` codec by default, D = 76 on SMPL-24);
- `t` (B,): diffusion timesteps;
- conditions: `music` (B, T, M) frame-aligned audio features, and `text` (B, T, 2E): the
  global text embedding (the same on every frame) and the per-frame local text embedding side
  by side (`pack_text`), so that one guidance modality covers both;
- `drop`: per-modality (B,) masks for classifier-free guidance (learned null embeddings);
- `memory` (B, T_m, D): the previous segment's last frames, for the MTMM (None: no memory).

One residual block (non-causal, LDA's gated residual + skip structure):
    y = x + W_t e(t)
    y = AudioConformer(y, music)          eq. 13: audio projected and added, Conv1D, MHSA,
                                          each with a residual and LayerNorm
    y = TextCrossConformer(y, text)       eq. 14: Conv1D on both, the audio branch queries the
                                          text features, residual + LayerNorm
    residual, skip = GTU(y)               eqs. 15–16: σ(W_g y) ⊙ tanh(W_f y), then 1×1 conv
    x ← (x + residual) / √2
then an MTMM block (`memory.py`) when there is memory. The skips are summed, scaled by
1/√(blocks), projected and mapped to the output (zero-initialised, as in LDA).

Text fusion (eq. 14's first half), shared by every block as in the authors' code: the global
(B, E) and local (B, T, E) embeddings each go through a bottleneck and an activation, are
concatenated and projected to C_t. The network knows nothing of noise schedules.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
from einops import rearrange
from torch import nn

from dancegen.models.blocks import Attention, RotaryEmbedding, SinusoidalEmbedding
from dancegen.models.lrcm.config import MODALITIES, LRCMConfig
from dancegen.models.lrcm.memory import MotionMemoryBlock

Tensor = torch.Tensor

STEP_SINUSOIDS = 128  # LDA's diffusion-step table: 64 sines + 64 cosines


def epsilon_from_output(output: Tensor, noisy: Tensor, signal: Tensor, kind: str) -> Tensor:
    """ε̂ from the network's output: itself ("epsilon"), √ᾱ·v̂ + √(1−ᾱ)·x_t ("v"), or
    (x_t − √ᾱ·x̂0)/√(1−ᾱ) ("x0"); `signal` (B,) is ᾱ_t of each item."""
    if kind == "epsilon":
        return output
    signal = signal.to(output.dtype).reshape(-1, *([1] * (output.dim() - 1)))
    if kind == "x0":
        return (noisy - signal.sqrt() * output) / (1.0 - signal).sqrt()
    return signal.sqrt() * output + (1.0 - signal).sqrt() * noisy


def pack_text(global_text: Tensor, local_text: Tensor | None, frames: int) -> Tensor:
    """(B, E) global and (B, T, E) local embeddings → the (B, T, 2E) `text` condition; no local
    text means the global text on every frame (what the data gives outside local spans)."""
    expanded = global_text[:, None].expand(-1, frames, -1)
    return torch.cat([expanded, expanded if local_text is None else local_text], dim=-1)


class TimeConv(nn.Module):
    """Conv1D over time on (B, T, C), length kept."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, padding=kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        return rearrange(self.conv(rearrange(x, "b t c -> b c t")), "b c t -> b t c")


class AudioConformer(nn.Module):
    """Eq. 13: audio added to the latents, then Conv1D and self-attention, each residual + LN.

    The LayerNorms sit on the branches (pre-LN, as Conformer and DiT blocks do), not on the sum:
    normalising the stream itself hid the noisy input's scale from the skip outputs, and an
    ε-model that cannot pass x_t through cannot denoise (its ε error stayed at 0.57 where the
    identity gives 0 on the noisiest three quarters of LRCM's schedule).
    """

    def __init__(self, channels: int, music_dim: int, heads: int, kernel: int, dropout: float):
        super().__init__()
        self.music_in = nn.Linear(music_dim, channels)
        self.null_music = nn.Parameter(torch.zeros(channels))
        self.conv = TimeConv(channels, channels, kernel)
        self.conv_norm = nn.LayerNorm(channels)
        self.attention = Attention(channels, heads)
        self.attention_norm = nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, y: Tensor, music: Tensor | None, dropped: Tensor, rotary: Tensor) -> Tensor:
        if music is None:
            audio = self.null_music.expand_as(y)
        else:
            audio = torch.where(rearrange(dropped, "b -> b 1 1"), self.null_music, self.music_in(music))
        h = y + audio
        h = h + self.dropout(self.conv(self.conv_norm(h)))
        return h + self.dropout(self.attention(self.attention_norm(h), rotary=rotary))


class TextCrossConformer(nn.Module):
    """Eq. 14 (second half): Conv1D on latents and text, latents query the text, residual + LN
    (pre-LN on the query branch, as in `AudioConformer`)."""

    def __init__(self, channels: int, text_channels: int, heads: int, kernel: int, dropout: float):
        super().__init__()
        self.query_conv = TimeConv(channels, channels, kernel)
        self.text_conv = TimeConv(text_channels, text_channels, kernel)
        self.attention = Attention(channels, heads, context_dim=text_channels)
        self.norm = nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, text: Tensor, rotary: Tensor) -> Tensor:
        attended = self.attention(self.query_conv(self.norm(h)), self.text_conv(text), rotary=rotary)
        return h + self.dropout(attended)


class GatedTanhUnit(nn.Module):
    """Eqs. 15–16: σ(gate) ⊙ tanh(filter), then a 1×1 convolution to (residual, skip)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gate_filter = nn.Linear(channels, 2 * channels)
        self.output = nn.Linear(channels, 2 * channels)

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        gate, filter_ = self.gate_filter(y).chunk(2, dim=-1)
        residual, skip = self.output(torch.sigmoid(gate) * torch.tanh(filter_)).chunk(2, dim=-1)
        return residual, skip


class TextFusion(nn.Module):
    """Global and local text → bottlenecks → activation → concatenation → C_t (eq. 14), with
    learned null embeddings for dropped text (both) and for local text left out (phase 1)."""

    def __init__(self, text_dim: int, bottleneck: int, text_channels: int):
        super().__init__()
        self.text_dim = text_dim
        self.global_in = nn.Sequential(nn.Linear(text_dim, bottleneck), nn.SiLU())
        self.local_in = nn.Sequential(nn.Linear(text_dim, bottleneck), nn.SiLU())
        self.output = nn.Linear(2 * bottleneck, text_channels)
        self.null_global = nn.Parameter(torch.randn(text_dim) * 0.02)
        self.null_local = nn.Parameter(torch.randn(text_dim) * 0.02)

    def forward(self, text: Tensor | None, dropped: Tensor, batch: int, frames: int, use_local: bool = True) -> Tensor:
        if text is None:
            global_text = self.null_global.expand(batch, 1, -1)
            local_text = self.null_local.expand(batch, frames, -1)
        else:
            keep = rearrange(~dropped, "b -> b 1 1")
            # The global text is the same on every frame: its bottleneck runs once per item.
            global_text = torch.where(keep, text[:, :1, : self.text_dim], self.null_global)
            local_text = torch.where(keep, text[..., self.text_dim :], self.null_local)
        if not use_local:
            local_text = self.null_local.expand(batch, frames, -1)
        global_features = self.global_in(global_text).expand(-1, frames, -1)
        return self.output(torch.cat([global_features, self.local_in(local_text)], dim=-1))


class ResidualBlock(nn.Module):
    """One denoising residual block: step, audio Conformer, text cross-Conformer, GTU."""

    def __init__(self, channels: int, embedding_dim: int, music_dim: int, text_channels: int, heads: int,
                 kernel: int, dropout: float):
        super().__init__()
        self.step_in = nn.Linear(embedding_dim, channels)
        self.audio = AudioConformer(channels, music_dim, heads, kernel, dropout)
        self.text = TextCrossConformer(channels, text_channels, heads, kernel, dropout)
        self.gtu = GatedTanhUnit(channels)

    def forward(self, x: Tensor, step: Tensor, music: Tensor | None, music_dropped: Tensor, text: Tensor,
                rotary: Tensor) -> tuple[Tensor, Tensor]:
        y = x + self.step_in(step)[:, None]
        y = self.text(self.audio(y, music, music_dropped, rotary), text, rotary)
        residual, skip = self.gtu(y)
        return (x + residual) / math.sqrt(2.0), skip


class LRCMNetwork(nn.Module):
    modalities = MODALITIES

    def __init__(self, config: LRCMConfig):
        super().__init__()
        net = config.network
        channels, self.motion_dim = net.residual_channels, net.motion_dim
        self.text_dim = net.text_dim
        self.input = nn.Linear(self.motion_dim, channels)
        self.step_embedding = nn.Sequential(
            SinusoidalEmbedding(STEP_SINUSOIDS), nn.Linear(STEP_SINUSOIDS, net.embedding_dim), nn.SiLU(),
            nn.Linear(net.embedding_dim, net.embedding_dim), nn.SiLU(),
        )
        self.text_fusion = TextFusion(net.text_dim, net.text_bottleneck, net.text_channels)
        self.rotary = RotaryEmbedding(channels // net.heads)
        self.blocks = nn.ModuleList(
            ResidualBlock(channels, net.embedding_dim, config.music.dim, net.text_channels, net.heads,
                          net.conv_kernel, net.dropout)
            for _ in range(net.residual_layers)
        )
        memory = net.memory
        # MTMM after blocks every-1, 2·every-1, ... (keyed by block index, so state dicts name them).
        self.memory = nn.ModuleDict({
            str(index): MotionMemoryBlock(channels, self.motion_dim, memory.hidden, memory.d_state, memory.d_conv,
                                          memory.expand, memory.backend)
            for index in range(memory.every - 1, net.residual_layers, memory.every)
        }) if memory.enabled else None
        self.skip_out = nn.Linear(channels, channels)
        self.output = nn.Linear(channels, self.motion_dim)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        conditions: Mapping[str, Tensor | None],
        drop: Mapping[str, Tensor] | None = None,
        memory: Tensor | None = None,
        use_local: bool = True,
    ) -> Tensor:
        """ε (or x_0) prediction (B, T, D). `memory` is ignored by a network without MTMM;
        `use_local=False` replaces the local text by its null embedding (phase 1)."""
        drop = drop or {}
        batch, frames = x.shape[:2]
        no_drop = torch.zeros(batch, dtype=torch.bool, device=x.device)
        text = self.text_fusion(conditions.get("text"), drop.get("text", no_drop), batch, frames, use_local)
        music, music_dropped = conditions.get("music"), drop.get("music", no_drop)
        step = self.step_embedding(t)
        rotary = self.rotary(frames, x.device)
        h, skips = torch.relu(self.input(x)), 0.0
        for index, block in enumerate(self.blocks):
            h, skip = block(h, step, music, music_dropped, text, rotary)
            skips = skips + skip
            if memory is not None and self.memory is not None and str(index) in self.memory:
                h, skip = self.memory[str(index)](h, memory)
                skips = skips + skip
        h = torch.relu(self.skip_out(skips / math.sqrt(len(self.blocks))))
        return self.output(h)

    def memory_parameters(self) -> list[nn.Parameter]:
        return [] if self.memory is None else list(self.memory.parameters())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
