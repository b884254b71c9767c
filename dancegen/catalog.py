"""Which models there are: the shipped ones, those in `DANCEGEN_MODELS` folders, and paths.

`resolve_model("gcdance-small")` finds a model by the name in its bundle header;
`resolve_model("runs/x/model.pt")` takes a path as it is. Only headers are read, so listing and
resolving import no torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dancegen.bundle import BundleHeader, read_header
from dancegen.errors import DanceGenError, MissingResourceError

SHIPPED_DIR = Path(__file__).resolve().parent / "models" / "weights"
DEFAULT_MODEL = "gcdance-small"
BUNDLE_SUFFIXES = (".pt",)
MODELS_ENV = "DANCEGEN_MODELS"  # os.pathsep-separated folders of the user's own bundles


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    header: BundleHeader
    shipped: bool

    def describe(self) -> dict:
        """What `dancegen models --json` prints for this model."""
        from dancegen.families import model_capabilities

        header = self.header
        return {
            "name": header.name,
            "family": header.family,
            "skeleton": header.skeleton,
            "fps": header.fps,
            "genres": header.genres,
            "supports": sorted(name for name, on in model_capabilities(header).as_dict().items() if on),
            "size_mb": round(self.path.stat().st_size / 2**20, 2),
            "licence": header.licence,
            "description": header.description,
            "shipped": self.shipped,
            "default": self.shipped and header.name == DEFAULT_MODEL,
            "path": str(self.path),
        }


def model_folders() -> list[tuple[Path, bool]]:
    extra = [Path(p) for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p]
    return [(SHIPPED_DIR, True), *((folder, False) for folder in extra)]


def available_models(extra_paths: tuple[Path, ...] = ()) -> list[ModelEntry]:
    """Every readable bundle in the model folders, then `extra_paths`; unreadable files are skipped."""
    entries = []
    candidates = [(path, shipped) for folder, shipped in model_folders() if folder.is_dir()
                  for path in sorted(folder.iterdir()) if path.suffix in BUNDLE_SUFFIXES]
    candidates += [(Path(path), False) for path in extra_paths]
    for path, shipped in candidates:
        try:
            entries.append(ModelEntry(path, read_header(path), shipped))
        except DanceGenError:
            if path in extra_paths:
                raise
    return entries


def resolve_model(spec: str | Path | None) -> ModelEntry:
    """A model by bundle name (shipped or in `DANCEGEN_MODELS`) or by path; None = the default."""
    spec = DEFAULT_MODEL if spec is None else spec
    path = Path(spec)
    if path.suffix in BUNDLE_SUFFIXES or path.exists() or os.sep in str(spec):
        if not path.is_file():
            raise MissingResourceError(f"{path}: model file not found (check --model; `dancegen models` lists the installed ones)")
        return ModelEntry(path, read_header(path), False)
    entries = available_models()
    for entry in entries:
        if entry.header.name == str(spec):
            return entry
    names = ", ".join(entry.header.name for entry in entries) or "none installed"
    raise MissingResourceError(f"--model: no model named {spec!r} (known: {names}; or give a bundle's path)")
