"""Checkpoints: everything to resume a run exactly, or to generate with a trained model.

A checkpoint is a `torch.save`d dict of tensors, numbers, strings, lists and dicts only, so it
loads with `torch.load(..., weights_only=True)` and nothing in it can run code. Two kinds:

- "training": config, model, EMA, optimizer and loss-balancer state, step, every RNG state,
  normalisers, the genre prompt table and the code version: `train --resume` continues the
  run as if it had never stopped.
- "inference": config, EMA weights, normalisers, genre table and code version; what
  `dancegen generate --model` reads (it also reads a training checkpoint, using its EMA).

Files are written atomically: a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dancegen.errors import InputFileError, MissingResourceError
from dancegen.fileio import atomic_path

FORMAT_VERSION = 1
KINDS = ("training", "inference")
REPO_ROOT = Path(__file__).resolve().parents[2]


def code_version() -> str:
    """dancegen's version, plus the git commit when running from a checkout."""
    from dancegen import __version__

    version = f"dancegen {__version__}"
    head = REPO_ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        commit = (REPO_ROOT / ".git" / ref[5:]).read_text().strip() if ref.startswith("ref: ") else ref
        return f"{version} ({commit[:12]})"
    except OSError:
        return version


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint dict atomically (adds format version and code version)."""
    if state.get("kind") not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {KINDS}")
    state = {"format_version": FORMAT_VERSION, "code_version": code_version(), **state}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint; user-facing problems are one-line `InputFileError`s."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(f"{path}: model checkpoint not found (train one with `dancegen train`)")
    if not zipfile.is_zipfile(path):
        raise InputFileError(path, "not a readable checkpoint (not a torch.save archive)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise InputFileError(path, "refused: the file holds objects other than tensors and plain data") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise InputFileError(path, f"not a readable checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or state.get("kind") not in KINDS or "config" not in state:
        raise InputFileError(path, "not a dancegen checkpoint", "use a file written by `dancegen train`")
    if state.get("format_version") != FORMAT_VERSION:
        raise InputFileError(
            path, f"checkpoint format {state.get('format_version')} is not supported (this dancegen reads {FORMAT_VERSION})"
        )
    return state


@dataclass
class ModelBundle:
    """What generation needs from a checkpoint."""

    config: dict[str, Any]
    weights: dict[str, torch.Tensor]
    normalizers: dict[str, dict[str, Any]]
    genres: list[str]
    genre_embeddings: torch.Tensor
    step: int = 0
    code_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "inference",
            "config": self.config,
            "weights": self.weights,
            "normalizers": self.normalizers,
            "genres": list(self.genres),
            "genre_embeddings": self.genre_embeddings,
            "step": self.step,
            "extra": self.extra,
        }


def load_model_bundle(path: str | Path, map_location: str | torch.device = "cpu") -> ModelBundle:
    """The generation view of either checkpoint kind (a training checkpoint gives its EMA)."""
    state = load_checkpoint(path, map_location)
    weights = state["weights"] if state["kind"] == "inference" else state["ema"]["weights"]
    return ModelBundle(
        config=state["config"],
        weights=weights,
        normalizers=state["normalizers"],
        genres=list(state["genres"]),
        genre_embeddings=state["genre_embeddings"],
        step=int(state.get("step", 0)),
        code_version=str(state.get("code_version", "")),
        extra=dict(state.get("extra", {})),
    )
