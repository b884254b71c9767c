"""`dancegen serve`: the generation service and its web page (needs `pip install 'dancegen[serve]'`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dancegen.cli.options import JsonOption, QuietOption, quietable


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""

    @app.command("serve")
    @quietable
    def serve_command(
        config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML file of serve settings (docs/serve.md)")] = None,
        host: Annotated[Optional[str], typer.Option("--host", help="address to listen on (default 127.0.0.1: this machine only)")] = None,
        port: Annotated[Optional[int], typer.Option("--port", "-p", help="port (default 8000; 0: any free port)")] = None,
        data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="where the job table and results live")] = None,
        workers: Annotated[Optional[int], typer.Option("--workers", "-w", help="worker processes, one loaded model each (default 1)")] = None,
        overrides: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="a setting, e.g. limits.max_queued_jobs=50 (repeatable)")] = None,
        access_log: Annotated[bool, typer.Option("--access-log", help="log every HTTP request")] = False,
        quiet: QuietOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Serve dance generation over HTTP: an API (OpenAPI at /docs) and an upload page at /.

        Once ready it prints its URL (with --json: {url, workers, data_dir, models,
        api_key_required}). The API key, when wanted, comes from DANCEGEN_API_KEY or the config
        file's api_key."""
        from dancegen.cli.options import to_json
        from dancegen.serve.server import (
            describe,
            load_serve_config,
            require_extra,
            serve,
        )

        require_extra()
        settings = load_serve_config(config, overrides or (), host=host, port=port, data_dir=data_dir, workers=workers,
                                     log_level="error" if quiet else None)

        def announce(info: dict) -> None:
            if as_json:
                print(to_json(info), flush=True)
            elif not quiet:
                print(describe(info), flush=True)

        serve(settings, announce=announce, access_log=access_log)
