"""All-or-nothing outputs: a file or a folder export is either complete or absent.

Writers work on a temporary sibling named `.<name>.dancegen-tmp-<pid>-<random>.tmp<ext>` (the
real extension last: ffmpeg and soundfile pick the format from it), renamed onto the target
when they finish. An exception, Ctrl+C or SIGTERM (the CLI turns it into an exception) removes
the temporary; a SIGKILL cannot, so the next write into the same folder removes temporaries
whose process is gone. Failures a user can cause (full disk, read-only folder, a folder where a
file should go) become one-line `OutputFileError`s naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import IO, Iterator

from dancegen.errors import WRITE_ERRNOS, Interrupted, OutputFileError, output_error

TEMPORARY_MARK = ".dancegen-tmp-"
# `.dance.bvh.dancegen-tmp-4711-k2j3h4.tmp.bvh`: the pid says whose it is.
_TEMPORARY_NAME = re.compile(r"^\..*" + re.escape(TEMPORARY_MARK) + r"(\d+)-")
# Temporary names keep this much of the target's name: the rest of the name must fit NAME_MAX.
_NAME_KEPT = 96
_swept: set[str] = set()
_swept_lock = threading.Lock()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _process_is_gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # someone else's, alive
    return False


def is_temporary(name: str) -> bool:
    """Whether a file or folder name is one of this module's temporaries."""
    return _TEMPORARY_NAME.match(name) is not None


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove temporaries in `folder` left by processes that no longer run (a SIGKILL, a power
    cut); returns what was removed. Each folder is looked at once per process."""
    folder = Path(folder)
    key = str(folder.resolve()) if folder.exists() else str(folder)
    with _swept_lock:
        if key in _swept:
            return []
        _swept.add(key)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY_NAME.match(entry.name)
        if match is None or not _process_is_gone(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _temporary_prefix(path: Path) -> str:
    return f".{path.name[:_NAME_KEPT]}{TEMPORARY_MARK}{os.getpid()}-"


def _ensure_folder(folder: Path) -> None:
    """Create the folder an output goes into; a file in the way is the user's to move."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise OutputFileError(blocker, "is a file, but the output needs a folder there",
                              "choose another output path or move the file") from None
    except OSError as error:
        raise output_error(error, folder) from None


def check_file_target(path: str | Path) -> Path:
    """Refuse a file output whose path is an existing folder (writing would fill the folder)."""
    path = Path(path)
    if path.is_dir():
        raise OutputFileError(path, "is a folder, but a file is expected here", "give a file name, or remove the folder")
    return path


def check_folder_target(path: str | Path) -> Path:
    """Refuse a folder output whose path is an existing file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputFileError(path, "is a file, but a folder is expected here", "give a folder name, or remove the file")
    return path


def _write_failure(error: BaseException, path: Path, temporary: Path) -> OutputFileError | None:
    """The one-line error for a failed write, or None when `error` is not about writing `path`."""
    if isinstance(error, OSError) and error.errno is not None:
        if error.errno not in WRITE_ERRNOS:
            return None
        named = getattr(error, "filename", None)
        if named and Path(named) not in (path, temporary) and Path(named).parent != temporary.parent:
            return None  # about some other file: not ours to blame
        return output_error(error, path)
    # Writers that wrap the OSError (torch.save: "PytorchStreamWriter failed writing file ...",
    # numpy: OSError("problem writing element 1024 to file") without an errno).
    text = str(error).lower()
    if "writ" in text and ("fail" in text or "error" in text or "problem" in text):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return OutputFileError(path, f"cannot write: {first[:120]}", "check the free disk space and the folder's permissions")
    return None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`.

    For writers that insist on a file name (numpy, torch, soundfile, ffmpeg). On an exception
    (or an interrupt) the temporary file is removed and `path` is left as it was.
    """
    path = check_file_target(path)
    _ensure_folder(path.parent)
    remove_stale_temporaries(path.parent)
    tmp_path: Path | None = None
    try:
        with interrupts_deferred():  # the temporary exists only once the `finally` below knows it
            tmp_path = _new_temporary(path)
        # mkstemp makes the file private (0600); outputs should get the usual permissions.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        yield tmp_path
        os.replace(tmp_path, path)
    except (OSError, RuntimeError) as error:
        failure = _write_failure(error, path, tmp_path or path)
        if failure is None:
            raise
        raise failure from None
    finally:
        if tmp_path is not None:
            with contextlib.suppress(OSError):
                tmp_path.unlink()


def _new_temporary(path: Path) -> Path:
    try:
        fd, name = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as error:
        raise output_error(error, path) from None
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a file for writing atomically (text or binary by `mode`)."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


# --- folders --------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path` to fill; on success its files appear in `path`.

    A new `path` is the temporary renamed (one step); into an existing folder the files are
    moved one by one with interrupts deferred, so an interrupt lands before or after the move,
    never in the middle. On an exception nothing of the export stays.
    """
    path = check_folder_target(path)
    _ensure_folder(path.parent)
    remove_stale_temporaries(path.parent)
    staging: Path | None = None
    try:
        with interrupts_deferred():  # as in atomic_path: known to the `finally` once it exists
            try:
                staging = Path(tempfile.mkdtemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent))
            except OSError as error:
                raise output_error(error, path) from None
        os.chmod(staging, 0o777 & ~_current_umask())
        yield staging
        _publish(staging, path)
    except OutputFileError as error:
        if staging is None or staging not in error.path.parents:
            raise
        # Name the file where the user will look for it, not the temporary folder.
        raise OutputFileError(path / error.path.relative_to(staging), error.problem, error.hint) from None
    except OSError as error:
        if error.errno not in WRITE_ERRNOS:
            raise
        raise output_error(error, path) from None
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, path: Path) -> None:
    if not path.exists():
        try:
            os.rename(staging, path)
            return
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    check_folder_target(path)
    entries = sorted(staging.iterdir())
    for entry in entries:
        if (path / entry.name).is_dir():
            raise OutputFileError(path / entry.name, "is a folder, but the export writes a file of that name",
                                  "remove it or export somewhere else")
    with interrupts_deferred():
        for entry in entries:
            os.replace(entry, path / entry.name)


# --- interrupts ---------------------------------------------------------------------------
#
# The CLI turns SIGINT / SIGTERM into `errors.Interrupted` raised wherever the program is. A few
# steps must not be cut in half: creating a temporary and registering it for removal, moving a
# finished export into place, starting a child process that writes one. Inside
# `interrupts_deferred` the CLI's handler only records the signal (`defer_interrupt`); it is
# raised when the block ends.

_deferring = 0
_pending: list[int] = []


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Run the block whole: an interrupt that arrives meanwhile is raised when it ends."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if _deferring == 0 and _pending:
            signum = _pending[0]
            _pending.clear()
            raise Interrupted(signum)


def defer_interrupt(signum: int) -> bool:
    """Called by the signal handler: True when a deferred block runs (the signal is kept for
    its end), False when the handler should raise now."""
    if _deferring:
        _pending.append(signum)
        return True
    return False
