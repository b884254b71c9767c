"""The `dancegen` command.

Each command group lives in its own module under `dancegen/cli/` and keeps heavy imports
(torch, librosa, ...) inside its functions so that `dancegen --help` stays instant.
Errors a user can cause are `DanceGenError`s: printed as one line, exit status 2.
"""

from __future__ import annotations

import os
import sys

import typer

from dancegen.errors import DanceGenError

app = typer.Typer(
    name="dancegen",
    help="Music- and text-driven 3D dance generation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Music- and text-driven 3D dance generation."""


def _register() -> None:
    # Command groups, in the order `--help` lists them.
    from dancegen.cli import audio, data, evaluate, generate, models, motion, render, train, view

    for module in (motion, audio, data, evaluate, models, train, generate, view, render):
        module.register(app)


_register()


@app.command()
def version() -> None:
    """Print the dancegen version."""
    from dancegen import __version__

    print(f"dancegen {__version__}")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning user errors into one line.

    Called without `argv` (the `dancegen` script, `python -m dancegen`), a command that
    succeeded ends the process at once (`_fast_exit`); callers that pass `argv` (tests, other
    programs) get a normal return or SystemExit.
    """
    console = argv is None and not os.environ.get(KEEP_TEARDOWN_ENV)
    try:
        # Typer (standalone mode) reports its own usage errors and exits with status 2.
        app(args=argv, prog_name="dancegen")
    except SystemExit as stop:
        if console and stop.code in (0, None):
            _fast_exit()
        raise
    except DanceGenError as error:
        print(f"dancegen: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("dancegen: interrupted", file=sys.stderr)
        sys.exit(130)
    if console:
        _fast_exit()


# Set to keep the interpreter's normal shutdown (atexit handlers, module teardown) after a
# successful command, e.g. to profile it.
KEEP_TEARDOWN_ENV = "DANCEGEN_KEEP_TEARDOWN"


def _fast_exit() -> None:
    """Flush and leave with status 0, skipping the interpreter's teardown: freeing torch's and
    numba's modules and the models took 1–3 s after every `dancegen generate`. Every file a
    command writes is closed before it returns; logs are flushed here."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
