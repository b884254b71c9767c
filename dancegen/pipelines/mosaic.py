"""DanceMosaic generation: song → token-rate conditions → masked decoding → tokens → `Motion`.

    pipeline = MosaicPipeline.from_pretrained("runs/mosaic_small/model.pt")
    motion = pipeline("song.wav", genre="house", seed=0, guidance={"text": 2, "music": 2})

`generate` reads top to bottom: featurise the music, embed the text ("A person dances on
[genre] style." and/or the prompt), decode the base tokens by confidence-based parallel
decoding under multimodal guidance (each modality guided on its own against the
unconditional pass), then the residual layers greedily, and decode them with the tokenizer.
With edits (keyframes, locked joints) the first motion gives the constraint's joint positions
P; the tokens around the pins are re-masked and re-decoded with the pose adapter reading P,
the token embeddings are optimised against D(P, P̂) (networks frozen), and the pinned values
are written back exactly. Songs longer than a segment are decoded segment by segment, with
the seams re-masked and re-decoded from both neighbours.
"""

from __future__ import annotations

import math
import secrets
from pathlib import Path

import numpy as np
import torch

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.errors import InputFileError
from dancegen.models.mosaic.config import BODY_JOINTS, MODALITIES, MosaicConfig
from dancegen.models.mosaic.network import COMPONENTS, MosaicNetwork, dance_prompt, pose_signal
from dancegen.motion.codecs import get_codec
from dancegen.motion.motion import Motion
from dancegen.motion.normalize import Normalizer
from dancegen.pipelines.base import DancePipeline
from dancegen.pipelines.request import GenerationRequest, check_genre
from dancegen.sampling.editing import PoseConstraints
from dancegen.sampling.guidance import guided_logits
from dancegen.sampling.masked import confidence_decode, decode_long, sample_tokens
from dancegen.sampling.token_optimisation import optimise_inputs, pose_discrepancy
from dancegen.skeleton import get_skeleton

Tensor = torch.Tensor


class MosaicPipeline(DancePipeline):
    def __init__(self, header: BundleHeader, network: MosaicNetwork, motion_normalizer: Normalizer,
                 music_normalizer: Normalizer, genre_embeddings: Tensor):
        self.header = header
        self.config = MosaicConfig.model_validate(header.config)
        self.network = network.eval().requires_grad_(False)
        self.motion_normalizer, self.music_normalizer = motion_normalizer, music_normalizer
        self.genres = list(header.genres)
        self.genre_embeddings = genre_embeddings.float()
        self.skeleton = get_skeleton(header.skeleton)
        self.codec = get_codec("hml263", self.skeleton)
        device = self.genre_embeddings.device
        self.shift = torch.from_numpy(motion_normalizer.shift).float().to(device)
        self.scale = torch.from_numpy(motion_normalizer.scale).float().to(device)
        self.rate = network.tokenizer.rate
        self._text_encoder = None  # loaded on the first free-form prompt, then kept

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, device: str | torch.device = "cpu") -> "MosaicPipeline":
        header = bundle.header
        network = MosaicNetwork(MosaicConfig.model_validate(header.config))
        for name in COMPONENTS:
            try:
                network.component(name).load_state_dict(bundle.component(name, header.name))
            except RuntimeError:
                raise InputFileError(header.name, f"{name} weights do not fit the model its config describes",
                                     "re-export the model") from None
        return cls(header, network.to(device), Normalizer.from_state_dict(bundle.normalizers["motion"]),
                   Normalizer.from_state_dict(bundle.normalizers["music"]),
                   torch.as_tensor(bundle.assets["genre_embeddings"]).to(device))

    @property
    def device(self) -> torch.device:
        return self.genre_embeddings.device

    @torch.inference_mode()
    def generate(self, request: GenerationRequest, progress: bool = False) -> Motion:
        frames = request.frames
        music = self.music_features(request)
        genre = check_genre(request.genre, self.header) if request.genre is not None else None
        text = self.text_embedding(genre, request.prompt)
        weights = {**self.config.sampling.guidance, **request.guidance}
        seed = secrets.randbelow(2**31) if request.seed is None else int(request.seed)
        generator = torch.Generator(device=self.device).manual_seed(seed)

        tokens = self.decode_base({"text": text, "music": music}, self.all_masked(frames), None, weights, generator)
        latent = self.network.tokenizer.embed(self.decode_residual(tokens, text, music, generator))
        constraints = self.edit_constraints(frames, request)
        optimisation = None
        if constraints is not None and constraints.any():
            target, valid = self.pose_targets(constraints, self.to_motion(latent, frames))
            signal = pose_signal(target, valid)[0]  # (T, 88), per frame like the music
            initial, editable = self.remask_around_pins(tokens, valid)
            tokens = self.decode_base({"text": text, "music": music, "pose": signal}, initial, editable, weights, generator)
            latent = self.network.tokenizer.embed(self.decode_residual(tokens, text, music, generator))
            if self.config.sampling.token_optimisation.enabled:
                latent, optimisation = self.optimise_latent(latent, target, valid, frames)

        motion = self.to_motion(latent, frames)
        if constraints is not None:
            motion = constraints.apply(motion)
        motion.metadata.update(
            model=self.header.name, family=self.header.family, genre=genre,
            prompt=dance_prompt(genre, request.prompt) or None, seed=seed, guidance=weights,
            sampling={"iterations": self.config.sampling.iterations, "temperature": self.config.sampling.temperature,
                      "residual_temperature": self.config.sampling.residual_temperature},
            token_optimisation=None if optimisation is None else {"first": optimisation[0], "last": optimisation[-1]},
            music=str(request.music) if isinstance(request.music, Path) else None, start=request.start,
            edits=constraints.sources if constraints is not None else [],
        )
        return motion

    # --- conditions -----------------------------------------------------------------------

    @property
    def text_encoder(self):
        if self._text_encoder is None:
            from dancegen.text import shared_text_encoder

            self._text_encoder = shared_text_encoder(self.config.data.text_encoder)
        return self._text_encoder

    def text_embedding(self, genre: str | None, prompt: str | None) -> Tensor | None:
        """The genre's stored prompt embedding, or the embedded prompt text; None: no text."""
        if prompt is None:
            return None if genre is None else self.genre_embeddings[self.genres.index(genre)]
        from dancegen.text import embed_texts

        embedding = embed_texts([dance_prompt(genre, prompt)], self.text_encoder, self.config.transformer.text_dim,
                                "transformer.text_dim")[0]
        return torch.from_numpy(embedding).to(self.device)

    # --- base tokens ----------------------------------------------------------------------

    def token_count(self, frames: int) -> int:
        return -(-frames // self.rate)

    def all_masked(self, frames: int) -> Tensor:
        return torch.full((1, self.token_count(frames)), self.network.t2m.mask_id, dtype=torch.long, device=self.device)

    def segment_tokens(self) -> tuple[int, int]:
        """(segment, transition) lengths in tokens for long-form decoding."""
        sampling, per_token = self.config.sampling, self.rate / self.fps
        segment = min(math.ceil(sampling.segment_seconds / per_token), self.config.transformer.max_tokens)
        transition = min(math.ceil(sampling.transition_seconds / per_token), max(segment // 2 - 1, 0))
        return segment, transition

    def span_conditions(self, conditions: dict[str, Tensor | None], start: int, length: int) -> dict[str, Tensor]:
        """The conditions of tokens [start, start + length), batch first; per-frame ones cut to
        those tokens' frames (the last frame repeated past the end of the song)."""
        first, stop = start * self.rate, (start + length) * self.rate
        span = {}
        for name, value in conditions.items():
            if value is None:
                continue
            if value.ndim == 1:  # text: one vector
                span[name] = value[None]
                continue
            rows = torch.arange(first, stop, device=value.device).clamp(max=value.shape[0] - 1)
            span[name] = value[rows][None]
        return span

    def decode_base(self, conditions: dict[str, Tensor | None], initial: Tensor, editable: Tensor | None,
                    weights: dict[str, float], generator: torch.Generator) -> Tensor:
        """Base tokens (1, N): the masked (and `editable`) positions of `initial` decoded."""
        sampling, mask_id = self.config.sampling, self.network.t2m.mask_id
        editable = torch.ones_like(initial, dtype=torch.bool) if editable is None else editable

        def decode_span(start: int, tokens: Tensor, span_editable: Tensor) -> Tensor:
            logits_fn = guided_logits(self.network.base_logits, self.span_conditions(conditions, start, tokens.shape[1]),
                                      weights, MODALITIES, composition="independent")
            return confidence_decode(logits_fn, tokens, mask_id, sampling.iterations, sampling.temperature, generator,
                                     span_editable)

        total = initial.shape[1]
        segment, transition = self.segment_tokens()
        if total <= segment:
            return decode_span(0, initial, editable)

        def refine(window: Tensor, seam: Tensor, start: int) -> Tensor:
            return decode_span(start, window.masked_fill(seam, mask_id), seam)

        def first_pass(start: int, length: int) -> Tensor:
            span = slice(start, start + length)
            return decode_span(start, initial[:, span], editable[:, span])

        return decode_long(first_pass, refine, total, segment, transition)

    def decode_residual(self, tokens: Tensor, text: Tensor | None, music: Tensor, generator) -> Tensor:
        """All layers (1, N, Q): layer q from layers < q, segment by segment, near-greedily."""
        quantizers = self.network.tokenizer.num_quantizers
        codes = tokens.new_zeros(*tokens.shape, quantizers)
        codes[..., 0] = tokens
        segment, _ = self.segment_tokens()
        for start in range(0, tokens.shape[1], segment):
            span = slice(start, min(start + segment, tokens.shape[1]))
            conditions = self.span_conditions({"text": text, "music": music}, start, span.stop - start)
            for layer in range(1, quantizers):
                logits = self.network.residual_logits(codes[:, span], torch.tensor([layer], device=self.device),
                                                      conditions.get("text"), conditions["music"])
                codes[:, span, layer] = sample_tokens(logits, self.config.sampling.residual_temperature, generator)[0]
        return codes

    # --- edits ----------------------------------------------------------------------------

    def pose_targets(self, constraints: PoseConstraints, motion: Motion) -> tuple[Tensor, Tensor]:
        """(P (1, T, 22, 3), valid (1, T, 22)): body joint positions of `motion` with the pins
        pasted in, in the model's canonical frame (hml263 re-encoded). A joint's position is
        known where its parent's rotation is pinned (the pin fixes the bone to it), the root's
        where the root position is."""
        pinned = constraints.apply(motion)
        positions = self.codec.decode_positions(self.codec.encode(pinned))[:, :BODY_JOINTS]
        parents = np.asarray(self.skeleton.parents[:BODY_JOINTS])
        valid = np.zeros((motion.num_frames, BODY_JOINTS), dtype=bool)
        valid[:, 1:] = constraints.rotation_mask[:, parents[1:]]
        valid[:, 0] = constraints.root_mask
        to_tensor = lambda array, dtype: torch.as_tensor(np.asarray(array), dtype=dtype, device=self.device)[None]
        return to_tensor(positions, torch.float32), to_tensor(valid, torch.bool)

    def remask_around_pins(self, tokens: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """In-betweening: the tokens within `keyframe_radius_seconds` of a pinned frame re-masked."""
        frames = valid.shape[1]
        pinned_frames = valid.any(-1)[0].nonzero()[:, 0]
        radius = math.ceil(self.config.sampling.keyframe_radius_seconds * self.fps / self.rate)
        editable = torch.zeros_like(tokens, dtype=torch.bool)
        for token in torch.unique(pinned_frames.clamp(max=frames - 1) // self.rate).tolist():
            editable[:, max(token - radius, 0) : token + radius + 1] = True
        return tokens.masked_fill(editable, self.network.t2m.mask_id), editable

    def positions(self, latent: Tensor, frames: int) -> Tensor:
        features = self.network.tokenizer.decode_latent(latent, frames)
        return self.codec.decode_positions_torch(features * self.scale + self.shift)

    def optimise_latent(self, latent: Tensor, target: Tensor, valid: Tensor, frames: int) -> tuple[Tensor, list[float]]:
        """Token optimisation: the token embeddings moved to minimise D(P, P̂), networks frozen."""
        settings = self.config.sampling.token_optimisation
        target, valid = target.clone(), valid.clone()

        def objective(values: Tensor) -> Tensor:
            return pose_discrepancy(self.positions(values, frames), target, valid)

        result = optimise_inputs(latent, objective, settings.learning_rate, settings.iterations,
                                 parameters_to_freeze=self.network.parameters())
        return result.values, result.losses

    # --- decoding -------------------------------------------------------------------------

    def to_motion(self, latent: Tensor, frames: int) -> Motion:
        features = self.network.tokenizer.decode_latent(latent, frames)[0]
        raw = self.motion_normalizer.inverse(features.double().cpu().numpy())
        return self.codec.decode(raw, self.fps, self.skeleton)


__all__ = ["MosaicPipeline"]
