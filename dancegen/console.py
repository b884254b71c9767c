"""What reaches the user's terminal besides dancegen's own output.

Third-party libraries talk: librosa warns `n_fft is too large` on every short clip, numba and
torch warn about themselves, libmpg123 (inside libsndfile) prints decoder notes straight to
file descriptor 2, lightning and transformers log. None of it helps a user of a finished
command, so the CLI silences it unless `--verbose` (or DANCEGEN_VERBOSE=1) asks for it; dancegen's
own warnings stay, as one `dancegen: warning:` line each.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
import warnings
from typing import Iterator

DEBUG_ENV = "DANCEGEN_DEBUG"  # tracebacks of unexpected errors
VERBOSE_ENV = "DANCEGEN_VERBOSE"  # third-party warnings, logs and decoder output

# Loggers of libraries dancegen uses that log at WARNING or INFO on their own.
THIRD_PARTY_LOGGERS = (
    "numba", "librosa", "audioread", "torch", "lightning", "lightning.fabric", "lightning.pytorch",
    "pytorch_lightning", "transformers", "sentence_transformers", "huggingface_hub", "diffusers",
    "urllib3", "filelock", "PIL", "matplotlib", "fsspec",
)
# Set before torch and transformers load: their native and start-up chatter, and the Hugging
# Face "Loading weights" bars (dancegen's own progress bars are not these).
QUIET_ENVIRONMENT = {"TORCH_CPP_LOG_LEVEL": "ERROR", "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false",
                     "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def flag(name: str) -> bool:
    """An environment switch: set and not 0 / false / no / off."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def debug_enabled() -> bool:
    return flag(DEBUG_ENV)


def verbose_enabled() -> bool:
    return flag(VERBOSE_ENV)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # The stock format takes two lines (location, then the source line of the call).
    print(f"dancegen: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


@contextlib.contextmanager
def third_party_silenced() -> Iterator[None]:
    """For the length of a command: other libraries' warnings and logs muted (dancegen's own
    warnings printed on one line), unless verbose. Restores the warning filters afterwards, so
    a caller running commands in-process (tests) keeps its own."""
    with warnings.catch_warnings():
        if verbose_enabled():
            yield
            return
        for name, value in QUIET_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        warnings.simplefilter("ignore")
        # dancegen's own warnings are messages for the user; numpy's RuntimeWarnings inside
        # dancegen (NaN arithmetic) are not: the input checks report those cases.
        warnings.filterwarnings("default", category=UserWarning, module=r"dancegen(\.|$)")
        warnings.showwarning = _one_line_warning
        levels = {}
        for name in THIRD_PARTY_LOGGERS:
            logger = logging.getLogger(name)
            levels[name] = logger.level
            logger.setLevel(logging.ERROR)
        bars_were_on = _hub_progress_bars(False)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            if bars_were_on:
                _hub_progress_bars(True)


def _hub_progress_bars(on: bool) -> bool:
    """Turn huggingface_hub's weight-loading bars on or off; True if they were on. Its
    environment switch is read once, at import: a process that imported it before this
    command (a test run, a notebook) needs the call."""
    if "huggingface_hub" not in sys.modules:
        return False
    from huggingface_hub import utils

    were_on = not utils.are_progress_bars_disabled()
    (utils.enable_progress_bars if on else utils.disable_progress_bars)()
    return were_on


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Redirect file descriptor 2 while a C library runs (libmpg123 prints decoder notes there
    itself, past Python's sys.stderr). A no-op when verbose, or when fd 2 cannot be duplicated."""
    if verbose_enabled():
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        _flush_stderr()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)


def _flush_stderr() -> None:
    with contextlib.suppress(Exception):
        sys.stderr.flush()


def _interrupted_while_starting(signum, frame) -> None:
    sys.stderr.write("dancegen: interrupted\n")
    os._exit(128 + signum)


def exit_quietly_on_signals_while_starting() -> None:
    """For the seconds the `dancegen` process spends importing, before `cli.main` installs the
    handlers that clean up: nothing is written yet, so SIGINT / SIGTERM only need the one line
    (not a KeyboardInterrupt traceback from inside an import). Ignored signals stay ignored."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _interrupted_while_starting)
