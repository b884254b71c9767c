"""The generic segment loop: exact length, overlaps, and each segment seeing the previous one."""

from __future__ import annotations

import pytest
import torch

from dancegen.errors import ArgumentError
from dancegen.sampling.autoregressive import SegmentPlan, sample_autoregressive


@pytest.mark.parametrize("frames,segment,overlap", [(1, 10, 2), (10, 10, 2), (11, 10, 2), (95, 30, 6), (100, 25, 0)])
def test_plans_cover_the_song_exactly(frames, segment, overlap):
    plan = SegmentPlan(frames, segment, overlap)
    segments = plan.segments()
    assert len(segments) == len(plan) and segments[0].start == 0 and segments[-1].end == frames
    assert all(s.length <= segment for s in segments)
    assert all(b.start == a.end - overlap and b.overlap == overlap for a, b in zip(segments, segments[1:]))
    output = sample_autoregressive(plan, lambda s, history, memory: torch.full((s.length, 2), float(s.index)))
    assert output.shape == (frames, 2)
    assert output[-1, 0] == len(segments) - 1  # later segments replace the frames they overlap


def test_each_segment_sees_the_previous_ones_memory_and_history():
    plan = SegmentPlan(50, 20, 5)
    seen = []

    def sample_segment(segment, history, memory):
        seen.append((segment.index, None if history is None else history.shape[0], memory))
        return torch.arange(segment.start, segment.end, dtype=torch.float32)[:, None] + 1000 * segment.index

    output = sample_autoregressive(plan, sample_segment, memory_of=lambda history, segment: history[segment.start - 3 : segment.start, 0].tolist())
    assert seen[0] == (0, None, None)
    assert seen[1] == (1, 20, [12.0, 13.0, 14.0])  # the three frames before segment 1 (start 15), from segment 0
    assert seen[2][1] == 35 and seen[2][2] == [1027.0, 1028.0, 1029.0]  # from segment 1
    assert output.shape == (50, 1) and output[14, 0] == 14 and output[15, 0] == 1015


def test_bad_plans_and_outputs_are_refused():
    with pytest.raises(ArgumentError, match="overlap"):
        SegmentPlan(10, 5, 5)
    with pytest.raises(ArgumentError, match="at least 2"):
        SegmentPlan(10, 1)
    with pytest.raises(ValueError, match="gave 3 frames"):
        sample_autoregressive(SegmentPlan(10, 5), lambda s, h, m: torch.zeros(3, 1))
    assert SegmentPlan.from_seconds(90, 30.0, 1.0, 0.2) == SegmentPlan(90, 30, 6)
