"""The one error path: whatever goes wrong, the user sees one line.

User errors: `dancegen: error: ...`, status 2. Usage errors: one line naming the option, status
2. Bugs: one line with a bug-report hint, status 1, the traceback only with --debug or
DANCEGEN_DEBUG=1. Interrupts: `dancegen: interrupted`, 130 (SIGINT) or 143 (SIGTERM), with the
temporaries gone. Other libraries' chatter only with --verbose.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from cli_runner import run_cli

from dancegen.cli import app
from dancegen.fileio import atomic_path, is_temporary


@app.command("_hardening_bug", hidden=True)
def _bug() -> None:
    {}["missing"]  # a KeyError no user input causes


@app.command("_hardening_interrupt", hidden=True)
def _interrupt(folder: str, signum: int) -> None:
    """Starts writing a file, then receives `signum` half way."""
    with atomic_path(os.path.join(folder, "half.bin")) as tmp:
        tmp.write_bytes(b"x" * 1000)
        os.kill(os.getpid(), signum)
        raise AssertionError("the signal should have interrupted the write")


@app.command("_hardening_deferred", hidden=True)
def _deferred(folder: str) -> None:
    """SIGINT inside a step that must run whole: the step finishes, then the interrupt lands."""
    from dancegen.fileio import interrupts_deferred

    with atomic_path(os.path.join(folder, "out.bin")):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            Path(folder, "step-finished").write_text("yes")
        Path(folder, "after-the-step").write_text("must not run")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_bug_is_one_line_with_a_report_hint(capsys):
    status, out, err = run_cli(["_hardening_bug"], capsys)
    assert status == 1 and out == ""
    assert _lines(err) == [
        "dancegen: internal error: KeyError: 'missing' (a bug in dancegen: please report it with the command you ran; "
        "rerun with --debug for the traceback)"
    ]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_debug_shows_the_traceback(how, capsys, monkeypatch):
    args = ["--debug", "_hardening_bug"] if how == "option" else ["_hardening_bug"]
    if how == "environment":
        monkeypatch.setenv("DANCEGEN_DEBUG", "1")
    status, _, err = run_cli(args, capsys)
    assert status == 1 and "Traceback (most recent call last)" in err and 'in _bug' in err
    assert _lines(err)[-1].startswith("dancegen: internal error: KeyError")
    if how == "option":
        assert "DANCEGEN_DEBUG" not in os.environ  # the flag is for that call only


@pytest.mark.parametrize("args, expected", [
    (["generate", "song.wav", "-o", "x.bvh", "--seconds", "abc"], "dancegen: error: --seconds: "),
    (["generate", "song.wav"], "dancegen: error: --out: is required"),
    (["motion", "info"], "dancegen: error: FILE: is required"),
    (["motion", "info", "x.bvh", "--speed", "2"], "dancegen: error: --speed: no such option"),
    (["render", "x.bvh", "--frames", "0"], "dancegen: error: --frames: "),
    (["dance"], "dancegen: error: No such command 'dance'"),
])
def test_usage_errors_are_one_line(args, expected, capsys):
    status, out, err = run_cli(args, capsys)
    assert status == 2 and out == ""
    assert len(_lines(err)) == 1 and _lines(err)[0].startswith(expected), err
    assert "Usage:" not in err and "Try '" not in err


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_is_one_line_and_removes_the_temporary(signum, status, tmp_path, capsys):
    code, _, err = run_cli(["_hardening_interrupt", tmp_path, int(signum)], capsys)
    assert code == status and _lines(err) == ["dancegen: interrupted"]
    assert list(tmp_path.iterdir()) == []
    # The handlers are put back: this process (pytest) still has its own.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_waits_for_a_step_that_must_run_whole(tmp_path, capsys):
    code, _, err = run_cli(["_hardening_deferred", tmp_path], capsys)
    assert code == 130 and _lines(err) == ["dancegen: interrupted"]
    assert [p.name for p in tmp_path.iterdir()] == ["step-finished"]


def test_librosa_warnings_only_with_verbose(inputs, tmp_path, capfd, recwarn):
    """In a terminal a warning prints two lines; under pytest it is recorded: either way, none
    without --verbose."""
    args = ["audio", "features", inputs["short-clip.wav"], "-o", tmp_path / "f.npy", "--no-cache"]
    status, _, err = run_cli(args, capfd)
    assert status == 0 and "n_fft" not in err and "Warning" not in err, err
    assert not [w for w in recwarn if "n_fft" in str(w.message)]
    status, _, err = run_cli(["--verbose", *args], capfd)
    assert status == 0 and ("n_fft" in err or [w for w in recwarn if "n_fft" in str(w.message)])
    assert "DANCEGEN_VERBOSE" not in os.environ


def test_decoder_chatter_only_with_verbose(inputs, capfd):
    """libmpg123 writes "Note: Illegal Audio-MPEG-Header" to file descriptor 2 itself."""
    status, _, err = run_cli(["audio", "beats", inputs["garbage.mp3"]], capfd)
    assert status == 2 and len(_lines(err)) == 1 and "garbage.mp3: cannot decode audio" in err, err
    status, _, err = run_cli(["--verbose", "audio", "beats", inputs["garbage.mp3"]], capfd)
    assert status == 2 and "Illegal Audio-MPEG-Header" in err


def test_dancegen_warnings_are_one_line(capsys):
    import warnings

    @app.command("_hardening_warn", hidden=True)
    def _warn() -> None:  # as dancegen.data.normalise warns when its endpoint fails
        warnings.warn_explicit("the endpoint failed, using the offline rules", UserWarning, "normalise.py", 1,
                               module="dancegen.data.normalise")

    status, _, err = run_cli(["_hardening_warn"], capsys)
    assert status == 0 and _lines(err) == ["dancegen: warning: the endpoint failed, using the offline rules"]


def test_a_killed_writers_leftovers_are_removed_by_the_next_run(inputs, tmp_path, capsys):
    """A SIGKILL leaves the temporary; its name says whose it was, so the next write there removes it."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    leftover = tmp_path / f".x.bvh.dancegen-tmp-{pid}-abcd1234.tmp.bvh"
    leftover.write_text("half a file")
    folder_leftover = tmp_path / f".every.dancegen-tmp-{pid}-efgh5678.tmp"
    (folder_leftover / "dance.bvh").parent.mkdir()
    (folder_leftover / "dance.bvh").write_text("half")
    alive = tmp_path / f".y.bvh.dancegen-tmp-{os.getpid()}-ijkl9012.tmp.bvh"  # ours: still being written
    alive.write_text("in progress")
    assert is_temporary(leftover.name) and is_temporary(folder_leftover.name)
    status, _, err = run_cli(["motion", "convert", inputs["good.bvh"], tmp_path / "x.bvh"], capsys)
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["x.bvh", alive.name])


def test_evaluate_does_not_suggest_an_option_it_lacks(inputs, capsys):
    status, _, err = run_cli(["evaluate", "--generated", inputs["odd-rig"], "--reference", inputs["odd-rig"]], capsys)
    assert status == 2 and "odd.bvh: cannot be put on SMPL-24" in err, err
    assert "pass it as --mapping" not in err and "dancegen motion convert" in err


def test_resampling_past_the_frame_limit_is_refused(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DANCEGEN_LIMITS", "max_frames=100")
    status, _, err = run_cli(["motion", "convert", inputs["good.bvh"], tmp_path / "x.bvh", "--fps", "999"], capsys)
    assert status == 2 and "--fps: 999 fps over 0.7 s: frames: 666 is more than the limit of 100" in err, err
    assert list(tmp_path.iterdir()) == []
