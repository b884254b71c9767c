"""`Motion`: the one motion type passed between every module of dancegen.

A motion is a skeleton, a frame rate, local joint rotations and a root trajectory, in the
canonical convention (y-up, metres, right-handed). Rotations are unit quaternions (x, y, z, w),
local to each joint's parent; `root_translation` is the world position of the root joint.

Files: `.npz` only (numeric arrays plus a JSON metadata string; never pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dancegen.errors import InputFileError
from dancegen.fileio import atomic_path
from dancegen.skeleton.fk import skeleton_fk
from dancegen.skeleton.rotations import (
    quat_canonical,
    quat_make_continuous,
    quat_slerp,
    quat_to_matrix,
)
from dancegen.skeleton.tree import Skeleton

NPZ_FORMAT_VERSION = 1


@dataclass
class Motion:
    skeleton: Skeleton
    fps: float
    rotations: np.ndarray  # (T, J, 4) local unit quaternions, (x, y, z, w)
    root_translation: np.ndarray  # (T, 3) metres
    contacts: np.ndarray | None = None  # (T, C) foot-contact labels in [0, 1]
    metadata: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable

    def __post_init__(self) -> None:
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.root_translation = np.asarray(self.root_translation, dtype=np.float64)
        frames, joints = self.rotations.shape[:2]
        if self.rotations.shape != (frames, joints, 4) or joints != self.skeleton.num_joints:
            raise ValueError(
                f"rotations have shape {self.rotations.shape}; expected (T, {self.skeleton.num_joints}, 4)"
            )
        if self.root_translation.shape != (frames, 3):
            raise ValueError(f"root_translation has shape {self.root_translation.shape}; expected ({frames}, 3)")
        if self.contacts is not None:
            self.contacts = np.asarray(self.contacts, dtype=np.float64)
            if self.contacts.ndim != 2 or self.contacts.shape[0] != frames:
                raise ValueError(f"contacts have shape {self.contacts.shape}; expected ({frames}, C)")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    # --- size and time -----------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        return self.rotations.shape[0]

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def duration(self) -> float:
        """Seconds covered: frame i is shown at time i / fps."""
        return self.num_frames / self.fps

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        return (
            f"Motion({self.skeleton.name!r}, {self.num_joints} joints, {self.num_frames} frames "
            f"@ {self.fps:g} fps = {self.duration:.2f} s)"
        )

    # --- kinematics --------------------------------------------------------------------

    def rotation_matrices(self) -> np.ndarray:
        return quat_to_matrix(torch.from_numpy(self.rotations)).numpy()

    def forward_kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        """(global rotation matrices (T, J, 3, 3), joint positions (T, J, 3))."""
        rotations, positions = skeleton_fk(
            self.skeleton, torch.from_numpy(self.rotations), torch.from_numpy(self.root_translation)
        )
        return rotations.numpy(), positions.numpy()

    def joint_positions(self) -> np.ndarray:
        """World positions of every joint, (T, J, 3), metres, y-up."""
        return self.forward_kinematics()[1]

    # --- editing -----------------------------------------------------------------------

    def copy(self, **changes: Any) -> "Motion":
        fields = dict(
            rotations=self.rotations.copy(),
            root_translation=self.root_translation.copy(),
            contacts=None if self.contacts is None else self.contacts.copy(),
            metadata=json.loads(json.dumps(self.metadata)),
        )
        fields.update(changes)
        return replace(self, **fields)

    def slice_frames(self, start: int, stop: int) -> "Motion":
        return self.copy(
            rotations=self.rotations[start:stop].copy(),
            root_translation=self.root_translation[start:stop].copy(),
            contacts=None if self.contacts is None else self.contacts[start:stop].copy(),
        )

    def slice_seconds(self, start: float, stop: float) -> "Motion":
        return self.slice_frames(int(round(start * self.fps)), int(round(stop * self.fps)))

    def resample(self, fps: float) -> "Motion":
        """Resample to `fps`: slerp for rotations, linear for translation and contacts.

        The output covers the same duration (num_frames / fps seconds), rounded to whole frames.
        """
        if abs(fps - self.fps) < 1e-9:
            return self.copy()
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        count = max(1, int(round(self.duration * fps)))
        return self.at_frames(np.arange(count) * (self.fps / fps), fps=fps)

    def at_frames(self, positions: np.ndarray, fps: float | None = None) -> "Motion":
        """The motion read at fractional frame `positions` (clipped to the clip), one output
        frame each: slerp for rotations, linear for translation and contacts. A time warp
        (`sampling.beat_sync`) and a frame-rate change (`resample`) are both this."""
        source_index = np.clip(np.asarray(positions, dtype=np.float64), 0, self.num_frames - 1)
        count = len(source_index)
        lower = np.floor(source_index).astype(np.int64)
        upper = np.minimum(lower + 1, self.num_frames - 1)
        weight = source_index - lower

        quats = quat_make_continuous(torch.from_numpy(self.rotations), dim=0)
        w = torch.from_numpy(weight)[:, None].expand(count, self.num_joints)
        rotations = quat_slerp(quats[lower], quats[upper], w).numpy()

        def lerp(values: np.ndarray) -> np.ndarray:
            return values[lower] * (1 - weight)[:, None] + values[upper] * weight[:, None]

        contacts = None if self.contacts is None else lerp(self.contacts)
        return self.copy(
            fps=float(self.fps if fps is None else fps),
            rotations=quat_canonical(torch.from_numpy(rotations)).numpy(),
            root_translation=lerp(self.root_translation),
            contacts=contacts,
        )

    # --- files -------------------------------------------------------------------------

    def save_npz(self, path: str | Path) -> None:
        arrays = dict(
            format_version=np.array(NPZ_FORMAT_VERSION),
            fps=np.array(float(self.fps)),
            rotations=self.rotations,
            root_translation=self.root_translation,
            metadata=np.array(json.dumps(self.metadata)),
            **self.skeleton.to_arrays(),
        )
        if self.contacts is not None:
            arrays["contacts"] = self.contacts
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, **arrays)

    @classmethod
    def load_npz(cls, path: str | Path) -> "Motion":
        path = Path(path)
        if not path.is_file():
            raise InputFileError(path, "no such file")
        try:
            with np.load(path, allow_pickle=False) as data:
                if "rotations" not in data or "skeleton_parents" not in data:
                    raise InputFileError(
                        path, "not a dancegen motion .npz (no rotations/skeleton arrays)",
                        "write one with `dancegen motion convert`",
                    )
                return cls(
                    skeleton=Skeleton.from_arrays(data),
                    fps=float(data["fps"]),
                    rotations=data["rotations"],
                    root_translation=data["root_translation"],
                    contacts=data["contacts"] if "contacts" in data else None,
                    metadata=json.loads(str(data["metadata"])),
                )
        except InputFileError:
            raise
        except (OSError, ValueError, KeyError) as error:
            raise InputFileError(path, f"cannot read motion .npz: {error}") from None
