"""`dancegen generate SONGS/ -o OUT/`: every song of a folder with the model loaded once; done
songs skipped, a bad song reported at the end (exit status 2) without stopping the others."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_runner import run_cli

TINY = ["--seconds", "2", "--steps", "2", "--seed", "3"]
FORMATS = (".bvh", ".npz", ".pkl", ".glb", ".html")  # a folder export of the default (SMPL-24) model


def _song(path: Path, bpm: float, seconds: float, seed: int) -> Path:
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(bpm, seconds, seed=seed)
    return write_wav(path, samples, sample_rate=22050)


@pytest.fixture(scope="module")
def good_songs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("songs")
    _song(folder / "groove.wav", 120.0, 3.0, seed=1)
    _song(folder / "slow.wav", 96.0, 2.5, seed=2)
    (folder / "notes.txt").write_text("not a song: left out")
    return folder


@pytest.fixture
def songs_with_a_bad_one(good_songs, tmp_path) -> Path:
    folder = tmp_path / "songs"
    shutil.copytree(good_songs, folder)
    (folder / "broken.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)  # a header, then noise
    return folder


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """Every model load of the test, by bundle path."""
    import dancegen.pipelines as pipelines

    calls: list[str] = []
    real = pipelines.load_pipeline

    def counting(model=None, device="cpu"):
        calls.append(str(model))
        return real(model, device=device)

    monkeypatch.setattr(pipelines, "load_pipeline", counting)
    return calls


def test_every_song_with_one_model_load_and_the_bad_one_reported(songs_with_a_bad_one, tmp_path, loads, capsys):
    from dancegen.motion.io import load_motion

    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["generate", songs_with_a_bad_one, "-o", out, *TINY, "--json"], capsys)
    assert code == 2 and len(loads) == 1
    summary = json.loads(stdout)
    assert (summary["generated"], summary["skipped"], summary["failed"]) == (2, 0, 1)
    by_name = {Path(entry["song"]).name: entry for entry in summary["songs"]}
    assert list(by_name) == ["broken.wav", "groove.wav", "slow.wav"]  # sorted; notes.txt is no song
    for stem in ("groove", "slow"):
        entry = by_name[f"{stem}.wav"]
        assert entry["status"] == "generated" and entry["error"] is None and entry["seed"] == 3
        assert entry["outputs"] == [str(out / f"{stem}{ext}") for ext in FORMATS]
        assert load_motion(out / f"{stem}.bvh").num_frames == 60
    broken = by_name["broken.wav"]
    assert broken["status"] == "failed" and broken["outputs"] == [] and "cannot decode audio" in broken["error"]
    assert not list(out.glob("broken*"))
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dancegen: error: 1 of 3 songs failed: ")
    assert "broken.wav: cannot decode audio" in lines[0]


def test_done_songs_are_skipped_until_overwrite(good_songs, tmp_path, loads, capsys):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["generate", good_songs, "-o", out, *TINY], capsys)
    assert code in (0, None), stderr
    assert "[1/2] groove.wav: wrote" in stdout and "2 generated, 0 skipped, 0 failed of 2 songs" in stdout
    written = {path: path.stat().st_mtime_ns for path in out.iterdir()}
    assert len(written) == 2 * len(FORMATS) and len(loads) == 1

    code, stdout, _ = run_cli(["generate", good_songs, "-o", out, *TINY], capsys)
    assert code in (0, None) and "0 generated, 2 skipped" in stdout
    assert "groove.wav: skipped, its files are in" in stdout and "--overwrite" in stdout
    assert {path: path.stat().st_mtime_ns for path in out.iterdir()} == written and len(loads) == 1  # no load

    (out / "slow.glb").unlink()  # an unfinished song is done again
    code, stdout, _ = run_cli(["generate", good_songs, "-o", out, *TINY, "--json"], capsys)
    assert [entry["status"] for entry in json.loads(stdout)["songs"]] == ["skipped", "generated"]

    code, stdout, _ = run_cli(["generate", good_songs, "-o", out, *TINY, "--overwrite", "--json"], capsys)
    assert code in (0, None) and json.loads(stdout)["generated"] == 2
    assert all(path.stat().st_mtime_ns != mtime for path, mtime in written.items() if path.name != "slow.glb")


def test_quiet_batch_prints_only_the_failures(songs_with_a_bad_one, good_songs, tmp_path, capsys):
    code, stdout, stderr = run_cli(["generate", good_songs, "-o", tmp_path / "ok", *TINY, "-q"], capsys)
    assert code in (0, None) and (stdout, stderr) == ("", "")
    code, stdout, stderr = run_cli(["generate", songs_with_a_bad_one, "-o", tmp_path / "bad", *TINY, "-q"], capsys)
    assert code == 2 and stdout == "" and stderr.count("\n") == 1 and "1 of 3 songs failed" in stderr


@pytest.mark.parametrize("case, expected", [
    ("steps", "--steps: must be a whole number"),
    ("file_out", "is not a folder; a folder of songs needs one"),
    ("empty", "no songs in this folder"),
    ("same_stem", "groove.wav: would write the same files as groove.flac"),
    ("genre", "--genre"),
])
def test_a_bad_option_fails_once_before_any_song(good_songs, tmp_path, loads, capsys, case, expected):
    songs, out, extra = good_songs, tmp_path / "out", []
    if case == "steps":
        extra = ["--steps", "0"]
    elif case == "file_out":
        out = tmp_path / "dance.bvh"
    elif case == "empty":
        songs = tmp_path / "nothing"
        songs.mkdir()
    elif case == "same_stem":
        songs = tmp_path / "twins"
        shutil.copytree(good_songs, songs)
        shutil.copy(songs / "groove.wav", songs / "groove.flac")
    elif case == "genre":
        extra = ["--genre", "tango"]
    code, stdout, stderr = run_cli(["generate", songs, "-o", out, *TINY, *extra], capsys)
    lines = stderr.strip().splitlines()
    assert code == 2 and stdout == "" and len(lines) == 1 and expected in lines[0], stderr
    assert not out.exists() and not loads
