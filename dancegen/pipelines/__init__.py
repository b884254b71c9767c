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
    from dancegen.errors import InputFileError
    from dancegen.families import get_family

    entry = resolve_model(model)
    pipeline_class = get_family(entry.header.family, f"{entry.path}: family").pipeline_class()
    bundle = load_bundle(entry.path, map_location=check_device(device))
    check_weights(bundle, entry.path)
    try:
        return pipeline_class.from_bundle(bundle, device)
    except InputFileError as error:
        if str(error.path) != entry.header.name:
            raise
        # The families name the model; the user knows the file.
        raise InputFileError(entry.path, error.problem, "re-export or re-download the model") from None


def check_weights(bundle, path) -> None:
    """Every weight is a finite number: NaN weights would surface much later as NaN features
    or motion, blaming the song."""
    import torch

    from dancegen.errors import InputFileError

    for component, state in bundle.components.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise InputFileError(path, f"weight {component}.{key} contains NaN or infinite values",
                                     "the model file is damaged: retrain or re-download it")


def check_device(device: str) -> str:
    """`device` exists on this machine; else a one-line error that blames the option."""
    import torch

    from dancegen.errors import ArgumentError

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ArgumentError("--device", f"{device!r} is not a device name", "use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0 or (parsed.index or 0) >= count:
            raise ArgumentError("--device", f"{device} is not available on this machine ({count} CUDA devices)", "use --device cpu")
    elif parsed.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ArgumentError("--device", "mps is not available on this machine (it needs Apple silicon)", "use --device cpu")
    elif parsed.type != "cpu":
        raise ArgumentError("--device", f"{device!r} is not supported", "use cpu, cuda or mps")
    return device


__all__ = ["GenerationRequest", "check_device", "check_weights", "load_pipeline"]
