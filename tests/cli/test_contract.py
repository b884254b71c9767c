"""The contract every `dancegen` command keeps (README, "The command line"):

- `--json` prints one JSON document on stdout and nothing else there;
- `-q/--quiet` prints nothing at all when the command works (errors only);
- both options come from one definition (dancegen/cli/options.py);
- `dancegen --version`;
- `render` makes an .mp4 with no ffmpeg on PATH (the binary inside the imageio-ffmpeg wheel).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli

from dancegen.cli import app
from dancegen.cli.options import JSON_HELP, QUIET_HELP, errors_only, to_json

# Commands that need not take the shared options, and why.
EXEMPT = {
    ("version",): "prints one line whatever is asked; `dancegen --version` prints the same",
}


def leaf_commands() -> dict[tuple[str, ...], object]:
    """Every command a user can run, by its words (`("motion", "info")`), hidden ones left out."""
    import typer

    def walk(group, path):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):  # a group (Typer vendors its own click: no isinstance)
                yield from walk(command, (*path, name))
            elif not command.hidden:
                yield (*path, name), command

    return dict(walk(typer.main.get_command(app), ()))


def _option(command, flag: str):
    return next((p for p in command.params if flag in getattr(p, "opts", ())), None)


def test_every_command_takes_json_and_quiet():
    commands = leaf_commands()
    assert {("generate",), ("motion", "convert"), ("data", "pair"), ("evaluate",)} <= set(commands)
    missing = [" ".join(words) + f" {flag}" for words, command in commands.items() if words not in EXEMPT
               for flag in ("--json", "--quiet", "-q") if _option(command, flag) is None]
    assert not missing, f"commands without the shared options: {missing}"


def test_the_options_come_from_one_definition():
    differing = []
    for words, command in leaf_commands().items():
        if words in EXEMPT:
            continue
        for flag, help_text in (("--json", JSON_HELP), ("--quiet", QUIET_HELP)):
            option = _option(command, flag)
            if option is not None and option.help != help_text:  # a missing one fails the test above
                differing.append(f"{' '.join(words)} {flag}")
    assert not differing, f"not dancegen/cli/options.py's definition: {differing}"


def test_version_option(capsys):
    code, out, err = run_cli(["--version"], capsys)
    assert code in (0, None) and err == ""
    from dancegen import __version__

    assert out == f"dancegen {__version__}\n"
    assert run_cli(["version"], capsys)[1] == out


# --- every command under --json and -q -----------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A song, a short dance, folders of joint positions: what the commands read."""
    import torch

    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern
    from dancegen.motion.motion import Motion
    from dancegen.skeleton.rotations import axis_angle_to_quat
    from dancegen.skeleton.smpl import smpl24

    root = tmp_path_factory.mktemp("contract")
    samples, _ = drum_pattern(120.0, 4.0, seed=1)
    write_wav(root / "song.wav", samples, sample_rate=22050)
    (root / "music" / "song").mkdir(parents=True)
    write_wav(root / "music" / "song" / "song.wav", samples, sample_rate=22050)

    # Arms and legs swinging once a second: beats to pair, moves to annotate.
    skeleton, fps, frames = smpl24(), 30.0, 90
    swing = 0.8 * np.sin(2 * np.pi * np.arange(frames) / fps)
    rotvec = np.zeros((frames, skeleton.num_joints, 3))
    for name, gain in {"left_shoulder": 1.0, "right_shoulder": -1.0, "left_hip": 0.6, "right_hip": -0.6}.items():
        rotvec[:, skeleton.index(name), 2] = gain * swing
    dance = Motion(skeleton, fps, axis_angle_to_quat(torch.from_numpy(rotvec)).numpy(),
                   np.tile([0.0, 0.95, 0.0], (frames, 1)))
    (root / "motions").mkdir()
    dance.save_npz(root / "motions" / "dance.npz")
    for folder in ("gen", "ref"):
        (root / folder).mkdir()
        for i in range(3):
            np.save(root / folder / f"clip{i}.npy", dance.joint_positions() + 0.01 * i)
    return root


# {w}: the workspace; {mode}: "json" or "quiet", so that the two runs write apart.
COMMANDS = {
    "motion info": ["motion", "info", "{w}/motions/dance.npz"],
    "motion convert": ["motion", "convert", "{w}/motions/dance.npz", "{w}/{mode}/dance.bvh", "--fps", "15"],
    "audio beats": ["audio", "beats", "{w}/song.wav"],
    "audio features": ["audio", "features", "{w}/song.wav", "-o", "{w}/{mode}/features.npy"],
    "data annotate": ["data", "annotate", "{w}/motions", "--out", "{w}/{mode}/annotated"],
    "data pair": ["data", "pair", "--motion", "{w}/motions", "--music", "{w}/music", "--out", "{w}/{mode}/paired",
                  "--to", "none", "--genre", "house"],
    "data genre": ["data", "genre", "fast footwork with spins on the floor"],
    "evaluate": ["evaluate", "--generated", "{w}/gen", "--reference", "{w}/ref", "--fps", "30"],
    "models": ["models"],
    "generate": ["generate", "{w}/song.wav", "-o", "{w}/{mode}/dance.npz", "--seconds", "1", "--steps", "1",
                 "--seed", "0"],
    "render": ["render", "{w}/motions/dance.npz", "-o", "{w}/{mode}/sheet.png", "--frames", "2"],
    "view": ["view", "{w}/motions/dance.npz", "-o", "{w}/{mode}/dance.html", "--no-open"],
}


def _args(name: str, workspace: Path, mode: str) -> list[str]:
    (workspace / mode).mkdir(exist_ok=True)
    return [part.format(w=workspace, mode=mode) for part in COMMANDS[name]]


@pytest.mark.parametrize("name", COMMANDS)
def test_json_is_one_document_and_quiet_is_silent(name, workspace, capsys):
    code, out, err = run_cli([*_args(name, workspace, "json"), "--json"], capsys)
    assert code in (0, None), err
    json.loads(out)  # the whole of stdout is one document
    assert out.strip().startswith(("{", "["))

    code, out, err = run_cli([*_args(name, workspace, "quiet"), "-q"], capsys)
    assert code in (0, None), err
    assert (out, err) == ("", ""), "-q printed something"


def test_data_annotation_checks_under_both_options(workspace, capsys):
    code, _, err = run_cli(["data", "annotate", workspace / "motions", "--out", workspace / "sidecars", "-q"], capsys)
    assert code in (0, None), err
    sidecar = workspace / "sidecars" / "dance.annotation.json"
    code, out, _ = run_cli(["data", "annotation", sidecar, "--json"], capsys)
    report = json.loads(out)
    assert code in (0, None) and report["ok"] and report["spans"] == len(report["annotation"]["local"])
    assert run_cli(["data", "annotation", sidecar, "-q"], capsys)[1:] == ("", "")


def test_errors_still_show_under_quiet(workspace, capsys):
    code, out, err = run_cli(["motion", "info", workspace / "missing.npz", "-q"], capsys)
    assert code == 2 and out == "" and err.startswith("dancegen: error: ") and len(err.splitlines()) == 1


# --- the helpers behind the options ---------------------------------------------------------


def test_json_documents_are_strict():
    text = to_json({"nan": math.nan, "inf": np.float32("inf"), "count": np.int64(3), "path": Path("a/b"),
                    "array": np.arange(2)})
    assert json.loads(text) == {"nan": None, "inf": None, "count": 3, "path": "a/b", "array": [0, 1]}


def test_quiet_drops_warnings_and_logs_only_while_the_command_runs():
    logger = logging.getLogger("dancegen.test_contract")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with errors_only(True):
            warnings.warn("hidden")
            assert not logger.isEnabledFor(logging.WARNING) and logger.isEnabledFor(logging.ERROR)
        warnings.warn("shown")
    assert [str(w.message) for w in caught] == ["shown"]
    assert logger.isEnabledFor(logging.WARNING)


# --- render without a system ffmpeg ----------------------------------------------------------


def test_render_needs_no_ffmpeg_on_path(workspace, tmp_path, monkeypatch, capsys):
    """imageio-ffmpeg's own binary encodes the video: with PATH holding no ffmpeg (as on a
    machine without the Debian package), an .mp4 with the music still comes out."""
    import imageio_ffmpeg

    from dancegen.export.video import find_ffmpeg

    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("IMAGEIO_FFMPEG_EXE", raising=False)
    assert shutil.which("ffmpeg") is None and shutil.which("ffprobe") is None
    ffmpeg = Path(find_ffmpeg())
    assert ffmpeg.is_absolute() and Path(imageio_ffmpeg.__file__).parent in ffmpeg.parents

    video = tmp_path / "dance.mp4"
    code, out, err = run_cli(["render", workspace / "motions" / "dance.npz", "--music", workspace / "song.wav",
                              "-o", video, "--size", "64x48", "--json"], capsys)
    assert code in (0, None), err
    assert json.loads(out)["video"] == str(video)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(video))
    assert frames == 90 and seconds == pytest.approx(3.0, abs=0.05)
    probe = subprocess.run([str(ffmpeg), "-hide_banner", "-i", str(video)], capture_output=True, text=True)
    assert "Video: h264" in probe.stderr and "Audio: aac" in probe.stderr
