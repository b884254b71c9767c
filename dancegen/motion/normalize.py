"""Per-channel feature normalisers, fitted on a data set and saved with it.

Every kind is an affine map per channel, `y = (x - shift) / scale`:

- "meanstd": shift = mean, scale = standard deviation (LDA's and HumanML3D's Mean/Std files).
- "minmax": each channel's [min, max] maps onto [-1, 1], as EDGE's `MinMaxScaler((-1, 1))`:
  shift = mid-range, scale = half the range.

A channel that is constant over the data (spread below `CONSTANT_SPREAD`) gets scale 1, so it
is shifted to 0 instead of divided by almost nothing. Works on numpy arrays and torch tensors of
any leading shape (..., D). Saved as `.npz` (no pickle); `state_dict()` goes into checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from dancegen.errors import ArgumentError, InputFileError
from dancegen.fileio import atomic_path

NORMALIZER_KINDS = ("meanstd", "minmax")
# Spread (std or half-range) below which a channel counts as constant; pymo's ConstantsRemover,
# which LDA's pipelines use, drops channels with std under the same 1e-6.
CONSTANT_SPREAD = 1e-6
NPZ_FORMAT_VERSION = 1

Array = np.ndarray | torch.Tensor


def _as_rows(data: Array | Sequence[Array]) -> np.ndarray:
    """Stack data (..., D), or a list of (T_i, D) arrays, into float64 rows (N, D)."""
    if isinstance(data, (list, tuple)):
        if not data:
            raise ArgumentError("data", "is an empty list; fit a normalizer on at least one array")
        parts = [_as_rows(part) for part in data]
        widths = {part.shape[1] for part in parts}
        if len(widths) != 1:
            raise ArgumentError("data", f"arrays have different feature sizes {sorted(widths)}")
        return np.concatenate(parts, axis=0)
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    rows = np.asarray(data, dtype=np.float64)
    if rows.ndim == 0:
        raise ArgumentError("data", "is a scalar; expected features (..., D)")
    return rows.reshape(-1, rows.shape[-1])


class Normalizer:
    """`y = (x - shift) / scale` per channel; see the module docstring for the kinds."""

    def __init__(self, kind: str = "meanstd", shift: np.ndarray | None = None, scale: np.ndarray | None = None):
        if kind not in NORMALIZER_KINDS:
            raise ArgumentError("kind", f"unknown normalizer {kind!r}", f"use one of {', '.join(NORMALIZER_KINDS)}")
        if (shift is None) != (scale is None):
            raise ArgumentError("shift/scale", "give both or neither")
        self.kind = kind
        self.shift = None if shift is None else np.asarray(shift, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)
        if self.shift is not None and (self.shift.ndim != 1 or self.shift.shape != self.scale.shape):
            raise ArgumentError("shift/scale", f"shapes {self.shift.shape} and {self.scale.shape} must be equal (D,)")
        if self.scale is not None and not np.all(self.scale > 0):
            raise ArgumentError("scale", "must be positive in every channel")

    @property
    def fitted(self) -> bool:
        return self.shift is not None

    @property
    def dim(self) -> int:
        return 0 if self.shift is None else self.shift.shape[0]

    def __repr__(self) -> str:
        return f"Normalizer({self.kind!r}, dim={self.dim})" if self.fitted else f"Normalizer({self.kind!r}, unfitted)"

    # --- fitting -----------------------------------------------------------------------

    def fit(self, data: Array | Sequence[Array]) -> "Normalizer":
        """Fit on features (N, D), (B, T, D) or a list of (T_i, D) arrays; returns self."""
        rows = _as_rows(data)
        if rows.shape[0] == 0:
            raise ArgumentError("data", "has no rows; fit a normalizer on at least one frame")
        if not np.isfinite(rows).all():
            raise ArgumentError("data", "contains NaN or infinite values", "clean the features before fitting")
        if self.kind == "meanstd":
            shift, spread = rows.mean(axis=0), rows.std(axis=0)
        else:
            low, high = rows.min(axis=0), rows.max(axis=0)
            shift, spread = (high + low) / 2, (high - low) / 2
        self.shift = shift
        self.scale = np.where(spread < CONSTANT_SPREAD, 1.0, spread)
        return self

    # --- applying ----------------------------------------------------------------------

    def _parameters(self, x: Array) -> tuple[Array, Array]:
        if not self.fitted:
            raise ArgumentError("normalizer", "is not fitted", "call fit(data) or load a saved one first")
        if x.shape[-1] != self.dim:
            raise ArgumentError("features", f"last dimension is {x.shape[-1]}; the normalizer was fitted on {self.dim}")
        if isinstance(x, torch.Tensor):
            return (
                torch.as_tensor(self.shift, dtype=x.dtype, device=x.device),
                torch.as_tensor(self.scale, dtype=x.dtype, device=x.device),
            )
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        return self.shift.astype(dtype), self.scale.astype(dtype)

    def transform(self, x: Array) -> Array:
        """Normalise features (..., D); numpy in, numpy out; torch in, torch out (same dtype)."""
        x = x if isinstance(x, torch.Tensor) else np.asarray(x)
        shift, scale = self._parameters(x)
        return (x - shift) / scale

    def inverse(self, y: Array) -> Array:
        """Undo `transform`."""
        y = y if isinstance(y, torch.Tensor) else np.asarray(y)
        shift, scale = self._parameters(y)
        return y * scale + shift

    # --- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """For checkpoints: loads with `torch.load(..., weights_only=True)`."""
        if not self.fitted:
            raise ArgumentError("normalizer", "is not fitted; there is no state to save")
        return {"kind": self.kind, "shift": torch.from_numpy(self.shift.copy()), "scale": torch.from_numpy(self.scale.copy())}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "Normalizer":
        missing = {"kind", "shift", "scale"} - set(state)
        if missing:
            raise ArgumentError("state_dict", f"has no {', '.join(sorted(missing))}", "it is not a Normalizer state")
        as_numpy = lambda v: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)  # noqa: E731
        return cls(str(state["kind"]), as_numpy(state["shift"]), as_numpy(state["scale"]))

    def save(self, path: str | Path) -> None:
        """Write `.npz` (kind, shift, scale) atomically."""
        if not self.fitted:
            raise ArgumentError("normalizer", "is not fitted; fit it before saving")
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    format_version=np.array(NPZ_FORMAT_VERSION),
                    kind=np.array(self.kind),
                    shift=self.shift,
                    scale=self.scale,
                )

    @classmethod
    def load(cls, path: str | Path) -> "Normalizer":
        path = Path(path)
        if not path.is_file():
            raise InputFileError(path, "no such normalizer file", "fit one on the training data and save it")
        try:
            with np.load(path, allow_pickle=False) as data:
                if not {"kind", "shift", "scale"} <= set(data.files):
                    raise InputFileError(path, "not a dancegen normalizer (no kind/shift/scale arrays)")
                kind, shift, scale = str(data["kind"]), data["shift"], data["scale"]
        except InputFileError:
            raise
        except (OSError, ValueError, EOFError) as error:
            raise InputFileError(path, f"cannot read normalizer .npz: {error}") from None
        try:
            return cls(kind, shift, scale)
        except ArgumentError as error:
            raise InputFileError(path, f"invalid normalizer: {error}") from None
