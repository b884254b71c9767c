"""Typed DanceMosaic configuration, with the paper's size and a small CPU size as presets.

DanceMosaic (Shah et al. 2025) builds on MoMask (Guo et al. 2024): a residual VQ-VAE turns
HumanML3D-style motion features (`hml263`, 22 SMPL body joints) into 6 layers of tokens at a
quarter of the frame rate; a masked "T2M" transformer predicts the base layer from text; two
ControlNet-style adapters (trainable copies of the T2M layers joined through zero-initialised
linear layers) add music and pose conditions; a residual transformer predicts layers 1..5.

Paper numbers (the paper and MoMask's published settings): codebook 512 × 512, 6 quantizer
layers, temporal downsampling ×4, quantizer dropout 0.2, commitment 0.02; T2M and adapters 8
layers × 384 dims × 6 heads; 10 % text dropout; 18 decoding iterations at temperature 1; the
residual layers decoded greedily. `configs/mosaic_{small,paper}.yaml` are the presets written out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from dancegen.audio.config import MusicFeatures
from dancegen.config import (
    FamilyConfig,
    StrictConfig,
    TrainConfig,
    check_modality_weights,
)
from dancegen.data.config import DataConfig
from dancegen.sampling.beat_sync import BeatSyncConfig

MODALITIES = ("text", "music", "pose")  # guidance modalities, one weight each
STAGES = ("tokenizer", "t2m", "music_adapter", "pose_adapter", "residual")
BODY_JOINTS = 22  # hml263 encodes the 22 SMPL body joints


class MusicConfig(MusicFeatures):
    features: str = "baseline35"
    dim: int = 35


class TokenizerConfig(StrictConfig):
    width: int = Field(512, ge=8)  # conv channels
    depth: int = Field(3, ge=1)  # residual conv blocks per resolution
    downsample: int = Field(2, ge=0)  # stride-2 stages: tokens at 1 / 2**downsample of the frame rate
    codebook_size: int = Field(512, ge=2)
    code_dim: int = Field(512, ge=2)
    num_quantizers: int = Field(6, ge=2)
    quantize_dropout: float = Field(0.2, ge=0.0, le=1.0)  # MoMask: share of batches using fewer layers
    commitment: float = Field(0.02, ge=0.0)  # MoMask's commitment weight
    codebook_decay: float = Field(0.99, gt=0.0, lt=1.0)  # EMA codebook update
    dead_code_threshold: float = Field(2.0, ge=0.0)  # ResidualVQ threshold_ema_dead_code

    @property
    def rate(self) -> int:
        return 2 ** self.downsample


class TransformerConfig(StrictConfig):
    """The T2M transformer; the adapters are copies of its layers, the residual one its size."""

    dim: int = Field(384, ge=8)
    layers: int = Field(8, ge=1)
    heads: int = Field(6, ge=1)
    ff_mult: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    text_dim: int = Field(384, ge=1)  # MiniLM
    text_dropout: float = Field(0.1, ge=0.0, le=1.0)  # MoMask cond_drop_prob
    # Adapters drop the text more often: independent guidance needs l(music alone), l(pose alone).
    adapter_text_dropout: float = Field(0.5, ge=0.0, le=1.0)
    max_tokens: int = Field(256, ge=1)  # positions the learned position embedding covers
    residual_layers: int = Field(8, ge=2)  # half of them cross-attend to music

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "TransformerConfig":
        if self.dim % self.heads:
            raise ValueError("transformer.dim must be a multiple of transformer.heads")
        return self


class LossConfig(StrictConfig):
    """Weights of the adapters' kinematic terms (supplementary eqs. 8-13) and the pose term."""

    positions: float = 1.0
    velocity: float = 1.0
    acceleration: float = 1.0
    foot: float = 1.0
    pose: float = 1.0
    gumbel_temperature: float = Field(1.0, gt=0.0)
    contact_threshold: float = Field(0.5, ge=0.0, le=1.0)  # hml263 contact labels above it are planted
    # Pose adapter training: share of frames whose joints are shown, and of joints shown there.
    pose_frame_rate: float = Field(0.2, gt=0.0, le=1.0)
    pose_joint_rate: float = Field(0.5, gt=0.0, le=1.0)


class StageSteps(StrictConfig):
    tokenizer: int = Field(2000, ge=0)
    t2m: int = Field(2000, ge=0)
    music_adapter: int = Field(1000, ge=0)
    pose_adapter: int = Field(1000, ge=0)
    residual: int = Field(1000, ge=0)


class StageRates(StrictConfig):
    """Per-stage learning rates (null: train.learning_rate)."""

    tokenizer: float | None = Field(None, gt=0)
    t2m: float | None = Field(None, gt=0)
    music_adapter: float | None = Field(None, gt=0)
    pose_adapter: float | None = Field(None, gt=0)
    residual: float | None = Field(None, gt=0)


class TokenOptimisationConfig(StrictConfig):
    enabled: bool = True
    learning_rate: float = Field(0.06, gt=0.0)
    iterations: int = Field(196, ge=1)


class SamplingConfig(StrictConfig):
    iterations: int = Field(18, ge=1)  # confidence-based parallel decoding of the base layer
    temperature: float = Field(1.0, ge=0.0)
    residual_temperature: float = Field(0.0, ge=0.0)  # 0: argmax
    guidance: dict[str, float] = {"text": 2.0, "music": 2.0, "pose": 1.0}
    segment_seconds: float = Field(4.0, gt=0)  # long songs: segments of the training length ...
    transition_seconds: float = Field(1.0, ge=0)  # ... whose seams are re-decoded from both sides
    keyframe_radius_seconds: float = Field(0.5, ge=0)  # in-betweening: tokens re-masked around keyframes
    token_optimisation: TokenOptimisationConfig = TokenOptimisationConfig()
    beat_sync: BeatSyncConfig = BeatSyncConfig()  # tempo and accents on the song's beats


class MosaicConfig(FamilyConfig):
    family: Literal["mosaic"] = "mosaic"
    music: MusicConfig = MusicConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    transformer: TransformerConfig = TransformerConfig()
    loss: LossConfig = LossConfig()
    stages: StageSteps = StageSteps()
    stage_rates: StageRates = StageRates()
    sampling: SamplingConfig = SamplingConfig()
    data: DataConfig = DataConfig(normalizer="meanstd")  # HumanML3D's Mean/Std normalisation
    train: TrainConfig = TrainConfig(out_dir=Path("runs/mosaic"))
    modalities = MODALITIES

    @model_validator(mode="after")
    def _guidance_names_modalities(self) -> "MosaicConfig":
        check_modality_weights(self.sampling.guidance, self.modalities, "sampling.guidance", low=-1e3, high=1e3)
        return self

    @model_validator(mode="after")
    def _windows_fit_the_positions(self) -> "MosaicConfig":
        tokens = -(-self.data.window_frames // self.tokenizer.rate)
        if tokens > self.transformer.max_tokens:
            raise ValueError(f"transformer.max_tokens: {self.transformer.max_tokens} is less than the "
                             f"{tokens} tokens of one data.window_seconds window")
        return self


def small_config() -> MosaicConfig:
    """A CPU size: all five stages train on a few hundred clips in about 40 min on 2 cores."""
    return MosaicConfig(
        tokenizer=TokenizerConfig(width=128, depth=2, codebook_size=256, code_dim=128),
        transformer=TransformerConfig(dim=128, layers=3, heads=4, ff_mult=2, max_tokens=64, residual_layers=2),
        stages=StageSteps(tokenizer=3000, t2m=2400, music_adapter=1200, pose_adapter=800, residual=1200),
        # Temperature 0.5: on the held-out pairs FID_k 289 → 84 and Div_k 18.6 → 12.3 (real 11.3)
        # against 1.0, whose draws jump between unrelated moves (0.3 and 0.7 were worse).
        sampling=SamplingConfig(temperature=0.5, token_optimisation=TokenOptimisationConfig(iterations=40)),
        data=DataConfig(kind="folder", vocabulary="kit", normalizer="meanstd"),
        train=TrainConfig(batch_size=32, learning_rate=5e-4, warmup_steps=100, ema_decay=0.99, checkpoint_every=250,
                          log_every=25, out_dir=Path("runs/mosaic_small")),
    )


def paper_config() -> MosaicConfig:
    """DanceMosaic as published (MoMask sizes): 512 × 512 codebook, 6 layers, 8 × 384 × 6 transformers."""
    return MosaicConfig(
        stages=StageSteps(tokenizer=100000, t2m=100000, music_adapter=50000, pose_adapter=50000, residual=100000),
        data=DataConfig(kind="finedance", vocabulary="finedance", normalizer="meanstd", window_seconds=6.5),
        train=TrainConfig(batch_size=64, learning_rate=2e-4, warmup_steps=2000, out_dir=Path("runs/mosaic_paper")),
    )
