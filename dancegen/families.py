"""The model-family registry: what each family is made of and what it can do.

A family is three classes, named here by import path so that listing models or checking a
request imports no torch: its config (a `FamilyConfig`), its generation pipeline (`from_bundle`
+ `__call__(request) -> Motion`, see `dancegen.pipelines.base`) and its training task (data,
components and ordered stages for the one loop in `dancegen.train.loop`, see `TrainingTask`).
Adding a family is its own sub-packages plus one line in `BUILTIN`; a plugin calls
`register_family` instead.

    family = get_family("gcdance")
    config = load_family_config("configs/gcdance_small.yaml", ["train.max_steps=10"])
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from dancegen.errors import ArgumentError

if TYPE_CHECKING:  # the protocol's types only; nothing here imports torch at run time
    import torch
    from torch import nn

    from dancegen.bundle import BundleHeader, ModelBundle
    from dancegen.config import FamilyConfig


@dataclass(frozen=True)
class Capabilities:
    """What a family's pipeline accepts; a request asking for more is refused before loading."""

    text: bool = False  # a free-form prompt
    timed_text: bool = False  # local text on time spans (LRCM's annotations)
    genre: bool = False  # an explicit genre label
    keyframes: bool = False  # full or partial poses at given times
    locked_joints: bool = False  # joints copied from a reference motion
    inbetweening: bool = False  # motion generated between keyframes
    long_form: bool = False  # songs longer than one training window
    hands: bool = False  # finger joints (SMPL-X 52)
    streaming: bool = False  # segments delivered while the rest is generated

    def as_dict(self) -> dict[str, bool]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Capabilities":
        known = {field.name for field in fields(cls)}
        return cls(**{name: bool(value) for name, value in values.items() if name in known})


@dataclass(frozen=True)
class Stage:
    """One training stage of a family: its steps, its rate, and which parameters it trains
    (`trainable(module)`; None = all). Stage boundaries are checkpointed, so a run resumes
    into the right stage."""

    name: str
    max_steps: int
    learning_rate: float | None = None  # None: train.learning_rate
    trainable: Callable[["nn.Module"], Iterable["torch.nn.Parameter"]] | None = None


class TrainingTask(Protocol):
    """What a family gives the shared training loop.

    `prepare` loads and normalises the data (reusing `resumed` assets when resuming);
    `build_module` returns one `nn.Module` holding every component, whose
    `forward(batch, generator, stage)` returns named loss terms; `combiner` turns those terms
    into gradients (a weighted sum, or Nash-MTL...); `bundle` packs trained components into
    the family's inference bundle.
    """

    config: "FamilyConfig"

    def prepare(self, resumed: dict[str, Any] | None, progress: bool) -> None: ...

    def stages(self) -> list[Stage]: ...

    def dataset(self, stage: Stage) -> "torch.utils.data.Dataset": ...

    def build_module(self) -> "nn.Module": ...

    def combiner(self, stage: Stage, module: "nn.Module") -> Any: ...

    def assets(self) -> dict[str, Any]: ...

    def bundle(self, module: "nn.Module", step: int) -> "ModelBundle": ...


@dataclass(frozen=True)
class Family:
    """A registry entry. `config`, `pipeline` and `task` are classes or "module:Class" paths."""

    name: str
    description: str
    config: Any
    pipeline: Any
    task: Any
    supports: Capabilities

    def config_class(self) -> type["FamilyConfig"]:
        return _resolve(self.config)

    def pipeline_class(self) -> type:
        return _resolve(self.pipeline)

    def task_class(self) -> type:
        return _resolve(self.task)


def _resolve(target: Any) -> Any:
    if not isinstance(target, str):
        return target
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


BUILTIN = (
    Family(
        "gcdance",
        "transformer diffusion (EDGE lineage), text → genre → FiLM, body and hand experts",
        config="dancegen.models.gcdance.config:GCDanceConfig",
        pipeline="dancegen.pipelines.gcdance:GCDancePipeline",
        task="dancegen.models.gcdance.task:GCDanceTask",
        supports=Capabilities(text=True, genre=True, keyframes=True, locked_joints=True, inbetweening=True,
                              long_form=True, hands=True),
    ),
    Family(
        "lrcm",
        "residual denoiser with audio Conformer, text cross-Conformer (global style + timed moves), "
        "bidirectional Mamba memory for whole songs",
        config="dancegen.models.lrcm.config:LRCMConfig",
        pipeline="dancegen.pipelines.lrcm:LRCMPipeline",
        task="dancegen.models.lrcm.task:LRCMTask",
        supports=Capabilities(text=True, timed_text=True, genre=True, keyframes=True, locked_joints=True,
                              inbetweening=True, long_form=True),
    ),
    Family(
        "mosaic",
        "DanceMosaic: residual VQ tokens, masked transformers with music and pose adapters, "
        "multimodal guidance, token optimisation",
        config="dancegen.models.mosaic.config:MosaicConfig",
        pipeline="dancegen.pipelines.mosaic:MosaicPipeline",
        task="dancegen.models.mosaic.task:MosaicTask",
        supports=Capabilities(text=True, genre=True, keyframes=True, locked_joints=True, inbetweening=True,
                              long_form=True),
    ),
)

_REGISTRY: dict[str, Family] = {family.name: family for family in BUILTIN}


def register_family(family: Family, replace: bool = False) -> Family:
    """Add a family (a plugin, a test's toy family). Re-registering a name needs `replace`."""
    if family.name in _REGISTRY and not replace and _REGISTRY[family.name] is not family:
        raise ValueError(f"a model family named {family.name!r} is already registered")
    _REGISTRY[family.name] = family
    return family


def unregister_family(name: str) -> None:
    if any(family.name == name for family in BUILTIN):
        raise ValueError(f"{name!r} is a built-in family")
    _REGISTRY.pop(name, None)


def families() -> list[Family]:
    return list(_REGISTRY.values())


def get_family(name: str, where: str = "family") -> Family:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ArgumentError(where, f"unknown model family {name!r}", f"known: {', '.join(_REGISTRY)}") from None


def model_capabilities(header: "BundleHeader") -> Capabilities:
    """What a model supports: its header's list, or (format-1 bundles) its family's."""
    if header.supports:
        return Capabilities.from_dict(header.supports)
    return get_family(header.family, "model family").supports


def family_config(data: dict[str, Any], source: str = "config") -> "FamilyConfig":
    """Validate a config dict with the class its `family` key names: a discriminated union
    over the registry, so unknown keys and bad values are reported against the right fields."""
    from pydantic import ValidationError

    from dancegen.config import format_validation_error

    if not isinstance(data, dict):
        raise ArgumentError(source, "a config must be a mapping of keys to values")
    name = data.get("family")
    if not isinstance(name, str):
        raise ArgumentError(source, "has no 'family' key", f"add family: <one of {', '.join(_REGISTRY)}>")
    config_class = get_family(name, f"{source}: family").config_class()
    try:
        return config_class.model_validate(data)
    except ValidationError as error:
        raise ArgumentError(source, f"invalid config: {format_validation_error(error)}") from None


def load_family_config(path: str | Path | None, overrides: Iterable[str] = (), default_family: str = "gcdance") -> "FamilyConfig":
    """A config file (or the default family's defaults) plus `a.b=value` overrides, validated."""
    from dancegen.config import apply_overrides, read_config_file

    data = read_config_file(path) if path is not None else {}
    data = apply_overrides(data, overrides)
    data.setdefault("family", default_family)
    return family_config(data, str(path) if path is not None else "overrides")
