"""The Motion Temporal Mamba Module (MTMM, LRCM eqs. 19–24).

After each residual block, the block's latents h (B, T, C) of the current segment meet the
memory: the last T_m frames of the previous segment's motion (B, T_m, D), projected to the
module's width. The two are concatenated in time (memory first), given sinusoidal positions
and scanned by a bidirectional Mamba (a forward scan and a scan of the time-reversed sequence,
flipped back and summed), normalised, split back so that only the current frames go on, added
to the block latents (residual) and passed through the gated fusion f_δ: σ(gate) ⊙ tanh(filter)
then a projection to the next block's residual and a skip output.

Two deliberate choices, both so that phase 3 starts from the phase-2 model exactly:
- f_δ's output projection is zero-initialised and the residual is x + r (the authors' code
  uses (x + r)/√2): an untrained MTMM is the identity and adds nothing to the skips.
- without memory (the first segment of a song) the module is skipped altogether (the network
  does that), which is exactly the model phases 1 and 2 trained.

Mamba: `mambapy` (pure PyTorch, parallel scan) everywhere; with `backend="auto"` and the
`mamba_ssm` package importable on a CUDA machine, `mamba_ssm.Mamba` instead. Both hold the same
parameters under the same names (in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj), so
weights move between them unchanged; the CUDA path is not exercised by the tests here.
"""

from __future__ import annotations

import torch
from torch import nn

from dancegen.models.blocks import SinusoidalEmbedding

Tensor = torch.Tensor


def mamba_scan(dim: int, d_state: int, d_conv: int, expand: int, backend: str = "auto") -> nn.Module:
    """One Mamba mixer (B, L, dim) → (B, L, dim), without its residual or norm."""
    if backend in ("auto", "mamba_ssm") and torch.cuda.is_available():
        try:
            from mamba_ssm import Mamba as FusedMamba
        except ImportError:
            if backend == "mamba_ssm":
                from dancegen.errors import MissingResourceError

                raise MissingResourceError("network.memory.backend=mamba_ssm needs the mamba_ssm package") from None
        else:
            return FusedMamba(d_model=dim, d_state=d_state, d_conv=d_conv, expand=expand)
    from mambapy.mamba import MambaBlock, MambaConfig

    return MambaBlock(MambaConfig(d_model=dim, n_layers=1, d_state=d_state, d_conv=d_conv, expand_factor=expand, pscan=True))


class BidirectionalMamba(nn.Module):
    """Forward and time-reversed scans, merged by summing and normalised (eqs. 21–22)."""

    def __init__(self, dim: int, d_state: int, d_conv: int, expand: int, backend: str = "auto"):
        super().__init__()
        self.forward_scan = mamba_scan(dim, d_state, d_conv, expand, backend)
        self.backward_scan = mamba_scan(dim, d_state, d_conv, expand, backend)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        backward = self.backward_scan(x.flip(1)).flip(1)
        return self.norm(self.forward_scan(x) + backward)


class GatedFusion(nn.Module):
    """f_δ: σ(gate) ⊙ tanh(filter) on the two halves, projected to (residual, skip), zero-initialised."""

    def __init__(self, hidden: int, channels: int):
        super().__init__()
        self.output = nn.Linear(hidden // 2, 2 * channels)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        gate, filter_ = h.chunk(2, dim=-1)
        residual, skip = self.output(torch.sigmoid(gate) * torch.tanh(filter_)).chunk(2, dim=-1)
        return residual, skip


class MotionMemoryBlock(nn.Module):
    """One MTMM after a residual block: (x (B, T, C), memory (B, T_m, D)) → (x', skip (B, T, C))."""

    def __init__(self, channels: int, motion_dim: int, hidden: int, d_state: int, d_conv: int, expand: int,
                 backend: str = "auto"):
        super().__init__()
        self.latent_in = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU())  # f_θ1
        self.memory_in = nn.Linear(motion_dim, hidden)
        self.positions = SinusoidalEmbedding(hidden)
        self.scan = BidirectionalMamba(hidden, d_state, d_conv, expand, backend)
        self.norm = nn.LayerNorm(hidden)
        self.fusion = GatedFusion(hidden, channels)

    def forward(self, x: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        h = self.latent_in(x)
        memory_frames = memory.shape[1]
        sequence = torch.cat([self.memory_in(memory), h], dim=1)
        sequence = sequence + self.positions(torch.arange(sequence.shape[1], device=x.device))[None]
        scanned = self.scan(sequence)[:, memory_frames:]  # split back: the current frames go on
        residual, skip = self.fusion(self.norm(scanned) + h)
        return x + residual, skip
