"""User-facing errors.

Every problem a user can cause (a bad file, a bad argument, a missing model, a full disk) is
raised as a `DanceGenError` whose message is one line: which file or argument, what is wrong,
what to do. The CLI prints that line and exits with status 2; it never shows a traceback for
these. `Interrupted` is how SIGINT and SIGTERM reach the code that cleans up.
"""

from __future__ import annotations

import errno
from pathlib import Path


class DanceGenError(Exception):
    """An error caused by input, reported to the user as one line."""

    def __init__(self, message: str):
        # Keep it to one line whatever the caller passed.
        super().__init__(" ".join(str(message).split()))


class InputFileError(DanceGenError):
    """A file the user gave is missing, unreadable or malformed."""

    def __init__(self, path: str | Path, problem: str, hint: str = "", line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        message = f"{where}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.path = Path(path)
        self.line = line
        self.problem = problem


class ArgumentError(DanceGenError):
    """A command-line or API argument has a bad value."""

    def __init__(self, name: str, problem: str, hint: str = ""):
        message = f"{name}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.name = name


class OutputFileError(DanceGenError):
    """An output cannot be written there: a full disk, a read-only folder, a path of the wrong
    kind (a folder where a file is wanted, or the other way round)."""

    def __init__(self, path: str | Path, problem: str, hint: str = ""):
        message = f"{path}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.path = Path(path)
        self.problem, self.hint = problem, hint


class LimitError(DanceGenError):
    """An input is larger than one of the named limits of `dancegen.limits`."""


class MissingResourceError(DanceGenError):
    """Optional weights or data that a configuration names are not on disk."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: unwinds like Ctrl+C, so every `finally` removes its temporaries."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# What to do about the write failures a user can meet, by errno.
_WRITE_HINTS = {
    errno.ENOSPC: "free some disk space or write somewhere else",
    errno.EDQUOT: "free some space within your quota or write somewhere else",
    errno.EFBIG: "the file is larger than this file system or your file size limit allows",
    errno.EROFS: "the file system is read-only: write somewhere else",
    errno.EACCES: "you may not write there: check the folder's permissions or write somewhere else",
    errno.EPERM: "you may not write there: check the folder's permissions or write somewhere else",
    errno.EISDIR: "that is a folder: give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENAMETOOLONG: "use a shorter name",
    errno.EIO: "the disk reported an error: check it or write somewhere else",
}
WRITE_ERRNOS = frozenset(_WRITE_HINTS)


def output_error(error: OSError, path: str | Path) -> OutputFileError:
    """The one-line error for an `OSError` met while writing `path`."""
    reason = error.strerror or type(error).__name__
    return OutputFileError(path, f"cannot write: {reason}", _WRITE_HINTS.get(error.errno or 0, ""))
