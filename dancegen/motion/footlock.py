"""Foot lock: planted feet stay put on a level floor (the animator's clean-up pass).

Generated dances skate (feet slide while they should be planted), sink into the floor and
stand on a floor that creeps up and down over a clip. `lock_feet` fixes all three on any
SMPL-family skeleton (joints found by name) in four steps:

1. Contacts. Per foot joint (ankle = heel, toe), the frames it is planted: the given labels or
   `contacts_from_feet` on the motion with its rough floor level taken off, cleaned (short gaps
   filled, short blips dropped).
2. Floor. The contact level, the height of the lowest foot joint on planted frames (a sliding
   median), is smoothed into a slow curve and taken off the root height, so planted feet stand
   on y = 0 all through the clip. Only slow drift goes: bounces and jumps are the dance.
3. Pins. During each contact the joint holds still at its median position there (a toe on the
   floor, y = 0). Between contacts the correction eases from its value at lift-off to its value
   at touch-down, so the swing absorbs it and nothing pops. A foot that slides a long way on the
   floor is re-planted every `max_pin_travel_m`, so no pin holds it far from where the dance
   puts it. The toe's correction carries the whole foot; the heel is pinned where the toe
   carries it, and the foot turns about the ankle so the toe points at its own target. A foot
   joint still under the floor is raised, smoothly.
4. IK. Analytic two-bone IK per leg (hip, knee, ankle) takes the ankle to its goal: the knee
   changes only its bend, about the axis it already bends about, and the hip swings the leg by
   the smallest rotation onto the goal, so the knee keeps pointing where it pointed (the input
   pose is the pole vector). The reach is eased near full extension and capped short of it, so
   a knee never locks straight. The ankle's rotation is solved so the foot keeps its world
   orientation (turned only as step 3 says). Only the hip, knee and ankle rotations and the
   root height change, so bone lengths cannot; a clip with nothing planted and nothing under
   the floor keeps its rotations bit for bit.

Skeletons without SMPL leg joints are refused with one line (`ArgumentError`) rather than
passed through untouched: a pass that silently did nothing would hide it. Retarget to SMPL-24
first.

The `FootLockReport` measures before and after: foot skating (LODGE's ratio, as
`dancegen.metrics.physical.foot_skating_ratio`, re-stated here because the motion layer sits
below metrics), floor penetration and floor drift (both defined in `FootStats`), the largest
change to any joint and the frames planted.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from pydantic import Field

from dancegen.config import StrictConfig
from dancegen.errors import ArgumentError
from dancegen.motion.contacts import contacts_from_feet
from dancegen.motion.motion import Motion
from dancegen.skeleton.rotations import axis_angle_to_matrix, matrix_to_quat, rotation_between
from dancegen.skeleton.tree import Skeleton

UP = 1  # y-up
HORIZONTAL = [0, 2]
SIDES = ("left", "right")
LEG_JOINTS = ("hip", "knee", "ankle", "foot")  # SMPL names: left_hip ... right_foot (the toe)

# LODGE's foot-skating ratio, exactly as `dancegen.metrics.physical` states it (tests check the
# two agree): contact when the ankle is <= 8 cm and the toe <= 5 cm above the first frame's toes,
# sliding when either moves more than 1 cm horizontally per 1/30 s.
FSR_REFERENCE_FPS = 30.0
FSR_ANKLE_CONTACT_M = 0.08
FSR_TOE_CONTACT_M = 0.05
FSR_SLIDE_M_PER_FRAME = 0.01
FSR_LEVEL_TOES_M = 0.02

# A foot joint this little below the floor is rounding (the floor shift and FK adding up in
# another order), not penetration: it is not lifted.
ROUNDING_M = 1e-9


class FootLockConfig(StrictConfig):
    """How `lock_feet` finds contacts, levels the floor, pins feet and bends knees."""

    # --- contacts (used when no labels are given) ---
    # A foot joint low on the floor and slower than this is taken as meant to be planted.
    # EDGE's 0.3 m/s would miss the very skating this pass removes: feet of gcdance-small dances
    # slide at 0.5 m/s (median) while on the floor, where 70-85 % of real mocap's low feet move
    # under 0.3 m/s; under 1 m/s separates both from a foot sweeping past in a step.
    contact_speed_mps: float = Field(1.0, gt=0)
    # Height above the (levelled) floor below which a foot joint can be planted: the 5 cm of
    # `dancegen.motion.contacts`.
    contact_height_m: float = Field(0.05, gt=0)
    # A contact label (probability, given labels included) above this means planted.
    contact_probability: float = Field(0.5, ge=0, lt=1)
    # Gaps this short (2 frames at 30 fps) in a contact are label flicker at the speed threshold:
    # a real lift-off and re-plant takes longer. They are filled.
    gap_s: float = Field(0.07, ge=0)
    # Contacts this short (2 frames at 30 fps) are a swinging foot passing slowly through a low
    # point, not a step: pinning them would stall the swing. They are dropped.
    blip_s: float = Field(0.07, ge=0)

    # --- floor ---
    # The contact level is a median over this window: 2 s holds several steps at any dance
    # tempo (the window of `dancegen.metrics.dance_quality`'s contact level and floor drift).
    floor_window_s: float = Field(2.0, gt=0)
    # Gaussian smoothing (sigma) of the contact level: drift slower than about a second is
    # error, faster vertical movement (a bounce, a jump) is the dance and stays.
    floor_smoothing_s: float = Field(0.5, ge=0)
    # Before contacts are known, the floor is this percentile of the lowest foot over the window:
    # a foot is down for a tenth of any 2 s of dance; jumps and kicks lift the median, not the tail.
    rough_floor_percentile: float = Field(10.0, gt=0, lt=100)

    # --- pins ---
    # A contact over which the foot slides or turns further than this (heel or toe, horizontally)
    # is cut into pieces, each pinned on its own: a pin never holds a foot much more than this
    # far from where the dance puts it, so the leg reaches it and the body does not leave its
    # foot behind. Generated feet slide about 0.5 m/s on the floor, so every re-plant moves the
    # foot this far in a blink: 15 cm balances skating left (longer) against that (shorter).
    max_pin_travel_m: float = Field(0.15, gt=0)
    # Time a re-planted foot takes to move on to its next pin (2 frames at 30 fps): every frame
    # of it is a frame of sliding, so short, yet not a one-frame jump.
    handover_s: float = Field(0.067, ge=0)
    # A heel that lifts while its toe stays planted rises off its pin over this time (3 frames
    # at 30 fps): fast enough to keep the heel raise, slow enough not to pop.
    heel_release_s: float = Field(0.1, ge=0)
    # A foot joint raised out of the floor eases up over this time before and down after.
    lift_ramp_s: float = Field(0.1, ge=0)

    # --- IK ---
    # The knee never straightens past this bend: a straight leg has no defined knee direction
    # and snaps when the target moves (5 degrees: 1 mm short of the full SMPL leg).
    min_knee_bend_deg: float = Field(5.0, gt=0, lt=90)
    # Targets that would straighten the knee past this bend approach the limit smoothly (soft
    # IK) instead of reaching it at full speed and stopping dead.
    soft_knee_bend_deg: float = Field(15.0, gt=0, lt=90)
    # Below this bend the knee's own bend axis is noise; the thigh's hinge axis (x, the axis
    # SMPL knees flex about) takes over, so a near-straight knee bends forward.
    straight_knee_deg: float = Field(3.0, gt=0, lt=90)

    # --- measuring ---
    # A frame penetrates the floor when its lowest foot joint is this far below y = 0.
    penetration_depth_m: float = Field(0.01, ge=0)


# --- the report ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FootStats:
    """Foot quality of one motion (floor at y = 0).

    foot_skating: LODGE's ratio (sliding contact frames / contact frames, both feet averaged).
    floor_penetration: fraction of frames whose lowest foot joint is more than
        `penetration_depth_m` below y = 0.
    floor_drift_m: how far the contact level wanders: the range (max - min) of the median
        lowest-foot height over the planted frames of each `floor_window_s` window (hop one
        frame), as `dancegen.metrics.dance_quality.floor_drift` with contacts. NaN if nothing is
        planted.
    """

    foot_skating: float
    floor_penetration: float
    floor_drift_m: float


@dataclass(frozen=True)
class FootLockReport:
    before: FootStats
    after: FootStats
    floor_offset_m: float  # mean height taken off the root (the floor the input stood on)
    floor_correction_m: float  # range of that correction over the clip (the drift removed)
    max_joint_change_m: float  # largest move of any joint on any frame, floor shift included
    max_leg_change_m: float  # largest move by pinning and IK alone (floor shift excluded)
    frames_pinned: int  # frames on which at least one foot joint is pinned
    # (T, 4) bool, EDGE order (left heel, right heel, left toe, right toe): the cleaned contacts,
    # and the frames pinned (the contacts less the frames a re-planted foot moves on).
    planted: np.ndarray = field(repr=False)
    pinned: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, float | None]:
        """Plain floats for JSON (`motion.metadata["foot_lock"]`, `dancegen generate --json`);
        None for a number that does not exist (floor drift when nothing is planted)."""
        numbers = {f"{name}_before": value for name, value in vars(self.before).items()}
        numbers |= {f"{name}_after": value for name, value in vars(self.after).items()}
        numbers |= dict(
            floor_offset_m=self.floor_offset_m, floor_correction_m=self.floor_correction_m,
            max_joint_change_m=self.max_joint_change_m, max_leg_change_m=self.max_leg_change_m,
            frames_pinned=self.frames_pinned,
        )
        return {name: float(value) if math.isfinite(value) else None for name, value in numbers.items()}


# --- skeleton ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Leg:
    """Joint indices of one leg; `foot` is SMPL's name for the toe joint."""

    hip: int
    knee: int
    ankle: int
    foot: int


def find_legs(skeleton: Skeleton) -> tuple[Leg, Leg]:
    """(left, right) legs by SMPL joint name; each joint the parent of the next."""
    names = [f"{side}_{joint}" for side in SIDES for joint in LEG_JOINTS]
    missing = [name for name in names if name not in skeleton.joint_names]
    if missing:
        raise ArgumentError(
            "skeleton", f"foot lock needs SMPL leg joints; {skeleton.name!r} has no {', '.join(missing)}",
            "retarget the motion to smpl24 first, or turn foot lock off (--no-foot-lock)",
        )
    legs = tuple(Leg(*skeleton.indices([f"{side}_{joint}" for joint in LEG_JOINTS])) for side in SIDES)
    for leg in legs:
        if not (skeleton.parents[leg.knee] == leg.hip and skeleton.parents[leg.ankle] == leg.knee
                and skeleton.parents[leg.foot] == leg.ankle):
            raise ArgumentError("skeleton", f"foot lock needs SMPL leg joints chained hip-knee-ankle-foot; "
                                f"{skeleton.name!r} links them otherwise")
    return legs


def foot_indices(legs: tuple[Leg, Leg]) -> list[int]:
    """Foot joints in EDGE's contact order: left ankle, right ankle, left toe, right toe."""
    left, right = legs
    return [left.ankle, right.ankle, left.foot, right.foot]


# --- measuring -----------------------------------------------------------------------------

def foot_skating(positions: np.ndarray, fps: float, legs: tuple[Leg, Leg]) -> float:
    """LODGE's foot-skating ratio; the same number as `metrics.physical.foot_skating_ratio`."""
    left, right = legs
    toes = positions[0, [left.foot, right.foot], UP]
    ground = toes.mean() if abs(toes[0] - toes[1]) < FSR_LEVEL_TOES_M else toes.min()
    height = positions[..., UP] - ground
    threshold = FSR_SLIDE_M_PER_FRAME * FSR_REFERENCE_FPS / fps
    ratios = []
    for leg in legs:
        contact = (height[:, leg.ankle] <= FSR_ANKLE_CONTACT_M) & (height[:, leg.foot] <= FSR_TOE_CONTACT_M)
        step = np.zeros((len(positions), 2))
        step[:-1] = np.linalg.norm(np.diff(positions[:, [leg.ankle, leg.foot]][..., HORIZONTAL], axis=0), axis=-1)
        sliding = contact & (step > threshold).any(axis=1)
        ratios.append(sliding.sum() / contact.sum() if contact.any() else 0.0)
    return float(np.mean(ratios))


def floor_drift(lowest: np.ndarray, planted: np.ndarray, window: int) -> float:
    """Range of the per-window median lowest-foot height over planted frames (see `FootStats`)."""
    window = min(len(lowest), window)
    masked = np.lib.stride_tricks.sliding_window_view(np.where(planted, lowest, np.nan), window)
    level = _nan_reduce(np.nanmedian, masked)
    level = level[np.isfinite(level)]
    return float(np.ptp(level)) if len(level) else float("nan")


def foot_stats(positions: np.ndarray, fps: float, legs: tuple[Leg, Leg], planted: np.ndarray,
               config: FootLockConfig) -> FootStats:
    lowest = positions[:, foot_indices(legs), UP].min(axis=1)
    return FootStats(
        foot_skating=foot_skating(positions, fps, legs),
        floor_penetration=float((lowest < -config.penetration_depth_m).mean()),
        floor_drift_m=floor_drift(lowest, planted.any(axis=1), frames(config.floor_window_s, fps)),
    )


# --- small signal helpers --------------------------------------------------------------------

def frames(seconds: float, fps: float) -> int:
    return int(round(seconds * fps))


def _nan_reduce(reduce, windows: np.ndarray, *args) -> np.ndarray:
    """`reduce` (nanmedian, nanpercentile) over the last axis; all-NaN windows give NaN quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return reduce(windows, *args, axis=-1)


def centred_windows(values: np.ndarray, window: int) -> np.ndarray:
    """(T, window) windows centred on each frame, NaN beyond the clip's ends."""
    window = max(1, window)
    before = window // 2
    padded = np.pad(values.astype(np.float64), (before, window - 1 - before), constant_values=np.nan)
    return np.lib.stride_tricks.sliding_window_view(padded, window)


def gaussian_smooth(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian low-pass along time; the ends are held (edge padding), not pulled to zero."""
    if sigma_frames <= 0 or len(values) < 2:
        return values.copy()
    radius = int(math.ceil(3 * sigma_frames))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="valid")


def fill_nan(values: np.ndarray) -> np.ndarray | None:
    """Linear interpolation over NaN (held flat past the ends); None if nothing is finite."""
    known = np.isfinite(values)
    if not known.any():
        return None
    index = np.arange(len(values))
    return np.interp(index, index[known], values[known])


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 -> 1 over [0, 1] with zero slope at both ends: an easing that starts and stops gently."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


# --- 1. contacts -------------------------------------------------------------------------------

def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and stops (exclusive) of the runs of True in a (T,) bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def mask_from_runs(length: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    marks = np.zeros(length + 1, dtype=np.int64)
    np.add.at(marks, starts, 1)
    np.add.at(marks, stops, -1)
    return np.cumsum(marks[:-1]) > 0


def clean_contact(planted: np.ndarray, max_gap: int, max_blip: int) -> np.ndarray:
    """Fill gaps of at most `max_gap` frames inside a contact, then drop contacts of at most
    `max_blip` frames. Gaps at the clip's ends are not inside a contact and stay."""
    gap_starts, gap_stops = runs(~planted)
    inside = (gap_starts > 0) & (gap_stops < len(planted)) & (gap_stops - gap_starts <= max_gap)
    filled = planted | mask_from_runs(len(planted), gap_starts[inside], gap_stops[inside])
    starts, stops = runs(filled)
    keep = stops - starts > max_blip
    return mask_from_runs(len(planted), starts[keep], stops[keep])


def planted_feet(feet: np.ndarray, fps: float, contacts: np.ndarray | None, rough_floor: np.ndarray,
                 config: FootLockConfig) -> np.ndarray:
    """(T, 4) bool: the cleaned contacts of the foot joints `feet` (T, 4, 3), EDGE order."""
    if contacts is None:
        # Labelled on the levelled motion: on a drifting floor, a fixed height test would find
        # no contacts wherever the floor has crept up.
        levelled = feet.copy()
        levelled[..., UP] -= rough_floor[:, None]
        contacts = contacts_from_feet(levelled, fps, config.contact_speed_mps, config.contact_height_m)
    planted = np.asarray(contacts) > config.contact_probability
    max_gap, max_blip = frames(config.gap_s, fps), frames(config.blip_s, fps)
    return np.stack([clean_contact(column, max_gap, max_blip) for column in planted.T], axis=1)


def check_contacts(contacts, num_frames: int) -> np.ndarray | None:
    if contacts is None:
        return None
    contacts = np.asarray(contacts, dtype=np.float64)
    if contacts.shape != (num_frames, 4):
        raise ArgumentError("contacts", f"have shape {contacts.shape}; expected ({num_frames}, 4): left ankle, "
                            "right ankle, left toe, right toe")
    return contacts


# --- 2. floor ----------------------------------------------------------------------------------

def rough_floor(lowest: np.ndarray, fps: float, config: FootLockConfig) -> np.ndarray:
    """(T,) floor level before contacts are known: a low percentile of the lowest foot."""
    windows = centred_windows(lowest, frames(config.floor_window_s, fps))
    level = _nan_reduce(np.nanpercentile, windows, config.rough_floor_percentile)
    return gaussian_smooth(level, config.floor_smoothing_s * fps)


def contact_floor(lowest: np.ndarray, planted: np.ndarray, fps: float, fallback: np.ndarray,
                  config: FootLockConfig) -> np.ndarray:
    """(T,) the slow floor curve: the median lowest-foot height over the planted frames of a
    window around each frame, interpolated across stretches with no contact, smoothed.
    `fallback` (the rough floor) serves a clip with no contact at all."""
    windows = centred_windows(np.where(planted, lowest, np.nan), frames(config.floor_window_s, fps))
    level = fill_nan(_nan_reduce(np.nanmedian, windows))
    if level is None:
        return fallback
    return gaussian_smooth(level, config.floor_smoothing_s * fps)


# --- 3. pins -------------------------------------------------------------------------------------

def horizontal_extent(track: np.ndarray) -> np.ndarray:
    """(N,) diagonal of the horizontal bounding box of track[:i + 1], for each i."""
    xz = track[:, HORIZONTAL]
    size = np.maximum.accumulate(xz, axis=0) - np.minimum.accumulate(xz, axis=0)
    return np.linalg.norm(size, axis=1)


def split_contact(heel_track: np.ndarray, toe_track: np.ndarray, heel: np.ndarray, toe: np.ndarray,
                  max_travel: float, handover: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut each contact of a foot (heel or toe planted, (T,) bool each) into pieces over which
    neither its ankle nor its toe (tracks (T, 3)) covers more than `max_travel` horizontally,
    nor does the heel around the toe (the foot turning), with `handover` unplanted frames
    between pieces, where the foot moves on to its next pin. A foot sliding or spinning a long
    way on the floor is re-planted every `max_travel`, so a pin never holds it far from where
    the dance puts it and its release never snaps it far. Heel and toe are cut together: one
    pinned while the other moves on would drag the foot. A loop over pieces, not frames."""
    tracks = (heel_track, toe_track, heel_track - toe_track)
    cuts = np.zeros(len(heel), dtype=bool)
    for start, stop in zip(*runs(heel | toe)):
        piece = start
        while piece < stop:
            extent = np.max([horizontal_extent(track[piece:stop]) for track in tracks], axis=0)
            beyond = np.flatnonzero(extent > max_travel)
            if len(beyond) == 0:
                break
            cut = piece + beyond[0]
            cuts[cut:cut + handover] = True
            piece = cut + handover
    return heel & ~cuts, toe & ~cuts


def ease_across_gaps(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill the rows of `values` (T, D) where `known` (T,) is False: across a gap, ease from the
    last known row before it to the first one after it (smoothstep: the change starts and stops
    gently); before the first and after the last known row, hold it."""
    t = np.arange(len(values))
    previous = np.maximum.accumulate(np.where(known, t, -1))
    following = np.minimum.accumulate(np.where(known, t, len(values))[::-1])[::-1]
    previous = np.where(previous < 0, following, previous)
    following = np.where(following >= len(values), previous, following)
    progress = (t - previous) / np.maximum(following - previous, 1)
    ease = smoothstep(progress)[:, None]
    return (1 - ease) * values[previous] + ease * values[following]


def pin_correction(track: np.ndarray, planted: np.ndarray, on_floor: bool,
                   free: np.ndarray | None = None) -> np.ndarray:
    """(T, 3) how far to move a joint (track (T, 3)) so it holds still during each contact of
    `planted` (T,): at its median position there, the smallest correction (on y = 0 if
    `on_floor`). On `free` frames the correction is zero. Between these the correction eases
    from one value to the next, so the swing absorbs it without a jump (as in Kovar et al.
    2002, "Footskate cleanup for motion capture editing"). Nothing planted: no correction."""
    starts, stops = runs(planted)
    correction = np.zeros_like(track)
    if len(starts) == 0:
        return correction
    for start, stop in zip(starts, stops):
        spot = np.median(track[start:stop], axis=0)
        if on_floor:
            spot[UP] = 0.0
        correction[start:stop] = spot - track[start:stop]
    known = planted if free is None else planted | free
    return ease_across_gaps(correction, known)


def near(mask: np.ndarray, frames_away: int) -> np.ndarray:
    """(T,) bool: within `frames_away` frames of a True frame of `mask`."""
    padded = np.pad(mask, frames_away, constant_values=False)
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * frames_away + 1).any(axis=1)


@dataclass
class FootGoal:
    ankle: np.ndarray  # (T, 3) where the ankle should go
    turn: np.ndarray  # (T, 3, 3) world rotation applied to the foot about the ankle


def foot_goal(ankle: np.ndarray, toe: np.ndarray, heel_planted: np.ndarray, toe_planted: np.ndarray,
              heel_release: int) -> FootGoal:
    """Where one foot's ankle goes and how the foot turns, from its planted heel and toe.

    The toe's correction carries the whole foot. The heel is pinned where the toe carries it,
    so heel and toe pins agree; while only the toe is down the heel is left where the carried
    foot has it (a raised heel stays raised), its pin easing off over `heel_release` frames.
    The foot turns about the ankle so the toe points where its own correction puts it."""
    toe_shift = pin_correction(toe, toe_planted, on_floor=True)
    carried = ankle + toe_shift
    heel_free = toe_planted & ~near(heel_planted, heel_release)
    goal = carried + pin_correction(carried, heel_planted, on_floor=False, free=heel_free)
    turn = rotation_between(torch.from_numpy(toe - ankle), torch.from_numpy(toe + toe_shift - goal))
    return FootGoal(goal, turn.numpy())


def floor_lift(ankle: np.ndarray, toe: np.ndarray, ramp: int) -> np.ndarray:
    """(T,) how far to raise a foot so neither joint is below y = 0: the depth, widened by
    `ramp` frames either side and smoothed (never below the depth), so the foot eases up and
    down instead of bouncing off the floor."""
    depth = np.maximum(0.0, -np.minimum(ankle[:, UP], toe[:, UP]))
    depth[depth < ROUNDING_M] = 0.0
    if ramp == 0 or not depth.any():
        return depth
    widened = np.nanmax(centred_windows(depth, 2 * ramp + 1), axis=1)
    return np.maximum(gaussian_smooth(widened, ramp / 2), depth)


# --- 4. IK -----------------------------------------------------------------------------------

def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix(torch.from_numpy(axis * angle[..., None])).numpy()


def leg_span(thigh: float, shin: float, bend_deg: float) -> float:
    """Hip-to-ankle distance of a leg whose knee is bent by `bend_deg` (law of cosines)."""
    return math.sqrt(thigh**2 + shin**2 + 2 * thigh * shin * math.cos(math.radians(bend_deg)))


def soft_reach(distance: np.ndarray, thigh: float, shin: float, config: FootLockConfig) -> np.ndarray:
    """Hip-to-ankle distance the IK uses: the target's, eased exponentially towards the longest
    allowed reach once past the soft limit (continuous, with slope 1 where easing starts)."""
    longest = leg_span(thigh, shin, config.min_knee_bend_deg)
    soft = min(leg_span(thigh, shin, config.soft_knee_bend_deg), longest)
    room = longest - soft
    eased = soft + room * (1 - np.exp(-np.maximum(distance - soft, 0) / max(room, 1e-12)))
    shortest = abs(thigh - shin) + 1e-6
    return np.clip(np.where(distance > soft, eased, distance), shortest, longest)


def knee_bend_axis(thigh: np.ndarray, shin: np.ndarray, thigh_rotation: np.ndarray,
                   config: FootLockConfig) -> np.ndarray:
    """(T, 3) unit axis the knee bends about: thigh x shin, exactly, when the knee is bent more
    than `straight_knee_deg`; nearer straight, the thigh's hinge axis (its x) fills in, on the
    side the knee bends to, so the axis never vanishes."""
    bent = np.cross(_normalise(thigh), _normalise(shin))  # |bent| = sin(bend)
    leg = _normalise(thigh + shin)
    hinge = thigh_rotation[..., :, 0]
    hinge = _normalise(hinge - _dot(hinge, leg)[..., None] * leg)
    side = np.where(_dot(bent, hinge) < 0, -1.0, 1.0)
    missing = np.maximum(0.0, math.sin(math.radians(config.straight_knee_deg)) - np.linalg.norm(bent, axis=-1))
    return _normalise(bent + (side * missing)[..., None] * hinge)


@dataclass
class LegPose:
    """New global rotations (T, 3, 3) of a leg's hip and knee."""

    hip: np.ndarray
    knee: np.ndarray
    softened: np.ndarray  # (T,) bool: the reach was eased short of the target


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, goal: np.ndarray,
                hip_rotation: np.ndarray, knee_rotation: np.ndarray, config: FootLockConfig) -> LegPose:
    """Hip, knee and ankle positions (T, 3), their goal for the ankle (T, 3) and the global
    rotations (T, 3, 3) of hip and knee -> the rotations that take the ankle to the goal.

    The knee changes only its bend, about its own bend axis; the hip then swings the leg by the
    smallest rotation that points hip-to-ankle at the goal. A goal already reached (and not
    past the soft limit) gives back the input pose."""
    thigh_vector, shin_vector = knee - hip, ankle - knee
    thigh = float(np.linalg.norm(thigh_vector, axis=-1).mean())
    shin = float(np.linalg.norm(shin_vector, axis=-1).mean())
    to_goal = goal - hip
    distance = np.linalg.norm(to_goal, axis=-1)
    reach = soft_reach(distance, thigh, shin, config)

    axis = knee_bend_axis(thigh_vector, shin_vector, hip_rotation, config)
    bend_now = np.arctan2(_dot(np.cross(thigh_vector, shin_vector), axis), _dot(thigh_vector, shin_vector))
    cos_bend = (reach**2 - thigh**2 - shin**2) / (2 * thigh * shin)
    bend = np.arccos(np.clip(cos_bend, -1.0, 1.0))
    flex = _axis_angle(axis, bend - bend_now)

    bent_ankle = knee + np.einsum("tij,tj->ti", flex, shin_vector)
    swing = rotation_between(torch.from_numpy(bent_ankle - hip), torch.from_numpy(to_goal)).numpy()
    return LegPose(
        hip=swing @ hip_rotation,
        knee=swing @ flex @ knee_rotation,
        softened=reach < distance,
    )


def _local_quaternions(parent: np.ndarray, child: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Local quaternions (T, 4) of global rotations `child` under `parent`, on the same sign
    hemisphere as `like` (the input's), so the track stays continuous."""
    local = matrix_to_quat(torch.from_numpy(np.swapaxes(parent, -1, -2) @ child)).numpy()
    return np.where(_dot(local, like)[:, None] < 0, -local, local)


def lock_leg(leg: Leg, heel: np.ndarray, toe: np.ndarray, positions: np.ndarray, global_rotations: np.ndarray,
             rotations: np.ndarray, parent: int, fps: float, config: FootLockConfig) -> tuple[np.ndarray, np.ndarray]:
    """Pin one leg's foot on its planted frames (`heel`, `toe`: (T,) bool): writes new hip, knee
    and ankle rotations into `rotations` (T, J, 4) on the frames that need them. Returns the
    frames heel and toe were pinned on (planted, less the re-planting handovers)."""
    ankle, toe_position = positions[:, leg.ankle], positions[:, leg.foot]
    # At least one frame between pieces, or they would merge back into one contact.
    handover = max(1, frames(config.handover_s, fps))
    heel, toe = split_contact(ankle, toe_position, heel, toe, config.max_pin_travel_m, handover)
    goal = foot_goal(ankle, toe_position, heel, toe, frames(config.heel_release_s, fps))
    goal_toe = goal.ankle + np.einsum("tij,tj->ti", goal.turn, toe_position - ankle)
    lift = floor_lift(goal.ankle, goal_toe, frames(config.lift_ramp_s, fps))
    goal.ankle[:, UP] += lift

    pose = two_bone_ik(positions[:, leg.hip], positions[:, leg.knee], ankle, goal.ankle,
                       global_rotations[:, leg.hip], global_rotations[:, leg.knee], config)
    foot = goal.turn @ global_rotations[:, leg.ankle]
    new = {
        leg.hip: _local_quaternions(global_rotations[:, parent], pose.hip, rotations[:, leg.hip]),
        leg.knee: _local_quaternions(pose.hip, pose.knee, rotations[:, leg.knee]),
        leg.ankle: _local_quaternions(pose.knee, foot, rotations[:, leg.ankle]),
    }
    changed = np.full(len(ankle), (heel | toe).any()) | (lift > 0) | pose.softened
    for joint, quaternions in new.items():
        rotations[changed, joint] = quaternions[changed]
    return heel, toe


# --- the pass --------------------------------------------------------------------------------

def lock_feet(motion: Motion, contacts: np.ndarray | None = None,
              config: FootLockConfig = FootLockConfig()) -> tuple[Motion, FootLockReport]:
    """Pin planted feet to a level floor with leg IK; see the module docstring.

    contacts: (T, 4) labels in [0, 1], EDGE order (left ankle, right ankle, left toe, right
    toe); by default found from the motion itself. Returns the locked motion (a copy; its
    `contacts` and metadata as the input's) and the before/after report."""
    legs = find_legs(motion.skeleton)
    contacts = check_contacts(contacts, motion.num_frames)
    fps = motion.fps
    positions = motion.joint_positions()
    feet = positions[:, foot_indices(legs)]
    lowest = feet[..., UP].min(axis=1)

    rough = rough_floor(lowest, fps, config)
    planted = planted_feet(feet, fps, contacts, rough, config)
    floor = contact_floor(lowest, planted.any(axis=1), fps, rough, config)

    root = motion.root_translation.copy()
    root[:, UP] -= floor
    floored = motion.copy(root_translation=root)
    global_rotations, floored_positions = floored.forward_kinematics()

    rotations = floored.rotations.copy()
    pinned = np.zeros_like(planted)
    for side, leg in enumerate(legs):  # EDGE order: column `side` is the heel, `side + 2` the toe
        pinned[:, side], pinned[:, side + 2] = lock_leg(
            leg, planted[:, side], planted[:, side + 2], floored_positions, global_rotations, rotations,
            motion.skeleton.parents[leg.hip], fps, config,
        )
    locked = floored.copy(rotations=rotations)

    locked_positions = locked.joint_positions()
    report = FootLockReport(
        before=foot_stats(positions, fps, legs, planted, config),
        after=foot_stats(locked_positions, fps, legs, planted, config),
        floor_offset_m=float(floor.mean()),
        floor_correction_m=float(np.ptp(floor)),
        max_joint_change_m=float(np.linalg.norm(locked_positions - positions, axis=-1).max()),
        max_leg_change_m=float(np.linalg.norm(locked_positions - floored_positions, axis=-1).max()),
        frames_pinned=int(pinned.any(axis=1).sum()),
        planted=planted,
        pinned=pinned,
    )
    return locked, report
