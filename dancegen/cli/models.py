"""`dancegen models`: the models this installation can generate with, and what each can do."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dancegen.cli.options import JsonOption, Output, QuietOption, quietable


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("models")
    @quietable
    def models_command(
        paths: Optional[list[Path]] = typer.Argument(None, help="Bundle files to list too (e.g. runs/x/model.pt).",
                                                     show_default=False),
        quiet: QuietOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """List the shipped models, those in $DANCEGEN_MODELS folders and any bundles given.

        --json prints one list.
        """
        from dancegen.catalog import available_models

        described = [entry.describe() for entry in available_models(tuple(paths or ()))]
        Output(quiet, as_json).result(described, "\n".join(_describe_lines(described)))


def _describe_lines(described: list[dict]) -> list[str]:
    """What `dancegen models` prints: each model's family, skeleton, size, licence and abilities."""
    if not described:
        return ["no models installed (train one with `dancegen train`)"]
    lines = []
    for model in described:
        marks = " (default)" if model["default"] else ""
        lines.append(f"{model['name']}{marks}  family {model['family']}, {model['skeleton']} at {model['fps']:g} fps, "
                     f"{model['size_mb']:.1f} MB, licence {model['licence']}")
        lines.append(f"    supports: {', '.join(model['supports']) or 'nothing beyond music'}")
        if model["genres"]:
            lines.append(f"    genres: {', '.join(model['genres'])}")
        lines.append(f"    {model['path']}")
    return lines
