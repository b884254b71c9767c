"""End-to-end pipelines: song (and prompt, edits) in, Motion out.

    from dancegen import load_pipeline
    motion = load_pipeline("gcdance-small")("song.wav", prompt="smooth salsa steps", seed=0)

`load_pipeline` reads the bundle's header, finds its family in the registry and builds that
family's pipeline (`base.DancePipeline`) from the bundle.
"""

from __future__ import annotations

from pathlib import Path

from dancegen.pipelines.request import GenerationRequest


def load_pipeline(model: str | Path | None = None, device: str = "cpu"):
    """The pipeline for a shipped model's name (default: the default model) or a bundle path."""
    from dancegen.bundle import load_bundle
    from dancegen.catalog import resolve_model
    from dancegen.families import get_family

    entry = resolve_model(model)
    pipeline_class = get_family(entry.header.family, f"{entry.path}: family").pipeline_class()
    return pipeline_class.from_bundle(load_bundle(entry.path, map_location=check_device(device)), device)


def check_device(device: str) -> str:
    """`device` exists on this machine; else a one-line error that blames the option."""
    import torch

    from dancegen.errors import ArgumentError

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ArgumentError("--device", f"{device!r} is not a device name", "use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0 or (parsed.index or 0) >= count:
            raise ArgumentError("--device", f"{device} is not available on this machine ({count} CUDA devices)", "use --device cpu")
    elif parsed.type not in ("cpu", "mps"):
        raise ArgumentError("--device", f"{device!r} is not supported", "use cpu or cuda")
    return device


__all__ = ["GenerationRequest", "check_device", "load_pipeline"]
