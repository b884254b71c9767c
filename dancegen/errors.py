"""User-facing errors.

Every problem a user can cause (a bad file, a bad argument, a missing model) is raised as a
`DanceGenError` whose message is one line: which file or argument, what is wrong, what to do.
The CLI prints that line and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

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


class MissingResourceError(DanceGenError):
    """Optional weights or data that a configuration names are not on disk."""
