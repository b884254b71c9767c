"""LRCM's task on the shared loop: a tiny model's loss falls through the three phases, each
phase trains what it says (the memory phase only the MTMM), and a run resumes across phases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dancegen.models.lrcm.config import LRCMConfig
from dancegen.models.lrcm.task import LRCMTask, TrainingData
from dancegen.motion.codecs import get_codec
from dancegen.motion.motion import Motion
from dancegen.skeleton import smpl24
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.train.loop import train

FPS = 30.0
TEXT_DIM = 8


def synthetic_clip(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(expmap features, lda3-like music): every joint swings at the music's beat."""
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * rng.uniform(1.5, 2.5) * np.arange(frames) / FPS + rng.uniform(0, 2 * np.pi)
    axes = np.random.default_rng(7).normal(size=(24, 3))
    angles = 0.4 * np.sin(phase)[:, None, None] * axes[None] / np.linalg.norm(axes, axis=1, keepdims=True)[None]
    root = np.stack([0.05 * np.sin(phase / 2), 0.9 + 0.03 * np.sin(phase), 0.02 * np.arange(frames) / FPS], axis=1)
    motion = Motion(smpl24(), FPS, axis_angle_to_quat(torch.from_numpy(angles)).numpy(), root)
    music = np.stack([np.sin(phase), np.cos(phase), rng.normal(scale=0.1, size=frames)], axis=1).astype(np.float32)
    return get_codec("expmap").encode(motion), music


def synthetic_data(clips: int = 4, frames: int = 60) -> TrainingData:
    motions, musics = zip(*(synthetic_clip(frames, seed) for seed in range(clips)))
    texts = ["house", "house, walk", "popping, isolation"]
    embeddings = np.random.default_rng(0).normal(size=(len(texts), TEXT_DIM)).astype(np.float32)
    local = [np.where(np.arange(frames) < frames // 2, 1 + clip % 2, -1) for clip in range(clips)]
    global_text = [0, 0, 2, -1]
    return TrainingData.from_clips(motions, musics, global_text[:clips], local, texts, embeddings, ["house"],
                                   embeddings[:1])


def tiny_config(tmp_path, steps=(6, 4, 4), **network) -> LRCMConfig:
    config = LRCMConfig()
    net = config.network
    net.residual_layers, net.residual_channels, net.embedding_dim, net.heads = 2, 16, 16, 2
    net.text_dim, net.text_bottleneck, net.text_channels, net.dropout = TEXT_DIM, 8, 16, 0.0
    net.memory.hidden, net.memory.d_state, net.memory.frames = 8, 4, 4
    for key, value in network.items():
        setattr(net, key, value)
    config.diffusion.num_steps = 20
    config.data.window_seconds, config.data.stride_seconds = 0.5, 0.25
    config.sampling.segment_seconds, config.sampling.overlap_seconds = 0.5, 0.2
    for phase, count in zip((config.phases.global_text, config.phases.local_text, config.phases.memory), steps):
        phase.steps, phase.learning_rate = count, 3e-3
    train_section = config.train
    train_section.batch_size, train_section.warmup_steps, train_section.accelerator = 8, 0, "cpu"
    train_section.out_dir, train_section.log_every, train_section.ema_decay = tmp_path / "run", 1, 0.5
    train_section.checkpoint_every, train_section.grad_clip = 1000, None
    return config


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return synthetic_data()


def test_loss_falls_through_the_three_phases(tmp_path, data):
    # 64 channels: a narrower stack cannot even pass the 76 expmap channels of x_t ≈ ε through.
    config = tiny_config(tmp_path, steps=(80, 10, 10), residual_channels=64)
    result = train(config, task=LRCMTask(config, data=data), progress=False)
    stages = [record["stage"] for record in result.history]
    assert stages == ["global"] * 80 + ["local"] * 10 + ["memory"] * 10 and result.step == 100
    assert set(result.history[0]) >= {"diffusion", "velocity", "acceleration", "jerk", "total"}
    losses = [record["diffusion"] for record in result.history]
    assert np.mean(losses[70:80]) < 0.93 * np.mean(losses[:10])  # measured: 1.00 → 0.89
    assert all(np.isfinite(record["total"]) for record in result.history)


def test_each_phase_trains_and_freezes_what_it_should(tmp_path, data):
    config = tiny_config(tmp_path, steps=(2, 0, 0))
    task = LRCMTask(config, data=data)
    torch.manual_seed(config.train.seed)
    initial = task.build_module().state_dict()
    train(config, task=task, progress=False)
    after_global = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)["module"]
    memory = [name for name in initial if ".memory." in name]
    denoiser = [name for name in initial if name not in memory]
    assert memory and all(torch.equal(after_global[name], initial[name]) for name in memory)
    assert any(not torch.equal(after_global[name], initial[name]) for name in denoiser)

    config = tiny_config(tmp_path, steps=(2, 0, 2))
    train(config, task=LRCMTask(config, data=data), resume=tmp_path / "run" / "last.ckpt", progress=False)
    after_memory = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)["module"]
    assert all(torch.equal(after_memory[name], after_global[name]) for name in denoiser)  # fusion frozen
    assert any(not torch.equal(after_memory[name], after_global[name]) for name in memory)

    module = task.build_module()
    stages = {stage.name: stage for stage in task.stages()}
    assert {id(p) for p in stages["memory"].trainable(module)} == {id(p) for p in module.network.memory.parameters()}
    assert not {id(p) for p in stages["global"].trainable(module)} & {id(p) for p in module.network.memory.parameters()}


def test_resume_across_phase_boundaries_is_exact(tmp_path, data):
    straight = train(tiny_config(tmp_path / "a", steps=(3, 2, 2)), task=LRCMTask(tiny_config(tmp_path / "a", steps=(3, 2, 2)), data=data),
                     progress=False)
    first_config = tiny_config(tmp_path / "b", steps=(3, 2, 0))
    first = train(first_config, task=LRCMTask(first_config, data=data), progress=False)
    second_config = tiny_config(tmp_path / "b", steps=(3, 2, 2))
    resumed = train(second_config, task=LRCMTask(second_config, data=data),
                    resume=tmp_path / "b" / "run" / "last.ckpt", progress=False)
    assert [r["stage"] for r in resumed.history] == ["memory"] * 2 and resumed.step == 7
    assert first.history == straight.history[:5]
    assert resumed.history == straight.history[5:]


def test_without_memory_there_is_no_memory_phase(tmp_path, data):
    config = tiny_config(tmp_path, steps=(2, 1, 5))
    config.network.memory.enabled = False
    task = LRCMTask(config, data=data)
    assert [stage.name for stage in task.stages()] == ["global", "local"]
    module = task.build_module()
    assert module.network.memory is None and not module.memory_parameters()
    assert len(task.dataset(task.stages()[0])[0]) == 4  # no memory frames in the batch


def test_memory_windows_are_longer_by_the_memory(tmp_path, data):
    config = tiny_config(tmp_path)
    task = LRCMTask(config, data=data)
    memory_stage = task.stages()[2]
    item = task.dataset(memory_stage)[0]
    plain = task.dataset(task.stages()[0])[0]
    assert item["memory"].shape == (4, data.motion[0].shape[1]) and item["motion"].shape == plain["motion"].shape
    # The memory is exactly the frames before the window.
    assert torch.equal(item["memory"], torch.from_numpy(data.motion[0][:4]))
    assert torch.equal(item["motion"], torch.from_numpy(data.motion[0][4:19]))
