"""Dance-quality diagnostics on synthetic motion whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dancegen.metrics.beat_align import beat_align_score
from dancegen.metrics.dance_quality import (
    FOOT_JOINTS,
    average_joint_speed,
    bas_vs_shifted,
    contact_level,
    displacement_percentile,
    dominant_period,
    floor_drift,
    floor_penetration,
    fold_tempo,
    jerk_by_phase,
    keyframe_pop,
    lowest_foot_height,
    octave_error,
    pelvis_flips,
    rotation_steps_deg,
    seam_jerk_ratio,
    shifted_beats,
    tempo_correlation,
    window_seam_frames,
)
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import smpl24

FPS = 30.0


def standing(frames: int) -> np.ndarray:
    """The SMPL rest pose repeated, lowest toe exactly on the floor (y = 0)."""
    rest = smpl24().rest_positions()
    rest[:, 1] -= rest[list(FOOT_JOINTS), 1].min()
    return np.repeat(rest[None], frames, axis=0)


def circling(frames: int, radius: float = 0.5, period_s: float = 2.0, fps: float = FPS) -> np.ndarray:
    """The standing figure carried round a horizontal circle at constant speed: its jerk has
    the same magnitude on every frame."""
    angle = 2 * np.pi * np.arange(frames) / (period_s * fps)
    offset = radius * np.stack([np.cos(angle), np.zeros(frames), np.sin(angle)], axis=-1)
    return standing(frames) + offset[:, None, :]


def yaw_quaternions(degrees: np.ndarray) -> np.ndarray:
    rotvec = np.zeros((len(degrees), 3))
    rotvec[:, 1] = np.radians(degrees)
    return axis_angle_to_quat(torch.from_numpy(rotvec)).numpy()


# --- seams -----------------------------------------------------------------------------


def test_window_seams_of_gcdance_plan():
    # 30 s at 30 fps, 4 s windows every 2 s: ramps start and end on the multiples of 60.
    starts = list(range(0, 781, 60))
    assert window_seam_frames(starts, 60, 900).tolist() == list(range(60, 900, 60))
    # A shorter overlap: ramp start s and ramp end s + 30.
    assert window_seam_frames([0, 90, 180], 30, 300).tolist() == [90, 120, 180, 210]


def test_seam_jerk_ratio_smooth_is_one_and_glitch_is_large():
    positions = circling(600)
    seams = list(range(60, 600, 60))
    assert seam_jerk_ratio(positions, FPS, seams) == pytest.approx(1.0, abs=1e-6)
    # A 3 cm jump of the whole figure at every seam (windows that do not meet).
    glitched = positions.copy()
    for seam in seams:
        glitched[seam:, :, 0] += 0.03
    assert seam_jerk_ratio(glitched, FPS, seams) > 2.0
    # The jump is at the seams: measured on frames half-way between them, nothing shows.
    assert seam_jerk_ratio(glitched, FPS, [s + 30 for s in seams[:-1]]) < 0.5


def test_seam_jerk_ratio_radius_widens_the_seam():
    positions = circling(300)
    positions[152:, :, 0] += 0.05  # the kink lands two frames after the nominal seam at 150
    assert seam_jerk_ratio(positions, FPS, [150], radius=0) < seam_jerk_ratio(positions, FPS, [150], radius=2)
    with pytest.raises(ValueError, match="outside"):
        seam_jerk_ratio(positions, FPS, [0])


def test_jerk_by_phase_peaks_at_the_seam():
    positions = circling(600)
    for seam in range(60, 600, 60):
        positions[seam:, :, 2] += 0.03
    profile = jerk_by_phase(positions, FPS, 60)
    assert profile.shape == (60,)
    assert profile[0] > 10 and np.median(profile) == pytest.approx(1.0)


# --- pelvis flips ----------------------------------------------------------------------


def test_pelvis_flips_finds_an_inserted_flip_at_its_frame():
    yaw = 2.0 * np.arange(120)  # a steady 2-degree-per-frame turn: never a flip
    assert len(pelvis_flips(yaw_quaternions(yaw))) == 0
    stepped = yaw.copy()
    stepped[50:] += 90.0  # turns 90 degrees more on frame 50 and stays turned
    assert pelvis_flips(yaw_quaternions(stepped)).tolist() == [50]
    single = yaw.copy()
    single[70] += 90.0  # one frame out and back
    assert pelvis_flips(yaw_quaternions(single)).tolist() == [70, 71]
    assert rotation_steps_deg(yaw_quaternions(stepped))[49] == pytest.approx(92.0)


def test_pelvis_flips_ignore_quaternion_sign_and_respect_threshold():
    quats = yaw_quaternions(np.full(40, 10.0) * np.arange(40))  # 10 degrees per frame
    quats[::2] *= -1  # q and -q: the same orientation
    assert len(pelvis_flips(quats)) == 0
    assert len(pelvis_flips(quats, threshold_deg=5.0)) == 39


# --- keyframe pops ---------------------------------------------------------------------


def test_keyframe_pop_and_real_percentile():
    positions = standing(90)
    positions[:, :, 0] += 1.0 * np.arange(90)[:, None] / FPS  # walking at 1 m/s
    assert displacement_percentile(positions, FPS) == pytest.approx(1.0)
    assert keyframe_pop(positions, [45], FPS) == pytest.approx([1.0])
    popped = positions.copy()
    popped[45, 20] += [0.3, 0.0, 0.0]  # the left wrist jumps 30 cm for one frame
    # 30 cm in one 1/30 s frame on top of the walk: 9 m/s (+ 1 m/s walking, the other way out).
    assert keyframe_pop(popped, [45, 85], FPS, window_s=0.5) == pytest.approx([10.0, 1.0])
    # Within +-15 frames: the step into the pop (frame 44 -> 45) touches frame 60's window,
    # the step out of it (45 -> 46) frame 61's, neither frame 62's.
    assert keyframe_pop(popped, [60, 61, 62], FPS, window_s=0.5) == pytest.approx([10.0, 8.0, 1.0])


# --- the floor -------------------------------------------------------------------------


def test_floor_penetration_reads_the_fraction_of_frames_below():
    positions = standing(100)
    assert lowest_foot_height(positions).min() == pytest.approx(0.0)
    assert floor_penetration(positions) == 0.0
    positions[::10, 10, 1] -= 0.03  # left toe 3 cm under the floor on every 10th frame
    assert floor_penetration(positions) == pytest.approx(0.10)
    assert floor_penetration(positions, depth=0.05) == 0.0
    assert floor_penetration(positions, floor=-0.025, depth=0.0) == pytest.approx(0.10)


def test_floor_drift_of_a_level_change_and_a_flat_floor():
    frames = 300
    positions = standing(frames)
    steps = 0.15 * np.clip(np.sin(2 * np.pi * np.arange(frames) / 20), 0, None)
    positions[:, [7, 10], 1] += steps[:, None]  # the left foot steps; the right stays planted
    assert floor_drift(positions, FPS) == pytest.approx(0.0, abs=1e-9)
    sunk = positions.copy()
    sunk[150:, :, 1] += 0.10  # from 5 s on, the figure stands 10 cm higher
    assert floor_drift(sunk, FPS) == pytest.approx(0.10)
    assert contact_level(sunk, FPS).shape == (frames - 60 + 1,)
    # With contact labels, the level is the planted frames' median; a floating clip with no
    # planted frame in a window leaves that window out.
    contacts = np.ones((frames, 4))
    contacts[100:130] = 0.0
    assert floor_drift(sunk, FPS, contacts=contacts) == pytest.approx(0.10)


# --- tempo -----------------------------------------------------------------------------


def pulsing(frames: int, speed_period_s: float, fps: float = FPS) -> np.ndarray:
    """The figure moves along x with a speed that varies sinusoidally with the given period."""
    t = np.arange(frames) / fps
    speed = 1.0 + 0.8 * np.sin(2 * np.pi * t / speed_period_s)
    x = np.cumsum(speed) / fps
    positions = standing(frames)
    positions[:, :, 0] += x[:, None]
    return positions


@pytest.mark.parametrize("period", [0.35, 0.5, 0.8, 1.2])
def test_dominant_period_of_a_sinusoidal_kinetic_velocity(period):
    assert dominant_period(pulsing(900, period), FPS) == pytest.approx(period, rel=0.02)


def test_dominant_period_ignores_slow_swells_of_energy():
    # A faint 0.5 s pulse on top of a strong 12 s swell of energy (slow phrases, then fast
    # ones): without detrending the swell's slope drags the peak to about 0.42 s.
    t = np.arange(900) / FPS
    speed = 0.5 + 0.5 * np.sin(2 * np.pi * t / 12.0) + 0.05 * np.sin(2 * np.pi * t / 0.5)
    positions = standing(900)
    positions[:, :, 0] += (np.cumsum(speed) / FPS)[:, None]
    assert dominant_period(positions, FPS) == pytest.approx(0.5, rel=0.02)


def test_dominant_period_of_a_swing_is_half_its_period():
    # A limb swinging back and forth with period 1 s stops twice per swing.
    t = np.arange(600) / FPS
    positions = standing(600)
    positions[:, 20:24, 2] += 0.3 * np.sin(2 * np.pi * t)[:, None]
    assert dominant_period(positions, FPS) == pytest.approx(0.5, rel=0.02)
    assert np.isnan(dominant_period(standing(100), FPS))  # still: no rhythm


def test_fold_tempo_and_octave_error():
    assert fold_tempo(200.0, 120.0) == pytest.approx(100.0)
    assert fold_tempo(55.0, 120.0) == pytest.approx(110.0)
    assert octave_error(120.0, 60 / 240.0) == pytest.approx(0.0)  # double tempo
    assert octave_error(120.0, 60 / 60.0) == pytest.approx(0.0)  # half tempo
    assert abs(octave_error(100.0, 60 / (100.0 * 2**0.5))) == pytest.approx(0.5)


def test_tempo_correlation_is_octave_insensitive():
    music = np.array([90.0, 110.0, 130.0, 150.0, 170.0])
    # Dances at the music's tempo, double or half of it: perfectly following.
    periods = 60.0 / (music * np.array([1.0, 2.0, 0.5, 1.0, 2.0]))
    assert tempo_correlation(music, periods) == pytest.approx(1.0)
    # The same tempi in reverse order: the dance slows as the music speeds up.
    assert tempo_correlation(music, periods[::-1]) < -0.9
    assert np.isnan(tempo_correlation(music, np.full(5, 0.5)))  # one dance tempo: undefined
    assert np.isnan(tempo_correlation(music[:2], periods[:2]))  # too few songs


# --- beats -----------------------------------------------------------------------------


def test_bas_vs_shifted_separates_a_beat_following_dance():
    bpm, frames = 120.0, 600
    beat_frames = int(FPS * 60 / bpm)  # 15
    speed = np.abs(np.sin(np.pi * np.arange(frames) / beat_frames)) + 1e-3  # stops on every beat
    positions = standing(frames + 1)
    positions[1:, :, 0] += (np.cumsum(speed) / FPS)[:, None]
    beats = np.arange(0, frames / FPS, 60 / bpm)
    control = bas_vs_shifted(positions, beats, FPS)
    assert control.bas == pytest.approx(beat_align_score(positions, beats, FPS))
    assert control.bas > 0.95
    assert control.bas_shifted < 0.01
    assert control.margin == pytest.approx(control.bas - control.bas_shifted)
    assert shifted_beats(np.array([0.0, 0.5, 1.5])).tolist() == [0.25, 1.0, 2.0]


# --- speed -----------------------------------------------------------------------------


def test_average_joint_speed_of_a_circle():
    # 0.5 m radius once round in 2 s: pi / 2 m/s (the chord of a 6-degree step is 0.05 % short).
    assert average_joint_speed(circling(240), FPS) == pytest.approx(np.pi / 2, rel=1e-3)
    assert average_joint_speed(standing(10), FPS) == 0.0
