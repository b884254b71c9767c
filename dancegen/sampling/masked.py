"""Masked-token decoding: the cosine masking schedule, confidence-based parallel decoding and
long sequences from a fixed-length token model.

A token model predicts logits (B, N, K) for every position of a token sequence in which some
positions hold `mask_id`. Training masks a random fraction cos(π/2 · u), u ~ U(0, 1), of the
tokens (`random_masking`); generation starts from all-masked and, over T iterations, keeps the
most confident predictions and re-masks the rest, fewer each time (`confidence_decode`):
MaskGIT (Chang et al. 2022), MoMask (Guo et al. 2024), MMM (Pinyoanuntapong et al. 2024).
Nothing here knows a network: a model is a function from tokens to logits.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from dancegen.errors import ArgumentError

Tensor = torch.Tensor
LogitsFn = Callable[[Tensor], Tensor]

# Gumbel noise: keeps log(−log(u)) finite.
UNIFORM_EPS = 1e-20
# floor() of L · cos(…) that is an integer in exact arithmetic must not drop by one in floats.
FLOOR_EPS = 1e-9
# BERT-style corruption of the masked positions (Devlin et al. 2019; MoMask's training).
RANDOM_REPLACE_FRACTION = 0.1
UNCHANGED_FRACTION = 0.1


# --- schedules ------------------------------------------------------------------------------


def mask_ratio(u: Tensor) -> Tensor:
    """Cosine masking schedule γ(u) = cos(π/2 · u): the fraction masked at training time u ~ U(0,1)."""
    return torch.cos(0.5 * math.pi * u)


def masked_count(step: int, iterations: int, length: int) -> int:
    """Tokens still masked after 0-based iteration `step` of `iterations`:

        n_M = ⌊L · cos(π/2 · (step + 1) / T)⌋

    monotone non-increasing in `step`, and 0 after the last iteration (step = T − 1).
    """
    if iterations < 1:
        raise ArgumentError("iterations", f"must be at least 1, got {iterations}")
    if not 0 <= step < iterations:
        raise ArgumentError("step", f"must be in [0, {iterations}), got {step}")
    if length < 0:
        raise ArgumentError("length", f"must not be negative, got {length}")
    if step == iterations - 1:
        return 0  # cos(π/2) is 6e-17 in floats, not 0
    return math.floor(length * math.cos(0.5 * math.pi * (step + 1) / iterations) + FLOOR_EPS)


def random_masking(
    tokens: Tensor,
    mask_id: int,
    generator: torch.Generator | None = None,
    valid: Tensor | None = None,
    bert_replace: bool = False,
    vocabulary: int | None = None,
) -> tuple[Tensor, Tensor]:
    """MaskGIT/MoMask training corruption: (masked_tokens, mask), both (B, N).

    Each sample draws u ~ U(0,1) and masks round(γ(u) · L) of its L valid tokens (at least one)
    at random; `mask` marks them (the positions the loss is taken on). With `bert_replace`, 10 %
    of those get a random token from [0, vocabulary) (default [0, mask_id): the mask id follows
    the codebook), 10 % stay unchanged and the rest become `mask_id`.
    """
    batch, num = tokens.shape
    device = tokens.device
    valid = torch.ones_like(tokens, dtype=torch.bool) if valid is None else valid.bool()
    lengths = valid.sum(dim=1)
    ratio = mask_ratio(torch.rand(batch, generator=generator, device=device))
    count = torch.round(ratio * lengths).clamp(min=1)
    # A random rank among the valid positions; invalid ones rank last.
    scores = torch.rand(batch, num, generator=generator, device=device).masked_fill(~valid, 2.0)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    mask = (ranks < count[:, None]) & valid
    if not bert_replace:
        return tokens.masked_fill(mask, mask_id), mask
    choice = torch.rand(batch, num, generator=generator, device=device)
    replace = mask & (choice < RANDOM_REPLACE_FRACTION)
    unchanged = mask & (choice >= RANDOM_REPLACE_FRACTION) & (choice < RANDOM_REPLACE_FRACTION + UNCHANGED_FRACTION)
    high = mask_id if vocabulary is None else vocabulary
    random_tokens = torch.randint(0, high, (batch, num), generator=generator, device=device, dtype=tokens.dtype)
    corrupted = torch.where(mask & ~unchanged, torch.full_like(tokens, mask_id), tokens)
    return torch.where(replace, random_tokens, corrupted), mask


# --- decoding -------------------------------------------------------------------------------


def sample_tokens(
    logits: Tensor, temperature: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Tokens (B, N) and their confidence (B, N) from logits (B, N, K).

    Temperature 0 takes the argmax; otherwise argmax(logits / τ + g) with Gumbel noise
    g = −log(−log u), u ~ U(0,1) from `generator`: a sample of softmax(logits / τ). Confidence
    is the chosen token's probability under softmax(logits), without the temperature (as
    MoMask's "probs_without_temperature"), so it means the same whatever τ.
    """
    if temperature < 0:
        raise ArgumentError("temperature", f"must not be negative, got {temperature}")
    if temperature == 0:
        tokens = logits.argmax(dim=-1)
    else:
        uniform = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
        exponential = -torch.log(uniform.clamp(min=UNIFORM_EPS))
        gumbel = -torch.log(exponential.clamp(min=UNIFORM_EPS))
        tokens = (logits / temperature + gumbel).argmax(dim=-1)
    confidence = logits.softmax(dim=-1).gather(-1, tokens[..., None])[..., 0]
    return tokens, confidence


def top_k_logits(logits: Tensor, keep: int) -> Tensor:
    """Logits with all but the `keep` largest per position set to −inf (MoMask's top-k filter)."""
    threshold = logits.topk(keep, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < threshold, float("-inf"))


def confidence_decode(
    logits_fn: LogitsFn,
    tokens: Tensor,
    mask_id: int,
    iterations: int = 18,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    editable: Tensor | None = None,
    valid: Tensor | None = None,
    anneal_temperature: bool = False,
) -> Tensor:
    """Fill the masked positions of `tokens` (B, N) in `iterations` parallel steps (MaskGIT).

    Unknown = positions equal to `mask_id` that are `editable` and `valid` (all by default);
    L is their number per sample. Iteration s predicts every position with `logits_fn`, samples
    the masked ones (`sample_tokens`), then re-masks the n_M = `masked_count(s, T, L)` least
    confident of those just sampled. Tokens given as known, padding (`valid` False) and tokens
    kept at an earlier iteration count as +inf confidence and never change, as in MaskGIT and
    MoMask. After T iterations no unknown position holds `mask_id`. With `anneal_temperature`
    the temperature falls linearly, τ · (1 − s / T), as MMM's Gumbel annealing.
    """
    if iterations < 1:
        raise ArgumentError("iterations", f"must be at least 1, got {iterations}")
    everywhere = torch.ones_like(tokens, dtype=torch.bool)
    editable = everywhere if editable is None else editable.bool()
    valid = everywhere if valid is None else valid.bool()
    unknown = (tokens == mask_id) & editable & valid
    lengths = unknown.sum(dim=1).tolist()
    current = tokens.clone()
    masked = unknown
    for step in range(iterations):
        step_temperature = temperature * (1 - step / iterations) if anneal_temperature else temperature
        sampled, confidence = sample_tokens(logits_fn(current), step_temperature, generator)
        current = torch.where(masked, sampled, current)
        counts = torch.tensor([masked_count(step, iterations, length) for length in lengths], device=tokens.device)
        masked = _least_confident(confidence.masked_fill(~masked, float("inf")), counts)
        current = current.masked_fill(masked, mask_id)
    return current


def _least_confident(confidence: Tensor, counts: Tensor) -> Tensor:
    """Bool (B, N): the `counts[b]` positions of lowest confidence in each row."""
    ranks = confidence.argsort(dim=1, stable=True).argsort(dim=1)
    return ranks < counts[:, None]


# --- long sequences -------------------------------------------------------------------------


def remask_transitions(tokens: Tensor, boundaries: Sequence[int], width: int, mask_id: int) -> tuple[Tensor, Tensor]:
    """Mask `width` tokens on either side of each boundary: positions [b − width, b + width).

    Returns the masked copy of `tokens` (B, N) and `editable` (B, N), True where masked.
    """
    if width < 0:
        raise ArgumentError("width", f"must not be negative, got {width}")
    num = tokens.shape[1]
    editable = torch.zeros_like(tokens, dtype=torch.bool)
    for boundary in boundaries:
        editable[:, max(boundary - width, 0) : min(boundary + width, num)] = True
    return tokens.masked_fill(editable, mask_id), editable


def decode_long(
    segment_fn: Callable[[int, int], Tensor],
    refine_fn: Callable[[Tensor, Tensor, int], Tensor],
    total: int,
    segment: int,
    transition: int,
) -> Tensor:
    """A (1, total) token sequence from a model of `segment` tokens, zero-shot (MMM's long motion).

    1. `segment_fn(start, length)` gives each consecutive span's tokens (1, length); the last
       span is shorter when `segment` does not divide `total`.
    2. Each boundary b gets a window [b − segment//2, b + segment//2) (at most one model
       length, clipped at the end) whose `transition` (< segment // 2)
       tokens either side of b are editable, keeping at least one token of each neighbour as
       context (a last span shorter than that gets fewer editable tokens).
       `refine_fn(window (1, W), editable (1, W), start)` gets the window as generated and
       where it starts in the sequence (to cut its conditions), and re-decodes the editable
       tokens, e.g. `confidence_decode(logits_fn, window.masked_fill(editable,
       mask_id), mask_id, editable=editable)`; only editable positions are taken from it.
    """
    if total < 1 or segment < 1:
        raise ArgumentError("total/segment", f"must be at least 1, got {total} and {segment}")
    if transition < 0 or (transition > 0 and transition >= segment // 2):
        raise ArgumentError(
            "transition",
            f"{transition} tokens leave no context in a {segment}-token window",
            "use fewer than half a segment",
        )
    starts = list(range(0, total, segment))
    lengths = [min(segment, total - start) for start in starts]
    tokens = torch.cat([_checked_span(segment_fn(s, n), n) for s, n in zip(starts, lengths)], dim=1)
    if transition == 0:
        return tokens
    for boundary in starts[1:]:
        window = slice(boundary - segment // 2, min(boundary + segment // 2, total))
        left_edit = transition  # < segment // 2: the left span always leaves context
        right_edit = min(transition, window.stop - boundary - 1)
        editable = torch.zeros(1, window.stop - window.start, dtype=torch.bool, device=tokens.device)
        editable[:, boundary - window.start - left_edit : boundary - window.start + right_edit] = True
        refined = _checked_span(refine_fn(tokens[:, window].clone(), editable, window.start), editable.shape[1])
        tokens[:, window] = torch.where(editable, refined, tokens[:, window])
    return tokens


def _checked_span(span: Tensor, length: int) -> Tensor:
    if tuple(span.shape) != (1, length):
        raise ArgumentError("segment_fn/refine_fn", f"returned shape {tuple(span.shape)}, expected (1, {length})")
    return span
