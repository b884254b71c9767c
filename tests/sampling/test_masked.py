"""Masked-token schedules, sampling, confidence decoding and long sequences."""

from __future__ import annotations

import math

import pytest
import torch

from dancegen.errors import ArgumentError
from dancegen.sampling.masked import (
    confidence_decode,
    decode_long,
    mask_ratio,
    masked_count,
    random_masking,
    remask_transitions,
    sample_tokens,
)

K = 12  # codebook size
MASK = K  # the mask id follows the codebook


@pytest.mark.parametrize("iterations, length", [(1, 5), (4, 10), (10, 49), (18, 50), (18, 7)])
def test_masked_count_follows_the_cosine_and_ends_at_zero(iterations, length):
    counts = [masked_count(step, iterations, length) for step in range(iterations)]
    expected = [math.floor(length * math.cos(math.pi / 2 * (s + 1) / iterations)) for s in range(iterations - 1)]
    assert counts[:-1] == expected
    assert counts[-1] == 0
    assert all(a >= b for a, b in zip([length] + counts, counts))
    with pytest.raises(ArgumentError, match="step"):
        masked_count(iterations, iterations, length)


def test_mask_ratio_and_random_masking():
    assert torch.allclose(mask_ratio(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([1.0, math.sqrt(0.5), 0.0]), atol=1e-6)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, K, (64, 20), generator=generator)
    valid = torch.arange(20)[None] < torch.randint(5, 21, (64, 1), generator=generator)
    masked, mask = random_masking(tokens, MASK, generator, valid=valid)
    assert mask.sum(1).min() >= 1 and not (mask & ~valid).any()
    assert torch.equal(masked[mask], torch.full_like(masked[mask], MASK)) and torch.equal(masked[~mask], tokens[~mask])
    # mean masked fraction of E[cos(π/2 u)] = 2/π
    assert float((mask.sum(1) / valid.sum(1)).mean()) == pytest.approx(2 / math.pi, abs=0.08)
    tokens = torch.randint(0, K, (200, 50), generator=generator)
    corrupted, mask = random_masking(tokens, MASK, generator, bert_replace=True)
    is_mask = corrupted[mask] == MASK
    unchanged = corrupted[mask] == tokens[mask]
    assert float(is_mask.float().mean()) == pytest.approx(0.8, abs=0.03)
    assert float((~is_mask).float().mean()) == pytest.approx(0.2, abs=0.03)
    assert float(unchanged.float().mean()) == pytest.approx(0.1 + 0.1 / K, abs=0.02)
    assert corrupted.max() <= MASK and torch.equal(corrupted[~mask], tokens[~mask])


def test_sample_tokens_argmax_and_reproducible():
    logits = torch.randn(3, 7, K, generator=torch.Generator().manual_seed(1))
    tokens, confidence = sample_tokens(logits, 0.0)
    assert torch.equal(tokens, logits.argmax(-1))
    assert torch.allclose(confidence, logits.softmax(-1).max(-1).values)
    first, _ = sample_tokens(logits, 1.0, torch.Generator().manual_seed(5))
    second, _ = sample_tokens(logits, 1.0, torch.Generator().manual_seed(5))
    other, _ = sample_tokens(logits, 1.0, torch.Generator().manual_seed(6))
    assert torch.equal(first, second) and not torch.equal(first, other)
    # Gumbel-max samples softmax(logits / τ)
    one = torch.tensor([[[0.0, math.log(3.0)]]]).expand(1, 4000, 2)
    drawn, _ = sample_tokens(one, 1.0, torch.Generator().manual_seed(2))
    assert float(drawn.float().mean()) == pytest.approx(0.75, abs=0.03)


def _toy_model(target, noise=1.5, seed=0):
    """Noisy logits that favour `target`; records every input it sees."""
    generator = torch.Generator().manual_seed(seed)
    seen = []

    def logits_fn(tokens):
        seen.append(tokens.clone())
        logits = noise * torch.randn(*tokens.shape, K, generator=generator)
        return logits + 3.0 * torch.nn.functional.one_hot(target, K).float()

    return logits_fn, seen


def test_confidence_decode_follows_the_schedule():
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, K, (3, 30), generator=generator)
    start = target.clone()
    start[0] = MASK  # all unknown
    start[1, ::2] = MASK  # half known
    start[2, 5:25] = MASK
    valid = torch.ones(3, 30, dtype=torch.bool)
    valid[2, 26:] = False  # padding: stays as given even when it holds the mask id
    start[2, 28] = MASK
    logits_fn, seen = _toy_model(target)
    iterations = 6
    out = confidence_decode(logits_fn, start, MASK, iterations=iterations, temperature=0.5, generator=generator, valid=valid)
    unknown = (start == MASK) & valid
    assert len(seen) == iterations
    assert not (out[valid] == MASK).any() and out[2, 28] == MASK
    assert torch.equal(out[~unknown], start[~unknown])
    assert float((out[unknown] == target[unknown]).float().mean()) > 0.8
    lengths = unknown.sum(1).tolist()
    for step in range(1, iterations):
        masked = (seen[step] == MASK) & valid
        assert masked.sum(1).tolist() == [masked_count(step - 1, iterations, n) for n in lengths]
        assert not (masked & ~unknown).any()
        assert torch.equal(seen[step][~unknown], start[~unknown])
        kept = unknown & (seen[step - 1] != MASK)
        assert not (masked & kept).any() and torch.equal(seen[step][kept], seen[step - 1][kept])  # stay decoded


def test_confidence_decode_respects_editable():
    target = torch.randint(0, K, (1, 16), generator=torch.Generator().manual_seed(3))
    start = torch.full_like(target, MASK)
    editable = torch.zeros_like(target, dtype=torch.bool)
    editable[:, 4:10] = True
    logits_fn, _ = _toy_model(target, seed=1)
    out = confidence_decode(logits_fn, start, MASK, iterations=4, temperature=0.0, editable=editable)
    assert not (out[editable] == MASK).any() and (out[~editable] == MASK).all()


def test_remask_transitions_widths():
    tokens = torch.arange(20)[None]
    masked, editable = remask_transitions(tokens, [6, 18], 3, mask_id=99)
    assert editable[0].nonzero().flatten().tolist() == [3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19]
    assert (masked[editable] == 99).all() and torch.equal(masked[~editable], tokens[~editable])
    assert not remask_transitions(tokens, [6], 0, 99)[1].any()


@pytest.mark.parametrize("total, segment, transition", [(23, 8, 2), (24, 8, 3), (17, 10, 4), (5, 8, 2)])
def test_decode_long_exact_length_and_transitions_see_both_neighbours(total, segment, transition):
    spans, windows, starts_seen = [], [], []

    def segment_fn(start, length):
        spans.append((start, length))
        return torch.full((1, length), len(spans), dtype=torch.long)  # segment k holds k

    def refine_fn(window, editable, start):
        windows.append((window.clone(), editable.clone()))
        starts_seen.append(start)
        return torch.where(editable, torch.full_like(window, 100 + len(windows)), torch.full_like(window, -1))

    out = decode_long(segment_fn, refine_fn, total, segment, transition)
    starts = list(range(0, total, segment))
    assert out.shape == (1, total) and [s for s, _ in spans] == starts
    assert sum(length for _, length in spans) == total
    assert len(windows) == len(starts) - 1
    for index, (window, editable) in enumerate(windows):
        context = window[~editable].tolist()
        assert index + 1 in context and index + 2 in context  # both neighbours visible
        assert window.shape[1] <= segment
        boundary = starts[index + 1]
        assert starts_seen[index] == boundary - segment // 2  # where the window lies in the sequence
        right_len = min(segment, total - boundary)
        expected = transition + min(transition, right_len - 1, segment // 2 - 1)
        assert int(editable.sum()) == expected
        refined = out[0, boundary - transition : boundary - transition + expected]
        assert (refined == 100 + index + 1).all()
    assert not (out == -1).any()
    with pytest.raises(ArgumentError, match="transition"):
        decode_long(segment_fn, refine_fn, total, segment, segment // 2)



def test_decode_long_with_confidence_decode_leaves_no_mask():
    generator = torch.Generator().manual_seed(3)
    windows = []

    def logits_fn(tokens):
        return torch.randn(*tokens.shape, K, generator=generator)

    def segment_fn(start, length):
        return confidence_decode(logits_fn, torch.full((1, length), MASK), MASK, 5, 1.0, generator)

    def refine_fn(window, editable, start):
        windows.append(window.clone())
        masked = window.masked_fill(editable, MASK)
        return confidence_decode(logits_fn, masked, MASK, 4, 1.0, generator, editable=editable)

    out = decode_long(segment_fn, refine_fn, 29, 10, 3)
    assert out.shape == (1, 29) and not (out == MASK).any() and int(out.max()) < K
    assert len(windows) == 2 and not any((window == MASK).any() for window in windows)
    assert decode_long(segment_fn, refine_fn, 7, 1, 0).shape == (1, 7)  # one-token segments, no seams
