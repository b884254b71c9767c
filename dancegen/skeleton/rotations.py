"""Rotation representations and conversions (torch, batched, differentiable).

Conventions used throughout dancegen:
- Rotation matrices act on column vectors: v_parent = R @ v_local.
- Quaternions are stored (x, y, z, w), the convention of `roma`. Data sets that store
  (w, x, y, z) (DeepMimic, SMPL-X tools) go through `quat_wxyz_to_xyzw` on the way in.
- Axis-angle and the exponential map are the same object: a rotation vector whose direction is
  the axis and whose norm is the angle in radians. Both names are exported because the papers
  use both (SMPL "axis-angle", LDA/Motorica "expmap").
- 6D is the continuous representation of Zhou et al. (CVPR 2019) laid out as PyTorch3D lays it
  out: the first two *rows* of the matrix, flattened. EDGE, FineDance and GCDance feature files
  use that layout, so a FineDance `.npy` decodes with these functions unchanged.
- Euler angles: `order` names the axes of *intrinsic* rotations applied left to right, as BVH
  channel lists do: order "ZXY" with angles (a, b, c) is Rz(a) @ Rx(b) @ Ry(c).
"""

from __future__ import annotations

import roma
import torch
import torch.nn.functional as F

Tensor = torch.Tensor

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


# --- quaternions (x, y, z, w) -------------------------------------------------------------

def quat_wxyz_to_xyzw(q: Tensor) -> Tensor:
    return torch.cat([q[..., 1:], q[..., :1]], dim=-1)


def quat_xyzw_to_wxyz(q: Tensor) -> Tensor:
    return torch.cat([q[..., 3:], q[..., :3]], dim=-1)


def quat_normalize(q: Tensor) -> Tensor:
    return F.normalize(q, dim=-1)


def quat_to_matrix(q: Tensor) -> Tensor:
    return roma.unitquat_to_rotmat(quat_normalize(q))


def matrix_to_quat(R: Tensor) -> Tensor:
    return roma.rotmat_to_unitquat(R)


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    return roma.quat_product(a, b)


def quat_conjugate(q: Tensor) -> Tensor:
    return roma.quat_conjugation(q)


def quat_canonical(q: Tensor) -> Tensor:
    """Flip quaternions to the hemisphere w >= 0 (q and -q are the same rotation)."""
    return torch.where(q[..., 3:4] < 0, -q, q)


def quat_make_continuous(q: Tensor, dim: int = 0) -> Tensor:
    """Flip signs along `dim` so consecutive quaternions have a non-negative dot product."""
    q = q.transpose(0, dim).clone()
    for i in range(1, q.shape[0]):
        flip = (q[i] * q[i - 1]).sum(-1, keepdim=True) < 0
        q[i] = torch.where(flip, -q[i], q[i])
    return q.transpose(0, dim)


def quat_slerp(q0: Tensor, q1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between unit quaternions; `t` broadcasts over the batch."""
    q0, q1 = quat_normalize(q0), quat_normalize(q1)
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    t = t.unsqueeze(-1) if t.dim() == q0.dim() - 1 else t
    theta = torch.acos(dot)
    sin_theta = torch.sin(theta)
    # Nearly identical quaternions: linear interpolation is exact to rounding and avoids 0/0.
    close = sin_theta < 1e-6
    safe = torch.where(close, torch.ones_like(sin_theta), sin_theta)
    w0 = torch.where(close, 1 - t, torch.sin((1 - t) * theta) / safe)
    w1 = torch.where(close, t, torch.sin(t * theta) / safe)
    return quat_normalize(w0 * q0 + w1 * q1)


# --- axis-angle / exponential map ---------------------------------------------------------

def axis_angle_to_matrix(rotvec: Tensor) -> Tensor:
    return roma.rotvec_to_rotmat(rotvec)


def matrix_to_axis_angle(R: Tensor) -> Tensor:
    return roma.rotmat_to_rotvec(R)


def axis_angle_to_quat(rotvec: Tensor) -> Tensor:
    return roma.rotvec_to_unitquat(rotvec)


def quat_to_axis_angle(q: Tensor) -> Tensor:
    return roma.unitquat_to_rotvec(quat_normalize(q))


expmap_to_matrix = axis_angle_to_matrix
matrix_to_expmap = matrix_to_axis_angle


# --- 6D (Zhou et al. 2019, PyTorch3D layout) ---------------------------------------------

def matrix_to_rot6d(R: Tensor) -> Tensor:
    return R[..., :2, :].reshape(*R.shape[:-2], 6)


def rot6d_to_matrix(d6: Tensor) -> Tensor:
    """Gram-Schmidt on the two stored rows; any 6 numbers give a valid rotation."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-2)


# --- Euler angles --------------------------------------------------------------------------

def _check_order(order: str) -> str:
    order = order.upper()
    if order not in EULER_ORDERS:
        raise ValueError(f"Euler order {order!r} is not one of {', '.join(EULER_ORDERS)}")
    return order


def euler_to_matrix(angles: Tensor, order: str, degrees: bool = False) -> Tensor:
    """Intrinsic Euler angles (..., 3), applied in `order`, to rotation matrices (..., 3, 3)."""
    return roma.euler_to_rotmat(_check_order(order), angles, degrees=degrees)


def matrix_to_euler(R: Tensor, order: str, degrees: bool = False) -> Tensor:
    """Rotation matrices to intrinsic Euler angles (..., 3) in `order`."""
    return roma.rotmat_to_euler(_check_order(order), R, degrees=degrees)


def euler_to_quat(angles: Tensor, order: str, degrees: bool = False) -> Tensor:
    return matrix_to_quat(euler_to_matrix(angles, order, degrees))


def quat_to_euler(q: Tensor, order: str, degrees: bool = False) -> Tensor:
    return matrix_to_euler(quat_to_matrix(q), order, degrees)


# --- geometry helpers ----------------------------------------------------------------------

def rotation_between(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """The smallest rotation matrix taking direction `a` onto direction `b` (..., 3)."""
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    axis = torch.cross(a, b, dim=-1)
    sin = axis.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(-1, keepdim=True)
    angle = torch.atan2(sin, cos)
    # Opposite vectors: rotate by pi about any axis perpendicular to `a`.
    helper = torch.where(
        a[..., :1].abs() < 0.9,
        torch.tensor([1.0, 0.0, 0.0], dtype=a.dtype, device=a.device).expand_as(a),
        torch.tensor([0.0, 1.0, 0.0], dtype=a.dtype, device=a.device).expand_as(a),
    )
    fallback = F.normalize(torch.cross(a, helper, dim=-1), dim=-1)
    axis = torch.where(sin > eps, axis / sin.clamp(min=eps), fallback)
    return axis_angle_to_matrix(axis * angle)


def yaw_matrix(angle: Tensor) -> Tensor:
    """Rotation about +Y (the up axis) by `angle` radians."""
    zeros = torch.zeros_like(angle)
    return euler_to_matrix(torch.stack([zeros, angle, zeros], dim=-1), "XYZ")
