"""LRCM generation: song → music features → global + local text → segment after segment → `Motion`.

    pipeline = LRCMPipeline.from_pretrained("model.pt")
    motion = pipeline("song.wav", prompt="popping, extrovert, isolation", annotation=annotation, seed=0)

`generate` reads top to bottom: featurise the requested span of the music, build the text
condition (the prompt or genre as global text, the annotation's spans as per-frame local text),
turn edits (locked joints, keyframes) into soft inpainting pins on the model's feature layout,
then generate the span segment by segment (`sampling.autoregressive`): each segment sees the
MTMM memory of the frames before it and has its first frames inpainted from the end of the
previous one (a soft mask fading over `sampling.overlap_seconds`), so seams stay continuous.
Finally decode the features into a motion and write the pins back exactly. The result covers
exactly the requested span.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from dancegen.bundle import BundleHeader, ModelBundle
from dancegen.data.annotations import Annotation
from dancegen.errors import InputFileError
from dancegen.models.lrcm.conditions import frame_texts, global_text
from dancegen.models.lrcm.config import MODALITIES, LRCMConfig
from dancegen.models.lrcm.network import LRCMNetwork, epsilon_from_output, pack_text
from dancegen.motion.codecs import get_codec
from dancegen.motion.motion import Motion
from dancegen.motion.normalize import Normalizer
from dancegen.pipelines.base import DancePipeline
from dancegen.pipelines.request import GenerationRequest, check_genre
from dancegen.sampling.autoregressive import Segment, SegmentPlan, sample_autoregressive
from dancegen.sampling.diffusion import make_diffusion
from dancegen.sampling.editing import PoseConstraints
from dancegen.sampling.guidance import guided
from dancegen.sampling.inbetween import falloff, pin_reach
from dancegen.sampling.inpainting import Inpainting
from dancegen.skeleton import get_skeleton
from dancegen.text import embed_texts

Tensor = torch.Tensor


class LRCMPipeline(DancePipeline):
    def __init__(self, header: BundleHeader, network: LRCMNetwork, motion_normalizer: Normalizer,
                 music_normalizer: Normalizer, genre_embeddings: Tensor):
        self.header = header
        self.config = LRCMConfig.model_validate(header.config)
        self.network = network.eval()
        self.diffusion = make_diffusion(**self.config.diffusion.model_dump(exclude={"output", "train_min_signal"}))
        self.motion_normalizer = motion_normalizer
        self.music_normalizer = music_normalizer
        self.genres = list(header.genres)
        self.genre_embeddings = genre_embeddings.float()
        self.signal = self.diffusion.alphas_cumprod.float().to(self.genre_embeddings.device)  # ᾱ_t
        self.skeleton = get_skeleton(self.config.network.skeleton)
        self.codec = get_codec(self.config.network.codec, self.skeleton)
        self._text_encoder = None  # loaded on the first text to embed, then kept

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, device: str | torch.device = "cpu") -> "LRCMPipeline":
        header = bundle.header
        network = LRCMNetwork(LRCMConfig.model_validate(header.config))
        try:
            network.load_state_dict(bundle.component("network", header.name))
        except RuntimeError:
            raise InputFileError(header.name, "weights do not fit the model its config describes", "re-export the model") from None
        return cls(header, network.to(device), Normalizer.from_state_dict(bundle.normalizers["motion"]),
                   Normalizer.from_state_dict(bundle.normalizers["music"]),
                   torch.as_tensor(bundle.assets["genre_embeddings"]).to(device))

    @property
    def device(self) -> torch.device:
        return self.genre_embeddings.device

    @property
    def text_encoder(self) -> Any:
        if self._text_encoder is None:
            from dancegen.text import shared_text_encoder

            self._text_encoder = shared_text_encoder(self.config.data.text_encoder)
        return self._text_encoder

    @text_encoder.setter
    def text_encoder(self, encoder: Any) -> None:
        self._text_encoder = encoder

    @torch.inference_mode()
    def generate(self, request: GenerationRequest, progress: bool = False) -> Motion:
        """One motion for the checked request's span (`request.frames` frames)."""
        features = self.music_features(request)
        frames = features.shape[0]
        text, description = self.text_condition(request, frames)
        constraints = self.edit_constraints(frames, request)
        known, weights = self.constraint_features(constraints)

        guidance = {**self.config.sampling.guidance, **request.guidance}
        steps, eta = self.schedule(request.steps)
        seed = secrets.randbelow(2**31) if request.seed is None else int(request.seed)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        sampling = self.config.sampling
        plan = SegmentPlan.from_seconds(frames, self.fps, sampling.segment_seconds, sampling.overlap_seconds)
        sample_segment = self.segment_sampler(features, text, known, weights, guidance, steps, eta, generator)
        sampled = sample_autoregressive(plan, sample_segment, self.memory_of, progress=progress)

        motion = self.codec.decode(self.motion_normalizer.inverse(sampled.double().cpu().numpy()), self.fps)
        if constraints is not None:
            motion = constraints.apply(motion)
        music = request.music
        motion.metadata.update(
            model=self.header.name,
            family=self.header.family,
            prompt=description,
            local_spans=0 if request.annotation is None else len(request.annotation.spans),
            seed=seed,
            guidance=guidance,
            sampling={"method": sampling.method, "steps": steps or self.diffusion.num_steps, "eta": eta},
            segments=[[segment.start, segment.end] for segment in plan.segments()],
            memory=self.network.memory is not None,
            music=str(music) if isinstance(music, Path) else None,
            start=request.start,
            edits=constraints.sources if constraints is not None else [],
        )
        return motion

    # --- music and text -------------------------------------------------------------------

    def embed(self, texts: list[str]) -> Tensor:
        embeddings = embed_texts(texts, self.text_encoder, self.config.network.text_dim)
        return torch.from_numpy(embeddings).to(self.device)

    def text_condition(self, request: GenerationRequest, frames: int) -> tuple[Tensor | None, str | None]:
        """(packed (T, 2E) text condition or None, the global text). Global: the prompt as
        written, else the genre's prompt, else the annotation's style; local: the annotation's
        spans (`checked` has cut them to the span), the global text elsewhere. Without an
        annotation, moves the prompt times ("spin at 0:08", "jump twice at the chorus (0:30)")
        become local text through the offline normaliser (`data.normalise`)."""
        annotation = request.annotation
        if annotation is None and request.prompt is not None:
            annotation = self.prompt_moves(request)
        glob = None
        if request.prompt is not None:
            description = request.prompt
        elif request.genre is not None:  # the genre's prompt, embedded at training time
            key = check_genre(request.genre, self.header)
            description, glob = global_text(None, key), self.genre_embeddings[self.genres.index(key)]
        else:
            description = global_text(annotation)
        if glob is None and description is not None:
            glob = self.embed([description])[0]
        span_texts, span_index = frame_texts(annotation, frames, self.fps)
        if glob is None and not span_texts:
            return None, None
        glob = torch.zeros(self.config.network.text_dim, device=self.device) if glob is None else glob
        local = None
        if span_texts:
            table = torch.cat([self.embed(span_texts), glob[None]])  # row −1: the global text
            local = table[torch.from_numpy(span_index).to(self.device)][None]
        return pack_text(glob[None], local, frames)[0], description

    def prompt_moves(self, request: GenerationRequest) -> Annotation | None:
        """The timed moves an informal prompt names, in span time; None when it names none."""
        from dancegen.data.normalise import normalise_prompt

        end = request.music_seconds if request.seconds is None else request.start + request.seconds
        moves = normalise_prompt(request.prompt, duration=request.music_seconds, encoder=self.text_encoder)
        return moves.window(request.start, end) if moves.spans else None

    # --- edits --------------------------------------------------------------------------

    def constraint_features(self, constraints: PoseConstraints | None) -> tuple[Tensor | None, Tensor | None]:
        """(known, blend weights) on the model's normalised feature layout. The normaliser is
        affine per channel, so the weights carry over unchanged. Codecs other than smpl6d and
        expmap get no inpainting: `PoseConstraints.apply` still holds the pins exactly."""
        if constraints is None or not constraints.any():
            return None, None
        if self.codec.name == "smpl6d":
            known, weights = constraints.blend_features(self.fps)
        elif self.codec.name == "expmap":
            known, weights = expmap_pins(constraints, self.codec, self.fps)
        else:
            return None, None
        known = self.motion_normalizer.transform(known.double()).float()
        return known.to(self.device), weights.float().to(self.device)

    # --- segments -------------------------------------------------------------------------

    def schedule(self, steps: int | None) -> tuple[int | None, float]:
        """(sampling steps, η): DDPM's every step with η = 1 (unless `steps` asks for fewer), or DDIM's."""
        if self.config.sampling.method == "ddpm":
            return steps, 1.0
        return steps or self.config.sampling.steps, self.config.sampling.eta

    def memory_of(self, history: Tensor, segment: Segment) -> Tensor | None:
        """The MTMM memory of a segment: the T_m frames before it (None: no MTMM, or too early)."""
        frames = self.config.memory_frames
        if self.network.memory is None or segment.start < frames:
            return None
        return history[segment.start - frames : segment.start]

    def segment_sampler(self, features: Tensor, text: Tensor | None, known: Tensor | None, weights: Tensor | None,
                        guidance: dict[str, float], steps: int | None, eta: float,
                        generator: torch.Generator) -> Callable[[Segment, Tensor | None, Tensor | None], Tensor]:
        """`sample_segment` for `sample_autoregressive`: one guided, inpainted reverse process."""

        def sample_segment(segment: Segment, history: Tensor | None, memory: Tensor | None) -> Tensor:
            window = slice(segment.start, segment.end)
            conditions = {"music": features[window][None], "text": None if text is None else text[window][None]}
            pins = seam_pins(segment, history, None if known is None else known[window],
                             None if weights is None else weights[window], self.codec.dim, self.device)
            inpainting = [] if pins is None else [Inpainting(self.diffusion, pins[0], pins[1])]

            def denoiser(x, t, conditions, drop):
                repeated = None if memory is None else memory[None].expand(x.shape[0], -1, -1)
                output = self.network(x, t, conditions, drop, repeated)
                return epsilon_from_output(output, x, self.signal[t], self.config.diffusion.output)

            model_fn = guided(denoiser, conditions, guidance, MODALITIES)
            noise = torch.randn((1, segment.length, self.codec.dim), generator=generator, device=self.device)
            return self.diffusion.sample(model_fn, noise, steps=steps, eta=eta, generator=generator,
                                         constraints=inpainting, clip_clean=self.config.sampling.clip_clean)[0]

        return sample_segment


def seam_pins(segment: Segment, history: Tensor | None, known: Tensor | None, weights: Tensor | None, dim: int,
              device: torch.device) -> tuple[Tensor, Tensor] | None:
    """A segment's inpainting (known, weights) (L, D): the edit pins, and over its first
    `overlap` frames the previous segment's motion with a weight falling from 1 to 0 (raised
    cosine), so the new segment starts exactly where the old one was and blends away from it.
    Where an edit pulls at least as hard as the seam, the edit wins."""
    length = segment.length
    known = torch.zeros(length, dim, device=device) if known is None else known.clone()
    weights = torch.zeros(length, dim, device=device) if weights is None else weights.clone()
    overlap = segment.overlap if history is not None else 0
    if overlap:
        seam = torch.as_tensor(falloff(np.arange(overlap), overlap), dtype=weights.dtype, device=device)[:, None]
        previous = history[segment.start : segment.start + overlap]
        edit_wins = weights[:overlap] >= seam
        known[:overlap] = torch.where(edit_wins, known[:overlap], previous)
        weights[:overlap] = torch.maximum(weights[:overlap], seam)
    return (known, weights) if bool((weights > 0).any()) else None


def expmap_pins(constraints: PoseConstraints, codec, fps: float) -> tuple[Tensor, Tensor]:
    """(known, weights) (T, D) on the expmap layout in raw units, like `blend_features` on smpl6d:
    joint expmaps and the root height with the soft in-betweening reach around each pin; the
    root's per-frame trajectory steps (floor velocity, yaw rate) where the root position and
    rotation are pinned on both frames of the step."""
    frames, joints = constraints.rotation_mask.shape
    radius = constraints.inbetween.sampling_radius(fps)
    pinned = Motion(constraints.skeleton, fps, constraints.rotations, constraints.root)
    encoded = codec.encode(pinned).astype(np.float64)
    groups = codec.groups
    known, weights = np.zeros_like(encoded), np.zeros_like(encoded)

    rotations = pin_reach(constraints.rotation_mask, radius)
    expmaps = encoded[:, groups["rotations"]].reshape(frames, joints, 3)
    known[:, groups["rotations"]] = rotations.blend(expmaps).reshape(frames, -1)
    weights[:, groups["rotations"]] = np.repeat(rotations.amount, 3, axis=1)
    root = pin_reach(constraints.root_mask, radius)
    known[:, groups["root_height"]] = root.blend(encoded[:, groups["root_height"]])
    weights[:, groups["root_height"]] = root.amount[:, None]

    held = constraints.root_mask & constraints.rotation_mask[:, 0]
    step = np.zeros(frames, dtype=bool)
    step[1:] = held[1:] & held[:-1]
    for group in ("root_velocity", "yaw_rate"):
        known[step, groups[group]] = encoded[step, groups[group]]
        weights[step, groups[group]] = 1.0
    return torch.from_numpy(known).float(), torch.from_numpy(weights).float()
