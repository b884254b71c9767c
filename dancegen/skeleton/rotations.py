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

The conversions use roma's (and SciPy's) conventions and methods and are tested against roma
(tests/skeleton/test_rotations_match_roma.py); they are written out here because importing roma
pulls in torch._dynamo, which costs more than a second per process.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tensor = torch.Tensor

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")

# Below this middle angle (radians) from 0 or pi, Euler angles are in gimbal lock: the first and
# third axes line up, and the third angle is set to 0 (roma's and SciPy's choice).
GIMBAL_LOCK_EPS = 1e-7


def _sinc(x: Tensor) -> Tensor:
    """sin(x) / x, with its Taylor series near 0 so that neither value nor gradient is 0/0.

    The switch point 2 * eps^(1/6) (5e-3 in float64, 0.14 in float32) is where the truncation error of
    the series' derivative meets the rounding error of the closed form's (roma's analysis).
    """
    threshold = 2.0 * torch.finfo(x.dtype).eps ** (1 / 6)
    small = x.abs() < threshold
    safe = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, 1 - x**2 / 6 + x**4 / 120, torch.sin(x) / safe)


# --- quaternions (x, y, z, w) -------------------------------------------------------------

def quat_wxyz_to_xyzw(q: Tensor) -> Tensor:
    return torch.cat([q[..., 1:], q[..., :1]], dim=-1)


def quat_xyzw_to_wxyz(q: Tensor) -> Tensor:
    return torch.cat([q[..., 3:], q[..., :3]], dim=-1)


def quat_normalize(q: Tensor) -> Tensor:
    return F.normalize(q, dim=-1)


def quat_to_matrix(q: Tensor) -> Tensor:
    x, y, z, w = quat_normalize(q).unbind(-1)
    rows = (
        (x * x - y * y - z * z + w * w, 2 * (x * y - z * w), 2 * (x * z + y * w)),
        (2 * (x * y + z * w), -x * x + y * y - z * z + w * w, 2 * (y * z - x * w)),
        (2 * (x * z - y * w), 2 * (y * z + x * w), -x * x - y * y + z * z + w * w),
    )
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def matrix_to_quat(R: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) to unit quaternions (Shepperd's method, Markley's variant).

    Each row i of `candidates` is 4 q_i q, read off the matrix entries; the row with the largest
    diagonal entry 4 q_i^2 is far from zero, so it is the accurate one. Normalising it (rather than
    dividing by 4 q_i) also gives a unit quaternion for slightly non-orthogonal R.
    """
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = (row.unbind(-1) for row in R.unbind(-2))
    candidates = torch.stack([
        torch.stack([1 + r00 - r11 - r22, r01 + r10, r02 + r20, r21 - r12], dim=-1),
        torch.stack([r10 + r01, 1 + r11 - r22 - r00, r12 + r21, r02 - r20], dim=-1),
        torch.stack([r20 + r02, r21 + r12, 1 + r22 - r00 - r11, r10 - r01], dim=-1),
        torch.stack([r21 - r12, r02 - r20, r10 - r01, 1 + r00 + r11 + r22], dim=-1),
    ], dim=-2)
    best = candidates.diagonal(dim1=-2, dim2=-1).argmax(dim=-1)
    q = candidates.take_along_dim(best[..., None, None], dim=-2).squeeze(-2)
    return quat_normalize(q)


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product a * b (apply b first, then a)."""
    a, b = torch.broadcast_tensors(a, b)
    av, aw = a[..., :3], a[..., 3:]
    bv, bw = b[..., :3], b[..., 3:]
    vector = aw * bv + bw * av + torch.cross(av, bv, dim=-1)
    scalar = aw * bw - (av * bv).sum(-1, keepdim=True)
    return torch.cat([vector, scalar], dim=-1)


def quat_conjugate(q: Tensor) -> Tensor:
    return torch.cat([-q[..., :3], q[..., 3:]], dim=-1)


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

def _skew(v: Tensor) -> Tensor:
    """The cross-product matrix [v]x (..., 3, 3): [v]x @ u == v x u."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    rows = ((zero, -z, y), (z, zero, -x), (-y, x, zero))
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def axis_angle_to_matrix(rotvec: Tensor) -> Tensor:
    """Rodrigues: R = I + sin(t)/t K + (1 - cos t)/t^2 K^2 with K = [rotvec]x and t = |rotvec|.

    (1 - cos t)/t^2 is written sinc(t/2)^2 / 2, which has no cancellation at small t.
    """
    angle = rotvec.norm(dim=-1)[..., None, None]
    K = _skew(rotvec)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device)
    return eye + _sinc(angle) * K + 0.5 * _sinc(angle / 2) ** 2 * (K @ K)


def matrix_to_axis_angle(R: Tensor) -> Tensor:
    # Through the quaternion: robust near angle pi, where the skew part of R vanishes.
    return quat_to_axis_angle(matrix_to_quat(R))


def axis_angle_to_quat(rotvec: Tensor) -> Tensor:
    """q = (sin(t/2) axis, cos(t/2)), written with sinc so that rotvec = 0 needs no axis."""
    angle = rotvec.norm(dim=-1, keepdim=True)
    return torch.cat([0.5 * _sinc(angle / 2) * rotvec, torch.cos(angle / 2)], dim=-1)


def quat_to_axis_angle(q: Tensor) -> Tensor:
    """Quaternions (normalised first) to rotation vectors of norm <= pi (the shortest arc)."""
    q = quat_normalize(q)
    q = torch.where(q[..., 3:] > 0, q, -q)
    vector, w = q[..., :3], q[..., 3]
    half_angle = torch.atan2(vector.norm(dim=-1), w)
    # |vector| = sin(half_angle), so rotvec = 2 half_angle / sin(half_angle) * vector.
    return (2 / _sinc(half_angle))[..., None] * vector


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


_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


def _axis_rotation(axis: str, angle: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) by `angle` about one coordinate axis."""
    unit = torch.zeros(3, dtype=angle.dtype, device=angle.device)
    unit[_AXIS_INDEX[axis]] = 1
    return axis_angle_to_matrix(angle[..., None] * unit)


def euler_to_matrix(angles: Tensor, order: str, degrees: bool = False) -> Tensor:
    """Intrinsic Euler angles (..., 3), applied in `order`, to rotation matrices (..., 3, 3)."""
    order = _check_order(order)
    if degrees:
        angles = torch.deg2rad(angles)
    first, second, third = (_axis_rotation(axis, angle) for axis, angle in zip(order, angles.unbind(-1)))
    return first @ second @ third


def _wrap_angle(angle: Tensor) -> Tensor:
    """Map angles in [-2 pi, 2 pi] into [-pi, pi]."""
    angle = torch.where(angle < -math.pi, angle + 2 * math.pi, angle)
    return torch.where(angle > math.pi, angle - 2 * math.pi, angle)


def matrix_to_euler(R: Tensor, order: str, degrees: bool = False) -> Tensor:
    """Rotation matrices to intrinsic Euler angles (..., 3) in `order`, each in [-pi, pi].

    Through the quaternion, by the method of Bernardes & Viollet (2022) as SciPy and roma use it:
    the middle angle comes from an atan2 of two norms (accurate everywhere, unlike asin near
    +-pi/2); in gimbal lock the third angle is set to 0 and the first carries the whole turn.
    """
    order = _check_order(order)
    # An intrinsic order "ABC" is the extrinsic order "CBA"; the method is stated for extrinsic.
    i, j, k = (_AXIS_INDEX[axis] for axis in reversed(order))
    parity = (i - j) * (j - k) * (k - i) // 2  # +1 for an even permutation of xyz, -1 for odd
    q = matrix_to_quat(R)
    w = q[..., 3]
    a, b = w - q[..., j], q[..., i] + parity * q[..., k]
    c, d = q[..., j] + w, parity * q[..., k] - q[..., i]

    middle = 2 * torch.atan2(torch.hypot(c, d), torch.hypot(a, b))
    half_sum, half_diff = torch.atan2(b, a), torch.atan2(d, c)
    first, third = half_sum + half_diff, half_sum - half_diff
    locked_at_0 = middle.abs() <= GIMBAL_LOCK_EPS
    locked_at_pi = (middle - math.pi).abs() <= GIMBAL_LOCK_EPS
    first = torch.where(locked_at_0, 2 * half_sum, torch.where(locked_at_pi, 2 * half_diff, first))
    third = torch.where(locked_at_0 | locked_at_pi, torch.zeros_like(third), third)

    angles = torch.stack([parity * first, middle - math.pi / 2, third], dim=-1)
    angles = _wrap_angle(angles)
    return torch.rad2deg(angles) if degrees else angles


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


def nearest_rotation(M: Tensor) -> Tensor:
    """The rotation matrix nearest to M (..., 3, 3) in the Frobenius norm (special Procrustes).

    With M = U S V^T, the answer is U V^T, with U's last column negated where that would be a
    reflection. Solved in float64 (and cast back), as roma does, so float32 inputs lose nothing.
    """
    U, _, Vh = torch.linalg.svd(M.to(torch.float64))
    reflection = torch.linalg.det(U @ Vh) < 0
    last = torch.where(reflection[..., None, None], -U[..., :, 2:], U[..., :, 2:])
    return (torch.cat([U[..., :, :2], last], dim=-1) @ Vh).to(M.dtype)


def yaw_matrix(angle: Tensor) -> Tensor:
    """Rotation about +Y (the up axis) by `angle` radians."""
    zeros = torch.zeros_like(angle)
    return euler_to_matrix(torch.stack([zeros, angle, zeros], dim=-1), "XYZ")
