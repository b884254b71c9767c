"""Training GCDance: data → windows → optimisation loop → checkpoints.

The loop runs on Lightning Fabric, so one config trains on a CPU, a GPU, several GPUs (DDP)
or several nodes (`train.accelerator/devices/strategy/num_nodes`), while the loop itself stays
plain Python: it must interleave torchjd's Jacobian backward, EMA and exact resumption.

Exact resumption: every random draw comes from state that the checkpoint carries (the global
torch RNG for dropout, one generator for noise/timesteps/condition dropout, and a batch order
that is a pure function of (seed, epoch)), so a run resumed from `last.ckpt` takes the same
next step as the uninterrupted run would have.

Outputs in `train.out_dir`: `config.yaml`, `metrics.jsonl` (every loss term and balancing
weight, every `log_every` steps), `last.ckpt` (full training state) and `model.pt` (EMA weights
for `dancegen generate`), both rewritten every `checkpoint_every` steps and at the end.
"""

from __future__ import annotations

import json
import math
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from dancegen.config import config_to_dict
from dancegen.errors import ArgumentError, InputFileError
from dancegen.fileio import atomic_write_text
from dancegen.models.gcdance.config import GCDanceConfig
from dancegen.models.gcdance.losses import LossBalancer
from dancegen.motion.normalize import Normalizer
from dancegen.train.checkpoint import ModelBundle, load_checkpoint, save_checkpoint
from dancegen.train.ema import EMA
from dancegen.train.module import GCDanceModule, config_skeleton

Tensor = torch.Tensor

# torchjd differentiates through vmap; these ops have no batching rule yet and fall back to a
# loop (correct, just slower), and cvxpy notes that Nash-MTL's problem is not DPP. Known, harmless.
QUIET_WARNINGS = (
    "There is a performance drop because we have not yet implemented the batching rule",
    "You are solving a parameterized problem that is not DPP",
)


# The bundle's `extra["text_condition"]` for models conditioned on clip_prompt texts.
TEXT_GENRE_AND_MOVES = "genre_and_moves"


# --- data -------------------------------------------------------------------------------------


@dataclass
class TrainingData:
    """Whole clips as normalised feature arrays, cut into windows on the fly.

    motion: per clip (T_i, D) smpl6d features; music: per clip (T_i, M) music features; both
    normalised. genres: per clip index into `genre_keys` (−1 = unknown). prompts: per clip
    index into `prompt_embeddings`, the embedded text of the clip's own move labels (e.g. the
    CMU descriptions), −1 = none (the genre's prompt conditions it instead).
    """

    motion: list[np.ndarray]
    music: list[np.ndarray]
    genres: list[int]
    genre_keys: list[str]
    genre_embeddings: np.ndarray  # (G, E) prompt embeddings, row g for genre_keys[g]
    motion_normalizer: Normalizer
    music_normalizer: Normalizer
    prompts: list[int] = field(default_factory=list)
    prompt_embeddings: np.ndarray | None = None  # (P, E)

    @classmethod
    def from_clips(
        cls,
        motion: Sequence[np.ndarray],
        music: Sequence[np.ndarray],
        genres: Sequence[int],
        genre_keys: Sequence[str],
        genre_embeddings: np.ndarray,
        normalizer: str = "minmax",
        fitted: tuple[Normalizer, Normalizer] | None = None,
        prompts: Sequence[int] = (),
        prompt_embeddings: np.ndarray | None = None,
    ) -> "TrainingData":
        """Normalise raw clips with `fitted` (motion, music) normalisers, or fit new ones."""
        if not motion:
            raise ArgumentError("data", "has no clips with both motion and music")
        if fitted is None:
            fitted = Normalizer(normalizer).fit(list(motion)), Normalizer("meanstd").fit(list(music))
        motion_normalizer, music_normalizer = fitted
        return cls(
            [motion_normalizer.transform(np.asarray(m, np.float32)).astype(np.float32) for m in motion],
            [music_normalizer.transform(np.asarray(m, np.float32)).astype(np.float32) for m in music],
            list(genres),
            list(genre_keys),
            np.asarray(genre_embeddings, dtype=np.float32).reshape(len(genre_keys), -1),
            motion_normalizer,
            music_normalizer,
            list(prompts),
            None if prompt_embeddings is None else np.asarray(prompt_embeddings, dtype=np.float32),
        )

    def windows(self, length: int, stride: int) -> "WindowDataset":
        return WindowDataset(self, length, stride)


class WindowDataset(Dataset):
    """Every full window of `length` frames, `stride` frames apart, over all clips."""

    def __init__(self, data: TrainingData, length: int, stride: int):
        self.data = data
        self.length = length
        self.index = [
            (clip, start)
            for clip, frames in enumerate(len(m) for m in data.motion)
            for start in range(0, frames - length + 1, max(1, stride))
        ]
        if not self.index:
            longest = max(len(m) for m in data.motion)
            raise ArgumentError(
                "data", f"no clip is as long as one {length}-frame window (longest: {longest} frames)",
                "use shorter data.window_seconds or longer clips",
            )

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, Tensor]:
        clip, start = self.index[item]
        window = slice(start, start + self.length)
        return {
            "motion": torch.from_numpy(self.data.motion[clip][window]),
            "music": torch.from_numpy(self.data.music[clip][window]),
            "genre": torch.tensor(self.data.genres[clip], dtype=torch.long),
            "prompt": torch.tensor(self.data.prompts[clip] if self.data.prompts else -1, dtype=torch.long),
        }


def build_training_data(
    config: GCDanceConfig, text_encoder: Any = None, progress: bool = True, resumed: dict | None = None
) -> TrainingData:
    """Load `config.data.root` through dancegen.data, encode motion and music, embed prompts.

    `resumed`: a training checkpoint whose normalisers and prompt table are reused as they are.
    """
    from dancegen.data.datasets import open_dataset
    from dancegen.data.genres import get_vocabulary
    from dancegen.motion.codecs import get_codec

    data, music = config.data, config.music
    if data.root is None:
        raise ArgumentError("data.root", "is not set", "give the dataset folder, e.g. data.root=/path/to/finedance")
    dataset = open_dataset(
        data.root, data.kind, fps=data.fps, feature_kind=music.features, to_smpl=config.network.skeleton == "smpl24"
    )
    vocabulary = get_vocabulary(data.vocabulary)
    codec = get_codec("smpl6d", config_skeleton(config))
    foundation = _foundation_encoder(config) if music.foundation else None
    motions, musics, genres, prompt_texts = [], [], [], []
    for sample in tqdm(dataset.samples(data.split), desc="loading clips", total=len(dataset.select(data.split)),
                       disable=not progress):
        if sample.audio_features is None:
            continue
        features = np.asarray(sample.audio_features, np.float32)
        if foundation is not None:
            extra = np.asarray(foundation(sample), np.float32)
            count = min(len(features), len(extra))
            features = np.concatenate([features[:count], extra[:count]], axis=1)
        if features.shape[1] != music.total_dim:
            raise ArgumentError(
                "music.dim", f"the config says {music.total_dim} music columns, {sample.name} has {features.shape[1]}",
                f"set music.dim to match the {music.features} features",
            )
        motions.append(codec.encode(sample.motion)[: len(features)])
        musics.append(features[: len(motions[-1])])
        genres.append(vocabulary.index(sample.genre) if sample.genre in vocabulary else -1)
        moves = ", ".join(sample.annotation.style.core_moves)
        prompt_texts.append(clip_prompt(sample.genre if sample.genre in vocabulary else None, moves) if moves else None)
    keys = list(vocabulary.genres)
    if resumed is not None:
        if list(resumed["genres"]) != keys:
            raise ArgumentError("data.vocabulary", "differs from the run being resumed")
        fitted = tuple(Normalizer.from_state_dict(resumed["normalizers"][name]) for name in ("motion", "music"))
        embeddings = resumed["genre_embeddings"].numpy()
    else:
        fitted, embeddings = None, embed_genre_prompts(keys, config, text_encoder)
    distinct = sorted({text for text in prompt_texts if text})
    prompts = [distinct.index(text) if text else -1 for text in prompt_texts]
    prompt_embeddings = embed_texts(distinct, config, text_encoder) if distinct else None
    return TrainingData.from_clips(
        motions, musics, genres, keys, embeddings, data.normalizer, fitted, prompts, prompt_embeddings
    )


def clip_prompt(genre: str | None, moves: str) -> str:
    """The text that conditions a clip labelled with `moves` ("expressive arms, pirouette"):
    its genre's GCDance prompt followed by the moves, so genre and moves share one embedding.
    Generation builds the same text from the user's prompt."""
    from dancegen.data.genres import genre_prompt

    return f"{genre_prompt(genre)} {moves.strip()}" if genre else moves.strip()


def embed_genre_prompts(genre_keys: Sequence[str], config: GCDanceConfig, text_encoder: Any = None) -> np.ndarray:
    """(G, E) embeddings of "This is a {genre} type of music." for each genre."""
    from dancegen.data.genres import genre_prompt

    return embed_texts([genre_prompt(key) for key in genre_keys], config, text_encoder)


def embed_texts(texts: Sequence[str], config: GCDanceConfig, text_encoder: Any = None) -> np.ndarray:
    """(N, E) embeddings of `texts` with the config's text encoder."""
    if text_encoder is None:
        from dancegen.text import get_text_encoder

        text_encoder = get_text_encoder(config.data.text_encoder)
    embeddings = np.asarray(text_encoder.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
    if embeddings.shape[1] != config.network.text_dim:
        raise ArgumentError(
            "network.text_dim", f"is {config.network.text_dim} but {config.data.text_encoder} embeds to {embeddings.shape[1]}"
        )
    return embeddings


def _foundation_encoder(config: GCDanceConfig) -> Callable[[Any], np.ndarray]:
    """Per-sample foundation-model features at the motion frame rate (e.g. wav2clip)."""
    from dancegen.audio import load_audio
    from dancegen.audio.encoders import get_encoder

    encoder = get_encoder(config.music.foundation, weights=config.music.foundation_weights)

    def features(sample) -> np.ndarray:
        audio = load_audio(sample.audio_path, start=sample.audio_start, end=sample.audio_start + sample.duration)
        return encoder.encode(audio, fps=config.data.fps)

    return features


class EpochBatches:
    """Batches of indices, reshuffled every epoch from (seed, epoch) alone, so the batch at any
    global step can be recomputed after a restart. Each rank takes its own slice of a batch."""

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.global_batch = batch_size * world_size
        # Small data sets: draw with replacement across epoch boundaries rather than fail.
        self.per_epoch = max(1, size // self.global_batch)

    def order(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        repeats = math.ceil(self.global_batch / self.size)
        return torch.cat([torch.randperm(self.size, generator=generator) for _ in range(repeats)]).tolist()

    def from_step(self, step: int) -> Iterator[list[int]]:
        epoch, offset = divmod(step, self.per_epoch)
        while True:
            order = self.order(epoch)
            for batch in range(offset, self.per_epoch):
                chunk = order[batch * self.global_batch : (batch + 1) * self.global_batch]
                yield chunk[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
            epoch, offset = epoch + 1, 0


# --- the loop ---------------------------------------------------------------------------------


@dataclass
class TrainResult:
    step: int
    out_dir: Path
    history: list[dict[str, float]] = field(default_factory=list)  # per step: loss terms, lr, total


def train(
    config: GCDanceConfig,
    *,
    data: TrainingData | None = None,
    resume: str | Path | None = None,
    text_encoder: Any = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or resume) a GCDance model as `config` says; returns the per-step history."""
    from lightning.fabric import Fabric

    run = config.train
    if data is None and config.data.root is None:
        raise ArgumentError("data.root", "is not set", "give the dataset folder, e.g. data.root=/path/to/finedance")
    fabric = Fabric(
        accelerator=run.accelerator, devices=run.devices, num_nodes=run.num_nodes,
        strategy=run.strategy, precision=run.precision,
    )
    fabric.launch()
    out_dir = Path(run.out_dir)
    checkpoint = load_checkpoint(resume) if resume is not None else None
    if checkpoint is not None and checkpoint["kind"] != "training":
        raise InputFileError(resume, "is an inference checkpoint; resume needs last.ckpt from a training run")

    torch.manual_seed(run.seed)
    if data is None:
        data = build_training_data(config, text_encoder, progress and fabric.is_global_zero, checkpoint)
    windows = data.windows(config.data.window_frames, max(1, int(round(config.data.stride_seconds * config.data.fps))))

    prompt_table = None if data.prompt_embeddings is None else torch.from_numpy(data.prompt_embeddings)
    module = GCDanceModule(config, data.motion_normalizer, torch.from_numpy(data.genre_embeddings), prompt_table)
    network = module.network
    optimizer = torch.optim.AdamW(network.parameters(), lr=run.learning_rate, weight_decay=run.weight_decay)
    balancer = LossBalancer(config.loss, module.loss_terms)
    ema = EMA(network, run.ema_decay, run.ema_warmup)
    step = 0
    if checkpoint is not None:
        try:
            network.load_state_dict(checkpoint["model"])
        except RuntimeError:
            raise InputFileError(resume, "was trained with another network size than this config's") from None
        optimizer.load_state_dict(checkpoint["optimizer"])
        ema.load_state_dict(checkpoint["ema"])
        balancer.load_state_dict(checkpoint.get("balancer", {}))
        step = int(checkpoint["step"])
    model, optimizer = fabric.setup(module, optimizer)
    ema.model.to(fabric.device)

    generator = torch.Generator(device=fabric.device).manual_seed(run.seed + 7919 * fabric.global_rank)
    torch.manual_seed(run.seed + fabric.global_rank)
    if checkpoint is not None:
        _restore_rng(checkpoint["rng"], generator, fabric.global_rank, fabric.world_size)
    batches = EpochBatches(len(windows), run.batch_size, run.seed, fabric.global_rank, fabric.world_size)
    loader = DataLoader(
        windows, batch_sampler=batches.from_step(step), num_workers=run.num_workers,
        generator=torch.Generator().manual_seed(run.seed),  # keeps the global RNG untouched
    )

    if fabric.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(config_to_dict(config), sort_keys=False))
    result = TrainResult(step, out_dir)

    def save() -> None:
        rng = _gather_rng(fabric, generator)  # every rank takes part in the gather
        if fabric.is_global_zero:
            state = _training_state(config, network, ema, optimizer, balancer, step, rng, data)
            save_checkpoint(out_dir / "last.ckpt", state)
            save_checkpoint(out_dir / "model.pt", inference_bundle(config, ema, data, step).to_state())
        fabric.barrier()

    parameters = [p for p in network.parameters() if p.requires_grad]
    bar = tqdm(total=run.max_steps, initial=step, desc="training", disable=not (progress and fabric.is_global_zero))
    batch_iterator = iter(loader)
    with warnings.catch_warnings():
        for message in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        while step < run.max_steps:
            batch = {name: value.to(fabric.device) for name, value in next(batch_iterator).items()}
            record = _optimisation_step(
                fabric, model, optimizer, balancer, parameters, batch, generator, _learning_rate(run, step), run.grad_clip
            )
            ema.update(network)
            step += 1
            record["step"] = step
            result.history.append(record)
            bar.update(1)
            bar.set_postfix(loss=f"{record['total']:.4f}", refresh=False)
            if fabric.is_global_zero and (step % run.log_every == 0 or step == run.max_steps):
                with open(out_dir / "metrics.jsonl", "a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")
            if step % run.checkpoint_every == 0 or step == run.max_steps:
                save()
    bar.close()
    result.step = step
    return result


def _learning_rate(run, step: int) -> float:
    """Linear warm-up to the configured rate, then constant (a function of the step alone)."""
    return run.learning_rate * min(1.0, (step + 1) / run.warmup_steps) if run.warmup_steps else run.learning_rate


def _optimisation_step(
    fabric, model, optimizer, balancer: LossBalancer, parameters, batch, generator, learning_rate: float, grad_clip
) -> dict[str, float]:
    """Loss terms → balanced gradients → clipped AdamW update; returns what to log."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    model.train()
    losses = model(batch, generator)
    optimizer.zero_grad(set_to_none=True)
    if balancer.uses_jacobians:
        with fabric.no_backward_sync(model, enabled=fabric.world_size > 1):
            weights = balancer.backward(losses, parameters)
        _average_gradients(fabric, parameters)
    else:
        weights = balancer.backward(losses, parameters, backward=fabric.backward)
    if grad_clip is not None:
        fabric.clip_gradients(model, optimizer, max_norm=grad_clip)
    optimizer.step()
    record = {name: float(value.detach()) for name, value in losses.items()}
    record["total"] = sum(weights.get(name, 0.0) * value for name, value in record.items())
    record.update({f"weight_{name}": weight for name, weight in weights.items()}, lr=learning_rate)
    return record


def _average_gradients(fabric, parameters: Sequence[Tensor]) -> None:
    """torchjd's backward bypasses DDP's gradient hooks; average across ranks by hand."""
    if fabric.world_size == 1:
        return
    for parameter in parameters:
        if parameter.grad is not None:
            parameter.grad = fabric.all_reduce(parameter.grad, reduce_op="mean")


def _gather_rng(fabric, generator: torch.Generator) -> dict:
    """Every rank's RNG states (rank r's at index r), so each rank resumes its own streams."""
    states = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if fabric.world_size > 1:
        states = {name: fabric.all_gather(state.to(fabric.device)).cpu() for name, state in states.items()}
    else:
        states = {name: state[None] for name, state in states.items()}
    states["cuda"] = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    states["python"] = random.getstate()
    return states


def _training_state(config, network, ema, optimizer, balancer, step, rng: dict, data: TrainingData) -> dict:
    return {
        "kind": "training",
        "config": config_to_dict(config),
        "step": step,
        "model": network.state_dict(),
        "ema": ema.state_dict(),
        "optimizer": optimizer.state_dict(),
        "balancer": balancer.state_dict(),
        "rng": rng,
        **_data_state(data),
    }


def _data_state(data: TrainingData) -> dict:
    return {
        "normalizers": {"motion": data.motion_normalizer.state_dict(), "music": data.music_normalizer.state_dict()},
        "genres": list(data.genre_keys),
        "genre_embeddings": torch.from_numpy(data.genre_embeddings),
    }


def inference_bundle(config: GCDanceConfig, ema: EMA, data: TrainingData, step: int) -> ModelBundle:
    state = _data_state(data)
    return ModelBundle(
        config=config_to_dict(config),
        weights={name: value.detach().cpu() for name, value in ema.model.state_dict().items()},
        normalizers=state["normalizers"],
        genres=state["genres"],
        genre_embeddings=state["genre_embeddings"],
        step=step,
        # Models trained on move labels take the user's prompt itself as text (see clip_prompt).
        extra={"text_condition": TEXT_GENRE_AND_MOVES} if data.prompt_embeddings is not None else {},
    )


def _restore_rng(state: dict, generator: torch.Generator, rank: int, world_size: int) -> None:
    if state["torch"].shape[0] != world_size:
        warnings.warn(f"resuming {state['torch'].shape[0]} ranks' random streams on {world_size} ranks: not bit-exact")
    row = min(rank, state["torch"].shape[0] - 1)
    # clone(): set_state reads the tensor's storage from its start, so a row view would not do.
    torch.set_rng_state(state["torch"][row].clone())
    generator.set_state(state["generator"][row].clone())
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    python_state = state["python"]
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
