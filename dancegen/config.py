"""Typed, validated configuration.

Every config is a pydantic model (`StrictConfig` forbids unknown keys, so a typo is an error,
not a silently ignored setting). Configs load from YAML and accept command-line overrides of the
form `section.key=value`, where the value is parsed as YAML (`lr=1e-4`, `model.hands=false`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from dancegen.errors import ArgumentError, InputFileError

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class StrictConfig(BaseModel):
    """Base for all dancegen configs: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


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
        location = ".".join(str(p) for p in item["loc"]) or "(top level)"
        problems.append(f"{location}: {item['msg']}")
    return "; ".join(problems)


def load_config(cls: type[ConfigT], path: str | Path | None = None, overrides: Iterable[str] = ()) -> ConfigT:
    """Read a YAML config (or start from defaults), apply overrides and validate."""
    data: dict[str, Any] = {}
    source = "overrides"
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise InputFileError(path, "config file not found")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            line = getattr(getattr(error, "problem_mark", None), "line", None)
            raise InputFileError(path, "not valid YAML", line=None if line is None else line + 1) from None
        if not isinstance(data, dict):
            raise InputFileError(path, "a config must be a mapping of keys to values")
    data = apply_overrides(data, overrides)
    try:
        return cls.model_validate(data)
    except ValidationError as error:
        raise ArgumentError(source, f"invalid config: {format_validation_error(error)}") from None


def config_to_dict(config: BaseModel) -> dict[str, Any]:
    return config.model_dump(mode="json")
