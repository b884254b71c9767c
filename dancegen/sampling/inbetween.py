"""In-betweening: reach pinned poses smoothly instead of snapping to them for one frame.

A diffusion model all but ignores a constraint on a single frame, so pinning a keyframe only
at its own frame and pasting it after decoding makes the pose appear for one frame (a pop of up
to metres). Two standard remedies, combined, over poses (any family, any skeleton):

1. While sampling, every pinned value also pulls its neighbourhood: the inpainting mask gets a
   blend weight that falls off over `sampling_radius_seconds` around each pinned frame, and the
   known value there is the pin's (between two close pins, a blend of both: `pin_reach`). The
   model is asked for a motion that passes through the pose, not one that jumps to it.
2. After decoding, what is still missing is spread over the neighbouring frames rather than
   pasted on one (`spread_rotations`, `spread_offsets`): the correction at a pinned frame,
   q_fix = q_pin · q_gen⁻¹ for a rotation (an offset for the root position), is applied at
   frame t as slerp(identity, q_fix, w(t)) with w falling off over `spread_seconds`.
   Between two pins whose windows overlap, the corrections cross-fade so that each pinned
   frame receives exactly its own correction; pinned frames themselves are written exactly.

Locked joints pin every frame, so neither step changes them: every frame is its own pin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import Field

from dancegen.config import StrictConfig
from dancegen.skeleton.rotations import (
    quat_canonical,
    quat_conjugate,
    quat_multiply,
    quat_slerp,
)

NO_PIN = -1  # "no pinned frame on this side"
# Between two pins, each one's share of the blend is its Shepard (inverse-distance) weight
# u / d^p, u its falloff: all its own on the pin, none beyond its radius, and between close
# pins a cross-fade x^p / (x^p + (1 − x)^p) over the way x from one to the other. p = 1 makes
# that cross-fade linear, the gentlest per frame (p = 1.5 would be smooth on the pins, C1, but
# 1.5× as steep: two keyframes 0.2 s apart then move the joints faster than the dance does).
SHEPARD_POWER = 1.0


class InbetweenConfig(StrictConfig):
    """How far pinned poses reach into the frames around them (seconds; 0 = that frame only)."""

    # Soft inpainting mask while sampling: the model sees the pose coming and going. 2 s, not
    # 0.75: a full real pose whose heading differs from the dance's by 145° made the body jump
    # 0.5 s before the pin at 0.75 s (4.2× the real p99 joint speed), turned smoothly at 2 s
    # (0.33–0.63×) with the joint speed around the pins that of the unconstrained dance.
    sampling_radius_seconds: float = Field(2.0, ge=0)
    # Correction spreading after decoding: the remaining difference fades in and out over this
    # many seconds on each side, so it adds at most π/2 · difference / window per frame.
    spread_seconds: float = Field(1.0, ge=0)

    def sampling_radius(self, fps: float) -> int:
        return int(round(self.sampling_radius_seconds * fps))

    def spread_radius(self, fps: float) -> int:
        return int(round(self.spread_seconds * fps))


def falloff(distance: np.ndarray, radius: int) -> np.ndarray:
    """Raised cosine (Hann) weight: 1 at distance 0, 0 from `radius` frames on.

    Its slope is zero at both ends, so fading a correction in or out puts no velocity kink at
    the pinned frame nor where the window ends.
    """
    distance = np.asarray(distance, dtype=np.float64)
    if radius <= 0:
        return (distance == 0).astype(np.float64)
    inside = 0.5 * (1.0 + np.cos(math.pi * np.minimum(distance, radius) / radius))
    return np.where(distance < radius, inside, 0.0)


# --- where the pins are ---------------------------------------------------------------------


def previous_pins(mask: np.ndarray) -> np.ndarray:
    """For every frame (axis 0), the last pinned frame at or before it, else `NO_PIN`."""
    frames = np.arange(mask.shape[0]).reshape(-1, *([1] * (mask.ndim - 1)))
    return np.maximum.accumulate(np.where(mask, frames, NO_PIN), axis=0)


def next_pins(mask: np.ndarray) -> np.ndarray:
    """For every frame (axis 0), the first pinned frame at or after it, else `NO_PIN`."""
    last = mask.shape[0] - 1
    reversed_previous = previous_pins(mask[::-1])
    return np.where(reversed_previous == NO_PIN, NO_PIN, last - reversed_previous)[::-1]


def pin_distances(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(previous pin, frames since it, next pin, frames until it); distances are inf without one."""
    frames = np.arange(mask.shape[0]).reshape(-1, *([1] * (mask.ndim - 1)))
    previous, following = previous_pins(mask), next_pins(mask)
    since = np.where(previous == NO_PIN, np.inf, frames - previous)
    until = np.where(following == NO_PIN, np.inf, following - frames)
    return previous, since, following, until


def _at_pins(values: np.ndarray, pins: np.ndarray) -> np.ndarray:
    """values (T, ..., C) gathered at per-frame pin indices (T, ...); `NO_PIN` reads frame 0
    (its weight is zero wherever that happens)."""
    index = np.maximum(pins, 0)[..., None]
    return np.take_along_axis(values, np.broadcast_to(index, (*pins.shape, values.shape[-1])), axis=0)


@dataclass
class PinReach:
    """How much each frame (and channel group) takes from its neighbouring pins.

    A frame's value is `amount` of a blend that is `share` the next pin's and 1 − share the
    previous pin's. With u_p, u_n the falloff from either side, amount = 1 − (1 − u_p)(1 − u_n)
    (a lone pin's window is just its falloff; 1 on a pin) and share follows the pins' Shepard
    weights (`SHEPARD_POWER`): on a pinned frame the blend is all that pin's however close the
    next one is, and where two windows overlap it moves continuously from one pin to the other.
    """

    previous: np.ndarray  # (T, ...) last pinned frame at or before, NO_PIN if none
    following: np.ndarray  # (T, ...) first pinned frame at or after, NO_PIN if none
    amount: np.ndarray  # (T, ...) in [0, 1]; 1 on pins
    share: np.ndarray  # (T, ...) in [0, 1]; the next pin's part of the blend

    def blend(self, values: np.ndarray) -> np.ndarray:
        """values (T, ..., C) known on pinned frames → the pins' blend on every frame (T, ..., C);
        multiply by `amount` for how much of it a frame gets."""
        share = self.share[..., None]
        return (1.0 - share) * _at_pins(values, self.previous) + share * _at_pins(values, self.following)


def pin_reach(mask: np.ndarray, radius: int) -> PinReach:
    """`PinReach` for pins `mask` (T, ...) whose influence falls off over `radius` frames."""
    previous, since, following, until = pin_distances(mask)
    from_previous, from_next = falloff(since, radius), falloff(until, radius)
    amount = 1.0 - (1.0 - from_previous) * (1.0 - from_next)
    # Shepard weights u / d^p, multiplied through by both distances (finite: beyond the
    # radius u is 0 anyway).
    since, until = np.minimum(since, radius), np.minimum(until, radius)
    next_part = from_next * since**SHEPARD_POWER
    total = from_previous * until**SHEPARD_POWER + next_part
    share = np.divide(next_part, total, out=np.zeros_like(total), where=total > 0)
    return PinReach(previous, following, amount, share)


# --- spreading corrections after decoding ---------------------------------------------------


def spread_rotations(generated: np.ndarray, pinned: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """Rotations (T, J, 4) that hold `pinned` where `mask` (T, J) is set and fade into them.

    Each pinned frame's correction q_fix = q_pin · q_gen⁻¹ is applied around it as
    slerp(identity, q_fix, w) · q_gen. Pinned frames are copied, so they hold exactly; joints
    and frames no pin reaches are returned unchanged, bit for bit.
    """
    reach = pin_reach(mask, radius)
    reached = (reach.amount > 0) & ~mask
    result = np.where(mask[..., None], pinned, generated)
    if not reached.any():
        return result
    # `result` is the generated rotation off the pins, so the fixes there are the identity:
    # whatever `pinned` holds on unpinned frames never enters a slerp.
    generated_t, pinned_t = torch.from_numpy(generated), torch.from_numpy(result)
    fixes = quat_canonical(quat_multiply(pinned_t, quat_conjugate(generated_t))).numpy()
    blended = quat_slerp(
        torch.from_numpy(_at_pins(fixes, reach.previous)),
        torch.from_numpy(_at_pins(fixes, reach.following)),
        torch.from_numpy(reach.share),
    )
    identity = torch.zeros_like(blended)
    identity[..., 3] = 1.0
    fix = quat_slerp(identity, blended, torch.from_numpy(reach.amount))
    corrected = quat_multiply(fix, generated_t).numpy()
    return np.where(reached[..., None], corrected, result)


def spread_offsets(generated: np.ndarray, pinned: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """Positions (T, 3) that hold `pinned` where `mask` (T,) is set and ease into them: the
    same windows as `spread_rotations`, with the offset pinned − generated as the correction."""
    reach = pin_reach(mask, radius)
    reached = (reach.amount > 0) & ~mask
    result = np.where(mask[:, None], pinned, generated)
    if not reached.any():
        return result
    offset = reach.amount[:, None] * reach.blend(pinned - generated)
    return np.where(reached[:, None], generated + offset, result)
