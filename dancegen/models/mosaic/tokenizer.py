"""The motion tokenizer: a 1D-conv residual VQ-VAE over normalised hml263 features (MoMask).

    tokenizer = MotionTokenizer(dim=263, config=TokenizerConfig(...))
    out = tokenizer(features)                    # (B, T, 263): reconstruction, codes, losses
    codes = tokenizer.encode(features)           # (B, ceil(T / 4), 6) token ids, layer 0 first
    features = tokenizer.decode(codes, frames=T) # back to (B, T, 263)

The encoder downsamples time by 2 per stage (×4 with the default two stages); the latent is
quantised by `ResidualVQ`: layer 0 quantises the latent, layer q the residual left by layers
< q, and the decoder reads the sum of the chosen codes. Codebooks learn by EMA (so the
"codebook" term of the paper's eq. 1 is the EMA update, not a gradient) and dead codes, used
less than `dead_code_threshold` times on the EMA count, are reset to encoder outputs.
Quantizer dropout (MoMask) trains some batches on only the first k layers, so every prefix of
the layers decodes to a motion and each further layer refines it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from vector_quantize_pytorch import ResidualVQ

from dancegen.models.mosaic.config import TokenizerConfig

Tensor = torch.Tensor
MM_PER_M = 1000.0
MAX_SEED = 2**31 - 1


class ResBlock1D(nn.Module):
    """Pre-activation residual conv block with a dilated 3-tap convolution (MoMask's ResConv1D)."""

    def __init__(self, width: int, dilation: int = 1):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation),
            nn.ReLU(),
            nn.Conv1d(width, width, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


def res_stack(width: int, depth: int) -> nn.Sequential:
    # Dilations 1, 3, 9, ... widen the receptive field as MoMask's Resnet1D does.
    return nn.Sequential(*(ResBlock1D(width, 3**i) for i in range(depth)))


class ConvEncoder(nn.Module):
    def __init__(self, dim: int, width: int, code_dim: int, downsample: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(dim, width, 3, padding=1), nn.ReLU()]
        for _ in range(downsample):
            layers += [nn.Conv1d(width, width, 4, stride=2, padding=1), res_stack(width, depth)]
        layers.append(nn.Conv1d(width, code_dim, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:  # (B, D, T) -> (B, C, T / rate)
        return self.net(x)


class ConvDecoder(nn.Module):
    def __init__(self, dim: int, width: int, code_dim: int, downsample: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(code_dim, width, 3, padding=1), nn.ReLU()]
        for _ in range(downsample):
            layers += [res_stack(width, depth), nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv1d(width, width, 3, padding=1)]
        layers += [nn.ReLU(), nn.Conv1d(width, dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:  # (B, C, N) -> (B, D, N × rate)
        return self.net(z)


@dataclass
class TokenizerOutput:
    reconstruction: Tensor  # (B, T, D)
    codes: Tensor  # (B, N, Q)
    losses: dict[str, Tensor]  # reconstruction (L1), commitment


class MotionTokenizer(nn.Module):
    def __init__(self, dim: int, config: TokenizerConfig):
        super().__init__()
        self.config = config
        self.rate = config.rate
        self.encoder = ConvEncoder(dim, config.width, config.code_dim, config.downsample, config.depth)
        self.decoder = ConvDecoder(dim, config.width, config.code_dim, config.downsample, config.depth)
        self.quantizer = ResidualVQ(
            dim=config.code_dim,
            num_quantizers=config.num_quantizers,
            codebook_size=config.codebook_size,
            decay=config.codebook_decay,
            commitment_weight=config.commitment,
            threshold_ema_dead_code=config.dead_code_threshold,
            quantize_dropout=config.num_quantizers > 1,
            quantize_dropout_cutoff_index=0,  # a dropped batch keeps layers 0..k, k >= 0
        )

    @property
    def num_quantizers(self) -> int:
        return self.config.num_quantizers

    @property
    def codebooks(self) -> Tensor:
        """(Q, K, C) code vectors of every layer."""
        return self.quantizer.codebooks

    def token_count(self, frames: int) -> int:
        return -(-frames // self.rate)

    def _pad(self, features: Tensor) -> Tensor:
        """Repeat the last frame up to a multiple of the token rate."""
        extra = self.token_count(features.shape[1]) * self.rate - features.shape[1]
        return F.pad(features.transpose(1, 2), (0, extra), mode="replicate") if extra else features.transpose(1, 2)

    def latent(self, features: Tensor) -> Tensor:
        """(B, N, C) continuous encoder output."""
        return rearrange(self.encoder(self._pad(features)), "b c n -> b n c")

    def forward(self, features: Tensor, generator: torch.Generator | None = None) -> TokenizerOutput:
        """Encode, quantise (with quantizer dropout on a `quantize_dropout` share of batches) and decode."""
        frames = features.shape[1]
        latent = self.latent(features)
        seed, dropout = None, False
        if self.training and self.num_quantizers > 1:
            draws = torch.rand(2, generator=generator, device=features.device).tolist()
            dropout, seed = draws[0] < self.config.quantize_dropout, int(draws[1] * MAX_SEED)
        with quantizer_dropout(self.quantizer, dropout):
            quantised, codes, commitment = self.quantizer(latent, rand_quantize_dropout_fixed_seed=seed)
        reconstruction = self.decode_latent(quantised, frames)
        losses = {"reconstruction": F.l1_loss(reconstruction, features), "commitment": commitment.sum()}
        return TokenizerOutput(reconstruction, codes, losses)

    @torch.no_grad()
    def encode(self, features: Tensor) -> Tensor:
        """(B, N, Q) token ids of every layer, without touching the codebooks (eval mode)."""
        with evaluating(self.quantizer):
            _, codes, _ = self.quantizer(self.latent(features))
        return codes

    def embed(self, codes: Tensor) -> Tensor:
        """(B, N, C) the summed code vectors of `codes` (B, N, q), any number q of first layers."""
        layers = codes.shape[-1]
        vectors = [self.codebooks[q][codes[..., q]] for q in range(layers)]
        return torch.stack(vectors).sum(0)

    def decode_latent(self, latent: Tensor, frames: int | None = None) -> Tensor:
        """(B, N, C) latent -> (B, frames, D) features (trimmed to `frames`)."""
        out = rearrange(self.decoder(rearrange(latent, "b n c -> b c n")), "b d t -> b t d")
        return out if frames is None else out[:, :frames]

    def decode(self, codes: Tensor, frames: int | None = None) -> Tensor:
        return self.decode_latent(self.embed(codes), frames)


@contextmanager
def evaluating(module: nn.Module):
    """`module` in eval mode for a block (no EMA codebook updates, no dead-code resets)."""
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


@contextmanager
def quantizer_dropout(quantizer: ResidualVQ, enabled: bool):
    """ResidualVQ drops layers on every training call once enabled; MoMask does it on a share
    of the batches only, so the switch is thrown per batch."""
    was = quantizer.quantize_dropout
    quantizer.quantize_dropout = enabled and was
    try:
        yield quantizer
    finally:
        quantizer.quantize_dropout = was


def codebook_usage(codes: Tensor, codebook_size: int) -> list[float]:
    """Per quantizer layer, the share of its codebook that `codes` (..., Q) use."""
    flat = codes.reshape(-1, codes.shape[-1])
    return [torch.unique(flat[:, q]).numel() / codebook_size for q in range(flat.shape[1])]


def reconstruction_mpjpe_mm(positions_fn, features: Tensor, reconstruction: Tensor) -> float:
    """Mean per-joint position error in millimetres between two feature batches, through
    `positions_fn` (normalised features (..., T, D) -> joint positions (..., T, J, 3) metres)."""
    with torch.no_grad():
        error = (positions_fn(reconstruction) - positions_fn(features)).norm(dim=-1)
    return float(error.mean()) * MM_PER_M


__all__ = ["MotionTokenizer", "TokenizerOutput", "codebook_usage", "evaluating", "reconstruction_mpjpe_mm"]
