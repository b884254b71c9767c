"""Forward kinematics: local joint rotations + root translation -> global rotations and positions.

Batched over any leading dimensions, differentiable, any float dtype and device.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from dancegen.skeleton.rotations import quat_to_matrix
from dancegen.skeleton.tree import Skeleton

Tensor = torch.Tensor


def forward_kinematics(
    local_rotations: Tensor,
    root_translation: Tensor,
    offsets: Tensor,
    parents: Sequence[int],
) -> tuple[Tensor, Tensor]:
    """Walk the tree from the root.

    local_rotations: (..., J, 3, 3) rotation of each joint relative to its parent.
    root_translation: (..., 3) world position of the root joint.
    offsets: (J, 3) or (..., J, 3) rest offsets from each parent (the root's is ignored).
    parents: parent index per joint, -1 for the root, parents before children.
    Returns (global_rotations (..., J, 3, 3), positions (..., J, 3)).
    """
    offsets = offsets.to(dtype=local_rotations.dtype, device=local_rotations.device)
    global_rotations: list[Tensor] = []
    positions: list[Tensor] = []
    for joint, parent in enumerate(parents):
        if parent < 0:
            global_rotations.append(local_rotations[..., joint, :, :])
            positions.append(root_translation)
            continue
        parent_rotation = global_rotations[parent]
        offset = offsets[..., joint, :].unsqueeze(-1)
        positions.append(positions[parent] + (parent_rotation @ offset).squeeze(-1))
        global_rotations.append(parent_rotation @ local_rotations[..., joint, :, :])
    return torch.stack(global_rotations, dim=-3), torch.stack(positions, dim=-2)


def skeleton_fk(
    skeleton: Skeleton,
    local_rotations: Tensor,
    root_translation: Tensor,
) -> tuple[Tensor, Tensor]:
    """`forward_kinematics` with the tree and offsets taken from a `Skeleton`.

    `local_rotations` may be matrices (..., J, 3, 3) or quaternions (..., J, 4) in (x, y, z, w).
    """
    if local_rotations.shape[-1] == 4:
        local_rotations = quat_to_matrix(local_rotations)
    offsets = torch.from_numpy(np.ascontiguousarray(skeleton.offsets))
    return forward_kinematics(local_rotations, root_translation, offsets, skeleton.parents)


def global_to_local_rotations(global_rotations: Tensor, parents: Sequence[int]) -> Tensor:
    """Inverse of the rotation half of FK: R_local[j] = R_global[parent]^T @ R_global[j]."""
    local = []
    for joint, parent in enumerate(parents):
        if parent < 0:
            local.append(global_rotations[..., joint, :, :])
        else:
            local.append(global_rotations[..., parent, :, :].transpose(-1, -2) @ global_rotations[..., joint, :, :])
    return torch.stack(local, dim=-3)
