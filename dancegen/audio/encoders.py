"""Audio encoders behind one interface: `encode(audio, fps) -> (T, dim)` at the motion frame rate.

`get_encoder(name, weights=None, **options)` builds one from the registry. The hand-crafted
feature kinds (`baseline35`, `lda3`, `lda14`, `stft`) are always there; the foundation models
(`jukebox`, `wav2clip`, `mert`, `clap`) load weights only from the local path a config names
and raise `MissingResourceError`, one line naming the path and what it must hold, when they
are absent. Nothing is downloaded and no embedding is ever made up.

Register a new encoder with `@register_audio_encoder("name")` on a class whose constructor
takes `weights` (a path or None) and keyword options.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from dancegen.audio.features import FEATURE_KINDS, extract_features, num_frames
from dancegen.audio.io import Audio
from dancegen.errors import ArgumentError, InputFileError, MissingResourceError

_REGISTRY: dict[str, Callable[..., "AudioEncoder"]] = {}


class AudioEncoder(ABC):
    name: ClassVar[str] = ""
    dim: int

    @abstractmethod
    def encode(self, audio: Audio, fps: float = 30) -> np.ndarray:
        """(ceil(duration * fps), dim) float32; row i describes the music at time i / fps."""


def register_audio_encoder(name: str) -> Callable:
    """Class decorator: make `get_encoder(name, ...)` build this encoder."""

    def decorate(factory):
        if name in _REGISTRY:
            raise ValueError(f"audio encoder {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return decorate


def get_encoder(name: str, weights: str | Path | None = None, **options: Any) -> AudioEncoder:
    """The encoder registered as `name`, with `weights` (a local file or folder) if it has any."""
    if name not in _REGISTRY:
        raise ArgumentError("encoder", f"unknown audio encoder {name!r}", f"choose from {', '.join(available_encoders())}")
    try:
        return _REGISTRY[name](weights=weights, **options)
    except TypeError as error:
        raise ArgumentError(f"audio encoder {name!r}", f"bad option ({error})") from None


get_audio_encoder = get_encoder


def available_encoders() -> list[str]:
    return sorted(_REGISTRY)


# --- hand-crafted features ---------------------------------------------------------------------


class HandcraftedEncoder(AudioEncoder):
    """A feature kind from `dancegen.audio.features` as an encoder."""

    def __init__(self, kind: str, weights: str | Path | None = None, cache: Any = False):
        if weights is not None:
            raise ArgumentError(f"audio encoder {kind!r}", "is hand-crafted and takes no weights", "leave weights unset")
        self.name = kind  # type: ignore[misc]
        self.dim = FEATURE_KINDS[kind].dim
        self.cache = cache

    def encode(self, audio: Audio, fps: float = 30) -> np.ndarray:
        return extract_features(audio, self.name, fps=fps, cache=self.cache)


for _kind in FEATURE_KINDS:
    register_audio_encoder(_kind)(lambda weights=None, _kind=_kind, **options: HandcraftedEncoder(_kind, weights, **options))


# --- foundation models ---------------------------------------------------------------------------


def _require_weights(name: str, weights: str | Path | None, holds: str, files: tuple[str, ...] = ()) -> Path:
    """The weights path, checked: set, present, and holding `files` (when it is a folder)."""
    if weights is None:
        raise MissingResourceError(f"audio encoder '{name}': no weights path is set (set it to {holds})")
    path = Path(weights).expanduser()
    if not path.exists():
        raise MissingResourceError(f"audio encoder '{name}': {path} not found (it should be {holds})")
    missing = [f for f in files if path.is_dir() and not (path / f).exists()]
    if missing:
        raise MissingResourceError(f"audio encoder '{name}': {path} lacks {', '.join(missing)} (it should be {holds})")
    return path


def _require_package(name: str, module: str, install: str):
    import importlib

    try:
        return importlib.import_module(module)
    except Exception:  # ImportError, or a broken install failing at import time
        raise MissingResourceError(f"audio encoder '{name}' needs the {module} package ({install})") from None


def _to_frames(values: np.ndarray, times: np.ndarray, duration: float, fps: float) -> np.ndarray:
    """Rows of `values` observed at `times` (s) -> rows at i / fps, linearly interpolated."""
    targets = np.arange(num_frames(duration, fps)) / fps
    values = np.asarray(values, dtype=np.float32)
    if len(values) == 1:
        return np.repeat(values, len(targets), axis=0)
    return np.stack([np.interp(targets, times, values[:, k]) for k in range(values.shape[1])], axis=1).astype(
        np.float32
    )


def _chunks(samples: np.ndarray, size: int):
    for start in range(0, len(samples), size):
        yield start, samples[start : start + size]


@register_audio_encoder("jukebox")
class JukeboxEncoder(AudioEncoder):
    """OpenAI Jukebox's 5B prior, layer 66 (as EDGE), through jukemirlib. Needs a CUDA GPU."""

    SAMPLE_RATE = 44100
    DIM = 4800
    CHUNK_S = 5.0  # EDGE extracted its features from 5 s slices
    HOLDS = "a folder with Jukebox's vqvae.pth.tar and prior_level_2.pth.tar"

    def __init__(self, weights: str | Path | None = None, layer: int = 66):
        self.folder = _require_weights("jukebox", weights, self.HOLDS, ("vqvae.pth.tar", "prior_level_2.pth.tar"))
        self.jukemirlib = _require_package("jukebox", "jukemirlib", "pip install jukemirlib; it runs on CUDA only")
        import torch

        if not torch.cuda.is_available():
            raise MissingResourceError("audio encoder 'jukebox': jukemirlib runs on a CUDA GPU and none is visible")
        self.jukemirlib.constants.CACHE_DIR = str(self.folder)  # where jukemirlib looks for the weights
        self.layer, self.dim = layer, self.DIM

    def encode(self, audio: Audio, fps: float = 30) -> np.ndarray:
        samples = audio.resampled(self.SAMPLE_RATE).samples
        parts = []
        for _, chunk in _chunks(samples, int(self.CHUNK_S * self.SAMPLE_RATE)):
            peak = np.abs(chunk).max()  # jukemirlib.load_audio peak-normalises each clip
            chunk = chunk / peak if peak > 0 else chunk
            reps = self.jukemirlib.extract(chunk, layers=[self.layer], downsample_target_rate=fps)
            parts.append(reps[self.layer][: num_frames(len(chunk) / self.SAMPLE_RATE, fps)])
        features = np.concatenate(parts)
        return _to_frames(features, np.arange(len(features)) / fps, audio.duration, fps)


@register_audio_encoder("wav2clip")
class Wav2ClipEncoder(AudioEncoder):
    """Wav2CLIP (Wu et al. 2022) frame embeddings, as GCDance: 512-sample frames at fps * 512 Hz."""

    DIM = 512
    FRAME = 512
    HOLDS = "Wav2CLIP's ResNet_CX.ckpt, re-saved as plain tensors ({'state_dict': ...})"

    def __init__(self, weights: str | Path | None = None, device: str = "cpu"):
        path = _require_weights("wav2clip", weights, self.HOLDS)
        if path.is_dir():
            path = path / "ResNet_CX.ckpt"
            _require_weights("wav2clip", path, self.HOLDS)
        encoder_module = _require_package("wav2clip", "wav2clip.model.encoder", "pip install wav2clip (needs torchaudio)")
        import torch

        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            raise InputFileError(
                path, "is not a plain-tensor checkpoint", "re-save it: torch.save({'state_dict': ckpt['state_dict']}, path)"
            ) from None
        self.model = encoder_module.ResNetExtractor(
            checkpoint=checkpoint, scenario="frozen", transform=True, frame_length=self.FRAME, hop_length=self.FRAME
        ).to(device)
        self.device, self.dim = device, self.DIM

    def encode(self, audio: Audio, fps: float = 30) -> np.ndarray:
        import torch

        rate = int(round(fps * self.FRAME))
        samples = audio.resampled(rate).samples
        # wav2clip frames are not centred: half a frame of silence in front centres frame i on i / fps.
        samples = np.pad(samples, (self.FRAME // 2, self.FRAME))
        with torch.no_grad():
            embedded = self.model(torch.from_numpy(samples[None]).to(self.device))[0].T.cpu().numpy()
        return _to_frames(embedded, np.arange(len(embedded)) / (rate / self.FRAME), audio.duration, fps)


@register_audio_encoder("mert")
class MertEncoder(AudioEncoder):
    """MERT (Li et al. 2023) hidden states, from a local Hugging Face folder (e.g. MERT-v1-95M)."""

    CHUNK_S = 10.0  # attention is quadratic in length: long songs go through in pieces
    HOLDS = "a local copy of m-a-p/MERT-v1-95M: config.json, weights, preprocessor_config.json, its *.py files"

    def __init__(self, weights: str | Path | None = None, layer: int = -1, device: str = "cpu"):
        folder = _require_weights("mert", weights, self.HOLDS, ("config.json", "preprocessor_config.json"))
        transformers = _require_package("mert", "transformers", "pip install transformers")
        self.processor = transformers.Wav2Vec2FeatureExtractor.from_pretrained(folder, local_files_only=True)
        self.model = transformers.AutoModel.from_pretrained(folder, trust_remote_code=True, local_files_only=True)
        self.model.eval().to(device)
        self.layer, self.device, self.dim = layer, device, int(self.model.config.hidden_size)
        # wav2vec2-style convolution stack: frames every `stride` samples, `receptive` samples wide.
        self.stride = int(np.prod(self.model.config.conv_stride))
        self.receptive = self._receptive_field(self.model.config.conv_kernel, self.model.config.conv_stride)

    @staticmethod
    def _receptive_field(kernels, strides) -> int:
        field, jump = 1, 1
        for kernel, stride in zip(kernels, strides):
            field += (kernel - 1) * jump
            jump *= stride
        return field

    def encode(self, audio: Audio, fps: float = 30) -> np.ndarray:
        import torch

        rate = int(self.processor.sampling_rate)
        samples = audio.resampled(rate).samples
        rows, times = [], []
        for start, chunk in _chunks(samples, int(self.CHUNK_S * rate)):
            if len(chunk) < self.receptive:
                chunk = np.pad(chunk, (0, self.receptive - len(chunk)))
            inputs = self.processor(chunk, sampling_rate=rate, return_tensors="pt")
            with torch.no_grad():
                hidden = self.model(**{k: v.to(self.device) for k, v in inputs.items()}, output_hidden_states=True)
            states = hidden.hidden_states[self.layer][0].cpu().numpy()
            rows.append(states)
            times.append((start + np.arange(len(states)) * self.stride + self.receptive / 2) / rate)
        return _to_frames(np.concatenate(rows), np.concatenate(times), audio.duration, fps)


@register_audio_encoder("clap")
class ClapEncoder(AudioEncoder):
    """CLAP (LAION) audio embeddings of windows around each moment, from a local HF folder."""

    WINDOW_S = 2.0  # each embedding hears this much music ...
    HOP_S = 0.5  # ... every half second; motion frames in between are interpolated
    HOLDS = "a local copy of laion/clap-htsat-unfused (or larger_clap_music): config.json, weights, preprocessor_config.json"

    def __init__(self, weights: str | Path | None = None, device: str = "cpu"):
        folder = _require_weights("clap", weights, self.HOLDS, ("config.json", "preprocessor_config.json"))
        transformers = _require_package("clap", "transformers", "pip install transformers")
        self.extractor = transformers.ClapFeatureExtractor.from_pretrained(folder, local_files_only=True)
        self.model = transformers.ClapModel.from_pretrained(folder, local_files_only=True).eval().to(device)
        self.device, self.dim = device, int(self.model.config.projection_dim)
        # The extractor must cut windows the way the model was trained (fused or single crop);
        # our windows are shorter than CLAP's 10 s, so either way they are only padded.
        self.truncation = "fusion" if self.model.config.audio_config.enable_fusion else "rand_trunc"

    def encode(self, audio: Audio, fps: float = 30) -> np.ndarray:
        import torch

        rate = int(self.extractor.sampling_rate)
        samples = audio.resampled(rate).samples
        half = int(self.WINDOW_S * rate / 2)
        padded = np.pad(samples, (half, half))
        centres = np.arange(0.0, max(audio.duration, 1e-9), self.HOP_S)
        windows = [padded[int(c * rate) : int(c * rate) + 2 * half] for c in centres]
        rows = []
        for start in range(0, len(windows), 16):
            inputs = self.extractor(
                windows[start : start + 16], sampling_rate=rate, truncation=self.truncation, return_tensors="pt"
            )
            with torch.no_grad():
                embedded = self.model.get_audio_features(**{k: v.to(self.device) for k, v in inputs.items()})
            rows.append(getattr(embedded, "pooler_output", embedded).cpu().numpy())
        return _to_frames(np.concatenate(rows), centres, audio.duration, fps)

