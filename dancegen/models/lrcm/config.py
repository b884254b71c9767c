"""Typed LRCM configuration, with the paper's size and a small CPU size as presets.

`configs/lrcm_paper.yaml` and `configs/lrcm_small.yaml` are these presets written out.

Paper and authors' code (Duan et al., LRCM; `OranDuanStudy/LRCM`, built on LDA): 20 residual
blocks, 256 residual channels, 512-d diffusion embedding, Conformer attention with 8 heads,
a linear β schedule 0.01 → 0.7 over 200 steps with ε prediction, expmap motion at 30 fps,
memory of the previous segment's last frames through a bidirectional Mamba (d_state 32,
d_conv 4, expand 2), three training phases (global text, + local text, + memory with the rest
frozen), CLIP ViT-B/32 text (512-d). Deliberate differences: MiniLM (384-d, offline) is the
default text encoder (`data.text_encoder=clip` with `network.text_dim=512` for CLIP), and
`lda3` music features (LDA's published set is not reproducible offline).
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
from dancegen.sampling.inbetween import InbetweenConfig

MODALITIES = ("music", "text")  # guidance order (eq. 5): audio strength γ, then text strength δ
SKELETON_JOINTS = {"smpl24": 24}
# The three training phases, in order (Stage names).
PHASE_GLOBAL, PHASE_LOCAL, PHASE_MEMORY = "global", "local", "memory"


class MusicConfig(MusicFeatures):
    features: str = "lda3"
    dim: int = 3


class MemoryConfig(StrictConfig):
    """The Motion Temporal Mamba Module (MTMM, eqs. 19–24)."""

    enabled: bool = True
    frames: int = Field(5, ge=1)  # T_m: the previous segment's last frames (authors: memory_length 5)
    hidden: int = Field(64, ge=2)  # f_θ1 width; even (the gated fusion splits it in two)
    d_state: int = Field(16, ge=1)
    d_conv: int = Field(4, ge=1)
    expand: int = Field(2, ge=1)
    every: int = Field(1, ge=1)  # an MTMM after every `every`-th residual block (authors: every one)
    # "auto": the fused CUDA kernels of mamba_ssm when installed and on a GPU, else mambapy.
    backend: Literal["auto", "mambapy", "mamba_ssm"] = "auto"

    @model_validator(mode="after")
    def _hidden_is_even(self) -> "MemoryConfig":
        if self.hidden % 2:
            raise ValueError("network.memory.hidden: must be even (the gated fusion halves it)")
        return self


class NetworkConfig(StrictConfig):
    skeleton: Literal["smpl24"] = "smpl24"
    codec: str = "expmap"  # a dancegen.motion.codecs name
    residual_layers: int = Field(4, ge=1)
    residual_channels: int = Field(64, ge=8)  # C
    embedding_dim: int = Field(128, ge=8)  # diffusion-step embedding
    heads: int = Field(4, ge=1)
    conv_kernel: int = Field(3, ge=1)  # Conformer Conv1D over time (odd: centred)
    text_dim: int = Field(384, ge=1)  # text encoder width (MiniLM 384, CLIP 512)
    text_bottleneck: int = Field(32, ge=1)  # each of global / local before concatenation
    text_channels: int = Field(64, ge=8)  # C_t
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    memory: MemoryConfig = MemoryConfig()

    @model_validator(mode="after")
    def _shapes_fit(self) -> "NetworkConfig":
        from dancegen.motion.codecs import CODEC_NAMES

        if self.codec not in CODEC_NAMES:
            raise ValueError(f"network.codec: unknown codec {self.codec!r} (choose one of {', '.join(CODEC_NAMES)})")
        if self.residual_channels % self.heads:
            raise ValueError("network.residual_channels: must be divisible by network.heads")
        if self.conv_kernel % 2 == 0:
            raise ValueError("network.conv_kernel: must be odd (a centred convolution keeps the length)")
        return self

    @property
    def motion_dim(self) -> int:
        from dancegen.motion.codecs import get_codec
        from dancegen.skeleton import get_skeleton

        return get_codec(self.codec, get_skeleton(self.skeleton)).dim


class DiffusionConfig(StrictConfig):
    schedule: Literal["linear", "cosine", "lda", "lrcm"] = "lrcm"
    num_steps: int | None = Field(None, ge=2)  # None: the schedule's published count (lrcm: 200)
    prediction: Literal["x0", "epsilon"] = "epsilon"
    # What the network's raw output is; the sampler always gets ε̂ from it.
    # "epsilon": ε̂ itself with eq. 4's ε loss, as the paper writes it. "v": ε̂ = √ᾱ·out +
    # √(1−ᾱ)·x_t, the same ε loss. "x0": the clean motion, ε̂ = (x_t − √ᾱ·out)/√(1−ᾱ), with the
    # loss on x̂0 (EDGE's and MDM's choice). On the kit's 3500 CPU steps the first two could not
    # learn to remove the last 10 % of noise (x̂0 error 0.8× the noise at t = 0): their dances
    # jittered by 15–90° per frame. x0 needs no ε at low noise, where motion is smooth and ε is not.
    output: Literal["epsilon", "v", "x0"] = "x0"
    # With "v", steps where ᾱ_t < this give ε̂ ≈ x_t whatever the network says (their ε loss
    # is ~0 and carries no gradient): training draws its timesteps from the others only, so
    # the batch is spent where the network matters (the first ~55 of LRCM's 200 steps).
    train_min_signal: float = Field(1e-4, ge=0.0, lt=1.0)


class LossConfig(StrictConfig):
    """L_diff + λ_v L_vel + λ_a L_acc + λ_j L_jerk (eq. 17, see losses.py for the reading).

    The λ are the authors' `Motion_loss_V2` weights (0.3, 0.3, 0.4) times its global 0.1; each
    derivative term is `pattern` × MSE of the L2-normalised derivatives + `scale` × squared
    difference of their mean norms (authors: 0.6 and 0.4)."""

    velocity: float = Field(0.03, ge=0)
    acceleration: float = Field(0.03, ge=0)
    jerk: float = Field(0.04, ge=0)
    pattern: float = Field(0.6, ge=0)
    scale: float = Field(0.4, ge=0)
    # x̂_0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ explodes where ᾱ_t is tiny (β reaches 0.7): the derivative
    # terms count only the batch items whose ᾱ_t is at least this.
    min_signal: float = Field(0.5, ge=0, le=1)
    # Robust training: Gaussian noise of this std (5 %) on each input modality (music, text,
    # memory), each independently with this probability per item (authors' code: 0.12).
    input_noise: float = Field(0.05, ge=0)
    input_noise_probability: float = Field(0.12, ge=0, le=1)


class SamplingConfig(StrictConfig):
    method: Literal["ddpm", "ddim"] = "ddpm"  # DDPM: every step of the schedule, η = 1
    steps: int = Field(50, ge=1)  # DDIM steps
    eta: float = Field(0.0, ge=0.0, le=1.0)
    guidance: dict[str, float] = {"music": 1.5, "text": 2.0}  # γ (audio), δ (text)
    segment_seconds: float = Field(30.0, gt=0)  # paper: 30-s segments
    # Each segment's first frames are inpainted from the previous one's (soft mask), so seams
    # are continuous; the memory covers the frames before the segment.
    overlap_seconds: float = Field(1.0, ge=0)
    inbetween: InbetweenConfig = InbetweenConfig()
    # lrcm-small's motion beats come every 0.37 s (measured on drum grooves at 95 and 140 BPM).
    beat_sync: BeatSyncConfig = BeatSyncConfig(natural_beat_s=0.37)  # tempo and accents on the beats
    # Clamp of the clean estimate at every step, in normalised (mean/std) units: LRCM's steep
    # schedule makes an ε-model's clean estimate explode on any error (see GaussianDiffusion.step).
    clip_clean: float | None = Field(6.0, gt=0)


class PhaseConfig(StrictConfig):
    steps: int = Field(1000, ge=0)
    learning_rate: float = Field(2e-4, gt=0)


class PhasesConfig(StrictConfig):
    """The three phases: global text + audio; + local text (lower rate); + memory (MTMM only)."""

    global_text: PhaseConfig = PhaseConfig(steps=2000, learning_rate=3e-4)
    local_text: PhaseConfig = PhaseConfig(steps=1000, learning_rate=1e-4)
    memory: PhaseConfig = PhaseConfig(steps=1000, learning_rate=1e-4)


class LRCMConfig(FamilyConfig):
    family: Literal["lrcm"] = "lrcm"
    music: MusicConfig = MusicConfig()
    network: NetworkConfig = NetworkConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    loss: LossConfig = LossConfig()
    sampling: SamplingConfig = SamplingConfig()
    phases: PhasesConfig = PhasesConfig()
    data: DataConfig = DataConfig(kind="folder", window_seconds=5.0, normalizer="meanstd")
    train: TrainConfig = TrainConfig(condition_dropout={"music": 0.1, "text": 0.1}, out_dir=Path("runs/lrcm"))
    modalities = MODALITIES

    @model_validator(mode="after")
    def _guidance_names_modalities(self) -> "LRCMConfig":
        check_modality_weights(self.sampling.guidance, self.modalities, "sampling.guidance", low=-1e3, high=1e3)
        return self

    @property
    def memory_frames(self) -> int:
        """T_m when the MTMM is on, else 0."""
        return self.network.memory.frames if self.network.memory.enabled else 0


def small_config() -> LRCMConfig:
    """The CPU model: 6 residual blocks of 64 channels, expmap SMPL-24, lda3 music, 5-s windows."""
    return LRCMConfig(
        network=NetworkConfig(residual_layers=6, residual_channels=64, embedding_dim=128, heads=4,
                              text_bottleneck=64, text_channels=64,
                              memory=MemoryConfig(hidden=32, d_state=8, expand=1, every=2)),
        sampling=SamplingConfig(segment_seconds=5.0, overlap_seconds=1.0),
        data=DataConfig(kind="folder", vocabulary="kit", window_seconds=5.0, normalizer="meanstd"),
        phases=PhasesConfig(global_text=PhaseConfig(steps=2000, learning_rate=5e-4),
                            local_text=PhaseConfig(steps=1000, learning_rate=2e-4),
                            memory=PhaseConfig(steps=500, learning_rate=2e-4)),
        train=TrainConfig(batch_size=32, warmup_steps=200, ema_decay=0.999, checkpoint_every=250, log_every=25,
                          condition_dropout={"music": 0.1, "text": 0.1}, out_dir=Path("runs/lrcm_small")),
    )


def paper_config() -> LRCMConfig:
    """LRCM at the published size: 20 residual blocks with an MTMM each, 305 M parameters (the
    paper reports ≈ 316 M; the authors' yaml has C = 256 with a 2C-wide Conformer inside each
    block, we widen C to 640 instead to reach that size with our single-width blocks)."""
    return LRCMConfig(
        network=NetworkConfig(residual_layers=20, residual_channels=640, embedding_dim=512, heads=8, conv_kernel=3,
                              text_bottleneck=256, text_channels=640,
                              memory=MemoryConfig(frames=5, hidden=640, d_state=32, d_conv=4, expand=2)),
        sampling=SamplingConfig(segment_seconds=30.0, overlap_seconds=1.0),
        data=DataConfig(kind="folder", vocabulary="all", window_seconds=6.67, normalizer="meanstd"),
        phases=PhasesConfig(global_text=PhaseConfig(steps=200000, learning_rate=3e-4),
                            local_text=PhaseConfig(steps=100000, learning_rate=1e-4),
                            memory=PhaseConfig(steps=50000, learning_rate=3e-5)),
        train=TrainConfig(batch_size=16, warmup_steps=3000, grad_clip=25.0, condition_dropout={"music": 0.1, "text": 0.1},
                          out_dir=Path("runs/lrcm_paper")),
    )
