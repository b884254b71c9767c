"""On-disk cache of arrays (audio features, text embeddings), safe for concurrent processes.

Each entry is one `.npy` file named by a sha256 key, written to a temporary file in the same
folder and renamed into place (`os.replace` is atomic), so a reader sees a whole entry or none,
and two processes computing the same entry at once both succeed (the last rename wins; both
wrote the same values). Nothing is pickled: entries load with `allow_pickle=False`.

The folder is `DANCEGEN_CACHE` if set, else `~/.cache/dancegen`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dancegen.errors import ArgumentError, OutputFileError
from dancegen.fileio import atomic_path

CACHE_ENV = "DANCEGEN_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/dancegen")
# Bump when an extractor's output changes, so stale entries are never served.
CACHE_VERSION = 1


def cache_root(directory: str | Path | None = None) -> Path:
    """The cache folder: `directory`, else $DANCEGEN_CACHE, else ~/.cache/dancegen."""
    chosen = directory or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return Path(chosen).expanduser()


class ArrayCache:
    """Arrays on disk under `<root>/<namespace>/<key[:2]>/<key>.npy`."""

    def __init__(self, namespace: str, directory: str | Path | None = None):
        self.directory = cache_root(directory) / namespace

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self.path(key)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # truncated by a crash of an older writer, or foreign: recompute
            return None

    def put(self, key: str, array: np.ndarray) -> None:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as handle:
                    np.save(handle, np.asarray(array), allow_pickle=False)
        except (OSError, OutputFileError) as error:  # not writable, not a folder, disk full
            reason = getattr(error, "strerror", None) or str(error).rsplit(": ", 1)[-1]
            raise ArgumentError(
                CACHE_ENV,
                f"cannot write the cache folder {self.directory} ({reason})",
                f"set {CACHE_ENV} to a writable folder",
            ) from None

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        cached = self.get(key)
        if cached is not None:
            return cached
        array = np.asarray(compute())
        self.put(key, array)
        return array


def cache_key(*parts: Any) -> str:
    """sha256 of the parts, each JSON-encoded with sorted keys (so dict order never matters)."""
    digest = hashlib.sha256()
    for part in (CACHE_VERSION, *parts):
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()
