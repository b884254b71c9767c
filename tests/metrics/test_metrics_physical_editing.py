"""PFC, PBC, foot skating, constraint distance and seam smoothness on motions with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from dancegen.metrics.editing import constraint_distance, jerk, seam_smoothness
from dancegen.metrics.physical import foot_skating_ratio, ground, pbc, pfc
from dancegen.skeleton.smpl import smpl24

FEET = [7, 8, 10, 11]


def standing(frames: int) -> np.ndarray:
    """The SMPL rest pose repeated, lower toe on the floor."""
    rest = smpl24().rest_positions()
    rest[:, 1] -= rest[[10, 11], 1].min()
    return np.repeat(rest[None], frames, axis=0)


def accelerating(frames: int, fps: float, acceleration=(1.0, 0.0, 0.0)) -> np.ndarray:
    """Every joint moves together with constant acceleration (m/s^2) from rest."""
    t = np.arange(frames) / fps
    return standing(frames) + 0.5 * t[:, None, None] ** 2 * np.array(acceleration)


@pytest.mark.parametrize("fps", [30.0, 60.0])
def test_pfc_closed_form_and_frame_rate(fps):
    # Root accelerating sideways (normalised acceleration 1) while both feet slide 1 cm per
    # 30-fps frame: PFC = 1e4 * 1 * 0.01 * 0.01 = 1 at any frame rate.
    frames = int(3 * fps)
    t = np.arange(frames) / fps
    positions = standing(frames)
    positions[:, 0, 0] += 0.5 * t**2
    positions[:, FEET, 2] += 0.3 * t[:, None]
    assert pfc(positions, fps) == pytest.approx(1.0, rel=1e-6)


def test_pfc_is_zero_with_planted_feet_or_falling_root():
    positions = standing(60)
    positions[:, 0, 0] += 0.5 * (np.arange(60) / 30.0) ** 2  # root accelerates, feet stay
    assert pfc(positions, 30.0) == 0.0
    falling = accelerating(60, 30.0, (0.0, -9.81, 0.0))  # free fall: up component clamped to 0
    assert pfc(falling, 30.0) == 0.0


def test_pbc_closed_form():
    # All joints share one constant acceleration: every normalised acceleration is 1 and every
    # step is the same d(t) (in 30-fps frames), so PBC = 1e4 * mean(0.12 d - d^2).
    fps = 30.0
    positions = accelerating(90, fps)
    d = np.diff(positions[:, 0, 0])[1:]
    assert pbc(positions, fps) == pytest.approx(1e4 * np.mean(0.12 * d - d**2), rel=1e-9)


def test_foot_skating_ratio():
    planted = standing(60)
    assert foot_skating_ratio(planted, 30.0) == 0.0
    sliding = standing(60)
    sliding[:, FEET, 0] += 0.02 * np.arange(60)[:, None]  # 2 cm per frame on the floor
    # Every frame but the last (whose step is 0) slides.
    assert foot_skating_ratio(sliding, 30.0) == pytest.approx(59 / 60)
    lifted = standing(60)
    lifted[:, FEET, 1] += 0.2
    lifted[0, FEET, 1] -= 0.2  # grounding uses the first frame only
    assert foot_skating_ratio(lifted, 30.0) == pytest.approx(0.0)


def test_foot_skating_is_frame_rate_aware():
    t60 = np.arange(120) / 60.0
    slow_slide = standing(120)
    slow_slide[:, FEET, 0] += 0.45 * t60[:, None]  # 1.5 cm per 30-fps frame, 0.75 cm per 60-fps frame
    assert foot_skating_ratio(slow_slide, 60.0) == pytest.approx(119 / 120)
    assert foot_skating_ratio(slow_slide[::2], 30.0) == pytest.approx(59 / 60)


def test_lodge_slide_test_misses_diagonal_slides():
    diagonal = standing(40)
    step = np.arange(40)[:, None] * 0.015
    diagonal[:, FEET, 0] += step
    diagonal[:, FEET, 2] -= step  # |mean(dx, dz)| = 0 but |d_xz| = 2.1 cm
    assert foot_skating_ratio(diagonal, 30.0, reference_bugs=True) == 0.0
    assert foot_skating_ratio(diagonal, 30.0) == pytest.approx(39 / 40)


def test_grounding_uses_the_first_frame_toes():
    raised = standing(5) + np.array([0.0, 1.0, 0.0])
    assert ground(raised)[0, [10, 11], 1].mean() == pytest.approx(0.0, abs=1e-12)  # level toes: their mean
    tiptoe = raised.copy()
    tiptoe[:, 11, 1] += 0.1  # toes 10 cm apart in height: the lower one touches
    np.testing.assert_allclose(ground(tiptoe)[:, 10, 1], 0.0, atol=1e-12)


def test_constraint_distance():
    positions = np.zeros((10, 24, 3))
    targets = np.full((10, 24, 3), np.nan)
    targets[3, 20] = (0.1, 0.0, 0.0)
    targets[7, 21] = (0.0, 0.3, 0.4)
    assert constraint_distance(positions, targets) == pytest.approx((0.1 + 0.5) / 2)
    mask = np.zeros((10, 24), dtype=bool)
    mask[3, 20] = True
    assert constraint_distance(positions, np.nan_to_num(targets), mask) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no joint is constrained"):
        constraint_distance(positions, np.full((10, 24, 3), np.nan))


def test_jerk_of_a_cubic_is_its_third_derivative():
    fps = 30.0
    t = np.arange(20) / fps
    positions = np.zeros((20, 2, 3))
    positions[..., 1] = (2.0 * t**3 / 6)[:, None]  # jerk 2 m/s^3
    np.testing.assert_allclose(jerk(positions, fps), 2.0, rtol=1e-6)


def test_seam_smoothness_flags_jumps_between_segments():
    fps = 30.0
    t = np.arange(180) / fps
    circle = np.zeros((180, 24, 3))
    circle[..., 0] = np.cos(2 * t)[:, None]
    circle[..., 2] = np.sin(2 * t)[:, None]  # uniform circular motion: constant jerk
    assert seam_smoothness(circle, fps, [60, 120]) == pytest.approx(1.0, rel=1e-6)
    stitched = circle.copy()
    stitched[60:] += np.array([0.05, 0.0, 0.0])  # a 5 cm jump where the second segment starts
    assert seam_smoothness(stitched, fps, [60, 120]) > 10.0
    with pytest.raises(ValueError, match="outside"):
        seam_smoothness(circle, fps, [500])
