"""GCDance's training task for the shared loop: its data, its module, its one stage, its bundle.

Data: every clip of `config.data.root` (any dataset `dancegen.data` opens) is encoded as
smpl6d motion features and music features, both normalised, and cut into fixed windows on
the fly. Text: each clip is conditioned on its genre's prompt ("This is a {genre} type of
music."), or on `clip_prompt(genre, moves)` when it carries move labels (the CMU
descriptions), so a model trained on labelled clips takes a user's prompt as written.

Module: `GCDanceModule` = network + diffusion + losses; it draws every random number
(timesteps, noise, condition dropout) from the generator the loop gives it, so runs are
reproducible and resumable to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.errors import ArgumentError
from dancegen.families import Stage, get_family
from dancegen.models.gcdance.config import TEXT_GENRE_AND_MOVES, GCDanceConfig
from dancegen.models.gcdance.losses import LOSS_TERMS, GCDanceLoss, LossBalancer
from dancegen.models.gcdance.network import GCDanceNetwork
from dancegen.motion.normalize import Normalizer
from dancegen.sampling.diffusion import make_diffusion
from dancegen.sampling.guidance import condition_dropout
from dancegen.skeleton import get_skeleton

Tensor = torch.Tensor


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


def load_training_data(
    config: GCDanceConfig, text_encoder: Any = None, progress: bool = True, resumed: Mapping[str, Any] | None = None
) -> TrainingData:
    """Load `config.data.root` through dancegen.data, encode motion and music, embed prompts.

    `resumed`: the assets of a run being resumed; its normalisers and genre table are reused.
    """
    from dancegen.data.datasets import open_dataset
    from dancegen.data.genres import clip_prompt, genre_prompt, get_vocabulary
    from dancegen.motion.codecs import get_codec
    from dancegen.text import embed_texts

    data, music = config.data, config.music
    if data.root is None:
        raise ArgumentError("data.root", "is not set", "give the dataset folder, e.g. data.root=/path/to/finedance")
    dataset = open_dataset(
        data.root, data.kind, fps=data.fps, feature_kind=music.features, to_smpl=config.network.skeleton == "smpl24"
    )
    vocabulary = get_vocabulary(data.vocabulary)
    codec = get_codec("smpl6d", get_skeleton(config.network.skeleton))
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
    motions, musics, genres, prompt_texts = stretch_clips(data.tempo_stretch, data.fps, motions, musics, genres, prompt_texts)
    keys = list(vocabulary.genres)
    encoder = text_encoder or data.text_encoder
    if resumed is not None:
        if list(resumed["genres"]) != keys:
            raise ArgumentError("data.vocabulary", "differs from the run being resumed")
        fitted = tuple(Normalizer.from_state_dict(resumed["normalizers"][name]) for name in ("motion", "music"))
        embeddings = np.asarray(resumed["genre_embeddings"], np.float32)
    else:
        fitted = None
        embeddings = embed_texts([genre_prompt(key) for key in keys], encoder, config.network.text_dim)
    distinct = sorted({text for text in prompt_texts if text})
    prompts = [distinct.index(text) if text else -1 for text in prompt_texts]
    prompt_embeddings = embed_texts(distinct, encoder, config.network.text_dim) if distinct else None
    return TrainingData.from_clips(
        motions, musics, genres, keys, embeddings, data.normalizer, fitted, prompts, prompt_embeddings
    )


def stretch_clips(factors: Sequence[float], fps: float, motions: list[np.ndarray], musics: list[np.ndarray],
                  *labels: list) -> tuple[list, ...]:
    """Every clip at every playback speed in `factors` (motion and music rows resampled
    together; 1.0 keeps the clip as it is); per-clip labels are repeated alongside."""
    from dancegen.data.windows import sample_features_at

    out: tuple[list, ...] = tuple([] for _ in range(2 + len(labels)))
    for factor in factors:
        for clip, (motion, music) in enumerate(zip(motions, musics)):
            if factor != 1.0:
                times = np.arange(int(len(motion) / factor)) * factor / fps
                motion, music = sample_features_at(motion, fps, times), sample_features_at(music, fps, times)
            for column, value in zip(out, (motion, music, *(label[clip] for label in labels))):
                column.append(value)
    return out


def _foundation_encoder(config: GCDanceConfig) -> Callable[[Any], np.ndarray]:
    """Per-sample foundation-model features at the motion frame rate (e.g. wav2clip)."""
    from dancegen.audio import load_audio
    from dancegen.audio.encoders import get_encoder

    encoder = get_encoder(config.music.foundation, weights=config.music.foundation_weights)

    def features(sample) -> np.ndarray:
        audio = load_audio(sample.audio_path, start=sample.audio_start, end=sample.audio_start + sample.duration)
        return encoder.encode(audio, fps=config.data.fps)

    return features


# --- the module -------------------------------------------------------------------------------


class GCDanceModule(nn.Module):
    """Network + diffusion + losses. `genre_embeddings` (G, E): the prompt embedding of each
    genre of the vocabulary, looked up by a batch's genre indices (−1 = unknown).
    `prompt_embeddings` (P, E): clips' own move-label texts, looked up by a batch's `prompt`
    indices; where one is given (≥ 0) it replaces the genre prompt as the text condition."""

    def __init__(
        self,
        config: GCDanceConfig,
        motion_normalizer: Normalizer,
        genre_embeddings: Tensor,
        prompt_embeddings: Tensor | None = None,
    ):
        super().__init__()
        self.config = config
        self.network = GCDanceNetwork(config, num_genres=genre_embeddings.shape[0])
        self.diffusion = make_diffusion(**config.diffusion.model_dump())
        self.objective = GCDanceLoss(
            get_skeleton(config.network.skeleton),
            torch.from_numpy(motion_normalizer.shift),
            torch.from_numpy(motion_normalizer.scale),
            config.loss,
        )
        self.register_buffer("genre_embeddings", genre_embeddings.float(), persistent=False)
        if prompt_embeddings is None:
            prompt_embeddings = genre_embeddings.new_zeros(0, genre_embeddings.shape[-1])
        self.register_buffer("prompt_embeddings", prompt_embeddings.float(), persistent=False)

    @property
    def loss_terms(self) -> tuple[str, ...]:
        return LOSS_TERMS if self.network.genre_head is not None else LOSS_TERMS[:-1]

    def forward(
        self, batch: Mapping[str, Tensor], generator: torch.Generator | None = None, stage: str | None = None
    ) -> dict[str, Tensor]:
        """Loss terms for a batch: `motion` (B, T, D) and `music` (B, T, M) normalised, `genre` (B,)."""
        clean, music, genre = batch["motion"], batch["music"], batch["genre"]
        example = self.diffusion.training_example(clean, generator)
        drop = condition_dropout(clean.shape[0], self.config.train.condition_dropout, generator, clean.device)
        known_text = genre >= 0
        text = self.genre_embeddings[genre.clamp(min=0)] if len(self.genre_embeddings) else None
        prompt = batch.get("prompt")
        if prompt is not None and len(self.prompt_embeddings):
            has_prompt = prompt >= 0
            own = self.prompt_embeddings[prompt.clamp(min=0)]
            text = own if text is None else torch.where(has_prompt[:, None], own, text)
            known_text = known_text | has_prompt
        drop["text"] = drop.get("text", torch.zeros_like(known_text)) | ~known_text
        output, logits = self.network.forward_with_genre(
            example.noisy, example.timesteps, {"music": music, "text": text}, drop
        )
        predicted = self.diffusion.predicted_clean(output, example.noisy, example.timesteps)
        return self.objective(output, example.target, predicted, clean, logits, genre)


# --- the task ---------------------------------------------------------------------------------


class GCDanceTask:
    """One stage: the denoiser, trained for `train.max_steps` with EDGE/Nash/Aligned balancing."""

    def __init__(self, config: GCDanceConfig, data: TrainingData | None = None, text_encoder: Any = None):
        self.config = config
        self.data = data
        self.text_encoder = text_encoder

    def prepare(self, resumed: Mapping[str, Any] | None, progress: bool) -> None:
        if self.data is None:
            self.data = load_training_data(self.config, self.text_encoder, progress, resumed)

    def stages(self) -> list[Stage]:
        return [Stage("denoiser", self.config.train.max_steps)]

    def dataset(self, stage: Stage) -> WindowDataset:
        data = self.config.data
        return self.data.windows(data.window_frames, max(1, int(round(data.stride_seconds * data.fps))))

    def build_module(self) -> GCDanceModule:
        prompts = self.data.prompt_embeddings
        return GCDanceModule(
            self.config, self.data.motion_normalizer, torch.from_numpy(self.data.genre_embeddings),
            None if prompts is None else torch.from_numpy(prompts),
        )

    def combiner(self, stage: Stage, module: GCDanceModule) -> LossBalancer:
        return LossBalancer(self.config.loss, module.loss_terms)

    def assets(self) -> dict[str, Any]:
        """What a resumed run and the bundle reuse: normalisers, genre table, text condition."""
        data = self.data
        assets = {
            "normalizers": {"motion": data.motion_normalizer.state_dict(), "music": data.music_normalizer.state_dict()},
            "genres": list(data.genre_keys),
            "genre_embeddings": torch.from_numpy(data.genre_embeddings),
        }
        # Models trained on move labels take the user's prompt itself as text (see clip_prompt).
        if data.prompt_embeddings is not None:
            assets["text_condition"] = TEXT_GENRE_AND_MOVES
        return assets

    def bundle(self, module: GCDanceModule, step: int) -> ModelBundle:
        assets = self.assets()
        normalizers = assets.pop("normalizers")
        supports = get_family(self.config.family).supports.as_dict()
        supports["hands"] = self.config.network.skeleton == "smplx52"
        supports["genre"] = supports["text"] = bool(assets["genres"])
        header = BundleHeader.for_run(self.config, skeleton=self.config.network.skeleton, genres=assets["genres"], supports=supports,
                                      step=step, clips=len(self.data.motion))
        weights = {name: value.detach().cpu() for name, value in module.network.state_dict().items()}
        return ModelBundle(header, {"network": weights}, normalizers, assets)
