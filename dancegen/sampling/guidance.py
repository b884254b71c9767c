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
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from dancegen.errors import ArgumentError

Tensor = torch.Tensor
ConditionalDenoiser = Callable[[Tensor, Tensor, Mapping[str, Tensor], Mapping[str, Tensor]], Tensor]


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


def guidance_terms(modalities: Sequence[str], weights: Mapping[str, float]) -> list[tuple[float, frozenset[str]]]:
    """(coefficient, kept modalities) for each chain node with a non-zero coefficient."""
    unknown = set(weights) - set(modalities)
    if unknown:
        raise ArgumentError(
            "guidance", f"no modality named {', '.join(sorted(unknown))}", f"this model has {', '.join(modalities)}"
        )
    scales = [float(weights.get(name, 1.0)) for name in modalities]
    coefficients = [1.0 - scales[0]] if scales else [1.0]
    coefficients += [scales[i] - scales[i + 1] for i in range(len(scales) - 1)]
    if scales:
        coefficients.append(scales[-1])
    terms = []
    for depth, coefficient in enumerate(coefficients):
        if coefficient != 0.0:
            terms.append((coefficient, frozenset(modalities[:depth])))
    return terms


def guided(
    denoiser: ConditionalDenoiser,
    conditions: Mapping[str, Tensor],
    weights: Mapping[str, float],
    order: Sequence[str],
    chunk_size: int | None = None,
) -> Callable[[Tensor, Tensor], Tensor]:
    """Bind conditions and weights into a `model_fn(x_t, t)` for `GaussianDiffusion.sample`.

    `order` lists the modalities the model knows, in guidance order; those missing from
    `conditions` are dropped in every pass (and their weights ignored).
    """
    unknown = set(weights) - set(order)
    if unknown:
        raise ArgumentError(
            "guidance", f"no modality named {', '.join(sorted(unknown))}", f"this model has {', '.join(order)}"
        )
    present = [name for name in order if conditions.get(name) is not None]
    terms = guidance_terms(present, {name: weight for name, weight in weights.items() if name in present})

    def model_fn(x: Tensor, t: Tensor) -> Tensor:
        batch = x.shape[0]
        copies = len(terms)
        stacked_conditions = {name: _repeat(conditions[name], copies) for name in present}
        drop = {
            name: torch.cat([torch.full((batch,), name not in kept, device=x.device) for _, kept in terms])
            for name in present
        }
        outputs = _chunked(denoiser, _repeat(x, copies), _repeat(t, copies), stacked_conditions, drop, chunk_size)
        outputs = outputs.reshape(copies, batch, *outputs.shape[1:])
        result = terms[0][0] * outputs[0]
        for (coefficient, _), output in zip(terms[1:], outputs[1:]):
            result = result + coefficient * output
        return result

    return model_fn


def _repeat(tensor: Tensor, copies: int) -> Tensor:
    return tensor if copies == 1 else torch.cat([tensor] * copies, dim=0)


def _chunked(
    denoiser: ConditionalDenoiser,
    x: Tensor,
    t: Tensor,
    conditions: Mapping[str, Tensor],
    drop: Mapping[str, Tensor],
    chunk_size: int | None,
) -> Tensor:
    """Run the denoiser over the batch in pieces to bound peak memory on long songs."""
    total = x.shape[0]
    if chunk_size is None or chunk_size >= total:
        return denoiser(x, t, conditions, drop)
    pieces = []
    for start in range(0, total, chunk_size):
        part = slice(start, start + chunk_size)
        pieces.append(
            denoiser(
                x[part],
                t[part],
                {name: value[part] for name, value in conditions.items()},
                {name: mask[part] for name, mask in drop.items()},
            )
        )
    return torch.cat(pieces, dim=0)
