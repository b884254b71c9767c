"""In-betweening: keyframes are met exactly and reached smoothly, not pasted onto one frame.

On a synthetic smooth dance (30 fps, joints moving a few cm per frame), correction spreading
meets every keyframe and keeps the per-frame joint displacement around it within 1.5× the
dance's own 99th percentile, while a hard paste jumps several times that. Soft inpainting
masks reduce to the boolean ones at weight 1, locked joints stay bit-exact, and the shipped
model reaches a real pose without a pop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dancegen.motion.codecs.smpl6d import joint_channels, root_channels, smpl6d_dim
from dancegen.motion.motion import Motion
from dancegen.sampling import (
    CLEAN,
    GaussianDiffusion,
    Inpainting,
    channel_mask,
    frame_mask,
    make_schedule,
)
from dancegen.sampling.editing import Keyframe, PoseConstraints, body_part_joints
from dancegen.sampling.inbetween import InbetweenConfig, falloff, pin_reach
from dancegen.skeleton import smpl24
from dancegen.skeleton.fk import skeleton_fk
from dancegen.skeleton.rotations import (
    axis_angle_to_quat,
    matrix_to_rot6d,
    quat_to_matrix,
)

FPS = 30.0
FRAMES = 180  # 6 s
SMOOTHNESS_BUDGET = 1.5  # × the 99th percentile of the dance's own per-frame displacement
WINDOW_SECONDS = 1.0  # "around a keyframe": ±1 s
POSITION_TOLERANCE_M = 0.01
ROTATION_TOLERANCE = 1e-9
PARTIAL = ("left_shoulder", "left_elbow")


# --- a smooth synthetic dance and keyframes from another one ---------------------------------


def smooth_dance(phase: float, frames: int = FRAMES) -> Motion:
    """Every joint swings 0.15 rad about its own axis at 1 Hz, the root sways and drifts: a
    dance whose joints move up to ~5 cm per frame, as real dance does at 30 fps."""
    skeleton = smpl24()
    axes = np.random.default_rng(0).normal(size=(skeleton.num_joints, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    seconds = np.arange(frames) / FPS
    angle = 0.15 * np.sin(2 * np.pi * seconds + phase)
    rotations = axis_angle_to_quat(torch.from_numpy(angle[:, None, None] * axes[None])).numpy()
    root = np.stack([0.2 * np.sin(0.5 * np.pi * seconds + phase), 0.9 + 0.03 * np.sin(2 * np.pi * seconds),
                     0.1 * seconds], axis=1)
    return Motion(skeleton, FPS, rotations, root)


def pose_keyframe(source: Motion, seconds: float, joints: list[int] | None = None, root: bool = True) -> Keyframe:
    """The source's pose at `seconds`: the listed joints (all by default) and its root position."""
    frame = int(round(seconds * source.fps))
    joints = range(source.num_joints) if joints is None else joints
    return Keyframe(seconds, {j: source.rotations[frame, j] for j in joints},
                    source.root_translation[frame] if root else None)


def step_lengths(motion: Motion) -> np.ndarray:
    """(T − 1, J) per-frame joint displacement, metres."""
    return np.linalg.norm(np.diff(motion.joint_positions(), axis=0), axis=-1)


def largest_step_near(motion: Motion, keyframes: list[Keyframe]) -> float:
    steps, radius = step_lengths(motion), int(round(WINDOW_SECONDS * motion.fps))
    frames = [int(round(k.time * motion.fps)) for k in keyframes]
    return max(steps[max(0, f - radius) : f + radius].max() for f in frames)


def budget(motion: Motion) -> float:
    return SMOOTHNESS_BUDGET * np.percentile(step_lengths(motion), 99)


def keyframe_position_error(motion: Motion, keyframe: Keyframe) -> float:
    """Largest joint distance (m) at the keyframe's frame between the motion and the pose it
    asks: the motion's pose with the keyframe's rotations (and root) put in, through FK."""
    frame = int(round(keyframe.time * motion.fps))
    asked_rotations, asked_root = motion.rotations[frame].copy(), motion.root_translation[frame].copy()
    for joint, quaternion in keyframe.rotations.items():
        asked_rotations[joint] = quaternion
    if keyframe.root is not None:
        asked_root = keyframe.root
    skeleton = motion.skeleton
    _, asked = skeleton_fk(skeleton, torch.from_numpy(asked_rotations), torch.from_numpy(asked_root))
    _, got = skeleton_fk(skeleton, torch.from_numpy(motion.rotations[frame]), torch.from_numpy(motion.root_translation[frame]))
    return float(np.linalg.norm((asked - got).numpy(), axis=-1).max())


def assert_keyframes_met(motion: Motion, keyframes: list[Keyframe]) -> None:
    for keyframe in keyframes:
        frame = int(round(keyframe.time * motion.fps))
        for joint, quaternion in keyframe.rotations.items():
            assert np.abs(motion.rotations[frame, joint] - quaternion).max() <= ROTATION_TOLERANCE
        assert keyframe_position_error(motion, keyframe) <= POSITION_TOLERANCE_M


def spread(keyframes: list[Keyframe], generated: Motion, **settings) -> Motion:
    constraints = PoseConstraints.from_keyframes(keyframes, generated.skeleton, generated.num_frames, FPS,
                                                 InbetweenConfig(**settings))
    return constraints.apply(generated)


@pytest.fixture(scope="module")
def generated() -> Motion:
    return smooth_dance(phase=0.0)


@pytest.fixture(scope="module")
def target() -> Motion:
    return smooth_dance(phase=2.0)  # the same dance a third of a beat later: other poses


# --- correction spreading ---------------------------------------------------------------------


def test_full_keyframes_are_met_and_reached_smoothly(generated, target):
    keyframes = [pose_keyframe(target, 2.0), pose_keyframe(target, 4.0)]
    edited = spread(keyframes, generated)
    assert_keyframes_met(edited, keyframes)
    assert largest_step_near(edited, keyframes) <= budget(generated)
    # What today's hard paste did: the pose for one frame, a jump several times the budget.
    pasted = spread(keyframes, generated, spread_seconds=0.0)
    assert_keyframes_met(pasted, keyframes)
    assert largest_step_near(pasted, keyframes) > 4 * budget(generated)


def test_two_close_keyframes_are_both_met(generated, target):
    keyframes = [pose_keyframe(target, 2.0), pose_keyframe(target, 2.2)]  # 6 frames apart
    edited = spread(keyframes, generated)
    assert_keyframes_met(edited, keyframes)
    assert largest_step_near(edited, keyframes) <= budget(generated)


def test_partial_keyframe_moves_only_its_joints(generated, target):
    skeleton = generated.skeleton
    joints = [skeleton.index(name) for name in PARTIAL]
    keyframes = [pose_keyframe(target, 3.0, joints, root=False)]
    edited = spread(keyframes, generated)
    assert_keyframes_met(edited, keyframes)
    others = sorted(set(range(skeleton.num_joints)) - set(joints))
    assert np.array_equal(edited.rotations[:, others], generated.rotations[:, others])
    assert np.array_equal(edited.root_translation, generated.root_translation)
    assert largest_step_near(edited, keyframes) <= budget(generated)
    # Frames the spread window does not reach are untouched too.
    far = int(round(InbetweenConfig().spread_seconds * FPS)) + 1
    assert np.array_equal(edited.rotations[: 90 - far], generated.rotations[: 90 - far])


def test_locked_joints_stay_bit_exact_beside_keyframes(generated, target):
    skeleton = generated.skeleton
    reference = smooth_dance(phase=1.0)
    locked = body_part_joints(skeleton, "lower_body")
    lock = PoseConstraints.from_reference(reference, locked, FRAMES)
    upper = sorted(set(range(skeleton.num_joints)) - set(locked))
    keyframes = [pose_keyframe(target, 2.0, upper, root=False)]
    pinned = PoseConstraints.from_keyframes(keyframes, skeleton, FRAMES, FPS)
    edited = lock.merged(pinned).apply(generated)
    assert np.array_equal(edited.rotations[:, locked], reference.rotations[:, locked])
    assert np.array_equal(edited.root_translation, reference.root_translation)
    assert_keyframes_met(edited, keyframes)
    # A lock alone is exactly the old hard paste.
    alone = lock.apply(generated)
    assert np.array_equal(alone.rotations, np.where(lock.rotation_mask[..., None], lock.rotations, generated.rotations))


def test_reach_weights_are_one_on_each_pin_and_cross_fade_between_close_pins():
    mask = np.zeros(40, dtype=bool)
    mask[[10, 16]] = True
    reach = pin_reach(mask, radius=12)
    values = np.zeros((40, 1))
    values[10], values[16] = 1.0, 2.0
    blend = reach.blend(values)[:, 0]
    assert reach.amount[10] == reach.amount[16] == 1.0 and blend[10] == 1.0 and blend[16] == 2.0
    assert np.diff(reach.amount[:11]).min() > 0 and (reach.amount[:10] < 1).all()  # fades in...
    assert reach.amount[28] == 0.0 and np.diff(reach.amount[16:29]).max() < 0  # ...and out over the radius
    assert blend[10:17] == pytest.approx(np.linspace(1.0, 2.0, 7), abs=0.06)  # close pins: near-linear cross-fade
    assert (blend[:10] == 1.0).all() and (blend[17:] == 2.0).all()  # alone, each pin is its own value
    assert falloff(np.array([0, 6, 12]), 12).tolist() == pytest.approx([1.0, 0.5, 0.0])


# --- soft inpainting masks --------------------------------------------------------------------


DIM = 5


def _denoiser(x, t):
    return 0.5 * torch.tanh(x) + 0.3 * x.mean(dim=1, keepdim=True)


def test_float_weights_of_one_are_the_boolean_mask_exactly():
    diffusion = GaussianDiffusion(make_schedule("cosine", 100))
    known = torch.randn(2, 30, DIM, generator=torch.Generator().manual_seed(0))
    mask = frame_mask(30, DIM, [0, 7, 29]) | channel_mask(30, DIM, [3])

    def run(mask):
        generator = torch.Generator().manual_seed(1)
        noise = torch.randn(known.shape, generator=generator)
        return diffusion.sample(_denoiser, noise, steps=10, eta=0.5, generator=generator,
                                constraints=[Inpainting(diffusion, known, mask)])

    assert torch.equal(run(mask), run(mask.float()))


def test_fractional_weights_blend_towards_the_known_motion():
    diffusion = GaussianDiffusion(make_schedule("cosine", 100))
    known, x = torch.full((1, 4, 2), 2.0), torch.zeros(1, 4, 2)
    weights = torch.tensor([0.0, 0.25, 1.0, 0.5])[:, None].expand(4, 2)
    blended = Inpainting(diffusion, known, weights)(x, CLEAN)
    assert blended[0, :, 0].tolist() == [0.0, 0.5, 2.0, 1.0]


def test_blend_features_extend_a_keyframe_over_its_neighbourhood(target):
    skeleton = target.skeleton
    elbow = skeleton.index("left_elbow")
    keyframe = pose_keyframe(target, 2.0, [elbow])
    inbetween = InbetweenConfig(sampling_radius_seconds=0.75)  # the neighbourhood fits the 4 s clip
    constraints = PoseConstraints.from_keyframes([keyframe], skeleton, 120, FPS, inbetween=inbetween)
    known, weights = constraints.blend_features(FPS)
    radius = constraints.inbetween.sampling_radius(FPS)
    assert weights.dtype == torch.float32 and weights.shape == known.shape == (120, smpl6d_dim(24))
    elbow_weights = weights[:, joint_channels(elbow)][:, 0]
    assert elbow_weights[60] == 1.0 and 0 < elbow_weights[60 + radius // 2] < 1
    assert elbow_weights[60 + radius] == 0 and elbow_weights[60 - radius] == 0
    assert torch.equal(weights[:, root_channels()][:, 0], torch.from_numpy(falloff(np.abs(np.arange(120) - 60), radius)).float())
    six_d = matrix_to_rot6d(quat_to_matrix(torch.from_numpy(keyframe.rotations[elbow]))).float()
    assert torch.allclose(known[60 - radius + 1 : 60 + radius, joint_channels(elbow)], six_d.expand(2 * radius - 1, 6))
    assert not weights[:, joint_channels(skeleton.index("head"))].any() and not weights[:, :4].any()
    # Locked joints pin every frame: their soft mask is the hard one.
    lock = PoseConstraints.from_reference(target, body_part_joints(skeleton, "lower_body"), 120)
    hard_known, hard_mask = lock.features()
    soft_known, soft_mask = lock.blend_features(FPS)
    assert torch.equal(soft_mask, hard_mask.float()) and torch.equal(soft_known[hard_mask], hard_known[hard_mask])


# --- the shipped model ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_shipped_model_reaches_keyframes_without_a_pop(tmp_path):
    from dancegen import load_pipeline
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(bpm=120, seconds=6.0, sample_rate=22050)
    song = write_wav(tmp_path / "song.wav", samples, 22050)
    pipeline = load_pipeline("gcdance-small")
    options = dict(seconds=6, seed=0, steps=4)
    free = pipeline(song, **options)
    other = pipeline(song, **{**options, "seed": 100})  # a real pose the free dance is not in
    joints = [free.skeleton.index(name) for name in PARTIAL]
    for keyframes in ([pose_keyframe(other, 2.0), pose_keyframe(other, 4.0)],
                      [pose_keyframe(other, 2.0, joints, root=False)]):
        edited = pipeline(song, **options, keyframes=keyframes)
        assert_keyframes_met(edited, keyframes)
        assert largest_step_near(edited, keyframes) <= budget(free)


def test_a_full_pose_facing_elsewhere_is_turned_into_not_popped_into(tmp_path):
    """The pelvis of a real pose from another dance, its heading 150° from where the dance
    faces: at a 0.75 s sampling radius the body jumped half a second before the pin (4.2× the
    real p99 joint speed on a kit song, benchmarks/bench_quality.py); now it turns into it."""
    from dancegen import load_pipeline
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern
    from dancegen.skeleton.rotations import quat_multiply

    samples, _ = drum_pattern(bpm=128, seconds=12.0, sample_rate=22050)
    song = write_wav(tmp_path / "song.wav", samples, 22050)
    pipeline = load_pipeline("gcdance-small")
    options = dict(seconds=12, seed=3)
    free = pipeline(song, **options)
    pose = pose_keyframe(pipeline(song, **{**options, "seed": 101}), 6.0, root=False)
    half = np.radians(150.0) / 2
    turn = torch.tensor([0.0, np.sin(half), 0.0, np.cos(half)], dtype=torch.float64)
    pelvis = torch.from_numpy(pose.rotations[0])
    pose.rotations[0] = quat_multiply(turn, pelvis).numpy()
    edited = pipeline(song, **options, keyframes=[pose])
    assert_keyframes_met(edited, [pose])
    assert largest_step_near(edited, [pose]) <= budget(free)
