"""Restricted unpickling for data files that only exist as pickles (AIST++ `.pkl`, AMP `.npy`).

A pickle is a program: `pickle.load` will import and call anything the file names, so loading a
hostile file runs its code. `safe_load` resolves globals through an allow-list instead. What it
admits is exactly what numpy arrays and plain containers need:

- numpy array and scalar reconstruction (`ndarray`, `dtype`, `_reconstruct`, `scalar`,
  `_frombuffer`), under both the numpy 1 (`numpy.core`) and numpy 2 (`numpy._core`) names;
- dict, list, tuple, str, bytes, int, float, bool and None, which pickle builds with opcodes and
  needs no global for; plus `collections.OrderedDict` (a dict: poselib's AMP files use it),
  `_codecs.encode` (how protocol-2 pickles spell a bytes literal) and `bytearray` (the buffer
  of arrays written by `motion.formats.portable_pickle`).

Any other global (`os.system`, `builtins.eval`, a class) is refused before it is imported, with
an `InputFileError` that names the file and the global.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from dancegen.errors import InputFileError

# numpy moved its internals from `numpy.core` to `numpy._core` in 2.0; pickles carry either name.
_NUMPY_INTERNALS = {
    "multiarray": ("_reconstruct", "scalar"),
    "numeric": ("_frombuffer",),
}
_ALLOWED_NAMES: set[tuple[str, str]] = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),
    ("builtins", "bytearray"),
}
for _module, _names in _NUMPY_INTERNALS.items():
    for _prefix in ("numpy.core", "numpy._core"):
        _ALLOWED_NAMES.update((f"{_prefix}.{_module}", name) for name in _names)


def _resolve(module: str, name: str) -> Any:
    if module.startswith("numpy.core."):
        # Import the numpy 2 location directly: `numpy.core` is a deprecated alias there.
        try:
            return getattr(importlib.import_module("numpy._core." + module.split(".", 2)[2]), name)
        except ImportError:
            pass
    return getattr(importlib.import_module(module), name)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, source: str):
        super().__init__(io.BytesIO(data), encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_NAMES:
            raise InputFileError(
                self.source,
                f"refused to unpickle global {module}.{name}",
                "only numpy arrays, numpy scalars, lists and dicts are loaded from pickles; convert the file to .npz",
            )
        return _resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise InputFileError(self.source, "pickle uses persistent ids, which are not allowed")


def _unpickle(data: bytes, source: str) -> Any:
    try:
        return _RestrictedUnpickler(data, source).load()
    except InputFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise InputFileError(source, f"not a readable pickle ({type(error).__name__}: {error})") from None


def _load_npy(data: bytes, source: str) -> Any:
    """An `.npy` file: numeric arrays load without pickle; object arrays unpickle restricted."""
    stream = io.BytesIO(data)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
    except ValueError as error:
        raise InputFileError(source, f"bad .npy header: {error}") from None
    if not dtype.hasobject:
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as error:
            raise InputFileError(source, f"cannot read .npy array: {error}") from None
    # np.save writes an object array as one pickle of the whole array after the header.
    array = _unpickle(data[stream.tell() :], source)
    if not isinstance(array, np.ndarray):
        raise InputFileError(source, "object .npy does not hold an array")
    return array


def safe_load(path_or_bytes: str | Path | bytes, source: str | None = None) -> Any:
    """Load a pickle (or an `.npy`, object arrays included) admitting only data, never code.

    `path_or_bytes` is a file path or the raw bytes; `source` names the data in error messages
    (defaults to the path). An `.npy` object array comes back as the array `np.load` would give
    (call `.item()` on a 0-d one to get the pickled dict).
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
        source = source or "<bytes>"
    else:
        path = Path(path_or_bytes)
        source = source or str(path)
        if not path.is_file():
            raise InputFileError(source, "no such file")
        data = path.read_bytes()
    if data.startswith(npy_format.MAGIC_PREFIX):
        return _load_npy(data, source)
    return _unpickle(data, source)
