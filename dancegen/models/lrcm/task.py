"""LRCM's training task for the shared loop: its data, its module, three phases, its bundle.

Data: every clip of `config.data.root` (any dataset `dancegen.data` opens: a folder of motion +
audio + `*.annotation.json` sidecars, AIST++, FineDance, ...) becomes normalised motion features
(`network.codec`, expmap by default) and music features (`music.features`, lda3 by default). Its
text: a global text and a per-frame local text (`conditions.py`). Every distinct text is
embedded once at prepare time into `text_embeddings`; clips carry integer indices into it.

Windows: `data.window_seconds` segments for phases 1 and 2. Phase 3 ("memory") uses windows
longer by T_m = `network.memory.frames`: their first T_m frames are the memory (the tail of
the "previous segment", clean motion features) and the rest is the segment to denoise, exactly
what generation hands from one segment to the next.

Phases (`Stage`s of the loop): "global" (global text + audio, local text replaced by its null
embedding, higher rate), "local" (adds the local text, lower rate), "memory" (the MTMM on,
everything else, the audio–text fusion included, frozen). The module draws every random
number from the loop's generator, so runs resume to the bit, across phases too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.errors import ArgumentError
from dancegen.families import Stage, get_family
from dancegen.models.lrcm.conditions import NO_TEXT, frame_texts, global_text
from dancegen.models.lrcm.config import PHASE_GLOBAL, PHASE_LOCAL, PHASE_MEMORY, LRCMConfig
from dancegen.models.lrcm.losses import WeightedSum, lrcm_losses
from dancegen.models.lrcm.network import LRCMNetwork, epsilon_from_output, pack_text
from dancegen.motion.normalize import Normalizer
from dancegen.sampling.diffusion import make_diffusion
from dancegen.sampling.guidance import condition_dropout
from dancegen.skeleton import get_skeleton

Tensor = torch.Tensor


# --- data -------------------------------------------------------------------------------------


@dataclass
class TrainingData:
    """Whole clips as normalised arrays plus the text tables, cut into windows on the fly.

    global_text: per clip, index into `text_embeddings` (NO_TEXT: none). local_text: per clip
    (T_i,) indices (NO_TEXT outside local spans: the global text conditions those frames).
    genre_embeddings: the prompt embedding of each genre of `genre_keys` (for generation).
    """

    motion: list[np.ndarray]
    music: list[np.ndarray]
    global_text: list[int]
    local_text: list[np.ndarray]
    texts: list[str]
    text_embeddings: np.ndarray  # (N, E)
    genre_keys: list[str]
    genre_embeddings: np.ndarray  # (G, E)
    motion_normalizer: Normalizer
    music_normalizer: Normalizer

    @classmethod
    def from_clips(cls, motion: Sequence[np.ndarray], music: Sequence[np.ndarray], global_text: Sequence[int],
                   local_text: Sequence[np.ndarray], texts: Sequence[str], text_embeddings: np.ndarray,
                   genre_keys: Sequence[str] = (), genre_embeddings: np.ndarray | None = None,
                   normalizer: str = "meanstd", fitted: tuple[Normalizer, Normalizer] | None = None) -> "TrainingData":
        """Normalise raw clips with `fitted` (motion, music) normalisers, or fit new ones."""
        if not motion:
            raise ArgumentError("data", "has no clips with both motion and music")
        if fitted is None:
            fitted = Normalizer(normalizer).fit(list(motion)), Normalizer("meanstd").fit(list(music))
        motion_normalizer, music_normalizer = fitted
        embeddings = np.asarray(text_embeddings, np.float32)
        genre_embeddings = np.zeros((0, embeddings.shape[-1]), np.float32) if genre_embeddings is None else genre_embeddings
        return cls(
            [motion_normalizer.transform(np.asarray(m, np.float32)).astype(np.float32) for m in motion],
            [music_normalizer.transform(np.asarray(m, np.float32)).astype(np.float32) for m in music],
            [int(g) for g in global_text], [np.asarray(l, np.int64) for l in local_text], list(texts), embeddings,
            list(genre_keys), np.asarray(genre_embeddings, np.float32), motion_normalizer, music_normalizer,
        )

    def windows(self, length: int, stride: int, memory_frames: int = 0) -> "WindowDataset":
        return WindowDataset(self, length, stride, memory_frames)


class WindowDataset(Dataset):
    """Every full window of `memory_frames + length` frames, `stride` apart, over all clips."""

    def __init__(self, data: TrainingData, length: int, stride: int, memory_frames: int = 0):
        self.data, self.length, self.memory_frames = data, length, memory_frames
        span = length + memory_frames
        self.index = [(clip, start) for clip, frames in enumerate(len(m) for m in data.motion)
                      for start in range(0, frames - span + 1, max(1, stride))]
        if not self.index:
            longest = max(len(m) for m in data.motion)
            raise ArgumentError("data", f"no clip is as long as one {span}-frame window (longest: {longest} frames)",
                                "use shorter data.window_seconds or longer clips")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, Tensor]:
        clip, start = self.index[item]
        first = start + self.memory_frames
        window = slice(first, first + self.length)
        sample = {
            "motion": torch.from_numpy(self.data.motion[clip][window]),
            "music": torch.from_numpy(self.data.music[clip][window]),
            "global_text": torch.tensor(self.data.global_text[clip], dtype=torch.long),
            "local_text": torch.from_numpy(self.data.local_text[clip][window]),
        }
        if self.memory_frames:
            sample["memory"] = torch.from_numpy(self.data.motion[clip][start:first])
        return sample


def load_training_data(config: LRCMConfig, text_encoder: Any = None, progress: bool = True,
                       resumed: Mapping[str, Any] | None = None) -> TrainingData:
    """Load `config.data.root` through dancegen.data: motion, music, texts (embedded once).

    `resumed`: the assets of a run being resumed; its normalisers and text tables are reused."""
    from dancegen.data.datasets import open_dataset
    from dancegen.data.genres import genre_prompt, get_vocabulary
    from dancegen.motion.codecs import get_codec
    from dancegen.text import embed_texts

    data, music = config.data, config.music
    if data.root is None:
        raise ArgumentError("data.root", "is not set", "give the dataset folder, e.g. data.root=/path/to/clips")
    dataset = open_dataset(data.root, data.kind, fps=data.fps, feature_kind=music.features, to_smpl=True)
    codec = get_codec(config.network.codec, get_skeleton(config.network.skeleton))
    clips = []  # (motion features, music features, global text, span texts, frame span index)
    for sample in tqdm(dataset.samples(data.split), desc="loading clips", total=len(dataset.select(data.split)),
                       disable=not progress):
        if sample.audio_features is None:
            continue
        for factor in data.tempo_stretch:
            clips.append(_clip_arrays(sample, factor, codec, config))
    keys = list(get_vocabulary(data.vocabulary).genres)
    encoder = text_encoder or data.text_encoder
    if resumed is not None:
        texts = list(resumed["texts"])
        text_embeddings = np.asarray(resumed["text_embeddings"], np.float32)
        genre_embeddings = np.asarray(resumed["genre_embeddings"], np.float32)
        fitted = tuple(Normalizer.from_state_dict(resumed["normalizers"][name]) for name in ("motion", "music"))
    else:
        texts = sorted({text for clip in clips for text in [clip[2], *clip[3]] if text})
        text_embeddings = embed_texts(texts, encoder, config.network.text_dim) if texts else \
            np.zeros((0, config.network.text_dim), np.float32)
        genre_embeddings = embed_texts([genre_prompt(key) for key in keys], encoder, config.network.text_dim)
        fitted = None
    lookup = {text: index for index, text in enumerate(texts)}
    global_index = [lookup.get(clip[2], NO_TEXT) if clip[2] else NO_TEXT for clip in clips]
    local_index = [np.where(clip[4] >= 0, np.array([lookup[t] for t in clip[3]] + [NO_TEXT])[clip[4]], NO_TEXT)
                   for clip in clips]
    return TrainingData.from_clips([c[0] for c in clips], [c[1] for c in clips], global_index, local_index, texts,
                                   text_embeddings, keys, genre_embeddings, data.normalizer, fitted)


def _clip_arrays(sample, factor: float, codec, config: LRCMConfig) -> tuple:
    """One clip at playback speed `factor`: (motion, music, global text, span texts, span index)."""
    from dancegen.data.windows import sample_features_at, sample_motion_at

    features = np.asarray(sample.audio_features, np.float32)
    if features.shape[1] != config.music.dim:
        raise ArgumentError("music.dim", f"the config says {config.music.dim} music columns, {sample.name} has "
                            f"{features.shape[1]}", f"set music.dim to match the {config.music.features} features")
    motion, annotation, fps = sample.motion, sample.annotation, config.data.fps
    if factor != 1.0:  # retime the motion itself: expmap's per-frame velocities must scale too
        times = np.arange(int(motion.num_frames / factor)) * factor / fps
        motion, features = sample_motion_at(motion, times, fps), sample_features_at(features, fps, times)
        annotation = annotation.stretched(1.0 / factor)
    encoded = codec.encode(motion)[: len(features)]
    texts, span_index = frame_texts(annotation, len(encoded), fps)
    return encoded, features[: len(encoded)], global_text(annotation, sample.genre), texts, span_index


# --- the module -------------------------------------------------------------------------------


class LRCMModule(nn.Module):
    """Network + diffusion + losses. `text_embeddings` (N, E) is looked up by a batch's
    `global_text` (B,) and `local_text` (B, T) indices."""

    def __init__(self, config: LRCMConfig, text_embeddings: Tensor):
        super().__init__()
        self.config = config
        self.network = LRCMNetwork(config)
        self.diffusion = make_diffusion(**config.diffusion.model_dump(exclude={"output", "train_min_signal"}))
        self.informative_steps = informative_steps(self.diffusion, config.diffusion)
        self.register_buffer("text_embeddings", text_embeddings.float(), persistent=False)

    def denoiser_parameters(self) -> list[nn.Parameter]:
        """Everything but the MTMM: what phases 1 and 2 train."""
        memory = {id(p) for p in self.network.memory_parameters()}
        return [p for p in self.parameters() if id(p) not in memory]

    def memory_parameters(self) -> list[nn.Parameter]:
        return self.network.memory_parameters()

    def text_condition(self, global_index: Tensor, local_index: Tensor) -> tuple[Tensor, Tensor]:
        """(packed text (B, T, 2E), which items have any text (B,))."""
        table = self.text_embeddings
        if len(table) == 0:
            table = table.new_zeros(1, self.network.text_dim)
        glob = table[global_index.clamp(min=0)] * (global_index >= 0)[:, None]
        has_local = local_index >= 0
        local = torch.where(has_local[..., None], table[local_index.clamp(min=0)], glob[:, None])
        return pack_text(glob, local, local_index.shape[1]), (global_index >= 0) | has_local.any(dim=1)

    def robust_noise(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        """Gaussian noise (`loss.input_noise`) on a random share of the items."""
        loss = self.config.loss
        chosen = torch.rand(x.shape[0], generator=generator, device=x.device) < loss.input_noise_probability
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + loss.input_noise * noise * chosen.reshape(-1, *([1] * (x.dim() - 1)))

    def forward(self, batch: Mapping[str, Tensor], generator: torch.Generator | None = None,
                stage: str | None = None) -> dict[str, Tensor]:
        """Loss terms for a batch of normalised `motion` (B, T, D), `music` (B, T, M), text
        indices and (phase "memory") `memory` (B, T_m, D)."""
        clean = batch["motion"]
        text, known_text = self.text_condition(batch["global_text"], batch["local_text"])
        music, text = self.robust_noise(batch["music"], generator), self.robust_noise(text, generator)
        memory = batch.get("memory") if stage == PHASE_MEMORY else None
        if memory is not None:
            memory = self.robust_noise(memory, generator)
        example = self.diffusion.training_example(clean, generator, self.informative_steps)
        drop = condition_dropout(clean.shape[0], self.config.train.condition_dropout, generator, clean.device)
        drop["text"] = drop.get("text", torch.zeros_like(known_text)) | ~known_text
        output = self.network(example.noisy, example.timesteps, {"music": music, "text": text}, drop, memory,
                              use_local=stage != PHASE_GLOBAL)
        signal = self.diffusion.alphas_cumprod.to(clean.device)[example.timesteps]
        if self.config.diffusion.output == "x0":  # the loss on the clean motion itself
            return lrcm_losses(output, clean, output, clean, signal, self.config.loss)
        output = epsilon_from_output(output, example.noisy, signal, self.config.diffusion.output)
        predicted = self.diffusion.predicted_clean(output, example.noisy, example.timesteps)
        return lrcm_losses(output, example.target, predicted, clean, signal, self.config.loss)


def informative_steps(diffusion, settings) -> int | None:
    """How many of the first timesteps training draws from (None: all; see DiffusionConfig)."""
    if settings.output != "v" or settings.train_min_signal <= 0:
        return None
    return max(1, int((diffusion.alphas_cumprod >= settings.train_min_signal).sum()))


# --- the task ---------------------------------------------------------------------------------


def _denoiser_parameters(module: LRCMModule) -> list[nn.Parameter]:
    return module.denoiser_parameters()


def _memory_parameters(module: LRCMModule) -> list[nn.Parameter]:
    return module.memory_parameters()


class LRCMTask:
    """Three phases: global text, local text, memory (the last only with `network.memory.enabled`)."""

    def __init__(self, config: LRCMConfig, data: TrainingData | None = None, text_encoder: Any = None):
        self.config = config
        self.data = data
        self.text_encoder = text_encoder

    def prepare(self, resumed: Mapping[str, Any] | None, progress: bool) -> None:
        if self.data is None:
            self.data = load_training_data(self.config, self.text_encoder, progress, resumed)

    def stages(self) -> list[Stage]:
        phases = self.config.phases
        stages = [
            Stage(PHASE_GLOBAL, phases.global_text.steps, phases.global_text.learning_rate, _denoiser_parameters),
            Stage(PHASE_LOCAL, phases.local_text.steps, phases.local_text.learning_rate, _denoiser_parameters),
        ]
        if self.config.network.memory.enabled:
            stages.append(Stage(PHASE_MEMORY, phases.memory.steps, phases.memory.learning_rate, _memory_parameters))
        return stages

    def dataset(self, stage: Stage) -> WindowDataset:
        data = self.config.data
        memory = self.config.memory_frames if stage.name == PHASE_MEMORY else 0
        return self.data.windows(data.window_frames, max(1, int(round(data.stride_seconds * data.fps))), memory)

    def build_module(self) -> LRCMModule:
        return LRCMModule(self.config, torch.from_numpy(self.data.text_embeddings))

    def combiner(self, stage: Stage, module: LRCMModule) -> WeightedSum:
        return WeightedSum(self.config.loss)

    def assets(self) -> dict[str, Any]:
        """What a resumed run and the bundle reuse: normalisers, text and genre tables."""
        data = self.data
        return {
            "normalizers": {"motion": data.motion_normalizer.state_dict(), "music": data.music_normalizer.state_dict()},
            "genres": list(data.genre_keys),
            "genre_embeddings": torch.from_numpy(data.genre_embeddings),
            "texts": list(data.texts),
            "text_embeddings": torch.from_numpy(data.text_embeddings),
            "text_encoder": self.config.data.text_encoder,
        }

    def bundle(self, module: LRCMModule, step: int) -> ModelBundle:
        assets = self.assets()
        normalizers = assets.pop("normalizers")
        supports = get_family(self.config.family).supports.as_dict()
        supports["genre"] = bool(assets["genres"])
        header = BundleHeader.for_run(self.config, skeleton=self.config.network.skeleton, genres=assets["genres"], supports=supports,
                                      step=step, clips=len(self.data.motion))
        weights = {name: value.detach().cpu() for name, value in module.network.state_dict().items()}
        return ModelBundle(header, {"network": weights}, normalizers, assets)
