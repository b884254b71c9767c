"""Package attributes imported on first use, so importing a package costs nothing until a name
from it is needed (torch alone takes 1–2 s to import; `dancegen --help` and argument checks
should not pay for it)."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_attributes(namespace: dict[str, Any], exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `exports[name]` (a module path) on first access."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    return __getattr__
