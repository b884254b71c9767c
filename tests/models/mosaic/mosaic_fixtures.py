"""Synthetic dances and a tiny DanceMosaic config for the mosaic tests.

Every joint swings at the music's beat with a genre-dependent amplitude and the music features
carry that beat's phase, so a tiny model has something to learn in a few dozen steps.
"""

from __future__ import annotations

import numpy as np
import torch

from dancegen.data.config import DataConfig
from dancegen.models.mosaic.config import MosaicConfig, StageSteps, TokenizerConfig, TransformerConfig
from dancegen.models.mosaic.task import MosaicData, MosaicTask
from dancegen.motion.codecs import get_codec
from dancegen.motion.motion import Motion
from dancegen.skeleton import smpl24
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.train.loop import TrainResult, train

FPS = 30.0
MUSIC_DIM = 35
TEXT_DIM = 16
GENRES = ["house", "krump", "popping"]


def synthetic_clip(frames: int, genre: int, seed: int) -> tuple[Motion, np.ndarray]:
    rng = np.random.default_rng(seed)
    bpm = 90.0 + 30.0 * genre + rng.uniform(-5, 5)
    phase = 2 * np.pi * bpm / 60.0 * np.arange(frames) / FPS + rng.uniform(0, 2 * np.pi)
    skeleton = smpl24()
    axes = np.random.default_rng(100 + genre).normal(size=(skeleton.num_joints, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = (0.2 + 0.2 * genre) * np.sin(phase)[:, None, None] * axes[None]
    rotations = axis_angle_to_quat(torch.from_numpy(angles)).numpy()
    root = np.stack([0.1 * np.sin(phase / 2), 0.9 + 0.03 * np.sin(phase), 0.1 * np.cos(phase / 2)], axis=1)
    motion = Motion(skeleton, FPS, rotations, root)
    music = np.zeros((frames, MUSIC_DIM), np.float32)
    music[:, 0], music[:, 1] = np.sin(phase), np.cos(phase)
    music[:, 2 + genre] = 1.0
    music[:, 10:] = rng.normal(scale=0.1, size=(frames, MUSIC_DIM - 10))
    return motion, music


def synthetic_data(clips: int = 6, frames: int = 90, seed: int = 0) -> MosaicData:
    codec = get_codec("hml263", smpl24())
    motions, musics, genres = [], [], []
    for index in range(clips):
        motion, music = synthetic_clip(frames, index % len(GENRES), seed + index)
        motions.append(codec.encode(motion))
        musics.append(music)
        genres.append(index % len(GENRES) if index < clips - 1 else -1)  # one clip of unknown genre
    embeddings = np.random.default_rng(seed).normal(size=(len(GENRES), TEXT_DIM)).astype(np.float32)
    return MosaicData.from_clips(motions, musics, genres, GENRES, embeddings)


def tiny_config(tmp_path, steps: int = 0, **stages) -> MosaicConfig:
    config = MosaicConfig(
        tokenizer=TokenizerConfig(width=32, depth=1, codebook_size=32, code_dim=16, num_quantizers=3),
        transformer=TransformerConfig(dim=32, layers=2, heads=2, ff_mult=2, dropout=0.0, text_dim=TEXT_DIM,
                                      max_tokens=16, residual_layers=2),
        stages=StageSteps(**{name: stages.get(name, steps) for name in StageSteps.model_fields}),
        data=DataConfig(window_seconds=1.0, stride_seconds=0.5, normalizer="meanstd"),
    )
    config.sampling.segment_seconds, config.sampling.transition_seconds = 1.0, 0.15
    config.sampling.iterations = 4
    config.sampling.token_optimisation.iterations = 5
    config.train.batch_size, config.train.warmup_steps, config.train.learning_rate = 8, 0, 2e-3
    config.train.accelerator, config.train.out_dir = "cpu", tmp_path / "run"
    config.train.log_every, config.train.ema_decay, config.train.checkpoint_every = 1, 0.5, 10000
    return config


def train_tiny(config: MosaicConfig, data: MosaicData, resume=None) -> TrainResult:
    return train(config, task=MosaicTask(config, data=data), resume=resume, progress=False)
