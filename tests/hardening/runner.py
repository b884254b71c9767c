"""Running one corpus case in-process and judging what it left: exit status, stderr lines,
files in the output folder, temporaries beside the inputs, and whether a hostile pickle ran."""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from cases import Case
from inputs import PWNED

from dancegen.cli import main
from dancegen.fileio import is_temporary

_CALL_BUG = re.compile(r"(TypeError|AttributeError|NameError): .*(positional argument|required argument|"
                       r"unexpected keyword|is not defined|has no attribute '_)")


@dataclass
class Outcome:
    case: Case
    status: int
    stdout: str
    stderr: str
    seconds: float
    left_behind: list[str] = field(default_factory=list)  # files in the output folder after a failure
    temporaries: list[str] = field(default_factory=list)  # dancegen temporaries anywhere it looked
    code_ran: bool = False

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def problems(self, inputs: dict[str, Path]) -> list[str]:
        """What is wrong with this outcome ([] when the case behaved)."""
        found = []
        if "Traceback" in self.stderr or "internal error" in self.stderr:
            found.append("traceback or internal error")
        if _CALL_BUG.search(self.stderr):  # a bug wrapped as "not a readable file (TypeError: ...)"
            found.append("a programming error reported as a bad file")
        if self.status != self.case.status:
            found.append(f"exit status {self.status}, expected {self.case.status}")
        if self.case.status != 0:
            if len(self.lines) != 1:
                found.append(f"{len(self.lines)} stderr lines")
            elif not self.lines[0].startswith("dancegen: error: "):
                found.append("the line is not a dancegen error")
            culprit = self.case.culprit
            name = culprit[1:].split("/")[0] if culprit.startswith(("@", "%")) else culprit
            if self.lines and name not in self.lines[0]:
                found.append(f"does not name {name}")
            if self.left_behind:
                found.append(f"left {self.left_behind}")
        elif len(self.lines) > 1:
            found.append(f"{len(self.lines)} stderr lines on success")
        if self.temporaries:
            found.append(f"temporaries {self.temporaries}")
        if self.code_ran:
            found.append("a hostile file ran code")
        return found


def resolve(args: tuple[str, ...], inputs: dict[str, Path], out: Path) -> list[str]:
    resolved = []
    for arg in args:
        name, _, rest = arg[1:].partition("/")
        if arg.startswith("@") and name in inputs:
            resolved.append(str(inputs[name] / rest) if rest else str(inputs[name]))
        elif arg.startswith("%") and arg[1:] and "\x00" not in arg:
            resolved.append(str(out / arg[1:]))
        else:
            resolved.append(arg)
    return resolved


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def run_case(case: Case, inputs: dict[str, Path], out: Path) -> Outcome:
    """Run `case` with its own empty output folder `out`, in this process."""
    out.mkdir(parents=True, exist_ok=True)
    input_folder = next(iter(inputs.values())).parent
    before = set(_listing(input_folder))
    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    status = 0
    with native_stderr() as native, contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main(resolve(case.args, inputs, out))
        except SystemExit as stop:
            status = stop.code if isinstance(stop.code, int) else 1
    seconds = time.perf_counter() - started
    after = _listing(input_folder)
    new_inputs = sorted(set(after) - before)
    temporaries = [name for name in _listing(out) + new_inputs if is_temporary(Path(name).name)]
    return Outcome(case, status, stdout.getvalue(), stderr.getvalue() + native.read(), seconds,
                   left_behind=_listing(out) + new_inputs if case.status else [], temporaries=temporaries,
                   code_ran=(input_folder / PWNED).exists())


@contextlib.contextmanager
def native_stderr():
    """What C libraries write to file descriptor 2 (past sys.stderr) meanwhile; `.read()` it after."""
    import tempfile

    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        captured = io.StringIO()
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.write(sink.read().decode("utf-8", "replace"))
            captured.seek(0)


def chdir_to(folder: Path):
    """Commands that default their output to the current folder (view, render) write there."""
    return contextlib.chdir(folder) if hasattr(contextlib, "chdir") else _chdir(folder)


@contextlib.contextmanager
def _chdir(folder: Path):
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
