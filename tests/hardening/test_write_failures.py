"""Outputs that cannot be written: a full disk, a read-only folder, no permission, a path of the
wrong kind. Each command says so in one line naming the output and leaves nothing behind.

In-process, the failures are injected where every output is created (`tempfile.mkstemp` /
`mkdtemp` in `dancegen.fileio`), which is where a read-only or forbidden folder fails. A real
"disk full" in the middle of writing comes from RLIMIT_FSIZE in a subprocess: every write past
the limit fails with EFBIG, whichever library does it.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runner import chdir_to, native_stderr

from dancegen.cli import main
from dancegen.fileio import is_temporary

REPO = Path(__file__).resolve().parents[2]


def _commands(inputs: dict[str, Path], out: Path) -> dict[str, list[str]]:
    good = inputs["good.bvh"]
    return {
        "audio-features": ["audio", "features", str(inputs["good.wav"]), "-o", str(out / "f.npy"), "--no-cache"],
        "motion-convert": ["motion", "convert", str(good), str(out / "x.bvh")],
        "motion-convert-folder": ["motion", "convert", str(good), str(out / "every-format")],
        "evaluate": ["evaluate", "--generated", str(inputs["good-motions"]), "--reference", str(inputs["good-motions"]),
                     "--metrics", "div_k", "--out", str(out / "report.json")],
        "view": ["view", "--no-open", str(good), "-o", str(out / "page.html")],
        "render-sheet": ["render", str(good), "-o", str(out / "sheet.png"), "--frames", "2"],
        "annotation-convert": ["data", "annotation", str(inputs["good.annotation.json"]), "--convert", str(out / "a.txt")],
        "generate": ["generate", str(inputs["good.wav"]), "-o", str(out / "d.bvh"), "--seconds", "1", "--steps", "1",
                     "--seed", "1", "--quiet"],
    }


@pytest.fixture(scope="module")
def writable_inputs(inputs, tmp_path_factory) -> dict[str, Path]:
    """The inputs plus a folder of two good motions for `evaluate`."""
    folder = tmp_path_factory.mktemp("good-motions")
    shutil.copy(inputs["good.bvh"], folder / "a.bvh")
    shutil.copy(inputs["good.npz"], folder / "b.npz")
    return {**inputs, "good-motions": folder}


def _run(args: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    stderr, status = io.StringIO(), 0
    with native_stderr() as native, contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
        except SystemExit as stop:
            status = stop.code
    return status, stderr.getvalue() + native.read()


FAILURES = {
    "read-only": OSError(errno.EROFS, "Read-only file system"),
    "forbidden": PermissionError(errno.EACCES, "Permission denied"),
    "disk-full": OSError(errno.ENOSPC, "No space left on device"),
}


def _refuse_files_in(folder: Path, failure: OSError, monkeypatch) -> None:
    """Creating a file or folder inside `folder` fails as `failure` says; elsewhere (the system
    temporary folder) it works."""
    import tempfile

    for name in ("mkstemp", "mkdtemp"):
        original = getattr(tempfile, name)

        def refuse(*args, _original=original, **kwargs):
            where = kwargs.get("dir", args[2] if len(args) > 2 else None)
            if where is not None and Path(where).resolve().is_relative_to(folder.resolve()):
                raise failure
            return _original(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, refuse)


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("command", ["audio-features", "motion-convert", "motion-convert-folder", "evaluate", "view",
                                     "render-sheet", "annotation-convert"])
def test_an_unwritable_output_is_one_line(command, failure, writable_inputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    _refuse_files_in(out, FAILURES[failure], monkeypatch)
    with chdir_to(tmp_path):
        status, stderr = _run(_commands(writable_inputs, out)[command])
    lines = stderr.strip().splitlines()
    assert status == 2 and len(lines) == 1, stderr
    assert lines[0].startswith("dancegen: error: ") and str(out) in lines[0] and "cannot write" in lines[0], stderr
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_generate_into_a_read_only_folder_is_one_line(writable_inputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    _refuse_files_in(out, FAILURES["read-only"], monkeypatch)
    status, stderr = _run(_commands(writable_inputs, out)["generate"])
    assert status == 2 and stderr.strip().count("\n") == 0 and "d.bvh: cannot write: Read-only" in stderr, stderr
    assert list(out.iterdir()) == []


def _file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("command, limit", [
    ("motion-convert", 4000), ("motion-convert-folder", 4000), ("audio-features", 2000), ("view", 50_000),
    ("evaluate", 40),
])
def test_a_disk_that_fills_mid_write_is_one_line(command, limit, writable_inputs, tmp_path):
    """Python ignores SIGXFSZ, so a write past RLIMIT_FSIZE fails with EFBIG, as on a full disk."""
    out = tmp_path / "out"
    out.mkdir()
    args = _commands(writable_inputs, out)[command]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-m", "dancegen", *args], capture_output=True, text=True, timeout=120,
                            preexec_fn=_file_size_limit(limit), cwd=tmp_path, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "cannot write" in lines[0] and str(out) in lines[0], result.stderr
    assert ".dancegen-tmp-" not in lines[0]  # the file the user asked for, not our temporary
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("command, target", [
    ("audio-features", "f.npy"), ("motion-convert", "x.bvh"), ("view", "page.html"), ("render-sheet", "sheet.png"),
    ("evaluate", "report.json"), ("annotation-convert", "a.txt"),
])
def test_a_folder_where_a_file_should_go_is_refused(command, target, writable_inputs, tmp_path):
    out = tmp_path / "out"
    (out / target).mkdir(parents=True)
    (out / target / "keep.txt").write_text("mine")
    with chdir_to(tmp_path):
        status, stderr = _run(_commands(writable_inputs, out)[command])
    assert status == 2 and stderr.strip().count("\n") == 0, stderr
    assert f"{target}: is a folder" in stderr, stderr
    assert sorted(p.name for p in out.rglob("*")) == sorted(["keep.txt", target])


def test_a_file_where_a_folder_should_go_is_refused(writable_inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "every-format").write_text("a file, not a folder")
    status, stderr = _run(_commands(writable_inputs, out)["motion-convert-folder"])
    assert status == 2 and "every-format: is a file" in stderr, stderr
    blocked = tmp_path / "blocker"
    blocked.write_text("x")
    status, stderr = _run(["motion", "convert", str(writable_inputs["good.bvh"]), str(blocked / "deeper" / "x.bvh")])
    assert status == 2 and "blocker: is a file, but the output needs a folder there" in stderr, stderr
    assert sorted(p.name for p in out.iterdir()) == ["every-format"]
    assert not any(is_temporary(p.name) for p in tmp_path.rglob("*"))
