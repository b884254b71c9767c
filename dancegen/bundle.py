"""Model bundles: one file holding everything a family's pipeline needs to generate.

A bundle is a `torch.save` archive of plain data and tensors (so it loads with
`torch.load(..., weights_only=True)` and nothing in it can run code) plus a JSON member,
`<archive>/dancegen.json`, with its header. The header is read with `zipfile` alone, so
listing models and checking a request against a model cost no torch import and no weights:

    header = read_header("model.pt")        # family, name, config, skeleton, genres, supports, ...
    bundle = load_bundle("model.pt")        # header + components + normalizers + assets

Contents:
- header: family, name, description, config (the family's, as a dict), skeleton, fps, genres,
  supports (capabilities), conditioning modalities, licence, training provenance (steps, data, command), code version;
- components: named state dicts, one per network (a family may have several: a tokenizer,
  a transformer, adapters);
- normalizers: named `Normalizer.state_dict()`s;
- assets: vocabularies, embedding tables and other plain data a pipeline needs.

Format 1 (dancegen 0.1's `gcdance_small.pt`, no header member) is read too and converted in
memory: its weights become the component "network", its genre table and extras become assets.
Files are written atomically.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dancegen.errors import InputFileError, MissingResourceError
from dancegen.fileio import atomic_path

FORMAT = "dancegen-bundle"
FORMAT_VERSION = 2
LEGACY_FORMAT_VERSION = 1  # dancegen 0.1: a torch archive with kind="inference" and no header
HEADER_MEMBER = "dancegen.json"
REPO_ROOT = Path(__file__).resolve().parents[1]


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


@dataclass
class BundleHeader:
    family: str
    name: str
    config: dict[str, Any]
    skeleton: str
    fps: float
    genres: list[str] = field(default_factory=list)
    supports: dict[str, bool] = field(default_factory=dict)  # empty: all the family supports
    modalities: list[str] = field(default_factory=list)  # conditions guidance weights may name
    description: str = ""
    licence: str = "unspecified"
    training: dict[str, Any] = field(default_factory=dict)  # steps, data, command, minutes
    code_version: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def for_run(cls, config: Any, *, skeleton: str, genres: list[str], supports: dict[str, bool], step: int,
                clips: int) -> "BundleHeader":
        """The header of a bundle a training run writes: named by `train.model_name` (else
        "<family>-<out_dir name>"), with the config, data and step it came from."""
        from dancegen.config import config_to_dict

        train = config.train
        return cls(
            family=config.family, name=train.model_name or f"{config.family}-{train.out_dir.name}",
            config=config_to_dict(config), skeleton=skeleton, fps=config.data.fps, genres=list(genres),
            supports=supports, modalities=list(config.modalities),
            training={"steps": step, "data": str(config.data.root), "clips": clips},
        )

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> "BundleHeader":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputFileError(path, "not a dancegen model bundle", "use a file written by `dancegen train`")
        if data.get("format_version") != FORMAT_VERSION:
            raise InputFileError(
                path, f"bundle format {data.get('format_version')} is not supported (this dancegen reads {FORMAT_VERSION})"
            )
        known = {name for name in cls.__dataclass_fields__}
        try:
            return cls(**{key: value for key, value in data.items() if key in known})
        except TypeError:
            raise InputFileError(path, "the bundle header lacks family, name, config, skeleton or fps") from None


@dataclass
class ModelBundle:
    header: BundleHeader
    components: dict[str, dict[str, Any]]  # component name -> state dict
    normalizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    assets: dict[str, Any] = field(default_factory=dict)

    def with_header(self, **changes: Any) -> "ModelBundle":
        return replace(self, header=replace(self.header, **changes))

    def component(self, name: str, path: str | Path = "bundle") -> dict[str, Any]:
        if name not in self.components:
            raise InputFileError(path, f"has no component {name!r} (it has {', '.join(self.components) or 'none'})",
                                 "re-export the model")
        return self.components[name]


def save_bundle(bundle: ModelBundle, path: str | Path) -> Path:
    """Write `bundle` atomically: the torch archive, then its header member."""
    import torch

    path = Path(path)
    header = replace(bundle.header, code_version=bundle.header.code_version or code_version())
    state = {"format": FORMAT, "format_version": FORMAT_VERSION, "components": bundle.components,
             "normalizers": bundle.normalizers, "assets": bundle.assets}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            root = archive.namelist()[0].split("/", 1)[0]
            archive.writestr(f"{root}/{HEADER_MEMBER}", json.dumps(header.to_json(), indent=1))
    return path


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise MissingResourceError(f"{path}: model not found (`dancegen models` lists the installed ones)")
    if not zipfile.is_zipfile(path):
        raise InputFileError(path, "not a model bundle (not a torch.save archive)")


def read_header(path: str | Path) -> BundleHeader:
    """The bundle's header, without torch and without reading any weights."""
    path = Path(path)
    _check_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [name for name in archive.namelist() if name.endswith("/" + HEADER_MEMBER)]
            if not members:
                return _legacy_header(path)
            data = json.loads(archive.read(members[0]).decode("utf-8"))
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(path, f"unreadable bundle header ({type(error).__name__})") from None
    return BundleHeader.from_json(data, path)


def load_torch_archive(path: Path, what: str = "model bundle", map_location: Any = "cpu", mmap: bool = False) -> dict[str, Any]:
    """A `torch.save`d dict read with `weights_only=True`; every way it can fail is one line
    naming the file (`what` says what the file should have been)."""
    import torch

    if not zipfile.is_zipfile(path):
        raise InputFileError(path, f"not a readable {what} (not a torch.save archive)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError:
        raise InputFileError(path, "refused: the file holds objects other than tensors and plain data") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise InputFileError(path, f"not a readable {what} ({type(error).__name__})") from None
    if not isinstance(state, dict):
        raise InputFileError(path, f"not a dancegen {what}", "use a file written by `dancegen train`")
    return state


def load_bundle(path: str | Path, map_location: Any = "cpu") -> ModelBundle:
    """Header, components, normalizers and assets; a training checkpoint gives its EMA weights."""
    path = Path(path)
    header = read_header(path)
    state = load_torch_archive(path, map_location=map_location)
    if header.format_version == LEGACY_FORMAT_VERSION:
        return _legacy_bundle(header, state, path)
    if state.get("format") != FORMAT or not isinstance(state.get("components"), dict) or not state["components"]:
        raise InputFileError(path, "the bundle holds no weights", "re-export the model")
    return ModelBundle(header, state["components"], dict(state.get("normalizers", {})), dict(state.get("assets", {})))


# --- format 1 and training checkpoints ---------------------------------------------------------
# dancegen 0.1 wrote one kind of model (kind="inference": config, weights, normalizers, genres,
# genre_embeddings, extra) and training checkpoints (kind="training", EMA weights under "ema").


def _legacy_header(path: Path) -> BundleHeader:
    # Only the header-bearing fields are needed here, but they sit in the pickle: read it
    # memory-mapped so the weights stay on disk.
    state = load_torch_archive(path, mmap=True)
    if state.get("kind") not in ("inference", "training") or not isinstance(state.get("config"), dict):
        raise InputFileError(path, "not a dancegen model bundle", "use a file written by `dancegen train`")
    if state.get("format_version") != LEGACY_FORMAT_VERSION:
        if state["kind"] == "training":
            raise InputFileError(path, "is a training checkpoint", "generate with the run's model.pt")
        raise InputFileError(path, f"checkpoint format {state.get('format_version')} is not supported")
    config = state["config"]
    skeleton = config.get("network", {}).get("skeleton", "smpl24")
    family = str(config.get("family", ""))
    training = {"steps": int(state.get("step", 0))}
    if state["kind"] == "training":
        training["checkpoint"] = "training (EMA weights)"
    return BundleHeader(
        family=family, name=path.stem.replace("_", "-"), config=config, skeleton=skeleton,
        fps=float(config.get("data", {}).get("fps", 30.0)), genres=list(state.get("genres", [])),
        training=training, code_version=str(state.get("code_version", "")), format_version=LEGACY_FORMAT_VERSION,
    )


def _legacy_bundle(header: BundleHeader, state: dict[str, Any], path: Path) -> ModelBundle:
    if state["kind"] == "training":
        weights = state.get("ema", {}).get("weights")
    else:
        weights = state.get("weights")
    if not isinstance(weights, dict) or not weights:
        raise InputFileError(path, "the checkpoint holds no weights", "use model.pt or last.ckpt from `dancegen train`")
    assets = {"genres": list(state.get("genres", [])), "genre_embeddings": state.get("genre_embeddings"),
              **dict(state.get("extra", {}))}
    return ModelBundle(header, {"network": weights}, dict(state.get("normalizers", {})), assets)
