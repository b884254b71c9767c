"""`dancegen models`: the models this installation can generate with, and what each can do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("models")
    def models_command(
        paths: Optional[list[Path]] = typer.Argument(None, help="Bundle files to list too (e.g. runs/x/model.pt).",
                                                     show_default=False),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON list."),
    ) -> None:
        """List the shipped models, those in $DANCEGEN_MODELS folders and any bundles given."""
        from dancegen.catalog import available_models

        described = [entry.describe() for entry in available_models(tuple(paths or ()))]
        if as_json:
            print(json.dumps(described))
            return
        if not described:
            print("no models installed (train one with `dancegen train`)")
        for model in described:
            marks = " (default)" if model["default"] else ""
            print(f"{model['name']}{marks}  family {model['family']}, {model['skeleton']} at {model['fps']:g} fps, "
                  f"{model['size_mb']:.1f} MB, licence {model['licence']}")
            print(f"    supports: {', '.join(model['supports']) or 'nothing beyond music'}")
            if model["genres"]:
                print(f"    genres: {', '.join(model['genres'])}")
            print(f"    {model['path']}")
