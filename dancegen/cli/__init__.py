"""The `dancegen` command.

Each command group lives in its own module under `dancegen/cli/` and keeps heavy imports
(torch, librosa, ...) inside its functions so that `dancegen --help` stays instant.

`main` is the one error path of the product: errors a user can cause are `DanceGenError`s,
printed as one line, exit status 2; usage errors are one line too; SIGINT / SIGTERM unwind
(temporaries removed) to `dancegen: interrupted`; anything else is a bug, reported in one line
with the traceback only under `--debug` / DANCEGEN_DEBUG=1. Other libraries' warnings and
output are kept off the terminal unless `--verbose` / DANCEGEN_VERBOSE=1 (`dancegen.console`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from contextlib import contextmanager, suppress
from typing import Iterator

from dancegen.console import (
    DEBUG_ENV,
    VERBOSE_ENV,
    debug_enabled,
    exit_quietly_on_signals_while_starting,
    third_party_silenced,
)
from dancegen.errors import WRITE_ERRNOS, DanceGenError, Interrupted

if os.path.basename(sys.argv[0] if sys.argv else "") == "dancegen":  # the console script, still importing
    exit_quietly_on_signals_while_starting()

import typer  # noqa: E402  (after the handlers: Typer and the commands take a while to import)

app = typer.Typer(
    name="dancegen",
    help="Music- and text-driven 3D dance generation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(show: bool) -> None:
    """`dancegen --version`: the line `dancegen version` prints, then stop."""
    if show:
        from dancegen import __version__

        print(f"dancegen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                  help="Print the dancegen version and exit."),
    _debug: bool = typer.Option(False, "--debug", help=f"Show the traceback of an unexpected error (or {DEBUG_ENV}=1)."),
    _verbose: bool = typer.Option(
        False, "--verbose", help=f"Show other libraries' warnings, logs and decoder output (or {VERBOSE_ENV}=1)."
    ),
) -> None:
    """Music- and text-driven 3D dance generation."""
    # --debug and --verbose take effect in `main`, which reads them before the command runs
    # (`_root_flags`): the warnings of a command's imports come before this callback.


def _register() -> None:
    # Command groups, in the order `--help` lists them.
    from dancegen.cli import (
        audio,
        data,
        evaluate,
        generate,
        models,
        motion,
        render,
        serve,
        train,
        view,
    )

    for module in (motion, audio, data, evaluate, models, train, generate, view, render, serve):
        module.register(app)


_register()


@app.command()
def version() -> None:
    """Print the dancegen version."""
    from dancegen import __version__

    print(f"dancegen {__version__}")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app; whatever happens, the user sees at most one line.

    - a `DanceGenError` (anything the user can cause): `dancegen: error: ...`, exit status 2;
    - a usage error (unknown option, a word where a number goes): one line, exit status 2;
    - SIGINT / SIGTERM: temporaries removed on the way out, `dancegen: interrupted`, exit
      status 130 / 143;
    - anything else is a bug: one line with a bug-report hint, exit status 1; the traceback
      only with `--debug` or DANCEGEN_DEBUG=1.

    Called without `argv` (the `dancegen` script, `python -m dancegen`), a command that
    succeeded ends the process at once (`_fast_exit`); callers that pass `argv` (tests, other
    programs) get SystemExit with the exit status.
    """
    console = argv is None and not os.environ.get(KEEP_TEARDOWN_ENV)
    args = list(sys.argv[1:] if argv is None else argv)
    with _root_flags(args), third_party_silenced(), _signals_raise() as received:
        try:
            status = _run(args, received)
        except Exception as error:  # noqa: BLE001 - reporting itself failed: still one line
            status = _bug(error)
    if console and status == 0:
        _fast_exit()
    sys.exit(status)  # like Click's standalone mode: callers passing `argv` get SystemExit(0) too


def _run(args: list[str], received: list[int]) -> int:
    """Run the command; the exit status (0: it worked), every failure reported in one line."""
    exceptions = _click_exceptions()
    try:
        try:
            result = app(args=args, prog_name="dancegen", standalone_mode=False)
        except KeyboardInterrupt:  # raised before Typer's own handler could see it
            return _interrupted(received or [signal.SIGINT])
        if received:  # Typer turned the interrupt into exit status 130
            return _interrupted(received)
        return result if type(result) is int else 0  # typer.Exit(code) comes back as its code
    except DanceGenError as error:
        return _error(str(error))
    except exceptions.NoArgsIsHelpError as error:
        print(error.ctx.get_help(), file=sys.stderr)  # `dancegen motion`: what the group offers
        return 2
    except exceptions.UsageError as error:
        return _error(_usage_line(error, exceptions))
    except exceptions.ClickException as error:
        return _error(" ".join(error.format_message().split()))
    except typer.Abort as abort:
        # Typer turns any EOFError into Abort, and a truncated file raises EOFError too.
        if isinstance(abort.__cause__, EOFError) and str(abort.__cause__):
            return _bug(abort.__cause__)
        print("dancegen: aborted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `dancegen ... | head`: the reader left; say nothing more to it.
        with suppress(Exception):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError:
        return _error("out of memory: the input is too large for this machine (try a shorter span or a smaller file)")
    except OSError as error:
        if error.errno in WRITE_ERRNOS and error.filename:
            return _error(f"{error.filename}: {error.strerror} (check the path, the free space and the permissions)")
        return _bug(error)
    except Exception as error:  # noqa: BLE001 - the last line of defence
        return _bug(error)


def _error(message: str) -> int:
    _clear_progress_bars()
    print(f"dancegen: error: {message}", file=sys.stderr)
    return 2


def _clear_progress_bars() -> None:
    """Erase progress bars an error or interrupt left open, so the message is the one line."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ()) or ()):
        with suppress(Exception):
            bar.leave = False
            bar.close()


def _bug(error: BaseException) -> int:
    """An exception no user input should cause: one line, the traceback only when asked."""
    _clear_progress_bars()
    if debug_enabled():
        traceback.print_exception(error)
    text = " ".join(str(error).split())[:200]
    detail = f"{type(error).__name__}: {text}" if text else type(error).__name__
    hint = "" if debug_enabled() else "; rerun with --debug for the traceback"
    print(f"dancegen: internal error: {detail} (a bug in dancegen: please report it with the command you ran{hint})",
          file=sys.stderr)
    return 1


def _click_exceptions():
    """The exception classes of the click Typer runs on (Typer 0.2x vendors its own copy)."""
    try:
        from typer._click import exceptions
    except ImportError:  # Typer on the click package
        from click import exceptions
    return exceptions


def _usage_line(error, exceptions) -> str:
    """Click's usage block (usage line, hint line, message) as one line naming the option."""
    where = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    param = getattr(error, "param", None)
    name = None
    if param is not None:
        opts = [opt for opt in getattr(param, "opts", []) if opt.startswith("--")] or list(getattr(param, "opts", []))
        if opts and opts[0].startswith("-"):
            name = max(opts, key=len)
        else:  # an argument: its metavar, SONG
            name = getattr(param, "human_readable_name", None) or str(getattr(param, "name", "") or "").upper() or None
    if isinstance(error, exceptions.MissingParameter) and name:
        return f"{name}: is required{where}"
    if isinstance(error, exceptions.NoSuchOption):
        close = f"; did you mean {', '.join(error.possibilities)}?" if error.possibilities else ""
        return f"{error.option_name}: no such option{close}{where}"
    message = " ".join(error.message.split())
    if isinstance(error, exceptions.BadParameter) and name:
        return f"{name}: {message}{where}"
    return f"{message}{where}"


def _interrupted(received: list[int]) -> int:
    _clear_progress_bars()
    print("dancegen: interrupted", file=sys.stderr)
    return 128 + int(received[0])


# Root options that change how `main` reports, read before the command line is parsed.
_ROOT_FLAGS = {"--debug": DEBUG_ENV, "--verbose": VERBOSE_ENV}


@contextmanager
def _root_flags(args: list[str]) -> Iterator[None]:
    """`dancegen --debug --verbose CMD ...`: set the environment switches the lower layers
    read, for this call only (in-process callers keep their own environment)."""
    given = []
    for arg in args:
        if not arg.startswith("-"):
            break  # the command: its own options are not ours
        if arg in _ROOT_FLAGS:
            given.append(_ROOT_FLAGS[arg])
    saved = {name: os.environ.get(name) for name in given}
    for name in given:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _signals_raise() -> Iterator[list[int]]:
    """SIGINT and SIGTERM raise `Interrupted` (a KeyboardInterrupt) in the main thread, so every
    `finally` on the way out runs: temporaries are removed. Yields the signals received; a
    second signal during that clean-up is ignored. Previous handlers are restored afterwards."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    from dancegen.fileio import defer_interrupt

    def interrupt(signum, frame) -> None:
        if not received and defer_interrupt(signum):
            received.append(signum)
            return  # a step that must not be cut in half: raised when it ends
        received.append(signum)
        if len(received) == 1:
            for other in (signal.SIGINT, signal.SIGTERM):
                signal.signal(other, lambda *_: None)
            raise Interrupted(signum)

    # A signal the parent set to be ignored (`nohup`, a background job) stays ignored.
    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
