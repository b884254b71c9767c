"""The options every `dancegen` command shares, defined once: `--json` and `-q/--quiet`.

The contract (README "The command line", tests/cli/test_contract.py):

- `--json`: stdout carries exactly one JSON document, the command's result, and nothing else.
  Messages and progress bars are off; warnings and errors still go to stderr.
- `-q/--quiet`: errors only. No messages, progress bars or warnings; the exit status says
  whether it worked. Given with `--json`, the document is still printed: it was asked for.

A command takes both options (`quiet: QuietOption = False, as_json: JsonOption = False`), is
wrapped in `@quietable`, and says everything through an `Output`.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator

import typer

QUIET_HELP = "errors only: no messages, progress bars or warnings"
JSON_HELP = "print the result as one JSON document on stdout (and nothing else there)"

QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help=JSON_HELP)]


@dataclass(frozen=True)
class Output:
    """Where a command's words go under the shared options."""

    quiet: bool = False
    as_json: bool = False

    @property
    def chatty(self) -> bool:
        """Messages and progress bars are wanted (neither -q nor --json)."""
        return not (self.quiet or self.as_json)

    def say(self, message: str = "") -> None:
        """A message for a person: stdout, unless -q or --json."""
        if self.chatty:
            print(message)

    def warn(self, message: str) -> None:
        """A warning: stderr (so --json output stays clean), unless -q."""
        if not self.quiet:
            print(f"dancegen: warning: {message}", file=sys.stderr)

    def result(self, document: Any, text: str | None = None) -> None:
        """The command's result: `document` as JSON under --json, else `text` unless -q."""
        if self.as_json:
            print(to_json(document))
        elif text is not None:
            self.say(text)


def to_json(document: Any) -> str:
    """`document` as strict JSON: paths and numpy values made plain, NaN and infinities as
    null (Python's json would write bare NaN, which jq and browsers refuse)."""
    return json.dumps(_plain(document), indent=2, allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalars and arrays
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@contextmanager
def errors_only(quiet: bool) -> Iterator[None]:
    """While a -q command runs, drop Python warnings and library log records below ERROR
    (librosa, transformers and lightning warn on stderr); both are restored afterwards, since
    tests and other programs call commands in-process."""
    if not quiet:
        yield
        return
    import logging
    import warnings

    previous = logging.root.manager.disable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(previous)


def quietable(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command under its own `-q` (`errors_only`); Typer still sees its signature."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        with errors_only(bool(kwargs.get("quiet"))):
            return command(*args, **kwargs)

    return run
