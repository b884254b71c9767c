"""Inpainting keeps the known region exact; long-form output has the song's length and
neighbouring windows agree on their overlap."""

from __future__ import annotations

import pytest
import torch

from dancegen.errors import ArgumentError
from dancegen.sampling import (
    CLEAN,
    GaussianDiffusion,
    Inpainting,
    WindowPlan,
    channel_mask,
    frame_mask,
    make_schedule,
    sample_sequence,
    split_windows,
    stitch,
    window_overlap,
)

DIM = 5


def _mixing_denoiser(x, t, conditions, drop):
    """Context-dependent x0 guess: each frame mixes with the window mean and the music."""
    music = conditions["music"]
    return 0.5 * torch.tanh(x) + 0.3 * x.mean(dim=1, keepdim=True) + 0.2 * music[..., :DIM]


def _framewise_denoiser(x, t, conditions, drop):
    """Each frame's guess depends only on that frame's noisy value and music."""
    return 0.7 * torch.tanh(x) + 0.3 * conditions["music"][..., :DIM]


def test_inpainting_keeps_known_frames_and_channels_exact():
    diffusion = GaussianDiffusion(make_schedule("cosine", 100))
    generator = torch.Generator().manual_seed(0)
    known = torch.randn(2, 30, DIM, generator=generator)
    mask = frame_mask(30, DIM, [0, 1, 2, 29]) | channel_mask(30, DIM, [3])
    music = torch.randn(2, 30, DIM, generator=generator)

    def model_fn(x, t):
        return _mixing_denoiser(x, t, {"music": music}, {})

    noise = torch.randn(known.shape, generator=generator)
    result = diffusion.sample(
        model_fn, noise, steps=20, eta=0.5, generator=generator, constraints=[Inpainting(diffusion, known, mask)]
    )
    full_mask = mask.expand_as(known)
    assert torch.equal(result[full_mask], known[full_mask])
    free = ~full_mask
    assert (result[free] - known[free]).abs().mean() > 0.1  # the rest was generated, not copied


def test_inpainting_renoises_the_known_region_to_the_current_step():
    diffusion = GaussianDiffusion(make_schedule("cosine", 100))
    known = torch.full((1, 4, 2), 2.0)
    mask = frame_mask(4, 2, [1])
    constraint = Inpainting(diffusion, known, mask)
    x = torch.zeros(1, 4, 2)
    at_clean = constraint(x, CLEAN)
    assert torch.equal(at_clean[0, 1], known[0, 1]) and torch.equal(at_clean[0, [0, 2, 3]], x[0, [0, 2, 3]])
    noisy = constraint(x, 50, torch.Generator().manual_seed(0))
    expected = diffusion.noise_to(known, 50, torch.Generator().manual_seed(0))
    assert torch.equal(noisy[0, 1], expected[0, 1])


@pytest.mark.parametrize(
    "frames,windows,padded", [(1, 1, 120), (120, 1, 120), (121, 2, 180), (900, 14, 900), (901, 15, 960)]
)
def test_window_plan_covers_the_song(frames, windows, padded):
    plan = WindowPlan.from_seconds(frames, fps=30, window_seconds=4.0, overlap_seconds=2.0)
    assert (plan.window, plan.overlap, plan.stride) == (120, 60, 60)
    assert plan.num_windows == windows and plan.padded_frames == padded
    assert plan.padded_frames >= frames and plan.starts[-1] + plan.window == plan.padded_frames


def test_window_plan_rejects_overlap_beyond_half_a_window():
    with pytest.raises(ArgumentError, match="overlap"):
        WindowPlan(100, window=40, overlap=25)


def test_split_then_stitch_is_identity():
    plan = WindowPlan(257, window=40, overlap=15)
    sequence = torch.randn(257, 3, generator=torch.Generator().manual_seed(1))
    windows = split_windows(sequence, plan)
    assert windows.shape == (plan.num_windows, 40, 3)
    assert torch.allclose(stitch(windows, plan), sequence, atol=1e-6)


def test_stitch_crossfades_linearly():
    plan = WindowPlan(6, window=4, overlap=2)
    windows = torch.stack([torch.zeros(4, 1), torch.ones(4, 1)])
    assert stitch(windows, plan).flatten().tolist() == pytest.approx([0, 0, 0, 1, 1, 1])
    plan = WindowPlan(7, window=5, overlap=2)
    windows = torch.stack([torch.zeros(5, 1), torch.ones(5, 1)])
    assert stitch(windows, plan).flatten().tolist()[:5] == pytest.approx([0, 0, 0, 0, 1])


@pytest.mark.parametrize("frames", [7, 64, 65, 131])
def test_long_form_output_has_the_song_length(frames):
    diffusion = GaussianDiffusion(make_schedule("cosine", 50))
    plan = WindowPlan(frames, window=32, overlap=16)
    music = torch.randn(frames, 8, generator=torch.Generator().manual_seed(frames))
    result = sample_sequence(
        diffusion,
        _mixing_denoiser,
        plan=plan,
        dim=DIM,
        frame_conditions={"music": music},
        sequence_conditions={},
        order=("music",),
        steps=5,
        generator=torch.Generator().manual_seed(0),
    )
    assert result.shape == (frames, DIM) and torch.isfinite(result).all()


def test_adjacent_windows_agree_on_their_overlap():
    diffusion = GaussianDiffusion(make_schedule("cosine", 50))
    plan = WindowPlan(100, window=32, overlap=16)
    music = split_windows(torch.randn(100, DIM, generator=torch.Generator().manual_seed(3)), plan)

    def sample(denoiser, constraints):
        def model_fn(x, t):
            return denoiser(x, t, {"music": music}, {})

        noise = torch.randn((plan.num_windows, 32, DIM), generator=torch.Generator().manual_seed(4))
        return diffusion.sample(model_fn, noise, steps=10, constraints=constraints)

    def overlap_gap(windows):
        return (windows[1:, :16] - windows[:-1, 16:]).abs().max()

    # Frame-wise model: identical noisy overlaps give identical clean overlaps.
    assert overlap_gap(sample(_framewise_denoiser, [window_overlap(plan)])) < 1e-6
    # Context-dependent model: the constraint makes neighbours nearly agree.
    joined = overlap_gap(sample(_mixing_denoiser, [window_overlap(plan)]))
    independent = overlap_gap(sample(_mixing_denoiser, []))
    assert joined < 0.2 * independent


def test_long_form_inpainting_across_windows_is_exact():
    diffusion = GaussianDiffusion(make_schedule("cosine", 50))
    frames = 90
    plan = WindowPlan(frames, window=32, overlap=16)
    generator = torch.Generator().manual_seed(5)
    known = torch.randn(frames, DIM, generator=generator)
    mask = frame_mask(frames, DIM, [0, 15, 16, 17, 40, 89]) | channel_mask(frames, DIM, [0])
    result = sample_sequence(
        diffusion,
        _mixing_denoiser,
        plan=plan,
        dim=DIM,
        frame_conditions={"music": torch.randn(frames, DIM, generator=generator)},
        sequence_conditions={"text": None},
        order=("music", "text"),
        weights={"music": 2.0},
        known=known,
        mask=mask,
        steps=8,
        generator=generator,
    )
    assert torch.allclose(result[mask], known[mask], atol=1e-6)



@pytest.mark.parametrize("stitching", ["consensus", "edge"])
def test_both_stitchings_cover_the_song_and_keep_inpainting_exact(stitching):
    frames = 75
    plan = WindowPlan(frames, window=32, overlap=16)
    generator = torch.Generator().manual_seed(8)
    known = torch.randn(frames, DIM, generator=generator)
    mask = frame_mask(frames, DIM, [0, 40, 74]) | channel_mask(frames, DIM, [1])
    result = sample_sequence(
        GaussianDiffusion(make_schedule("cosine", 50)), _mixing_denoiser, plan=plan, dim=DIM,
        frame_conditions={"music": torch.randn(frames, DIM, generator=generator)}, sequence_conditions={},
        order=("music",), known=known, mask=mask, steps=6, generator=generator, stitching=stitching,
    )
    assert result.shape == (frames, DIM) and torch.allclose(result[mask], known[mask], atol=1e-6)


def test_unknown_stitching_is_a_one_line_error():
    with pytest.raises(ArgumentError, match="sampling.stitching: unknown stitching 'glue'"):
        sample_sequence(GaussianDiffusion(make_schedule("cosine", 50)), _mixing_denoiser, plan=WindowPlan(10, 8, 4),
                        dim=DIM, frame_conditions={"music": torch.zeros(10, DIM)}, sequence_conditions={},
                        order=("music",), steps=2, stitching="glue")
