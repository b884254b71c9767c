"""GCDance generation: song → music features → genre → long-form sampling → `Motion`.

    pipeline = GCDancePipeline.from_pretrained("gcdance-small")     # or a bundle's path
    motion = pipeline("song.wav", prompt="smooth jazzy moves with big arm swings", seed=0)

`generate` reads top to bottom: cut the music to the requested span and featurise it, map
the text to a genre and embed its prompt, turn edits (locked joints, keyframes) into
inpainting constraints, denoise the whole span in overlapping windows, decode the features
into a motion and write the pinned values back exactly. Files, rendering and evaluation stay
outside: the result is one `Motion` covering exactly the requested span.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.errors import ArgumentError, InputFileError, MissingResourceError
from dancegen.models.gcdance.config import MODALITIES, TEXT_GENRE_AND_MOVES, GCDanceConfig
from dancegen.models.gcdance.network import GCDanceNetwork
from dancegen.motion.codecs import get_codec
from dancegen.motion.motion import Motion
from dancegen.motion.normalize import Normalizer
from dancegen.pipelines.base import DancePipeline
from dancegen.pipelines.request import GenerationRequest, check_genre
from dancegen.sampling.diffusion import make_diffusion
from dancegen.sampling.editing import PoseConstraints
from dancegen.sampling.longform import WindowPlan, sample_sequence
from dancegen.skeleton import get_skeleton
from dancegen.text import embed_texts

# Softmax temperature over cosine similarities for the zero-shot genre: CLIP's learned logit
# scale is ~1/0.01-1/0.07; 0.05 turns MiniLM's narrow similarity range into usable odds.
ZERO_SHOT_TEMPERATURE = 0.05


@dataclass
class GenreChoice:
    key: str | None  # canonical genre, None = generate without genre conditioning
    probability: float | None = None  # the classifier's confidence for a free-form prompt
    prompt: str | None = None  # what the user wrote


class GCDancePipeline(DancePipeline):
    def __init__(
        self,
        header: BundleHeader,
        network: GCDanceNetwork,
        motion_normalizer: Normalizer,
        music_normalizer: Normalizer,
        genre_embeddings: torch.Tensor,
        text_condition: str | None = None,
    ):
        self.header = header
        self.config = GCDanceConfig.model_validate(header.config)
        self.network = network.eval()
        self.diffusion = make_diffusion(**self.config.diffusion.model_dump())
        self.motion_normalizer = motion_normalizer
        self.music_normalizer = music_normalizer
        self.genres = list(header.genres)
        self.genre_embeddings = genre_embeddings.float()
        self.skeleton = get_skeleton(self.config.network.skeleton)
        self.codec = get_codec("smpl6d", self.skeleton)
        # "genre_and_moves": trained on clips' move labels, so a prompt is embedded as it is.
        self.text_condition = text_condition
        self._text_encoder = None  # loaded on the first free-form prompt, then kept

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, device: str | torch.device = "cpu") -> "GCDancePipeline":
        header = bundle.header
        config = GCDanceConfig.model_validate(header.config)
        network = GCDanceNetwork(config, num_genres=len(header.genres))
        try:
            network.load_state_dict(bundle.component("network", header.name))
        except RuntimeError:
            raise InputFileError(header.name, "weights do not fit the model its config describes", "re-export the model") from None
        return cls(
            header,
            network.to(device),
            Normalizer.from_state_dict(bundle.normalizers["motion"]),
            Normalizer.from_state_dict(bundle.normalizers["music"]),
            torch.as_tensor(bundle.assets["genre_embeddings"]).to(device),
            text_condition=bundle.assets.get("text_condition"),
        )

    @property
    def device(self) -> torch.device:
        return self.genre_embeddings.device

    @torch.inference_mode()
    def generate(self, request: GenerationRequest, progress: bool = False) -> Motion:
        """One motion for the checked request's span (`request.frames` frames)."""
        features = self.music_features(request)
        frames = features.shape[0]
        choice = self.choose_genre(request.prompt, request.genre)
        constraints = self.edit_constraints(frames, request)
        known, mask = self.constraint_features(constraints)

        weights = {**self.config.sampling.guidance, **request.guidance}
        steps, eta = self.schedule(request.steps)
        seed = secrets.randbelow(2**31) if request.seed is None else int(request.seed)
        with self.network.step_cache():  # music tokens and their keys/values: once, not per step
            sampled = sample_sequence(
                self.diffusion,
                self.network,
                plan=WindowPlan.from_seconds(
                    frames, self.fps, self.config.sampling.window_seconds, self.config.sampling.overlap_seconds
                ),
                dim=self.codec.dim,
                frame_conditions={"music": features},
                sequence_conditions={"text": self.text_embedding(choice)},
                order=MODALITIES,
                weights=weights,
                known=known,
                mask=mask,
                steps=steps,
                eta=eta,
                generator=torch.Generator(device=self.device).manual_seed(seed),
                chunk_size=self.config.sampling.chunk_size,
                stitching=self.config.sampling.stitching,
                progress=progress,
            )

        motion = self.codec.decode(self.motion_normalizer.inverse(sampled.double().cpu().numpy()), self.fps)
        if constraints is not None:
            motion = constraints.apply(motion)
        music = request.music
        motion.metadata.update(
            model=self.header.name,
            family=self.header.family,
            genre=choice.key,
            genre_probability=choice.probability,
            prompt=choice.prompt if choice.prompt is not None else self.genre_prompt(choice.key),
            seed=seed,
            guidance=weights,
            sampling={"method": self.config.sampling.method, "steps": steps, "eta": eta,
                      "stitching": self.config.sampling.stitching},
            music=str(music) if isinstance(music, Path) else None,
            start=request.start,
            edits=constraints.sources if constraints is not None else [],
        )
        return motion

    # --- the steps ------------------------------------------------------------------------

    @property
    def music_columns(self) -> int:
        return self.config.music.total_dim

    def audio_features(self, path: Path, start: float, seconds: float | None) -> np.ndarray:
        """The hand-crafted features, then the foundation encoder's columns when configured."""
        from dancegen.audio import load_audio
        from dancegen.audio.features import extract_features

        audio = load_audio(path, start=start, end=None if seconds is None else start + seconds)
        features = np.asarray(extract_features(audio, self.config.music.features, fps=self.fps), np.float32)
        if self.config.music.foundation:
            from dancegen.audio.encoders import get_encoder

            encoder = get_encoder(self.config.music.foundation, weights=self.config.music.foundation_weights)
            extra = np.asarray(encoder.encode(audio, fps=self.fps), np.float32)[: len(features)]
            features = np.concatenate([features[: len(extra)], extra], axis=1)
        return features

    def choose_genre(self, prompt: str | None, genre: str | None) -> GenreChoice:
        """An explicit genre label, or the classifier's reading of a free-form prompt."""
        from dancegen.data.genres import GenreVocabulary

        if genre is not None:
            return GenreChoice(check_genre(genre, self.header))
        if prompt is not None:
            if not self.genres:
                raise ArgumentError("--prompt", "this model was trained without genres", "leave out --prompt")
            from dancegen.data.genre_classifier import predict_genre

            vocabulary = GenreVocabulary("model", labels=tuple(self.genres), genres=tuple(self.genres))
            try:
                key, probability = predict_genre(prompt, vocabulary)
            except MissingResourceError:  # no classifier head installed: zero-shot instead
                key, probability = self.nearest_genre(prompt)
            return GenreChoice(key, probability, prompt)
        return GenreChoice(None)

    @property
    def text_encoder(self):
        if self._text_encoder is None:
            from dancegen.text import shared_text_encoder

            self._text_encoder = shared_text_encoder(self.config.data.text_encoder)
        return self._text_encoder

    def nearest_genre(self, prompt: str) -> tuple[str, float]:
        """Zero-shot genre: the genre prompt whose embedding is closest (cosine) to the prompt's."""
        query = torch.from_numpy(embed_texts([prompt], self.text_encoder, self.config.network.text_dim)).to(self.device)
        similarity = torch.nn.functional.cosine_similarity(query, self.genre_embeddings, dim=-1)
        probabilities = torch.softmax(similarity / ZERO_SHOT_TEMPERATURE, dim=0)
        best = int(probabilities.argmax())
        return self.genres[best], float(probabilities[best])

    def genre_embedding(self, key: str | None) -> torch.Tensor | None:
        return None if key is None else self.genre_embeddings[self.genres.index(key)]

    def text_embedding(self, choice: GenreChoice) -> torch.Tensor | None:
        """The text condition: the prompt itself (after its genre's prompt, as in training) for
        a model trained on move labels, else the chosen genre's prompt embedding."""
        from dancegen.data.genres import clip_prompt

        if choice.prompt is None or self.text_condition != TEXT_GENRE_AND_MOVES:
            return self.genre_embedding(choice.key)
        embedding = embed_texts([clip_prompt(choice.key, choice.prompt)], self.text_encoder, self.config.network.text_dim)[0]
        return torch.from_numpy(embedding).to(self.device)

    @staticmethod
    def genre_prompt(key: str | None) -> str | None:
        if key is None:
            return None
        from dancegen.data.genres import genre_prompt

        return genre_prompt(key)

    def constraint_features(self, constraints: PoseConstraints | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(known, blend weights) for inpainting: the pins and a soft neighbourhood around each.
        The normaliser is affine per channel, so it maps a blend of known values to the same
        blend of normalised ones: the weights carry over unchanged."""
        if constraints is None or not constraints.any():
            return None, None
        known, weights = constraints.blend_features(self.fps)
        known = self.motion_normalizer.transform(known.double()).float()
        return known.to(self.device), weights.to(self.device)

    def schedule(self, steps: int | None) -> tuple[int | None, float]:
        """(sampling steps, η): DDIM's configured count, or DDPM's every step with η = 1."""
        if self.config.sampling.method == "ddpm":
            return steps, 1.0
        return steps or self.config.sampling.steps, self.config.sampling.eta
