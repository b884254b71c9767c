"""A generation request, and the checks it passes before any weights load.

`GenerationRequest` is what every family's pipeline takes. `checked(header)` validates it
against the model's bundle header (family capabilities, genres, skeleton joints, guidance
modalities) and the song's audio header (the span), reads the small input files (keyframes,
reference motion) and returns the request with those resolved. It reads no weights and
decodes no audio, so `dancegen generate` reports a bad argument in about a second; the
pipeline runs the same checks again (they are cheap and idempotent) for API callers.

Option names in errors are the CLI's (`--seconds`, `--keyframes`), which the Python API
shares as keyword names (`seconds=`, `keyframes=`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from dancegen.errors import ArgumentError, InputFileError
from dancegen.limits import Limits, limits

if TYPE_CHECKING:
    from dancegen.bundle import BundleHeader
    from dancegen.data.annotations import Annotation
    from dancegen.motion.motion import Motion
    from dancegen.sampling.editing import Keyframe

# A span may end up to 1 ms past the audio's duration (seconds typed by hand are rounded).
SPAN_TOLERANCE_S = 1e-3
# MiniLM reads at most 256 word pieces (~1000 characters of English); a prompt past 500
# characters is a pasted document, not a description of a dance.
# The defaults of the named limits (`dancegen.limits`; DANCEGEN_LIMITS can raise them).
MAX_PROMPT_CHARS = Limits().max_prompt_chars
MAX_SEED = Limits().max_seed  # torch.Generator.manual_seed takes a 64-bit integer
MAX_STEPS = Limits().max_steps  # more denoising steps than any schedule has


@dataclass(frozen=True)
class GenerationRequest:
    """One dance: which music span, which text, which edits, which randomness."""

    music: Path | np.ndarray  # an audio file, or raw (T, M) music features at the model's fps
    start: float = 0.0
    seconds: float | None = None  # None: to the end of the music
    prompt: str | None = None
    genre: str | None = None
    # Timed local text (families that support it): an annotation file or `Annotation`, in song
    # time, and/or `moves`, the inline form ("0:08-0:12 spin; 0:20-0:24 stomp"). `checked`
    # merges them and cuts them to the span: the family gets one `Annotation` in span time.
    annotation: "Path | Annotation | None" = None
    moves: str | None = None
    keyframes: Path | Sequence["Keyframe"] | None = None
    reference: "Path | Motion | None" = None
    lock_joints: str | Sequence[str] | None = None
    seed: int | None = None
    guidance: Mapping[str, float] = field(default_factory=dict)
    steps: int | None = None
    # The animator's foot clean-up after generation (`motion.footlock`): `dancegen generate`
    # turns it on; the API gives the model's own motion unless asked.
    foot_lock: bool = False
    # Tempo and accents re-timed to the song's beats (`sampling.beat_sync`): on in
    # `dancegen generate`, off in the API for the same reason as `foot_lock`.
    beat_sync: bool = False
    # The song's beats for beat sync, in song time: a beats.json (`audio.beats.load_beats_json`)
    # or an array of seconds. None: detected in the span.
    beats: "Path | np.ndarray | None" = None
    # Filled in by `checked`: the music's length in seconds and the frames to generate.
    music_seconds: float | None = None
    frames: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.music, str):
            object.__setattr__(self, "music", Path(self.music))
        for name in ("keyframes", "reference", "annotation", "beats"):
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, Path(getattr(self, name)))

    def checked(self, header: "BundleHeader") -> "GenerationRequest":
        """This request validated against the model and the music, with its files read."""
        from dancegen.families import model_capabilities

        request = replace(self, prompt=clean_prompt(self.prompt))
        request.check_arguments()
        request.check_capabilities(model_capabilities(header), header)
        request = request.with_span(header.fps)
        return request.with_timed_text().with_edits(header)

    # --- the checks, in the order they run -------------------------------------------------

    def check_arguments(self) -> None:
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ArgumentError("--start", f"must be a finite number of seconds >= 0, got {self.start:g}")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ArgumentError("--seconds", f"must be a positive number of seconds, got {self.seconds:g}")
        settings = limits()
        if self.seed is not None and not (isinstance(self.seed, (int, np.integer)) and 0 <= self.seed <= settings.max_seed):
            shown = str(self.seed) if len(str(self.seed)) <= 30 else f"{str(self.seed)[:12]}... ({len(str(self.seed))} digits)"
            largest = "2**63 - 1" if settings.max_seed == 2**63 - 1 else str(settings.max_seed)
            raise ArgumentError("--seed", f"must be an integer from 0 to {largest}, got {shown}")
        if self.steps is not None and not (isinstance(self.steps, (int, np.integer)) and 1 <= self.steps <= settings.max_steps):
            raise ArgumentError("--steps", f"must be a whole number from 1 to {settings.max_steps}, got {self.steps}")
        for name, weight in self.guidance.items():
            if not (isinstance(weight, (int, float)) and math.isfinite(weight)):
                raise ArgumentError("--guidance", f"{name}={weight} is not a finite number")
        if self.prompt is not None and self.genre is not None:
            raise ArgumentError("--genre", "give either --prompt or --genre, not both")
        if (self.reference is None) != (self.lock_joints is None):
            raise ArgumentError("--lock-joints", "needs --reference (and --reference needs --lock-joints)")

    def check_capabilities(self, supports, header: "BundleHeader") -> None:
        """Refuse what this family cannot do, naming the option and the model."""
        from dancegen.families import get_family

        asked = {"text": ("--prompt", self.prompt), "genre": ("--genre", self.genre),
                 "timed_text": ("--annotation", self.annotation), "keyframes": ("--keyframes", self.keyframes),
                 "moves": ("--moves", self.moves),
                 "locked_joints": ("--lock-joints", self.lock_joints)}
        for capability, (option, value) in asked.items():
            capability = "timed_text" if capability == "moves" else capability
            if value is not None and not getattr(supports, capability):
                raise ArgumentError(option, f"model {header.name!r} ({header.family}) does not support {capability.replace('_', ' ')}",
                                    "leave it out or choose another --model (`dancegen models` lists what each supports)")
        if self.genre is not None:
            check_genre(self.genre, header)
        modalities = header.modalities or get_family(header.family).config_class().modalities
        unknown = sorted(set(self.guidance) - set(modalities))
        if unknown:
            raise ArgumentError("--guidance", f"{', '.join(unknown)} is not a modality of {header.family}",
                                f"use {', '.join(modalities)}")

    def with_span(self, fps: float) -> "GenerationRequest":
        """The music's length and the number of frames to generate: ceil(span × fps)."""
        if isinstance(self.music, np.ndarray):
            if self.music.ndim != 2:
                raise ArgumentError("music", f"features must be a (frames, columns) array, got shape {self.music.shape}")
            duration = self.music.shape[0] / fps
        else:
            duration = check_song(self.music)
        check_span(self.start, self.seconds, duration, self.music if isinstance(self.music, Path) else None)
        span = (self.seconds if self.seconds is not None else duration - self.start)
        frames = max(1, int(math.ceil(span * fps - 1e-9)))
        if frames > limits().max_frames:
            raise ArgumentError("--seconds", f"{span:g} s at {fps:g} fps is {frames} frames, more than the limit of "
                                f"{limits().max_frames}", "generate a shorter span (max_frames)")
        return replace(self, music_seconds=duration, frames=frames)

    def with_timed_text(self) -> "GenerationRequest":
        """The annotation file read, the inline moves parsed, both merged, checked against the
        song's length and cut to the span (times then count from `start`)."""
        if self.annotation is None and self.moves is None:
            return self
        from dancegen.data.annotations import Annotation, read_annotation
        from dancegen.data.moves import merge_annotation, parse_moves

        annotation = self.annotation
        if isinstance(annotation, Path):
            if not annotation.is_file():
                raise InputFileError(annotation, "--annotation file not found")
            annotation = read_annotation(annotation, duration=self.music_seconds)
        elif annotation is not None:
            if not isinstance(annotation, Annotation):
                raise ArgumentError("annotation", f"must be an annotation file or an Annotation, got {type(annotation).__name__}")
            annotation = annotation.validate(self.music_seconds, "annotation")
        moves = parse_moves(self.moves, duration=self.music_seconds) if self.moves is not None else None
        merged = merge_annotation(annotation, None, moves)
        end = self.music_seconds if self.seconds is None else self.start + self.seconds
        return replace(self, annotation=merged.window(self.start, end))

    def with_edits(self, header: "BundleHeader") -> "GenerationRequest":
        """Keyframes read and placed in the span, the reference motion read, joints resolved."""
        if self.keyframes is None and self.reference is None:
            return self
        from dancegen.sampling.editing import (
            check_keyframe_times,
            load_keyframes,
            resolve_joints,
        )
        from dancegen.skeleton import get_skeleton

        skeleton = get_skeleton(header.skeleton)
        keyframes = self.keyframes
        if isinstance(keyframes, Path):
            keyframes = load_keyframes(keyframes, skeleton)
        if keyframes is not None:
            check_keyframe_times(keyframes, self.frames, header.fps)
        reference = self.reference
        if reference is not None:
            resolve_joints(self.lock_joints, skeleton)
            if isinstance(reference, Path):
                from dancegen.motion.io import load_motion

                reference = load_motion(reference)
        return replace(self, keyframes=keyframes, reference=reference)


def clean_prompt(prompt: str | None) -> str | None:
    """The prompt cleaned of control characters and escape sequences, white space folded;
    one-line errors for empty, over-long or wordless text (`text.clean.clean_text`)."""
    from dancegen.text.clean import clean_text

    return None if prompt is None else clean_text(prompt, "--prompt")


def check_genre(genre: str, header: "BundleHeader") -> str:
    """The model's own genre key that `genre` names (aliases such as "gMH" or "Hip-hop" work)."""
    from dancegen.data.genres import find_genre

    key = find_genre(genre)
    if key not in header.genres:
        raise ArgumentError("--genre", f"{genre!r} is not a genre this model knows",
                            f"use one of {', '.join(header.genres) or '(none: it was trained without genres)'}")
    return key


def check_song(song: Path) -> float:
    """The song's duration, from its header: it exists, has an audio extension and can be read."""
    from dancegen.audio.io import SUPPORTED_SUFFIXES, audio_duration

    if not song.is_file():
        raise InputFileError(song, "no such music file" if not song.exists() else "is not a file")
    if song.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputFileError(song, f"unsupported audio format {song.suffix or '(no extension)'!r}",
                             f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    return audio_duration(song)


def check_span(start: float, seconds: float | None, duration: float, song: Path | None = None) -> None:
    """`start` lies inside the music and `start + seconds` ends by its end (1 ms tolerance)."""
    name = song.name if song is not None else "the music"
    if start >= duration:
        raise ArgumentError("--start", f"{start:g} s is past the end of {name} ({duration:.2f} s)")
    if seconds is not None and start + seconds > duration + SPAN_TOLERANCE_S:
        raise ArgumentError("--seconds", f"{seconds:g} s from {start:g} s runs past the end of {name} ({duration:.2f} s)",
                            f"use at most {duration - start:.2f}")


def parse_guidance(text: str | None) -> dict[str, float]:
    """`music=2.5,text=3` → {"music": 2.5, "text": 3.0}: the `--guidance` syntax, which the
    generation service's form takes too."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ArgumentError("--guidance", f"{item!r} is not name=number", "e.g. --guidance music=2.5,text=3") from None
        if not name.strip():
            raise ArgumentError("--guidance", f"{item!r} has no modality name", "e.g. --guidance music=2.5,text=3")
        if not math.isfinite(weights[name.strip()]):
            raise ArgumentError("--guidance", f"{item!r} is not a finite number", "e.g. --guidance music=2.5,text=3")
    return weights
