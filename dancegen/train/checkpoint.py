"""Training checkpoints (`last.ckpt`): everything to resume a run exactly.

A `torch.save`d dict of tensors, numbers, strings, lists and dicts only, so it loads with
`torch.load(..., weights_only=True)` and nothing in it can run code: family, config, the stage
and step reached, the module's weights, EMA, optimizer and loss-combiner state, every RNG
state, and the task's assets (normalisers, vocabularies). Generation reads the run's
`model.pt` bundle instead (`dancegen.bundle`). Files are written atomically: a crash mid-save
leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dancegen.bundle import code_version, load_torch_archive
from dancegen.errors import InputFileError, MissingResourceError
from dancegen.fileio import atomic_path

TRAINING_FORMAT_VERSION = 2
REQUIRED = ("family", "config", "stage", "stage_step", "step", "module", "ema", "optimizer", "rng", "assets")


def save_training_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    path = Path(path)
    state = {"kind": "training", "format_version": TRAINING_FORMAT_VERSION, "code_version": code_version(), **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_training_checkpoint(path: str | Path, family: str | None = None) -> dict[str, Any]:
    """Read and check `last.ckpt`; user-facing problems are one-line errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(f"{path}: training checkpoint not found (check --resume)")
    state = load_torch_archive(path, "checkpoint")
    if state.get("kind") != "training":
        raise InputFileError(path, "is not a training checkpoint", "resume from a run's last.ckpt")
    if state.get("format_version") != TRAINING_FORMAT_VERSION:
        raise InputFileError(path, f"training checkpoint format {state.get('format_version')} is not supported",
                             f"this dancegen resumes format {TRAINING_FORMAT_VERSION}; start the run again")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise InputFileError(path, f"the checkpoint lacks {', '.join(missing)}", "resume from a run's last.ckpt")
    if family is not None and state["family"] != family:
        raise InputFileError(path, f"is a {state['family']} run; this config trains {family}")
    return state
