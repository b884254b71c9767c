"""SIGINT and SIGTERM at several points of `generate`, `render` and a folder export, in real
processes: one line (`dancegen: interrupted`), exit status 130 / 143, and nothing left behind —
no partial file, no half-filled folder, no temporary.

The points are found by watching the process, not by guessing times: its progress bar on
stderr (sampling), a temporary appearing in the output folder (ffmpeg writing, a folder export
half done), or simply soon after start (loading).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dancegen.fileio import is_temporary

pytestmark = pytest.mark.slow

STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


@pytest.fixture(scope="module")
def long_motion(tmp_path_factory) -> Path:
    """20 s of motion: rendering and exporting it takes long enough to be interrupted."""
    from inputs import good_motion

    path = tmp_path_factory.mktemp("long") / "long.npz"
    good_motion(frames=600).save_npz(path)
    return path


def _start(args: list, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "dancegen", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(condition, process: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Poll `condition` until it holds (True) or the process ends first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.002)
    raise AssertionError("the process never reached the point to interrupt it at")


def _stderr_shows(process: subprocess.Popen, text: bytes):
    """A condition: `text` appeared on the process's stderr (read without blocking)."""
    os.set_blocking(process.stderr.fileno(), False)
    seen = bytearray()

    def condition() -> bool:
        try:
            chunk = process.stderr.read()
        except (BlockingIOError, ValueError):
            chunk = None
        if chunk:
            seen.extend(chunk)
        return text in seen

    condition.seen = seen
    return condition


def _temporary_in(folder: Path):
    return lambda: folder.exists() and any(is_temporary(p.name) for p in folder.iterdir())


def _finish(process: subprocess.Popen, earlier: bytes = b"") -> tuple[int, list[str]]:
    os.set_blocking(process.stderr.fileno(), True)
    _, rest = process.communicate(timeout=120)
    text = (earlier + rest).decode("utf-8", "replace")
    lines = [_on_screen(line) for line in text.split("\n")]
    return process.returncode, [line for line in lines if line.strip()]


def _on_screen(line: str) -> str:
    """What a terminal shows of a line whose parts are redrawn after carriage returns (progress
    bars): each part overwrites the start of the last, so a bar that is not erased shows
    through the end of a shorter message."""
    screen = ""
    for part in line.split("\r"):
        screen = part + screen[len(part):]
    return screen.rstrip()


def _left(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _interrupt(args: list, folder: Path, signum: int, when: str, expect_outputs: list[str]) -> None:
    """Run `args`, send `signum` at the point `when`, check the outcome. A process that
    finished before the signal landed must have written everything; one that was interrupted
    must have written nothing. Tries again (up to 3 times) until the signal lands in time."""
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        shutil.rmtree(folder)
        folder.mkdir()
        process = _start(args, folder)
        shown = _stderr_shows(process, b"denoising")
        point = {
            "loading": lambda: (time.sleep(1.0), True)[1],
            "sampling": shown,
            "writing": _temporary_in(folder),
        }[when]
        reached = _wait_for(point, process)
        if reached:
            process.send_signal(signum)
        status, lines = _finish(process, bytes(shown.seen))
        if status == 0:
            assert _left(folder) == sorted(expect_outputs), lines
            continue  # too late: it had finished; try again
        assert status == STATUS[signum], lines
        assert lines == ["dancegen: interrupted"], lines
        assert _left(folder) == [], "left behind after the interrupt"
        return
    pytest.fail(f"in 3 runs the signal never landed before `{args[0]}` finished")


GENERATE = ["generate", "{song}", "--seconds", "2", "--seed", "1"]


@pytest.mark.parametrize("when, signum, steps", [
    ("loading", signal.SIGTERM, "20"),
    ("sampling", signal.SIGINT, "1000"),
    ("writing", signal.SIGTERM, "2"),
])
def test_generate_interrupted(when, signum, steps, inputs, tmp_path):
    out = tmp_path / "out"
    args = [a.format(song=inputs["good.wav"]) for a in GENERATE] + ["--steps", steps, "-o", out / "dance"]
    names = [f"dance/good{ext}" for ext in (".bvh", ".glb", ".html", ".npz", ".pkl")] + ["dance"]
    _interrupt(args, out, signum, when, names)


@pytest.mark.parametrize("when, signum", [("loading", signal.SIGINT), ("writing", signal.SIGTERM)])
def test_render_interrupted(when, signum, long_motion, tmp_path):
    out = tmp_path / "out"
    args = ["render", long_motion, "-o", out / "long.mp4", "--size", "640x360"]  # its progress bar too
    _interrupt(args, out, signum, when, ["long.mp4"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_folder_export_interrupted(signum, long_motion, tmp_path):
    out = tmp_path / "out"
    names = ["every"] + [f"every/dance{ext}" for ext in (".bvh", ".glb", ".html", ".npz", ".pkl")]
    _interrupt(["motion", "convert", long_motion, out / "every"], out, signum, "writing", names)


def test_a_sigkill_leaves_only_recognisable_temporaries(long_motion, tmp_path):
    """SIGKILL cannot be caught: what it leaves is named as ours, and the next run removes it."""
    out = tmp_path / "out"
    out.mkdir()
    process = _start(["render", long_motion, "-o", out / "long.mp4", "--size", "640x360", "--quiet"], out)
    assert _wait_for(_temporary_in(out), process)
    process.kill()
    process.communicate(timeout=60)
    left = [p.name for p in out.iterdir()]
    assert left and all(is_temporary(name) for name in left), left
    # The next run into the folder clears them (the pid in their name is gone).
    result = subprocess.run([sys.executable, "-m", "dancegen", "motion", "convert", long_motion, out / "x.bvh"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out.iterdir()] == ["x.bvh"]
