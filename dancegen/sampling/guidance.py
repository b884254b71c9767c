"""Classifier-free guidance with one weight per modality (music, text/genre, pose, ...).

A conditional denoiser is `denoiser(x_t, t, conditions, drop) -> output`: `conditions` maps a
modality name to its tensor (batch first) and `drop` maps a name to a (B,) bool mask of the
batch items that must ignore it (the network swaps in its learned null embedding). Training
drops each modality independently (`condition_dropout`), so every subset is a model the
network has learned.

Guidance composes the modalities in a fixed order m_1 … m_k, as InstructPix2Pix does for two:

    ŷ = y(∅) + Σ_i w_i · (y(m_1..m_i) − y(m_1..m_{i−1}))

w_i = 1 for every modality gives the plain conditional prediction; equal weights w give
ordinary CFG, y(∅) + w (y(all) − y(∅)). Each chain node costs one network pass; nodes whose
coefficient vanishes are skipped, and the passes run as one batch (in `chunk_size` pieces).

`composition="independent"` instead guides each modality on its own against the unconditional
pass (Liu et al. 2022, "Compositional Visual Generation"; the multimodal CFG of masked-token
dance models, applied to logits):

    ŷ = (1 − Σ_m w_m) · y(∅) + Σ_m w_m · y(m alone)

e.g. (1 − w_T − w_A − w_P) l(∅,∅,∅) + w_T l(T,∅,∅) + w_A l(∅,A,∅) + w_P l(∅,∅,P).
`guided` binds a diffusion denoiser, `guided_logits` a token network, `combine_independent`
mixes passes a caller ran itself.
"""

from __future__ import annotations

from typing import Callable, Literal, Mapping, Sequence

import torch

from dancegen.errors import ArgumentError

Tensor = torch.Tensor
ConditionalDenoiser = Callable[[Tensor, Tensor, Mapping[str, Tensor], Mapping[str, Tensor]], Tensor]
# network_fn(tokens, conditions, drop) -> logits (B, N, K)
ConditionalTokenNetwork = Callable[[Tensor, Mapping[str, Tensor], Mapping[str, Tensor]], Tensor]
Composition = Literal["chain", "independent"]
COMPOSITIONS = ("chain", "independent")
Terms = list[tuple[float, frozenset[str]]]


def condition_dropout(
    batch: int,
    probabilities: Mapping[str, float],
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, Tensor]:
    """Independent per-modality drop masks for training, (B,) bool each."""
    return {
        name: torch.rand(batch, generator=generator, device=device) < probability
        for name, probability in probabilities.items()
    }


def guidance_terms(
    modalities: Sequence[str], weights: Mapping[str, float], composition: Composition = "chain"
) -> Terms:
    """(coefficient, kept modalities) for each pass with a non-zero coefficient.

    A modality without a weight gets 1. "chain": the nodes y(m_1..m_i); "independent": y(∅)
    with 1 − Σ w_m and each y(m alone) with w_m.
    """
    unknown = set(weights) - set(modalities)
    if unknown:
        raise ArgumentError(
            "guidance", f"no modality named {', '.join(sorted(unknown))}", f"this model has {', '.join(modalities)}"
        )
    if composition not in COMPOSITIONS:
        raise ArgumentError(
            "composition", f"unknown composition {composition!r}", f"use one of {', '.join(COMPOSITIONS)}"
        )
    scales = [float(weights.get(name, 1.0)) for name in modalities]
    if composition == "independent":
        return _independent_terms(modalities, scales)
    coefficients = [1.0 - scales[0]] if scales else [1.0]
    coefficients += [scales[i] - scales[i + 1] for i in range(len(scales) - 1)]
    if scales:
        coefficients.append(scales[-1])
    terms = []
    for depth, coefficient in enumerate(coefficients):
        if coefficient != 0.0:
            terms.append((coefficient, frozenset(modalities[:depth])))
    return terms


def _independent_terms(modalities: Sequence[str], scales: Sequence[float]) -> Terms:
    candidates = [(1.0 - sum(scales), frozenset())]
    candidates += [(scale, frozenset([name])) for name, scale in zip(modalities, scales)]
    return [(coefficient, kept) for coefficient, kept in candidates if coefficient != 0.0]


def combine_independent(outputs: Mapping[str | None, Tensor], weights: Mapping[str, float]) -> Tensor:
    """(1 − Σ_m w_m) · outputs[None] + Σ_m w_m · outputs[m], over the modalities in `outputs`.

    For callers that run the passes themselves: key None is the unconditional output, every
    other key the output with that modality alone (weight 1 unless `weights` names it).
    """
    modalities = [name for name in outputs if name is not None]
    terms = guidance_terms(modalities, weights, "independent")
    if any(not kept for _, kept in terms) and None not in outputs:
        raise ArgumentError(
            "outputs", "the unconditional output (key None) is missing", "run a pass with every modality dropped"
        )
    # kept is ∅ (the unconditional pass, key None) or one modality
    passes = [outputs[next(iter(kept), None)] for _, kept in terms]
    return _weighted_sum([coefficient for coefficient, _ in terms], passes)


def guided(
    denoiser: ConditionalDenoiser,
    conditions: Mapping[str, Tensor],
    weights: Mapping[str, float],
    order: Sequence[str],
    chunk_size: int | None = None,
    composition: Composition = "chain",
) -> Callable[[Tensor, Tensor], Tensor]:
    """Bind conditions and weights into a `model_fn(x_t, t)` for `GaussianDiffusion.sample`.

    `order` lists the modalities the model knows, in guidance order; those missing from
    `conditions` are dropped in every pass (and their weights ignored).
    """
    present, terms = _present_terms(conditions, weights, order, composition)
    # The stacked conditions and drop masks are the same at every step: built once per batch
    # size, they are also the same tensors each step, which lets a network cache what it
    # derives from them (e.g. GCDanceNetwork.step_cache).
    stacked: dict[int, tuple[dict[str, Tensor], dict[str, Tensor]]] = {}

    def model_fn(x: Tensor, t: Tensor) -> Tensor:
        if x.shape[0] not in stacked:
            stacked[x.shape[0]] = _stacked_conditions(conditions, present, terms, x.shape[0], x.device)
        return _guided_passes(denoiser, (x, t), conditions, present, terms, chunk_size, stacked[x.shape[0]])

    return model_fn


def guided_logits(
    network_fn: ConditionalTokenNetwork,
    conditions: Mapping[str, Tensor],
    weights: Mapping[str, float],
    order: Sequence[str],
    composition: Composition = "independent",
    chunk_size: int | None = None,
) -> Callable[[Tensor], Tensor]:
    """Bind a token network `network_fn(tokens, conditions, drop)` into `logits_fn(tokens)`.

    The result is what `sampling.masked.confidence_decode` takes; every pass runs in one batch
    (in `chunk_size` pieces) with its own drop masks, as in `guided`.
    """
    present, terms = _present_terms(conditions, weights, order, composition)

    def logits_fn(tokens: Tensor) -> Tensor:
        return _guided_passes(network_fn, (tokens,), conditions, present, terms, chunk_size)

    return logits_fn


def _present_terms(
    conditions: Mapping[str, Tensor], weights: Mapping[str, float], order: Sequence[str], composition: Composition
) -> tuple[list[str], Terms]:
    unknown = set(weights) - set(order)
    if unknown:
        raise ArgumentError(
            "guidance", f"no modality named {', '.join(sorted(unknown))}", f"this model has {', '.join(order)}"
        )
    present = [name for name in order if conditions.get(name) is not None]
    terms = guidance_terms(present, {name: weight for name, weight in weights.items() if name in present}, composition)
    return present, terms


def _guided_passes(
    fn: Callable[..., Tensor],
    inputs: tuple[Tensor, ...],
    conditions: Mapping[str, Tensor],
    present: Sequence[str],
    terms: Terms,
    chunk_size: int | None,
    stacked: tuple[dict[str, Tensor], dict[str, Tensor]] | None = None,
) -> Tensor:
    """Run `fn(*inputs, conditions, drop)` once per term, batched, and sum with the coefficients.
    `stacked`: `_stacked_conditions(...)` for this batch, when the caller keeps it."""
    batch = inputs[0].shape[0]
    copies = len(terms)
    stacked_conditions, drop = stacked or _stacked_conditions(conditions, present, terms, batch, inputs[0].device)
    stacked_inputs = tuple(_repeat(value, copies) for value in inputs)
    outputs = _chunked(fn, stacked_inputs, stacked_conditions, drop, chunk_size)
    outputs = outputs.reshape(copies, batch, *outputs.shape[1:])
    return _weighted_sum([coefficient for coefficient, _ in terms], list(outputs))


def _stacked_conditions(
    conditions: Mapping[str, Tensor], present: Sequence[str], terms: Terms, batch: int, device: torch.device
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(conditions repeated once per term, drop masks (copies · B,)) for a batch of B inputs."""
    copies = len(terms)
    stacked_conditions = {name: _repeat(conditions[name], copies) for name in present}
    drop = {
        name: torch.cat([torch.full((batch,), name not in kept, device=device) for _, kept in terms])
        for name in present
    }
    return stacked_conditions, drop


def _weighted_sum(coefficients: Sequence[float], outputs: Sequence[Tensor]) -> Tensor:
    result = coefficients[0] * outputs[0]
    for coefficient, output in zip(coefficients[1:], outputs[1:]):
        result = result + coefficient * output
    return result


def _repeat(tensor: Tensor, copies: int) -> Tensor:
    return tensor if copies == 1 else torch.cat([tensor] * copies, dim=0)


def _chunked(
    fn: Callable[..., Tensor],
    inputs: tuple[Tensor, ...],
    conditions: Mapping[str, Tensor],
    drop: Mapping[str, Tensor],
    chunk_size: int | None,
) -> Tensor:
    """Run the network over the batch in pieces to bound peak memory on long songs."""
    total = inputs[0].shape[0]
    if chunk_size is None or chunk_size >= total:
        return fn(*inputs, conditions, drop)
    pieces = []
    for start in range(0, total, chunk_size):
        part = slice(start, start + chunk_size)
        pieces.append(
            fn(
                *(value[part] for value in inputs),
                {name: value[part] for name, value in conditions.items()},
                {name: mask[part] for name, mask in drop.items()},
            )
        )
    return torch.cat(pieces, dim=0)
