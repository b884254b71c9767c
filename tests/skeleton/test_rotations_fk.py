import math

import numpy as np
import pytest
import torch

from dancegen.skeleton import rotations as rot
from dancegen.skeleton.fk import forward_kinematics, global_to_local_rotations, skeleton_fk
from dancegen.skeleton.smpl import SMPL24_JOINT_NAMES, smpl24
from dancegen.skeleton.tree import Skeleton


def random_matrices(count: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return rot.axis_angle_to_matrix(torch.randn(count, 3, generator=generator, dtype=dtype))


def rz(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def rx(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def ry(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


AXIS = {"X": rx, "Y": ry, "Z": rz}


@pytest.mark.parametrize("order", rot.EULER_ORDERS)
def test_euler_is_intrinsic_in_the_named_order(order):
    angles = [0.3, -1.1, 2.0]
    expected = AXIS[order[0]](angles[0]) @ AXIS[order[1]](angles[1]) @ AXIS[order[2]](angles[2])
    got = rot.euler_to_matrix(torch.tensor(angles, dtype=torch.float64), order).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("order", rot.EULER_ORDERS)
def test_euler_round_trip_every_order(order):
    R = random_matrices(200, seed=1)
    back = rot.euler_to_matrix(rot.matrix_to_euler(R, order), order)
    torch.testing.assert_close(back, R, atol=1e-9, rtol=0)
    degrees = rot.matrix_to_euler(R, order, degrees=True)
    torch.testing.assert_close(rot.euler_to_matrix(degrees, order, degrees=True), R, atol=1e-9, rtol=0)


def test_bad_euler_order_is_rejected():
    with pytest.raises(ValueError, match="XYX"):
        rot.euler_to_matrix(torch.zeros(3), "XYX")


@pytest.mark.parametrize(
    "forward, backward",
    [
        (rot.matrix_to_quat, rot.quat_to_matrix),
        (rot.matrix_to_axis_angle, rot.axis_angle_to_matrix),
        (rot.matrix_to_expmap, rot.expmap_to_matrix),
        (rot.matrix_to_rot6d, rot.rot6d_to_matrix),
    ],
)
def test_matrix_round_trips(forward, backward):
    R = random_matrices(500, seed=2)
    torch.testing.assert_close(backward(forward(R)), R, atol=1e-9, rtol=0)


def test_rot6d_uses_first_two_rows_like_pytorch3d():
    R = random_matrices(4, seed=3)
    d6 = rot.matrix_to_rot6d(R)
    torch.testing.assert_close(d6[:, :3], R[:, 0, :])
    torch.testing.assert_close(d6[:, 3:], R[:, 1, :])
    # Any 6 numbers decode to a proper rotation.
    M = rot.rot6d_to_matrix(torch.randn(10, 6, dtype=torch.float64))
    torch.testing.assert_close(M @ M.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(10, 3, 3))
    torch.testing.assert_close(torch.linalg.det(M), torch.ones(10, dtype=torch.float64))


def test_quaternion_layout_and_wxyz_conversion():
    # 90 degrees about +Z: (x, y, z, w) = (0, 0, sin 45, cos 45).
    q = rot.matrix_to_quat(torch.tensor(rz(math.pi / 2)))
    torch.testing.assert_close(q.abs(), torch.tensor([0, 0, math.sqrt(0.5), math.sqrt(0.5)], dtype=torch.float64))
    wxyz = rot.quat_xyzw_to_wxyz(q)
    torch.testing.assert_close(rot.quat_wxyz_to_xyzw(wxyz), q)
    assert wxyz[0] == q[3]


def test_slerp_halfway_and_endpoints():
    q0 = rot.axis_angle_to_quat(torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64))
    q1 = rot.axis_angle_to_quat(torch.tensor([0.0, 1.2, 0.0], dtype=torch.float64))
    half = rot.quat_slerp(q0, q1, torch.tensor(0.5, dtype=torch.float64))
    torch.testing.assert_close(rot.quat_to_axis_angle(half), torch.tensor([0.0, 0.6, 0.0], dtype=torch.float64))
    torch.testing.assert_close(rot.quat_slerp(q0, q1, torch.tensor(0.0, dtype=torch.float64)), q0)
    torch.testing.assert_close(rot.quat_slerp(q0, q1, torch.tensor(1.0, dtype=torch.float64)), q1)


def test_rotation_between_maps_directions():
    a = torch.randn(100, 3, dtype=torch.float64)
    b = torch.randn(100, 3, dtype=torch.float64)
    R = rot.rotation_between(a, b)
    mapped = (R @ torch.nn.functional.normalize(a, dim=-1).unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(mapped, torch.nn.functional.normalize(b, dim=-1), atol=1e-9, rtol=0)
    # Opposite directions still give a valid half-turn.
    R = rot.rotation_between(torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([[0.0, -1.0, 0.0]]))
    torch.testing.assert_close(R[0] @ torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, -1.0, 0.0]), atol=1e-6, rtol=0)


def chain_skeleton() -> Skeleton:
    # root -> a (1 m up) -> b (0.5 m along x); c branches off the root 0.2 m along -x.
    return Skeleton(
        "chain",
        ("root", "a", "b", "c"),
        (-1, 0, 1, 0),
        np.array([[0, 0, 0], [0, 1.0, 0], [0.5, 0, 0], [-0.2, 0, 0]]),
    )


def test_fk_matches_a_hand_computed_chain():
    skeleton = chain_skeleton()
    local = np.stack([rz(math.pi / 2), rx(0.0), ry(math.pi / 2), np.eye(3)])
    root = np.array([1.0, 2.0, 3.0])
    global_rot, pos = skeleton_fk(skeleton, torch.tensor(local), torch.tensor(root))
    # Root turned 90 deg about z: "up" (0,1,0) becomes (-1,0,0).
    expected_a = root + np.array([-1.0, 0, 0])
    # b's offset (0.5,0,0) is rotated only by a's global rotation (= root's): becomes (0,0.5,0).
    expected_b = expected_a + np.array([0, 0.5, 0])
    expected_c = root + rz(math.pi / 2) @ np.array([-0.2, 0, 0])
    np.testing.assert_allclose(pos.numpy(), np.stack([root, expected_a, expected_b, expected_c]), atol=1e-12)
    np.testing.assert_allclose(global_rot[2].numpy(), rz(math.pi / 2) @ ry(math.pi / 2), atol=1e-12)


def test_fk_is_batched_differentiable_and_keeps_dtype():
    skeleton = smpl24()
    for dtype in (torch.float32, torch.float64):
        local = random_matrices(2 * 5 * 24, seed=4, dtype=dtype).reshape(2, 5, 24, 3, 3).requires_grad_(True)
        root = torch.zeros(2, 5, 3, dtype=dtype, requires_grad=True)
        global_rot, pos = skeleton_fk(skeleton, local, root)
        assert pos.shape == (2, 5, 24, 3) and global_rot.shape == (2, 5, 24, 3, 3)
        assert pos.dtype == dtype
        pos.sum().backward()
        assert local.grad is not None and torch.isfinite(local.grad).all() and local.grad.abs().sum() > 0
        assert torch.allclose(root.grad, torch.full_like(root, 24.0))


def test_fk_accepts_quaternions_and_inverts_to_local():
    skeleton = smpl24()
    local = random_matrices(24 * 3, seed=5).reshape(3, 24, 3, 3)
    g1, p1 = skeleton_fk(skeleton, local, torch.zeros(3, 3, dtype=torch.float64))
    g2, p2 = skeleton_fk(skeleton, rot.matrix_to_quat(local), torch.zeros(3, 3, dtype=torch.float64))
    torch.testing.assert_close(p1, p2)
    torch.testing.assert_close(global_to_local_rotations(g1, skeleton.parents), local, atol=1e-10, rtol=0)


def test_fk_on_cuda_when_available():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    local = random_matrices(24, seed=6, dtype=torch.float32).cuda()
    offsets = torch.from_numpy(smpl24().offsets)
    _, pos = forward_kinematics(local, torch.zeros(3, device="cuda"), offsets, smpl24().parents)
    assert pos.device.type == "cuda"


def test_smpl24_rest_pose_is_a_plausible_t_pose():
    skeleton = smpl24()
    rest = skeleton.rest_positions()
    assert skeleton.num_joints == 24 and SMPL24_JOINT_NAMES[15] == "head"
    # Head above pelvis, ankles below, wrists spread sideways (T-pose), left on +x.
    assert rest[skeleton.index("head"), 1] > 0.45
    assert rest[skeleton.index("left_ankle"), 1] < -0.8
    assert rest[skeleton.index("left_wrist"), 0] > 0.6 > -0.6 > rest[skeleton.index("right_wrist"), 0]
    height = rest[:, 1].max() - rest[:, 1].min()
    assert 1.3 < height < 1.7  # joint centres: head joint to toe joints


def test_skeleton_validation_and_queries():
    with pytest.raises(ValueError, match="parents must come before children"):
        Skeleton("bad", ("a", "b"), (-1, 2), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not unique"):
        Skeleton("bad", ("a", "a"), (-1, 0), np.zeros((2, 3)))
    skeleton = smpl24()
    assert skeleton.descendants(skeleton.index("left_collar")) == skeleton.indices(
        ["left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand"]
    )
    assert skeleton.chain_to_root(skeleton.index("head"))[-1] == 0
    with pytest.raises(KeyError, match="nose"):
        skeleton.index("nose")
    restored = Skeleton.from_arrays(skeleton.to_arrays())
    assert restored.same_topology(skeleton) and np.array_equal(restored.offsets, skeleton.offsets)
