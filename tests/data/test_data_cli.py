"""`dancegen data info|annotation|genre|pair` through the real entry point."""

from __future__ import annotations

import numpy as np
import pytest

from data_synth import beat_motion, write_beats_json, write_song
from cli_runner import run_cli


run = run_cli


@pytest.fixture
def clips(tmp_path):
    motions, music = tmp_path / "motions", tmp_path / "music"
    motions.mkdir()
    beat_motion(np.arange(0.45, 4.0, 0.52), 4.0).save_npz(motions / "solo.npz")
    (music / "song").mkdir(parents=True)
    beats = write_song(music / "song" / "song.wav", 110.0, 10.0)
    write_beats_json(music / "song" / "beats.json", beats, 110.0, "song.wav")
    return motions, music


def test_pair_then_info_then_annotation(clips, tmp_path, capsys):
    motions, music = clips
    out = tmp_path / "paired"
    code, stdout, _ = run(["data", "pair", "--motion", motions, "--music", music, "--out", out, "--to", "none",
                           "--genre", "house"], capsys)
    assert code == 0 and "solo + song" in stdout and "paired 1 clips" in stdout
    assert (out / "solo__song.npz").is_file() and (out / "pairing_report.json").is_file()

    code, stdout, _ = run(["data", "info", out], capsys)
    assert code == 0 and "(folder)" in stdout and "clips     1 (1 with a text annotation)" in stdout
    assert "house 1" in stdout

    code, stdout, _ = run(["data", "annotation", out / "solo__song.annotation.json", "--audio", out / "solo__song.wav",
                           "--convert", tmp_path / "solo.txt"], capsys)
    assert code == 0 and "ok, global: house" in stdout
    assert (tmp_path / "solo.txt").read_text().startswith("Dance style characteristics: house")


def test_genre_command_prints_the_prompt(capsys):
    code, stdout, _ = run(["data", "genre", "tap shoes clicking out fast rhythms on a wooden stage", "--vocabulary", "motorica"], capsys)
    assert code == 0 and stdout.startswith("genre   tap (Tap)")
    assert "prompt  This is a Tap type of music." in stdout


@pytest.mark.parametrize("args, message", [
    (["data", "info", "/no/such/folder"], "dataset folder not found"),
    (["data", "pair", "--motion", "/no/m", "--music", "/no/s", "--out", "/tmp/x", "--to", "mixamo"], "--to: unknown target"),
    (["data", "genre", "x", "--vocabulary", "tiktok"], "unknown genre vocabulary"),
])
def test_user_errors_are_one_line_with_status_2(args, message, capsys):
    code, _, stderr = run(args, capsys)
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
