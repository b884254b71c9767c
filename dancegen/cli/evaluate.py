"""`dancegen evaluate`: score generated dances against a reference set (docs/metrics.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable

METRICS_HELP = "comma-separated subset of fid_k,fid_g,div_k,div_g,bas,pfc,pbc,fsr,pff,rs,lr (default: all)"


@quietable
def evaluate(
    generated: Path = typer.Option(..., "--generated", help="folder of generated motions (.npy joint positions, .bvh, .npz, .pkl, FineDance .npy)"),
    reference: Path = typer.Option(..., "--reference", help="folder of reference (ground-truth test) motions"),
    music: Optional[Path] = typer.Option(None, "--music", help="folder of STEM.beats.json or STEM.wav/.ogg/.mp3/.flac, paired by file stem"),
    metrics: Optional[str] = typer.Option(None, "--metrics", help=METRICS_HELP),
    fps: Optional[float] = typer.Option(None, "--fps", help="frame rate of .npy joint positions (overrides file headers)"),
    up: str = typer.Option("y", "--up", help="up axis of .npy joint positions: y or z"),
    bas_variant: str = typer.Option("bailando", "--bas-variant", help="bailando, fact or lodge"),
    reference_bugs: bool = typer.Option(False, "--reference-bugs", help="reproduce the reference implementations' bugs (published numbers)"),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="crop motions first (Bailando: 1200, LODGE: 1024)"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the full report (with per-file values) as JSON"),
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Compute FID/Div, beat alignment, physical and freezing metrics; print a markdown table.

    --json prints the full report (what --out writes) instead of the table.
    """
    import json

    from pydantic import ValidationError

    from dancegen.errors import ArgumentError
    from dancegen.fileio import atomic_write_text
    from dancegen.metrics.beat_align import BAS_VARIANTS
    from dancegen.metrics.suite import (
        METRIC_KEYS,
        EvaluationConfig,
        attach_music,
        format_markdown,
        load_clips,
    )
    from dancegen.metrics.suite import (
        evaluate as run_suite,
    )

    if up not in ("y", "z"):
        raise ArgumentError("--up", f"must be y or z, got {up!r}")
    if fps is not None and not fps > 0:
        raise ArgumentError("--fps", f"must be positive, got {fps:g}")
    if bas_variant not in BAS_VARIANTS:
        raise ArgumentError("--bas-variant", f"unknown variant {bas_variant!r}", f"choose {', '.join(BAS_VARIANTS)}")
    settings = {"bas_variant": bas_variant, "reference_bugs": reference_bugs, "max_frames": max_frames}
    if metrics:
        settings["metrics"] = [m.strip() for m in metrics.split(",") if m.strip()]
        unknown = [m for m in settings["metrics"] if m not in METRIC_KEYS]
        if unknown:
            raise ArgumentError("--metrics", f"unknown metric {unknown[0]!r}", METRICS_HELP)
    try:
        config = EvaluationConfig(**settings)
    except ValidationError as error:
        # Named as the option that set it: max_frames -> --max-frames.
        first = error.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "evaluate"
        raise ArgumentError(option, first["msg"].removeprefix("Value error, ")) from None

    generated_clips = load_clips(generated, fps, up, "generated motions")
    reference_clips = load_clips(reference, fps, up, "reference motions")
    if music is not None and {"bas", "rs"} & set(config.metrics):
        attach_music(generated_clips, music, bas_variant, reference_bugs, required=True)
        attach_music(reference_clips, music, bas_variant, reference_bugs, required=False)

    report = run_suite(generated_clips, reference_clips, config)
    if out is not None:
        atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    output = Output(quiet, as_json)
    output.result(report, format_markdown(report))
    for warning in report.get("warnings", []):
        output.warn(warning)


def register(app: typer.Typer) -> None:
    """Add `dancegen evaluate` to the top-level app."""
    app.command("evaluate")(evaluate)
