"""Diffusion machinery shared by every model family: schedules, the DDPM/DDIM loop,
multi-modal classifier-free guidance, inpainting, long-form windows and editing constraints.

Nothing here knows a network: a denoiser is a function, conditions are tensors.
"""

from dancegen.sampling.diffusion import CLEAN, GaussianDiffusion, TrainingExample
from dancegen.sampling.guidance import condition_dropout, guidance_terms, guided
from dancegen.sampling.inpainting import Inpainting, channel_mask, frame_mask
from dancegen.sampling.longform import WindowPlan, sample_sequence, split_windows, stitch, window_overlap
from dancegen.sampling.schedules import SCHEDULE_NAMES, NoiseSchedule, make_schedule

__all__ = [
    "CLEAN",
    "GaussianDiffusion",
    "Inpainting",
    "NoiseSchedule",
    "SCHEDULE_NAMES",
    "TrainingExample",
    "WindowPlan",
    "channel_mask",
    "condition_dropout",
    "frame_mask",
    "guidance_terms",
    "guided",
    "make_schedule",
    "sample_sequence",
    "split_windows",
    "stitch",
    "window_overlap",
]
