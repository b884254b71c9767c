"""Kinematic trees: joint names, parents and rest offsets.

A `Skeleton` is immutable and topologically ordered (every parent comes before its
children), which lets forward kinematics walk the joints in index order.

Conventions (canonical for all of dancegen): y-up, metres, right-handed. `offsets[j]` is the
rest translation of joint j from its parent, in the parent's frame; `offsets[root]` is the
root's rest position (forward kinematics places the root at the motion's root translation).
With all local rotations at identity the skeleton stands in its rest pose, whatever that is:
for SMPL it is the T-pose; for BVH rigs with bone-local axes it can be anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Skeleton:
    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  # (J, 3) float64, metres, y-up
    # BVH "End Site" offsets by joint index, kept so written BVH files match what was read.
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets, dtype=np.float64)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "joint_names", tuple(self.joint_names))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        count = len(self.joint_names)
        if len(self.parents) != count or offsets.shape != (count, 3):
            raise ValueError(
                f"skeleton {self.name!r}: {count} names, {len(self.parents)} parents and offsets "
                f"of shape {offsets.shape} do not agree"
            )
        if len(set(self.joint_names)) != count:
            raise ValueError(f"skeleton {self.name!r}: joint names are not unique")
        for j, p in enumerate(self.parents):
            if (j == 0) != (p < 0) or p >= j:
                raise ValueError(
                    f"skeleton {self.name!r}: joint {j} ({self.joint_names[j]}) has parent {p}; "
                    "joint 0 must be the only root and parents must come before children"
                )

    # --- queries -----------------------------------------------------------------------

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def __len__(self) -> int:
        return self.num_joints

    def index(self, name: str) -> int:
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name!r} has no joint {name!r}") from None

    def indices(self, names: list[str] | tuple[str, ...]) -> list[int]:
        return [self.index(n) for n in names]

    def children(self, joint: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == joint]

    def descendants(self, joint: int) -> list[int]:
        """`joint` and every joint below it, in index order."""
        inside = {joint}
        for j in range(joint + 1, self.num_joints):
            if self.parents[j] in inside:
                inside.add(j)
        return sorted(inside)

    def chain_to_root(self, joint: int) -> list[int]:
        chain = [joint]
        while self.parents[chain[-1]] >= 0:
            chain.append(self.parents[chain[-1]])
        return chain

    def rest_positions(self) -> np.ndarray:
        """World positions (J, 3) of the rest pose (identity local rotations)."""
        positions = np.zeros((self.num_joints, 3))
        for j, p in enumerate(self.parents):
            positions[j] = self.offsets[j] if p < 0 else positions[p] + self.offsets[j]
        return positions

    def bone_lengths(self) -> np.ndarray:
        lengths = np.linalg.norm(self.offsets, axis=1)
        lengths[0] = 0.0
        return lengths

    # --- derived skeletons -------------------------------------------------------------

    def scaled(self, factor: float) -> "Skeleton":
        return Skeleton(
            self.name,
            self.joint_names,
            self.parents,
            self.offsets * factor,
            {j: o * factor for j, o in self.end_sites.items()},
        )

    def with_offsets(self, offsets: np.ndarray, name: str | None = None) -> "Skeleton":
        return Skeleton(name or self.name, self.joint_names, self.parents, offsets, dict(self.end_sites))

    def same_topology(self, other: "Skeleton") -> bool:
        return self.joint_names == other.joint_names and self.parents == other.parents

    def __repr__(self) -> str:
        return f"Skeleton({self.name!r}, {self.num_joints} joints)"

    # --- (de)serialisation, used by Motion's .npz ------------------------------------

    def to_arrays(self, prefix: str = "skeleton_") -> dict[str, np.ndarray]:
        end_joints = np.array(sorted(self.end_sites), dtype=np.int64)
        end_offsets = (
            np.stack([self.end_sites[j] for j in end_joints]) if len(end_joints) else np.zeros((0, 3))
        )
        return {
            f"{prefix}name": np.array(self.name),
            f"{prefix}joint_names": np.array(self.joint_names),
            f"{prefix}parents": np.array(self.parents, dtype=np.int64),
            f"{prefix}offsets": self.offsets,
            f"{prefix}end_site_joints": end_joints,
            f"{prefix}end_site_offsets": end_offsets,
        }

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "skeleton_") -> "Skeleton":
        end_joints = arrays[f"{prefix}end_site_joints"]
        end_offsets = arrays[f"{prefix}end_site_offsets"]
        return cls(
            name=str(arrays[f"{prefix}name"]),
            joint_names=tuple(str(n) for n in arrays[f"{prefix}joint_names"]),
            parents=tuple(int(p) for p in arrays[f"{prefix}parents"]),
            offsets=np.asarray(arrays[f"{prefix}offsets"], dtype=np.float64),
            end_sites={int(j): np.asarray(o, dtype=np.float64) for j, o in zip(end_joints, end_offsets)},
        )
