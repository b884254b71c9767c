"""Synthetic dance data and a tiny GCDance config for the training, pipeline and CLI tests.

The synthetic dances are learnable on purpose: every joint swings at the music's beat with a
genre-dependent amplitude, and the "music" features carry that beat's phase, so a model that
learns anything at all drives its loss down fast.
"""

from __future__ import annotations

import numpy as np
import torch

from dancegen.models.gcdance.config import GCDanceConfig
from dancegen.motion.codecs import get_codec
from dancegen.motion.motion import Motion
from dancegen.skeleton import smpl24
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.models.gcdance.task import GCDanceTask, TrainingData
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
    amplitude = 0.2 + 0.25 * genre
    axes = np.random.default_rng(100 + genre).normal(size=(skeleton.num_joints, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = amplitude * np.sin(phase)[:, None, None] * axes[None]
    rotations = axis_angle_to_quat(torch.from_numpy(angles)).numpy()
    root = np.stack([0.1 * np.sin(phase / 2), 0.9 + 0.03 * np.sin(phase), 0.1 * np.cos(phase / 2)], axis=1)
    contacts = (np.sin(phase)[:, None] > 0).repeat(4, axis=1).astype(float)
    motion = Motion(skeleton, FPS, rotations, root, contacts=contacts)
    music = np.zeros((frames, MUSIC_DIM), np.float32)
    music[:, 0], music[:, 1] = np.sin(phase), np.cos(phase)
    music[:, 2 + genre] = 1.0
    music[:, 10:] = rng.normal(scale=0.1, size=(frames, MUSIC_DIM - 10))
    return motion, music


def synthetic_data(clips: int = 6, frames: int = 90, seed: int = 0) -> TrainingData:
    codec = get_codec("smpl6d", smpl24())
    motions, musics, genres = [], [], []
    for index in range(clips):
        genre = index % len(GENRES)
        motion, music = synthetic_clip(frames, genre, seed + index)
        motions.append(codec.encode(motion))
        musics.append(music)
        genres.append(genre if index < clips - 1 else -1)  # one clip of unknown genre
    embeddings = np.random.default_rng(seed).normal(size=(len(GENRES), TEXT_DIM)).astype(np.float32)
    return TrainingData.from_clips(motions, musics, genres, GENRES, embeddings)


def tiny_config(tmp_path, **train) -> GCDanceConfig:
    config = GCDanceConfig()
    config.network.latent_dim, config.network.ff_dim, config.network.heads = 32, 64, 2
    config.network.body_layers, config.network.text_dim, config.network.dropout = 1, TEXT_DIM, 0.0
    config.diffusion.num_steps = 100
    config.data.window_seconds, config.data.stride_seconds = 1.0, 0.5
    config.sampling.steps = 4
    config.sampling.window_seconds, config.sampling.overlap_seconds = 1.0, 0.5
    config.train.batch_size, config.train.warmup_steps, config.train.learning_rate = 8, 0, 2e-3
    config.train.accelerator, config.train.out_dir = "cpu", tmp_path / "run"
    config.train.log_every, config.train.ema_decay = 1, 0.9
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


def train_tiny(config: GCDanceConfig, data: TrainingData, resume=None) -> TrainResult:
    """The shared loop on GCDance's task with the synthetic data already loaded."""
    return train(config, task=GCDanceTask(config, data=data), resume=resume, progress=False)
