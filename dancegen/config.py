"""Typed, validated configuration.

Every config is a pydantic model (`StrictConfig` forbids unknown keys, so a typo is an error,
not a silently ignored setting). Configs load from YAML and accept command-line overrides of the
form `section.key=value`, where the value is parsed as YAML (`lr=1e-4`, `model.hands=false`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dancegen.errors import ArgumentError, InputFileError

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class StrictConfig(BaseModel):
    """Base for all dancegen configs: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class TrainConfig(StrictConfig):
    """The shared training loop's settings (`dancegen.train.loop`), the same for every family."""

    seed: int = Field(0, ge=0, le=2**63 - 1)  # torch generators take 64-bit seeds
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.02, ge=0)
    warmup_steps: int = Field(500, ge=0)
    max_steps: int = Field(20000, ge=1)  # a one-stage family's steps; staged families set their own
    grad_clip: float | None = Field(1.0, gt=0)
    ema_decay: float = Field(0.9999, ge=0, lt=1)
    ema_warmup: bool = True  # decay ramps up as min(decay, (1 + n) / (10 + n)) early on
    condition_dropout: dict[str, float] = {}  # per modality; keys checked against the family's
    checkpoint_every: int = Field(1000, ge=1)
    log_every: int = Field(50, ge=1)
    num_workers: int = Field(0, ge=0)
    accelerator: str = "auto"  # lightning Fabric: cpu, cuda, gpu, mps, auto
    devices: int | str = 1
    num_nodes: int = Field(1, ge=1)
    strategy: str = "auto"  # auto, ddp, ...
    precision: str = "32-true"
    out_dir: Path = Path("runs/model")
    model_name: str | None = None  # the bundle's name (default: "<family>-<out_dir name>")


def check_modality_weights(weights: Mapping[str, float], modalities: Iterable[str], key: str,
                           low: float = 0.0, high: float | None = None) -> None:
    """Per-modality dicts (condition dropout, guidance): a key that names no modality would
    silently switch nothing on or off, so it is an error, as is a value out of range."""
    known = tuple(modalities)
    for name, value in weights.items():
        if name not in known:
            raise ValueError(f"{key}: unknown modality {name!r} (this family has {', '.join(known)})")
        if not (value >= low and (high is None or value <= high)):
            bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            raise ValueError(f"{key}.{name}: must be {bound}, got {value}")


class FamilyConfig(StrictConfig):
    """Base of every model family's config: `family` names its registry entry (and is the
    discriminator when a config file is read), `train` drives the shared loop."""

    family: str
    train: TrainConfig = TrainConfig()
    # The conditioning modalities the family's network takes, in guidance order.
    modalities: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _dropout_names_modalities(self) -> "FamilyConfig":
        check_modality_weights(self.train.condition_dropout, self.modalities, "train.condition_dropout", 0.0, 1.0)
        return self


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides to a nested dict (values parsed as YAML)."""
    for override in overrides:
        if "=" not in override:
            raise ArgumentError(override, "an override must look like key.path=value")
        key, raw = override.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ArgumentError(override, f"{part!r} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def format_validation_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        location = ".".join(str(p) for p in item["loc"])
        # Whole-config checks name their keys in the message already.
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML config file as a dict; one-line errors for a missing, unreadable or non-mapping file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        raise InputFileError(path, "not valid YAML", line=None if line is None else line + 1) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputFileError(path, f"cannot be read ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise InputFileError(path, "a config must be a mapping of keys to values")
    return data


def load_config(cls: type[ConfigT], path: str | Path | None = None, overrides: Iterable[str] = ()) -> ConfigT:
    """Read a YAML config (or start from defaults), apply overrides and validate."""
    data = read_config_file(path) if path is not None else {}
    data = apply_overrides(data, overrides)
    try:
        return cls.model_validate(data)
    except ValidationError as error:
        raise ArgumentError(str(path) if path is not None else "overrides", f"invalid config: {format_validation_error(error)}") from None


def config_to_dict(config: BaseModel) -> dict[str, Any]:
    return config.model_dump(mode="json")
