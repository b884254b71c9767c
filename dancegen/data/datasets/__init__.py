"""Data sources: AIST++, FineDance, Motorica and a generic folder, all yielding `DanceSample`s."""

from __future__ import annotations

from pathlib import Path

from dancegen.data.datasets.aistpp import AISTPPDataset
from dancegen.data.datasets.base import Clip, DanceDataset, MissingPairError
from dancegen.data.datasets.finedance import FineDanceDataset
from dancegen.data.datasets.folder import FolderDataset
from dancegen.data.datasets.motorica import MotoricaDataset, style_code
from dancegen.errors import ArgumentError, InputFileError

DATASETS: dict[str, type[DanceDataset]] = {
    cls.kind: cls for cls in (AISTPPDataset, FineDanceDataset, MotoricaDataset, FolderDataset)
}


def detect_kind(root: str | Path) -> str:
    """Which layout a folder has, from its files (see each dataset's docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "dataset folder not found")
    if (root / "motions").is_dir() and any((root / "motions").glob("*.pkl")):
        return "aistpp"
    if (root / "motion").is_dir() and any((root / "motion").glob("*.npy")):
        return "finedance"
    if any(style_code(p.stem) for p in root.rglob("*.bvh")):
        return "motorica"
    return "folder"


def open_dataset(root: str | Path, kind: str = "auto", **options) -> DanceDataset:
    """Open a dataset folder; `kind` is one of DATASETS or "auto" to detect it."""
    kind = detect_kind(root) if kind == "auto" else kind
    if kind not in DATASETS:
        raise ArgumentError("--kind", f"unknown dataset kind {kind!r}", f"use auto or one of {', '.join(DATASETS)}")
    return DATASETS[kind](root, **options)


__all__ = [
    "AISTPPDataset", "Clip", "DATASETS", "DanceDataset", "FineDanceDataset", "FolderDataset",
    "MissingPairError", "MotoricaDataset", "detect_kind", "open_dataset",
]
