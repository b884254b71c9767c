"""Typed GCDance configuration, with the paper's size and a small CPU size as presets.

Everything a run needs is here: network size, diffusion, losses, sampling, data and training.
`configs/gcdance_paper.yaml` and `configs/gcdance_small.yaml` are these presets written out;
`dancegen.families.load_family_config(path, overrides)` reads them.

Paper numbers (Liu et al., GCDance, and the authors' code `XinranLiu7715/GC_Dance`): two
expert decoders of 8 layers, width 512, feed-forward 1024, 8 heads (≈ 88 M parameters with both
experts); 120-frame windows at 30 fps; cosine schedule over 1000 steps with x0 prediction;
condition dropout 0.25; guidance weight 2.7; learning rate 2e-4, weight decay 0.02; FineDance's
52-joint SMPL-X layout; music = STFT features plus wav2clip; Nash-MTL loss balancing. One
deliberate difference: prompts are embedded with MiniLM (384-d, offline) where the paper uses
CLIP's 512-d text encoder.
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
from dancegen.motion.codecs.smpl6d import smpl6d_dim
from dancegen.sampling.beat_sync import BeatSyncConfig
from dancegen.sampling.inbetween import InbetweenConfig

SKELETON_JOINTS = {"smpl24": 24, "smplx52": 52}
MODALITIES = ("music", "text")  # guidance order: music first, then the genre prompt
# The bundle asset `text_condition` of models trained on clips' move labels: their text
# condition is `data.genres.clip_prompt(genre, moves)`, so a user's prompt is embedded as written.
TEXT_GENRE_AND_MOVES = "genre_and_moves"
# wav2clip's audio embedding size (Wu et al. 2022) and GCDance's hand-crafted STFT columns: the
# authors' model takes `feature_dim = 512 + 193` music channels.
WAV2CLIP_DIM = 512
STFT_DIM = 193
# The 52-joint layout puts the 22 body joints first; the hand expert owns the 30 finger joints.
BODY_JOINTS_52 = 22


class MusicConfig(MusicFeatures):
    """baseline35 (dim 35; +beat_clock: 39), plus an optional foundation encoder's columns."""

    foundation: str | None = None  # a foundation encoder from dancegen.audio's registry, e.g. wav2clip
    foundation_dim: int = Field(0, ge=0)
    foundation_weights: Path | None = None

    @model_validator(mode="after")
    def _foundation_has_a_size(self) -> "MusicConfig":
        if (self.foundation is None) != (self.foundation_dim == 0):
            raise ValueError("set foundation and foundation_dim together (or neither)")
        return self

    @property
    def total_dim(self) -> int:
        return self.dim + self.foundation_dim


class NetworkConfig(StrictConfig):
    skeleton: Literal["smpl24", "smplx52"] = "smpl24"
    latent_dim: int = Field(128, ge=8)
    ff_dim: int = Field(256, ge=8)
    heads: int = Field(4, ge=1)
    body_layers: int = Field(4, ge=1)
    hand_layers: int = Field(4, ge=1)  # used with the 52-joint skeleton only
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    text_dim: int = Field(384, ge=1)  # prompt embedding size (MiniLM: 384)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "NetworkConfig":
        if self.latent_dim % self.heads or (self.latent_dim // self.heads) % 2:
            raise ValueError("latent_dim must split into heads of even size")
        return self

    @property
    def num_joints(self) -> int:
        return SKELETON_JOINTS[self.skeleton]

    @property
    def motion_dim(self) -> int:
        return smpl6d_dim(self.num_joints)

    @property
    def body_dim(self) -> int:
        """Channels the body expert owns: everything on SMPL-24, contacts+root+22 joints on 52."""
        return self.motion_dim if self.skeleton == "smpl24" else smpl6d_dim(BODY_JOINTS_52)

    @property
    def hand_dim(self) -> int:
        return self.motion_dim - self.body_dim


class DiffusionConfig(StrictConfig):
    schedule: Literal["linear", "cosine", "lda", "lrcm"] = "cosine"
    num_steps: int | None = Field(None, ge=2)  # None: the schedule's published count
    prediction: Literal["x0", "epsilon"] = "x0"


class LossWeights(StrictConfig):
    # EDGE's fixed weights (model/diffusion.py, p_losses), which GCDance keeps for its baseline.
    simple: float = 0.636
    velocity: float = 2.964
    fk: float = 0.646
    foot: float = 10.942
    genre: float = 0.1  # our choice: a light pull, the classification task is easy


class LossConfig(StrictConfig):
    balance: Literal["edge", "nash", "aligned"] = "edge"
    weights: LossWeights = LossWeights()
    # Which frames the foot term holds still: "predicted", EDGE's rule (where the model's
    # predicted contact exceeds the threshold), or "labels", the data's own contact labels
    # (> 0.5). EDGE's rule seldom fires on a model that predicts soft contacts (the term sits
    # near zero), but the labels at EDGE's foot weight froze the kit model's feet (mean joint
    # speed halved, 0.64 → 0.30 m/s): use "labels" with a lower `weights.foot`. Sliding feet
    # are cleaned up after generation instead (`motion.footlock`).
    foot_contacts: Literal["labels", "predicted"] = "predicted"
    contact_threshold: float = 0.95  # EDGE: a foot counts as planted when its contact > 0.95
    nash_max_norm: float = 1.0  # torchjd NashMTL's default cap on the combined gradient norm


class SamplingConfig(StrictConfig):
    method: Literal["ddim", "ddpm"] = "ddim"
    steps: int = Field(50, ge=1)  # EDGE and GCDance sample with 50 DDIM steps
    eta: float = Field(0.0, ge=0.0, le=1.0)
    guidance: dict[str, float] = {"music": 2.7, "text": 2.7}  # GCDance guidance_weight
    window_seconds: float = Field(4.0, gt=0)  # GCDance long-form: 4 s windows ...
    overlap_seconds: float = Field(2.0, ge=0)  # ... overlapping by 2 s
    chunk_size: int | None = Field(None, ge=1)  # windows per network pass, to bound memory
    # How windows become one motion (dancegen.sampling.longform): "consensus" blends every
    # window's prediction at every step (seamless); "edge" is EDGE/GCDance's overlap copy.
    stitching: Literal["consensus", "edge"] = "consensus"
    # How far keyframes reach into the frames around them (soft inpainting, then the remaining
    # correction spread out): in-betweening instead of a one-frame pop.
    inbetween: InbetweenConfig = InbetweenConfig()
    beat_sync: BeatSyncConfig = BeatSyncConfig()  # tempo and accents on the song's beats


class GCDanceConfig(FamilyConfig):
    family: Literal["gcdance"] = "gcdance"
    music: MusicConfig = MusicConfig()
    network: NetworkConfig = NetworkConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    loss: LossConfig = LossConfig()
    sampling: SamplingConfig = SamplingConfig()
    data: DataConfig = DataConfig()
    # EDGE/GCDance cond_drop_prob 0.25 for each modality.
    train: TrainConfig = TrainConfig(condition_dropout={"music": 0.25, "text": 0.25}, out_dir=Path("runs/gcdance"))
    modalities = MODALITIES

    @model_validator(mode="after")
    def _guidance_names_modalities(self) -> "GCDanceConfig":
        check_modality_weights(self.sampling.guidance, self.modalities, "sampling.guidance", low=-1e3, high=1e3)
        return self


def small_config() -> GCDanceConfig:
    """The default CPU model: SMPL-24 with baseline35 music, 1.6 M parameters (6.5 MB of EMA
    weights), sized to train on the kit's paired clips in under an hour on 2 CPU cores."""
    return GCDanceConfig(
        sampling=SamplingConfig(steps=20, guidance={"music": 2.0, "text": 2.0}),
        data=DataConfig(kind="folder", vocabulary="kit"),
        train=TrainConfig(
            batch_size=32, learning_rate=5e-4, warmup_steps=200, max_steps=3000, ema_decay=0.999,
            condition_dropout={"music": 0.25, "text": 0.25}, checkpoint_every=250, log_every=25,
            out_dir=Path("runs/gcdance_small"),
        ),
    )


def paper_config() -> GCDanceConfig:
    """GCDance as published: 52 joints with body and hand experts, STFT + wav2clip music."""
    return GCDanceConfig(
        music=MusicConfig(features="stft", dim=STFT_DIM, foundation="wav2clip", foundation_dim=WAV2CLIP_DIM),
        loss=LossConfig(balance="nash"),  # the authors' train.py default (--mtl_method Nash)
        network=NetworkConfig(
            skeleton="smplx52", latent_dim=512, ff_dim=1024, heads=8, body_layers=8, hand_layers=8, dropout=0.1
        ),
        sampling=SamplingConfig(steps=50, guidance={"music": 2.7, "text": 2.7}),
        data=DataConfig(kind="finedance", vocabulary="finedance"),
        train=TrainConfig(batch_size=128, max_steps=200000, warmup_steps=0, condition_dropout={"music": 0.25, "text": 0.25},
                          out_dir=Path("runs/gcdance_paper")),
    )

