"""Run `dancegen` in-process from tests (importable: pytest puts tests/ on sys.path for conftest.py)."""

from __future__ import annotations

from dancegen.cli import main


def run_cli(args: list, capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `dancegen ARGS`; main() returns normally on success."""
    status = 0
    try:
        main(list(map(str, args)))
    except SystemExit as stop:
        status = stop.code
    return (status, *capsys.readouterr())
