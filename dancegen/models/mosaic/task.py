"""DanceMosaic's training task for the shared loop: data, one module, five progressive stages.

Stages (each trains one component, everything else frozen and in eval mode):

    tokenizer      residual VQ-VAE: L1 reconstruction + commitment (eq. 1; codebooks by EMA)
    t2m            masked transformer on base tokens from text: cross-entropy on every token
    music_adapter  CE + kinematic terms through Gumbel-softmax tokens (positions, velocity,
                   acceleration, foot contact); the adapter starts as a copy of the T2M layers
    pose_adapter   CE + D(P, P̂) on randomly shown joint positions P
    residual       residual transformer: layer q from layers < q, CE

Later stages need the clips' tokens: the frozen tokenizer computes them on the fly (no_grad).
Data: every clip of `config.data.root` (any dataset `dancegen.data` opens) as hml263 features
and music features, both normalised, windows cut on the fly; text = "A person dances on
[genre] style." followed by the clip's core moves, when it has any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.errors import ArgumentError
from dancegen.families import Stage, get_family
from dancegen.models.mosaic.config import STAGES, MosaicConfig
from dancegen.models.mosaic.kinematic import TokenMotion, gumbel_softmax_straight_through, kinematic_losses
from dancegen.models.mosaic.network import COMPONENTS, MosaicNetwork, dance_prompt, pose_signal
from dancegen.motion.codecs import get_codec
from dancegen.motion.normalize import Normalizer
from dancegen.sampling.masked import random_masking
from dancegen.sampling.token_optimisation import pose_discrepancy
from dancegen.skeleton import smpl24

Tensor = torch.Tensor
KINEMATIC_TERMS = ("positions", "velocity", "acceleration", "foot")
# The bundle asset `text_condition`: the text is `dance_prompt(genre, moves)`.
TEXT_DANCE_PROMPT = "dance_prompt"


# --- data -------------------------------------------------------------------------------------


@dataclass
class MosaicData:
    """Whole clips as normalised arrays: motion (T_i, 263) hml263, music (T_i, M); per clip a
    genre index into `genre_keys` (−1 unknown) and a prompt index into `prompt_embeddings`
    (−1: the genre's prompt)."""

    motion: list[np.ndarray]
    music: list[np.ndarray]
    genres: list[int]
    genre_keys: list[str]
    genre_embeddings: np.ndarray  # (G, E)
    motion_normalizer: Normalizer
    music_normalizer: Normalizer
    prompts: list[int] = field(default_factory=list)
    prompt_embeddings: np.ndarray | None = None  # (P, E)

    @classmethod
    def from_clips(cls, motion: Sequence[np.ndarray], music: Sequence[np.ndarray], genres: Sequence[int],
                   genre_keys: Sequence[str], genre_embeddings: np.ndarray, normalizer: str = "meanstd",
                   fitted: tuple[Normalizer, Normalizer] | None = None, prompts: Sequence[int] = (),
                   prompt_embeddings: np.ndarray | None = None) -> "MosaicData":
        if not motion:
            raise ArgumentError("data", "has no clips with both motion and music")
        motion_norm, music_norm = fitted or (Normalizer(normalizer).fit(list(motion)), Normalizer("meanstd").fit(list(music)))
        return cls(
            [motion_norm.transform(np.asarray(m, np.float32)).astype(np.float32) for m in motion],
            [music_norm.transform(np.asarray(m, np.float32)).astype(np.float32) for m in music],
            list(genres), list(genre_keys),
            np.asarray(genre_embeddings, np.float32).reshape(len(genre_keys), -1),
            motion_norm, music_norm, list(prompts),
            None if prompt_embeddings is None else np.asarray(prompt_embeddings, np.float32),
        )


class WindowDataset(Dataset):
    """Every full window of `length` frames, `stride` frames apart, over all clips."""

    def __init__(self, data: MosaicData, length: int, stride: int):
        self.data, self.length = data, length
        self.index = [(clip, start) for clip, frames in enumerate(len(m) for m in data.motion)
                      for start in range(0, frames - length + 1, max(1, stride))]
        if not self.index:
            raise ArgumentError("data", f"no clip is as long as one {length}-frame window "
                                f"(longest: {max(len(m) for m in data.motion)} frames)", "use shorter data.window_seconds")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, Tensor]:
        clip, start = self.index[item]
        window = slice(start, start + self.length)
        data = self.data
        return {
            "motion": torch.from_numpy(data.motion[clip][window]),
            "music": torch.from_numpy(data.music[clip][window]),
            "genre": torch.tensor(data.genres[clip], dtype=torch.long),
            "prompt": torch.tensor(data.prompts[clip] if data.prompts else -1, dtype=torch.long),
        }


def load_training_data(config: MosaicConfig, text_encoder: Any = None, progress: bool = True,
                       resumed: Mapping[str, Any] | None = None) -> MosaicData:
    """`config.data.root` through dancegen.data: hml263 motion, music features, embedded texts."""
    from dancegen.data.datasets import open_dataset
    from dancegen.data.genres import get_vocabulary
    from dancegen.text import embed_texts

    data = config.data
    if data.root is None:
        raise ArgumentError("data.root", "is not set", "give the dataset folder, e.g. data.root=/path/to/clips")
    dataset = open_dataset(data.root, data.kind, fps=data.fps, feature_kind=config.music.features, to_smpl=True)
    vocabulary = get_vocabulary(data.vocabulary)
    codec = get_codec("hml263", smpl24())
    motions, musics, genres, texts = [], [], [], []
    for sample in tqdm(dataset.samples(data.split), desc="loading clips", total=len(dataset.select(data.split)),
                       disable=not progress):
        if sample.audio_features is None:
            continue
        features = np.asarray(sample.audio_features, np.float32)
        if features.shape[1] != config.music.dim:
            raise ArgumentError("music.dim", f"the config says {config.music.dim} music columns, {sample.name} has "
                                f"{features.shape[1]}", f"set music.dim to match the {config.music.features} features")
        motions.append(codec.encode(sample.motion)[: len(features)])
        musics.append(features[: len(motions[-1])])
        genre = sample.genre if sample.genre in vocabulary else None
        genres.append(vocabulary.index(genre) if genre is not None else -1)
        moves = ", ".join(sample.annotation.style.core_moves)
        texts.append(dance_prompt(genre, moves) if moves else None)
    motions, musics, genres, texts = stretch_clips(data.tempo_stretch, data.fps, motions, musics, genres, texts)
    keys = list(vocabulary.genres)
    encoder, dim = text_encoder or data.text_encoder, config.transformer.text_dim
    if resumed is not None:
        fitted = tuple(Normalizer.from_state_dict(resumed["normalizers"][name]) for name in ("motion", "music"))
        embeddings = np.asarray(resumed["genre_embeddings"], np.float32)
    else:
        fitted = None
        embeddings = embed_texts([dance_prompt(key) for key in keys], encoder, dim, "transformer.text_dim")
    distinct = sorted({text for text in texts if text})
    prompts = [distinct.index(text) if text else -1 for text in texts]
    prompt_embeddings = embed_texts(distinct, encoder, dim, "transformer.text_dim") if distinct else None
    return MosaicData.from_clips(motions, musics, genres, keys, embeddings, data.normalizer, fitted, prompts,
                                 prompt_embeddings)


def stretch_clips(factors: Sequence[float], fps: float, motions: list, musics: list, *labels: list) -> tuple[list, ...]:
    """Every clip at every playback speed in `factors` (motion and music resampled together)."""
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


# --- the module -------------------------------------------------------------------------------


class MosaicModule(nn.Module):
    """Every network (`network`) plus what the losses need; `forward(batch, generator, stage)`
    returns that stage's loss terms. Frozen components run in eval mode (no dropout, no
    codebook updates) whatever mode the loop puts the module in."""

    def __init__(self, config: MosaicConfig, motion_normalizer: Normalizer, genre_embeddings: Tensor,
                 prompt_embeddings: Tensor | None = None):
        super().__init__()
        self.config = config
        self.network = MosaicNetwork(config)
        self.kinematics = TokenMotion(get_codec("hml263", smpl24()), torch.from_numpy(motion_normalizer.shift),
                                      torch.from_numpy(motion_normalizer.scale))
        self.contacts = self.kinematics.codec.groups["contacts"]
        self.register_buffer("genre_embeddings", genre_embeddings.float(), persistent=False)
        if prompt_embeddings is None:
            prompt_embeddings = genre_embeddings.new_zeros(0, genre_embeddings.shape[-1])
        self.register_buffer("prompt_embeddings", prompt_embeddings.float(), persistent=False)

    def forward(self, batch: Mapping[str, Tensor], generator: torch.Generator | None = None,
                stage: str | None = None) -> dict[str, Tensor]:
        stage = stage or STAGES[0]
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        for name in COMPONENTS:
            self.network.component(name).train(self.training and name == stage)
        if stage == "tokenizer":
            return self.network.tokenizer(batch["motion"], generator).losses
        return getattr(self, f"_{stage}_losses")(batch, generator)

    # --- conditions -------------------------------------------------------------------------

    def text(self, batch: Mapping[str, Tensor], generator, dropout: float) -> tuple[Tensor | None, Tensor]:
        """(text (B, E), drop (B,)): the clip's own prompt, else its genre's; dropped at random
        and where the clip has neither."""
        genre, prompt = batch["genre"], batch.get("prompt")
        batch_size = genre.shape[0]
        known = genre >= 0
        text = self.genre_embeddings[genre.clamp(min=0)] if len(self.genre_embeddings) else None
        if prompt is not None and len(self.prompt_embeddings):
            own = self.prompt_embeddings[prompt.clamp(min=0)]
            text = own if text is None else torch.where((prompt >= 0)[:, None], own, text)
            known = known | (prompt >= 0)
        drop = (torch.rand(batch_size, generator=generator, device=genre.device) < dropout) | ~known
        return text, drop

    def codes(self, motion: Tensor) -> Tensor:
        return self.network.tokenizer.encode(motion)

    def masked_base(self, codes: Tensor, generator) -> tuple[Tensor, Tensor]:
        t2m = self.network.t2m
        return random_masking(codes[..., 0], t2m.mask_id, generator, bert_replace=True, vocabulary=t2m.codebook_size)

    # --- stages -------------------------------------------------------------------------------

    def _t2m_losses(self, batch, generator) -> dict[str, Tensor]:
        codes = self.codes(batch["motion"])
        masked, _ = self.masked_base(codes, generator)
        text, drop = self.text(batch, generator, self.config.transformer.text_dropout)
        logits = self.network.t2m(masked, text, drop)
        # CE on every token, masked or not (the DanceMosaic authors' note).
        return {"ce": F.cross_entropy(logits.transpose(1, 2), codes[..., 0])}

    def _adapter_logits(self, batch, generator, name: str, signal: Tensor) -> tuple[Tensor, Tensor]:
        network = self.network
        adapter = network.component(f"{name}_adapter")
        adapter.initialise_from(network.t2m)  # ControlNet: once, at the start of its stage
        codes = self.codes(batch["motion"])
        masked, _ = self.masked_base(codes, generator)
        text, drop = self.text(batch, generator, self.config.transformer.adapter_text_dropout)
        inputs = network.t2m.inputs(masked, text, drop)
        return network.t2m.run(inputs, [adapter(inputs, signal)]), codes

    def _token_positions(self, logits: Tensor, codes: Tensor, frames: int, generator) -> Tensor:
        one_hot = gumbel_softmax_straight_through(logits, self.config.loss.gumbel_temperature, generator)
        return self.kinematics.positions(self.network.tokenizer, one_hot, codes[..., 1:], frames)

    def _music_adapter_losses(self, batch, generator) -> dict[str, Tensor]:
        motion = batch["motion"]
        logits, codes = self._adapter_logits(batch, generator, "music", batch["music"])
        predicted = self._token_positions(logits, codes, motion.shape[1], generator)
        with torch.no_grad():
            target = self.kinematics.feature_positions(motion)
            contacts = (motion * self.kinematics.scale + self.kinematics.shift)[..., self.contacts]
        terms = {"ce": F.cross_entropy(logits.transpose(1, 2), codes[..., 0])}
        terms.update(kinematic_losses(predicted, target, contacts, self.config.loss.contact_threshold))
        return terms

    def _pose_adapter_losses(self, batch, generator) -> dict[str, Tensor]:
        motion = batch["motion"]
        with torch.no_grad():
            target = self.kinematics.feature_positions(motion)
        valid = self.shown_joints(target.shape[:3], generator, motion.device)
        logits, codes = self._adapter_logits(batch, generator, "pose", pose_signal(target, valid))
        predicted = self._token_positions(logits, codes, motion.shape[1], generator)
        return {"ce": F.cross_entropy(logits.transpose(1, 2), codes[..., 0]),
                "pose": pose_discrepancy(predicted, target, valid)}

    def shown_joints(self, shape: Sequence[int], generator, device) -> Tensor:
        """(B, T, J) bool: random frames (keyframes) and random joints on them."""
        loss = self.config.loss
        frames = torch.rand(tuple(shape[:2]), generator=generator, device=device) < loss.pose_frame_rate
        joints = torch.rand(tuple(shape), generator=generator, device=device) < loss.pose_joint_rate
        return frames[..., None] & joints

    def _residual_losses(self, batch, generator) -> dict[str, Tensor]:
        codes = self.codes(batch["motion"])
        batch_size, quantizers = codes.shape[0], codes.shape[-1]
        layer = torch.randint(1, quantizers, (batch_size,), generator=generator, device=codes.device)
        dropout = self.config.transformer.text_dropout
        text, text_drop = self.text(batch, generator, dropout)
        music_drop = torch.rand(batch_size, generator=generator, device=codes.device) < dropout
        logits = self.network.residual_logits(codes, layer, text, batch["music"], text_drop, music_drop)
        target = codes.gather(-1, layer[:, None, None].expand(-1, codes.shape[1], 1))[..., 0]
        return {"ce": F.cross_entropy(logits.transpose(1, 2), target)}


class WeightedSum:
    """Loss terms -> gradients with the config's fixed weights (CE weighs 1)."""

    uses_jacobians = False

    def __init__(self, weights: Mapping[str, float]):
        self.weights = dict(weights)

    def backward(self, losses: Mapping[str, Tensor], parameters, backward: Callable | None = None) -> dict[str, float]:
        used = {name: self.weights.get(name, 1.0) for name in losses}
        (backward or Tensor.backward)(sum(weight * losses[name] for name, weight in used.items()))
        return used

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


# --- the task ---------------------------------------------------------------------------------


class MosaicTask:
    """Five stages on one module; `bundle` packs the five components for `MosaicPipeline`."""

    def __init__(self, config: MosaicConfig, data: MosaicData | None = None, text_encoder: Any = None):
        self.config = config
        self.data = data
        self.text_encoder = text_encoder

    def prepare(self, resumed: Mapping[str, Any] | None, progress: bool) -> None:
        if self.data is None:
            self.data = load_training_data(self.config, self.text_encoder, progress, resumed)

    def stages(self) -> list[Stage]:
        steps, rates = self.config.stages, self.config.stage_rates
        return [Stage(name, getattr(steps, name), getattr(rates, name), trainable=component_parameters(name))
                for name in STAGES]

    def dataset(self, stage: Stage) -> WindowDataset:
        data = self.config.data
        return WindowDataset(self.data, data.window_frames, max(1, int(round(data.stride_seconds * data.fps))))

    def build_module(self) -> MosaicModule:
        prompts = self.data.prompt_embeddings
        return MosaicModule(self.config, self.data.motion_normalizer, torch.from_numpy(self.data.genre_embeddings),
                            None if prompts is None else torch.from_numpy(prompts))

    def combiner(self, stage: Stage, module: MosaicModule) -> WeightedSum:
        loss = self.config.loss
        return WeightedSum({"commitment": 1.0, **{name: getattr(loss, name) for name in (*KINEMATIC_TERMS, "pose")}})

    def assets(self) -> dict[str, Any]:
        data = self.data
        return {
            "normalizers": {"motion": data.motion_normalizer.state_dict(), "music": data.music_normalizer.state_dict()},
            "genres": list(data.genre_keys),
            "genre_embeddings": torch.from_numpy(data.genre_embeddings),
            "text_condition": TEXT_DANCE_PROMPT,
        }

    def bundle(self, module: MosaicModule, step: int) -> ModelBundle:
        assets = self.assets()
        normalizers = assets.pop("normalizers")
        supports = get_family(self.config.family).supports.as_dict()
        supports["genre"] = bool(assets["genres"])
        header = BundleHeader.for_run(self.config, skeleton="smpl24", genres=assets["genres"], supports=supports,
                                      step=step, clips=len(self.data.motion))
        components = {name: {key: value.detach().cpu() for key, value in module.network.component(name).state_dict().items()}
                      for name in COMPONENTS}
        return ModelBundle(header, components, normalizers, assets)


def component_parameters(name: str) -> Callable[[MosaicModule], Any]:
    def trainable(module: MosaicModule):
        return module.network.component(name).parameters()

    return trainable
