import numpy as np

from dancegen.skeleton.axes import (
    y_up_to_z_up,
    y_up_to_z_up_rotations,
    z_up_to_y_up,
    z_up_to_y_up_rotations,
)


def test_z_up_becomes_y_up_and_back():
    up_in_z = np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(z_up_to_y_up(up_in_z), [0.0, 1.0, 0.0])
    # A forward vector (+y in z-up) points along -z in y-up (right-handed both ways).
    np.testing.assert_allclose(z_up_to_y_up(np.array([0.0, 1.0, 0.0])), [0.0, 0.0, -1.0])
    points = np.random.default_rng(0).normal(size=(10, 3))
    np.testing.assert_allclose(y_up_to_z_up(z_up_to_y_up(points)), points)


def test_rotation_conversion_commutes_with_points():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    R = q * np.sign(np.linalg.det(q))
    v = rng.normal(size=3)
    np.testing.assert_allclose(z_up_to_y_up_rotations(R) @ z_up_to_y_up(v), z_up_to_y_up(R @ v))
    np.testing.assert_allclose(y_up_to_z_up_rotations(z_up_to_y_up_rotations(R)), R)
