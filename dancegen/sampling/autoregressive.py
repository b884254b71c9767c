"""Whole songs segment by segment: each segment generated after, and conditioned on, the last.

A model trained on segments of a few seconds generates a song as a chain: segment k+1 starts
`overlap` frames before segment k ends, so its first frames can be inpainted from the end of
segment k (seams stay continuous), and it may also read a memory of what came before (a
recurrent state, the last frames: whatever the caller's `memory_of` makes of the motion so
far). Segments are generated one after another; the output has exactly `num_frames` frames.

    plan = SegmentPlan.from_seconds(frames, fps, segment_seconds=5.0, overlap_seconds=1.0)
    motion = sample_autoregressive(plan, sample_segment, memory_of=lambda history, segment: ...)

`sample_segment(segment, history, memory) -> (segment.length, D)`: `history` is the motion
assembled so far (frames 0 … segment.start + segment.overlap, None for the first segment), so
`history[segment.start:]` are the frames the new segment overlaps. The new segment's frames
replace the overlapped ones: where it inpainted them exactly, nothing changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from dancegen.errors import ArgumentError

Tensor = torch.Tensor


@dataclass(frozen=True)
class Segment:
    index: int
    start: int  # first frame in the song
    end: int  # one past the last frame
    overlap: int  # how many of its first frames the previous segment also covers

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class SegmentPlan:
    """Segments of at most `segment` frames over `num_frames`, each overlapping the previous one by `overlap`."""

    num_frames: int
    segment: int
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ArgumentError("num_frames", f"must be at least 1, got {self.num_frames}")
        if self.segment < 2:
            raise ArgumentError("segment", f"must be at least 2 frames, got {self.segment}")
        if not 0 <= self.overlap < self.segment:
            raise ArgumentError("overlap", f"{self.overlap} frames does not fit a {self.segment}-frame segment",
                                "use fewer frames than a segment")

    @classmethod
    def from_seconds(cls, num_frames: int, fps: float, segment_seconds: float, overlap_seconds: float) -> "SegmentPlan":
        segment = max(2, int(round(segment_seconds * fps)))
        return cls(num_frames, segment, min(int(round(overlap_seconds * fps)), segment - 1))

    def segments(self) -> list[Segment]:
        segments = [Segment(0, 0, min(self.segment, self.num_frames), 0)]
        while segments[-1].end < self.num_frames:
            start = segments[-1].end - self.overlap
            segments.append(Segment(len(segments), start, min(start + self.segment, self.num_frames), self.overlap))
        return segments

    def __len__(self) -> int:
        if self.num_frames <= self.segment:
            return 1
        return 1 + math.ceil((self.num_frames - self.segment) / (self.segment - self.overlap))


SampleSegment = Callable[[Segment, "Tensor | None", Any], Tensor]
MemoryOf = Callable[[Tensor, Segment], Any]


def sample_autoregressive(
    plan: SegmentPlan,
    sample_segment: SampleSegment,
    memory_of: MemoryOf | None = None,
    progress: bool = False,
) -> Tensor:
    """Run the chain; returns the (num_frames, D) motion. `memory_of(history, segment)` gives
    what segment `segment` remembers of the motion so far (not called for the first segment,
    whose memory is None)."""
    history: Tensor | None = None
    for segment in tqdm(plan.segments(), desc="segments", disable=not progress, leave=False):
        memory = None if history is None or memory_of is None else memory_of(history, segment)
        output = sample_segment(segment, history, memory)
        if output.shape[0] != segment.length:
            raise ValueError(f"segment {segment.index} gave {output.shape[0]} frames, expected {segment.length}")
        history = output if history is None else torch.cat([history[: segment.start], output], dim=0)
    assert history is not None and history.shape[0] == plan.num_frames
    return history
