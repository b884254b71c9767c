"""All of DanceMosaic's networks in one module, and the passes generation and training share.

    network = MosaicNetwork(config)
    logits = network.base_logits(tokens, {"text": t, "music": m, "pose": p}, drop)   # (B, N, K)
    logits = network.residual_logits(codes, layer, text, music)                      # (B, N, K)

`base_logits` is the T2M transformer plus whichever adapters are present and not dropped:
a dropped modality contributes nothing (text: the null token; music, pose: no adapter
residuals), so every subset of conditions is one pass, as multimodal guidance needs.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from dancegen.models.mosaic.config import BODY_JOINTS, MosaicConfig
from dancegen.models.mosaic.tokenizer import MotionTokenizer
from dancegen.models.mosaic.transformer import Adapter, MaskedTransformer, ResidualTransformer

Tensor = torch.Tensor
HML263_DIM = 263
# The pose signal per frame: 22 joint positions (zeroed where unknown) and 22 validity flags.
POSE_SIGNAL_DIM = BODY_JOINTS * 4
COMPONENTS = ("tokenizer", "t2m", "music_adapter", "pose_adapter", "residual")
DANCE_PROMPT = "A person dances on {genre} style."


def dance_prompt(genre: str | None, text: str | None = None) -> str:
    """DanceMosaic's text: "A person dances on [genre] style." followed by any free text."""
    parts = []
    if genre is not None:
        from dancegen.data.genres import GENRES

        parts.append(DANCE_PROMPT.format(genre=GENRES[genre].name))
    if text:
        parts.append(text.strip())
    return " ".join(parts)


def pose_signal(positions: Tensor, valid: Tensor) -> Tensor:
    """(B, T, 88): joint positions (B, T, 22, 3) zeroed where not `valid` (B, T, 22), then the flags."""
    weight = valid.to(positions.dtype)
    return torch.cat([(positions * weight[..., None]).flatten(-2), weight], dim=-1)


class MosaicNetwork(nn.Module):
    def __init__(self, config: MosaicConfig, motion_dim: int = HML263_DIM):
        super().__init__()
        size, tokens = config.transformer, config.tokenizer
        self.tokenizer = MotionTokenizer(motion_dim, tokens)
        self.t2m = MaskedTransformer(tokens.codebook_size, size)
        self.music_adapter = Adapter(size, config.music.dim, tokens.rate)
        self.pose_adapter = Adapter(size, POSE_SIGNAL_DIM, tokens.rate)
        self.residual = ResidualTransformer(tokens.codebook_size, tokens.num_quantizers, size, config.music.dim, tokens.rate)

    def component(self, name: str) -> nn.Module:
        return getattr(self, name)

    def controls(self, inputs: Tensor, conditions: Mapping[str, Tensor | None],
                 drop: Mapping[str, Tensor]) -> list[list[Tensor]]:
        """Residuals of the adapters whose condition is given, zero for dropped batch items."""
        controls = []
        for name, adapter in (("music", self.music_adapter), ("pose", self.pose_adapter)):
            signal = conditions.get(name)
            if signal is None:
                continue
            residuals = adapter(inputs, signal)
            if name in drop:
                keep = (~drop[name]).to(inputs.dtype)[:, None, None]
                residuals = [residual * keep for residual in residuals]
            controls.append(residuals)
        return controls

    def base_logits(self, tokens: Tensor, conditions: Mapping[str, Tensor | None],
                    drop: Mapping[str, Tensor] | None = None) -> Tensor:
        """Base-layer logits (B, N, K); `conditions` "text" (B, E), "music" (B, T, M), "pose" (B, T, 88)."""
        drop = drop or {}
        inputs = self.t2m.inputs(tokens, conditions.get("text"), drop.get("text"))
        return self.t2m.run(inputs, self.controls(inputs, conditions, drop))

    def residual_logits(self, codes: Tensor, layer: Tensor, text: Tensor | None, music: Tensor | None,
                        text_drop: Tensor | None = None, music_drop: Tensor | None = None) -> Tensor:
        return self.residual(codes, layer, text, text_drop, music, music_drop)
