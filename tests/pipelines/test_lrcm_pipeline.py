"""LRCM end to end: a tiny model trained on a synthesized folder dataset (motion + wav +
annotation sidecars) through `LRCMTask(config)`, bundled, loaded by `load_pipeline`, and asked
for whole songs segment by segment with prompt, annotation and locked joints; and through the CLI."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from cli_runner import run_cli

from dancegen.audio.io import write_wav
from dancegen.audio.synth import drum_pattern
from dancegen.bundle import load_bundle, save_bundle
from dancegen.data.annotations import (
    Annotation,
    GlobalStyle,
    LocalSpan,
    write_annotation,
)
from dancegen.models.lrcm.config import LRCMConfig
from dancegen.models.lrcm.task import LRCMTask
from dancegen.motion.motion import Motion
from dancegen.pipelines import load_pipeline
from dancegen.pipelines.lrcm import seam_pins
from dancegen.sampling.autoregressive import Segment
from dancegen.sampling.editing import body_part_joints
from dancegen.skeleton import smpl24
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.train.loop import train

FPS, TEXT_DIM, SECONDS = 30.0, 8, 3.0


class HashEncoder:
    """A deterministic stand-in for MiniLM: each text → a fixed random unit vector."""

    name, dim = "hash", TEXT_DIM

    def encode(self, texts):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=TEXT_DIM) for t in texts]
        return np.asarray(rows, np.float32).reshape(len(texts), TEXT_DIM)


def dance(frames: int, seed: int) -> Motion:
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * 2.0 * np.arange(frames) / FPS + rng.uniform(0, 6)
    axes = np.random.default_rng(3).normal(size=(24, 3)) * 0.3
    rotations = axis_angle_to_quat(torch.from_numpy(np.sin(phase)[:, None, None] * axes[None])).numpy()
    root = np.stack([0.05 * np.sin(phase), 0.9 + 0.02 * np.cos(phase), 0.01 * np.arange(frames)], axis=1)
    return Motion(smpl24(), FPS, rotations, root)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("lrcm_clips")
    for index in range(3):
        samples, _ = drum_pattern(120.0, SECONDS, seed=index)
        write_wav(root / f"clip{index}.wav", samples, sample_rate=22050)
        dance(int(SECONDS * FPS), index).save_npz(root / f"clip{index}.npz")
        write_annotation(Annotation(GlobalStyle("popping", "extrovert", "medium", ("isolation",)),
                                    (LocalSpan(0.5, 1.5, ("wave",)), LocalSpan(1.5, 2.5, ("pop", "lock")))),
                         root / f"clip{index}.annotation.json")
    (root / "splits").mkdir()
    (root / "splits" / "train.txt").write_text("clip0\nclip1\nclip2\n")
    return root


@pytest.fixture(scope="module")
def model(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("lrcm_run")
    config = LRCMConfig()
    net = config.network
    net.residual_layers, net.residual_channels, net.embedding_dim, net.heads = 2, 32, 16, 2
    net.text_dim, net.text_bottleneck, net.text_channels = TEXT_DIM, 8, 16
    net.memory.hidden, net.memory.d_state, net.memory.frames = 8, 4, 4
    config.diffusion.num_steps = 10
    config.data.root, config.data.vocabulary = dataset, "aistpp"
    config.data.window_seconds, config.data.stride_seconds = 1.0, 0.5
    config.sampling.segment_seconds, config.sampling.overlap_seconds = 1.0, 0.3
    for phase in (config.phases.global_text, config.phases.local_text, config.phases.memory):
        phase.steps, phase.learning_rate = 3, 2e-3
    config.train.batch_size, config.train.warmup_steps, config.train.accelerator = 8, 0, "cpu"
    config.train.out_dir, config.train.model_name, config.train.ema_decay = out / "run", "lrcm-tiny", 0.5
    task = LRCMTask(config, text_encoder=HashEncoder())
    result = train(config, task=task, progress=False)
    assert result.step == 9 and len(task.data.motion) == 3
    # The training texts: global style, and each span's global + local tokens.
    assert "popping, extrovert, medium moving range, isolation, pop, lock" in task.data.texts
    bundle = task.bundle(task.build_module(), result.step)
    assert bundle.header.family == "lrcm" and set(bundle.components) == {"network"}
    assert {"texts", "text_embeddings", "genres", "genre_embeddings"} <= set(bundle.assets)
    path = save_bundle(bundle, out / "bundle.pt")
    assert load_bundle(path).header.config == bundle.header.config
    return out / "run" / "model.pt"


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    samples, _ = drum_pattern(100.0, 4.2, seed=9)
    return write_wav(tmp_path_factory.mktemp("lrcm_song") / "song.wav", samples, sample_rate=22050)


def test_round_trip_with_prompt_annotation_and_locked_joints(model, song):
    pipeline = load_pipeline(model)
    pipeline.text_encoder = HashEncoder()
    reference = dance(200, seed=5)
    annotation = Annotation(GlobalStyle("popping"), (LocalSpan(1.0, 2.0, ("wave",)), LocalSpan(2.5, 3.9, ("spin",))))
    motion = pipeline(song, start=0.5, seconds=3.3, seed=1, prompt="popping with big waves", annotation=annotation,
                      reference=reference, lock_joints="lower_body")
    assert motion.num_frames == 99 and motion.fps == FPS
    locked = body_part_joints(smpl24(), "lower_body")
    assert np.array_equal(motion.rotations[:, locked], reference.rotations[:99, locked])
    assert np.array_equal(motion.root_translation, reference.root_translation[:99])
    free = sorted(set(range(24)) - set(locked))
    assert not np.allclose(motion.rotations[:, free], reference.rotations[:99, free], atol=1e-3)
    meta = motion.metadata
    assert meta["family"] == "lrcm" and meta["prompt"] == "popping with big waves" and meta["seed"] == 1
    assert meta["local_spans"] == 2 and meta["memory"] is True
    assert meta["segments"] == [[0, 30], [21, 51], [42, 72], [63, 93], [84, 99]]
    again = pipeline(song, start=0.5, seconds=3.3, seed=1, prompt="popping with big waves", annotation=annotation,
                     reference=reference, lock_joints="lower_body")
    assert np.array_equal(again.rotations, motion.rotations)


def test_each_segment_starts_exactly_where_the_previous_one_was(model, song, monkeypatch):
    """The seam guarantee, independent of how well the tiny model dances: with the overlap
    inpainted (weight 1 on its first frame), a segment's first frame is the previous segment's
    frame there, so the hand-over is continuous; glued segments (no overlap) are not."""
    import dancegen.pipelines.lrcm as lrcm_pipeline

    recorded = []
    original = lrcm_pipeline.sample_autoregressive

    def recording(plan, sample_segment, memory_of, progress=False):
        def wrapped(segment, history, memory):
            output = sample_segment(segment, history, memory)
            recorded.append((segment, None if history is None else history.clone(), output.clone()))
            return output
        return original(plan, wrapped, memory_of, progress=progress)

    monkeypatch.setattr(lrcm_pipeline, "sample_autoregressive", recording)
    pipeline = load_pipeline(model)

    def handover_gaps(overlap: float) -> list[float]:
        recorded.clear()
        pipeline.config.sampling.overlap_seconds = overlap
        motion = pipeline(song, seconds=4.0, seed=3, genre="house")
        assert motion.num_frames == 120
        return [float((output[0] - history[segment.start]).abs().max())
                for segment, history, output in recorded if history is not None and segment.start < len(history)]

    inpainted = handover_gaps(0.3)
    assert len(inpainted) >= 3 and max(inpainted) < 1e-4
    pipeline.config.sampling.overlap_seconds = 0.0
    recorded.clear()
    pipeline(song, seconds=4.0, seed=3, genre="house")
    glued = [float((output[0] - history[-1]).abs().max()) for segment, history, output in recorded if history is not None]
    assert min(glued) > 10 * max(inpainted, default=1e-6)  # a fresh segment starts wherever its noise leads


def test_seam_pins_start_on_the_previous_segment_and_fade_out():
    history = torch.arange(40, dtype=torch.float32)[:, None].expand(40, 3).clone()
    segment = Segment(1, 30, 60, 10)
    known, weights = seam_pins(segment, history, None, None, 3, torch.device("cpu"))
    assert torch.equal(known[:10], history[30:40]) and torch.all(known[10:] == 0)
    assert weights[0, 0] == 1.0 and torch.all(weights[1:10, 0] < weights[:9, 0]) and torch.all(weights[10:] == 0)
    locked = torch.zeros(30, 3)
    locked[:, 0] = 1.0  # an edit pinning channel 0 everywhere wins over the seam
    known, weights = seam_pins(segment, history, torch.full((30, 3), -5.0), locked, 3, torch.device("cpu"))
    assert torch.all(known[:, 0] == -5.0) and torch.all(weights[:, 0] == 1.0) and torch.equal(known[:10, 1], history[30:40, 1])


def test_generate_through_the_cli(model, song, tmp_path, capsys):
    code, out, err = run_cli(["generate", song, "--model", model, "-o", tmp_path / "x.npz", "--seconds", 2,
                              "--seed", 2, "--json", "-q", "--no-foot-lock"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["family"] == "lrcm" and report["frames"] == 60
    written = Motion.load_npz(tmp_path / "x.npz")
    assert written.num_frames == 60 and np.isfinite(written.rotations).all()


def test_inline_moves_reach_the_dance_and_the_viewer_page(model, song, tmp_path):
    import re

    from dancegen.export import export_motion

    pipeline = load_pipeline(model)
    pipeline.text_encoder = HashEncoder()
    plain = pipeline(song, seconds=3.0, seed=4, prompt="salsa")
    moved = pipeline(song, start=0.5, seconds=3.0, seed=4, prompt="salsa", moves="0:01-0:02 spin; 0:03-0:03.4 jump")
    assert moved.metadata["local_spans"] == 2 and plain.metadata["local_spans"] == 0
    assert moved.metadata["annotation"]["local"] == [  # in span time: the dance starts at 0.5 s of the song
        {"start": 0.5, "end": 1.5, "tokens": ["spin"]}, {"start": 2.5, "end": 2.9, "tokens": ["jump"]}]
    page = export_motion(moved, tmp_path / "dance.html", music=song, music_start=0.5)[0]
    embedded = re.search(r'id="dancegen-data">(.*?)</script>', page.read_text(encoding="utf-8"), re.S)[1]
    spans = json.loads(embedded)["dances"][0]["spans"]
    assert [(span["start"], span["end"], span["text"]) for span in spans] == [(0.5, 1.5, "spin"), (2.5, 2.9, "jump")]
