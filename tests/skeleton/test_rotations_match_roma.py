"""dancegen's own rotation conversions agree with roma's, which they replaced (roma stays a
dependency only for this check).

Inputs: thousands of random rotations plus the edge cases where formulas switch branch or lose
precision: angles at and around 0 (the Taylor switch of sinc), at and around pi (where the
quaternion's w and the matrix's skew part vanish), and Euler gimbal lock.
"""

import math

import pytest
import torch

roma = pytest.importorskip("roma")

from dancegen.skeleton import rotations as rot  # noqa: E402

COUNT = 4000
TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-5}
DTYPES = (torch.float64, torch.float32)
BATCH_SHAPES = ((), (7,), (3, 5))

# Angles (radians) where branches switch: tiny, around both sinc Taylor thresholds
# (5e-3 in float64, 0.14 in float32), and just short of / at / past pi.
EDGE_ANGLES = (0.0, 1e-12, 1e-8, 1e-6, 1e-4, 4.9e-3, 5.1e-3, 0.13, 0.15, 1.0,
               math.pi - 1e-3, math.pi - 1e-6, math.pi, math.pi + 1e-6, 2 * math.pi - 0.1)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rotvecs(dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """Random rotation vectors (norms up to ~2 pi) followed by every edge angle about random axes."""
    g = generator(seed)
    random = torch.randn(COUNT, 3, generator=g, dtype=torch.float64) * 1.5
    axes = torch.nn.functional.normalize(torch.randn(len(EDGE_ANGLES), 8, 3, generator=g, dtype=torch.float64), dim=-1)
    edges = (axes * torch.tensor(EDGE_ANGLES, dtype=torch.float64)[:, None, None]).reshape(-1, 3)
    coordinate_axes = torch.eye(3, dtype=torch.float64).repeat(len(EDGE_ANGLES), 1)
    coordinate_edges = coordinate_axes * torch.tensor(EDGE_ANGLES, dtype=torch.float64).repeat_interleave(3)[:, None]
    return torch.cat([random, edges, coordinate_edges]).to(dtype)


def unit_quats(dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    return roma.rotvec_to_unitquat(rotvecs(torch.float64, seed)).to(dtype)


def matrices(dtype: torch.dtype, seed: int = 2) -> torch.Tensor:
    return roma.rotvec_to_rotmat(rotvecs(torch.float64, seed)).to(dtype)


def assert_matches(got: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    assert got.shape == expected.shape and got.dtype == expected.dtype == dtype
    torch.testing.assert_close(got, expected, atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_quaternion_conversions_match_roma(dtype):
    q = unit_quats(dtype)
    assert_matches(rot.quat_to_matrix(q), roma.unitquat_to_rotmat(q), dtype)
    R = matrices(dtype)
    assert_matches(rot.matrix_to_quat(R), roma.rotmat_to_unitquat(R), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unnormalised_quaternions_are_normalised_first(dtype):
    q = unit_quats(dtype) * torch.rand(1, generator=generator(3), dtype=torch.float64).to(dtype).add(0.5) * 3
    unit = torch.nn.functional.normalize(q, dim=-1)
    assert_matches(rot.quat_to_matrix(q), roma.unitquat_to_rotmat(unit), dtype)
    assert_matches(rot.quat_to_axis_angle(q), roma.unitquat_to_rotvec(unit), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_product_and_conjugate_match_roma(dtype):
    p, q = unit_quats(dtype, seed=4), unit_quats(dtype, seed=5)
    assert_matches(rot.quat_multiply(p, q), roma.quat_product(p, q), dtype)
    assert_matches(rot.quat_multiply(p, q[0]), roma.quat_product(p, q[0]), dtype)  # broadcasting
    assert_matches(rot.quat_conjugate(q), roma.quat_conjugation(q), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_angle_conversions_match_roma(dtype):
    v = rotvecs(dtype)
    assert_matches(rot.axis_angle_to_matrix(v), roma.rotvec_to_rotmat(v), dtype)
    assert_matches(rot.axis_angle_to_quat(v), roma.rotvec_to_unitquat(v), dtype)
    q = unit_quats(dtype)
    assert_matches(rot.quat_to_axis_angle(q), roma.unitquat_to_rotvec(q), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_to_axis_angle_matches_roma(dtype):
    R = matrices(dtype)
    got, expected = rot.matrix_to_axis_angle(R), roma.rotmat_to_rotvec(R)
    # At an angle of exactly pi, v and -v are the same rotation; allow either there.
    same = (got - expected).abs().amax(-1) <= TOLERANCE[dtype]
    flipped = (got + expected).abs().amax(-1) <= TOLERANCE[dtype]
    at_pi = (expected.norm(dim=-1) - math.pi).abs() < 1e-3
    assert bool((same | (flipped & at_pi)).all())
    assert int(flipped[~same].numel()) <= 48  # only the handful of exact-pi edge inputs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", rot.EULER_ORDERS)
def test_euler_matches_roma(order, dtype):
    angles = (torch.rand(COUNT, 3, generator=generator(6), dtype=torch.float64) * 2 - 1) * math.pi
    # Gimbal lock (middle angle +-pi/2) and zero angles.
    locked = torch.tensor([[0.4, math.pi / 2, -1.2], [2.5, -math.pi / 2, 0.7], [0.0, 0.0, 0.0],
                           [math.pi, 0.0, -math.pi], [0.3, math.pi / 2 - 1e-9, 0.2]], dtype=torch.float64)
    angles = torch.cat([angles, locked]).to(dtype)
    assert_matches(rot.euler_to_matrix(angles, order), roma.euler_to_rotmat(order, angles), dtype)
    degrees = torch.rad2deg(angles)
    assert_matches(rot.euler_to_matrix(degrees, order, degrees=True),
                   roma.euler_to_rotmat(order, degrees, degrees=True), dtype)

    R = torch.cat([matrices(dtype), roma.euler_to_rotmat(order, angles)])
    got, expected = rot.matrix_to_euler(R, order), roma.rotmat_to_euler(order, R)
    assert_matches(got, expected, dtype)
    assert_matches(torch.deg2rad(rot.matrix_to_euler(R, order, degrees=True)), expected, dtype)
    # Whatever the branch (gimbal lock included), the angles rebuild the matrix.
    torch.testing.assert_close(rot.euler_to_matrix(got, order), R, atol=100 * TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_batch_shapes_and_dtypes_are_kept(batch, dtype):
    count = math.prod(batch)
    v = rotvecs(dtype)[:count].reshape(*batch, 3)
    q = unit_quats(dtype)[:count].reshape(*batch, 4)
    R = matrices(dtype)[:count].reshape(*batch, 3, 3)
    pairs = {
        "axis_angle_to_matrix": (rot.axis_angle_to_matrix(v), roma.rotvec_to_rotmat(v)),
        "axis_angle_to_quat": (rot.axis_angle_to_quat(v), roma.rotvec_to_unitquat(v)),
        "quat_to_axis_angle": (rot.quat_to_axis_angle(q), roma.unitquat_to_rotvec(q)),
        "quat_to_matrix": (rot.quat_to_matrix(q), roma.unitquat_to_rotmat(q)),
        "matrix_to_quat": (rot.matrix_to_quat(R), roma.rotmat_to_unitquat(R)),
        "matrix_to_axis_angle": (rot.matrix_to_axis_angle(R), roma.rotmat_to_rotvec(R)),
        "quat_multiply": (rot.quat_multiply(q, q), roma.quat_product(q, q)),
        "quat_conjugate": (rot.quat_conjugate(q), roma.quat_conjugation(q)),
        "euler_to_matrix": (rot.euler_to_matrix(v, "ZXY"), roma.euler_to_rotmat("ZXY", v)),
        "matrix_to_euler": (rot.matrix_to_euler(R, "YZX"), roma.rotmat_to_euler("YZX", R)),
    }
    for name, (got, expected) in pairs.items():
        assert got.shape == expected.shape, name
        assert_matches(got, expected, dtype)


def test_gradients_are_finite_at_the_identity():
    v = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    (rot.axis_angle_to_matrix(v).sum() + rot.axis_angle_to_quat(v).sum()).backward()
    assert torch.isfinite(v.grad).all()
    q = torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    rot.quat_to_axis_angle(q).sum().backward()
    assert torch.isfinite(q.grad).all()
    # d/dv of the axis-angle map at 0 is the identity (R ~ I + [v]x): check one entry.
    v = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    rot.axis_angle_to_matrix(v)[2, 1].backward()
    torch.testing.assert_close(v.grad, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_nearest_rotation_matches_roma_procrustes(batch, dtype):
    count = math.prod(batch)
    g = generator(7)
    noisy = matrices(torch.float64)[:count] + 0.3 * torch.randn(count, 3, 3, generator=g, dtype=torch.float64)
    general = torch.randn(count, 3, 3, generator=g, dtype=torch.float64)  # reflections included
    for M in (noisy, general, matrices(torch.float64)[:count]):
        M = M.reshape(*batch, 3, 3).to(dtype)
        got = rot.nearest_rotation(M)
        assert_matches(got, roma.special_procrustes(M), dtype)
        torch.testing.assert_close(torch.linalg.det(got.double()), torch.ones(batch, dtype=torch.float64), atol=1e-5, rtol=0)
