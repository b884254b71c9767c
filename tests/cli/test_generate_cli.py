"""`dancegen generate` with the shipped default model: a real dance, and every bad input
rejected with one line, exit status 2 and no file written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dancegen.catalog import SHIPPED_DIR
from dancegen.pipelines.request import MAX_PROMPT_CHARS
from cli_runner import run_cli

SONG_SECONDS = 4.0
FAST = ["--steps", "2", "--seed", "3"]


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(120.0, SONG_SECONDS, seed=1)
    return write_wav(tmp_path_factory.mktemp("music") / "groove.wav", samples, sample_rate=22050)


run = run_cli
DEFAULT_MODEL = SHIPPED_DIR / "gcdance-small.pt"


def test_the_default_model_ships():
    from dancegen.bundle import load_bundle
    from dancegen.catalog import resolve_model

    assert DEFAULT_MODEL.is_file() and DEFAULT_MODEL.stat().st_size < 25 * 2**20
    assert resolve_model(None).path == DEFAULT_MODEL
    bundle = load_bundle(DEFAULT_MODEL)
    header = bundle.header
    assert header.family == "gcdance" and header.name == "gcdance-small" and header.skeleton == "smpl24"
    assert header.config["network"]["skeleton"] == "smpl24" and header.fps == 30.0
    assert set(header.genres) == {"modern_ballet", "salsa", "whirl", "casual"}
    assert "CMU" in header.licence and header.training["steps"] == 3000
    assert bundle.assets.get("text_condition") == "genre_and_moves"  # trained on the CMU move labels


def test_generates_with_the_default_model(song, tmp_path, capsys):
    from dancegen.motion.io import load_motion

    out = tmp_path / "dance.bvh"
    code, stdout, _ = run(["generate", song, "--out", out, "--seconds", 3, "--prompt", "expressive arms, pirouette",
                           "--json", *FAST], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["model"] == "gcdance-small" and summary["family"] == "gcdance"
    assert summary["outputs"] == [str(out)] and summary["frames"] == 90 and summary["seed"] == 3
    assert summary["genre"] in {"modern_ballet", "salsa", "whirl", "casual"}
    dance = load_motion(out)
    positions = dance.joint_positions()
    assert dance.num_joints == 24 and dance.num_frames == 90 and np.isfinite(positions).all()
    assert 1.0 < np.ptp(positions[0, :, 1]) < 2.5  # a standing figure's height, metres


def test_progress_bar_unless_quiet(song, tmp_path, capsys):
    code, stdout, stderr = run(["generate", song, "--out", tmp_path / "a.npz", "--seconds", 2, *FAST], capsys)
    assert code == 0 and "denoising" in stderr and "it/s" in stderr and "wrote" in stdout
    code, stdout, stderr = run(["generate", song, "--out", tmp_path / "b.npz", "--seconds", 2, "--quiet", *FAST], capsys)
    assert code == 0 and "denoising" not in stderr and (tmp_path / "b.npz").is_file()


def _bad_audio(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.txt"
    text.write_text("not music")
    garbage = tmp_path / "broken.wav"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    return {"text": text, "garbage": garbage, "missing": tmp_path / "absent.wav"}


@pytest.mark.parametrize(
    "audio, extra, expected",
    [
        ("text", [], "unsupported audio format"),
        ("garbage", [], "cannot decode audio"),
        ("missing", [], "no such music file"),
        (None, ["--model", "{tmp}/nope.pt"], "model file not found"),
        (None, ["--model", "{tmp}/notes.txt"], "not a model bundle"),
        (None, ["--model", "no-such-model"], "no model named 'no-such-model'"),
        (None, ["--prompt", ""], "--prompt: is empty"),
        (None, ["--prompt", "   \t "], "--prompt: is empty"),
        (None, ["--prompt", "spin " * MAX_PROMPT_CHARS], "characters long"),
        (None, ["--prompt", "!!! 123 ???"], "has no words"),
        (None, ["--seconds", "0"], "--seconds: must be a positive number"),
        (None, ["--seconds", "-2"], "--seconds: must be a positive number"),
        (None, ["--seconds", "nan"], "--seconds: must be a positive number"),
        (None, ["--seconds", "60"], "runs past the end"),
        (None, ["--start", "3", "--seconds", "2"], "runs past the end"),
        (None, ["--start", "10"], "--start: 10 s is past the end"),
        (None, ["--start", "-1"], "--start: must be a finite number of seconds >= 0"),
        (None, ["--steps", "0"], "--steps: must be a whole number from 1"),
        (None, ["--out", "{tmp}/out/dance.xyz"], "unknown output extension"),
        (None, ["--genre", "tango"], "--genre"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(song, tmp_path, capsys, audio, extra, expected):
    inputs = _bad_audio(tmp_path)
    source = inputs[audio] if audio else song
    out = tmp_path / "out"
    extra = [value.format(tmp=tmp_path) for value in extra]
    if "--out" not in extra:
        extra = ["--out", out, *extra]
    before = sorted(tmp_path.rglob("*"))
    code, stdout, stderr = run(["generate", source, *FAST, *extra, "--quiet"], capsys)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dancegen: error: ") and expected in lines[0], stderr
    assert "Traceback" not in stderr and stdout == ""
    assert sorted(tmp_path.rglob("*")) == before  # no output, no temporary left behind


def test_the_prompt_steers_the_dance(song):
    """The default model was trained on move labels: the prompt itself is its text condition."""
    from dancegen.pipelines.gcdance import GCDancePipeline

    pipeline = GCDancePipeline.from_pretrained("gcdance-small")
    assert pipeline.nearest_genre("salsa steps with my partner")[0] == "salsa"
    dances = [pipeline(song, prompt=prompt, seconds=2, seed=5, steps=2).joint_positions()
              for prompt in ("expressive arms, pirouette", "expressive arms, pirouette", "small jetes, attitude/arabesque")]
    np.testing.assert_array_equal(dances[0], dances[1])  # seeded: the same prompt gives the same dance
    assert np.abs(dances[0] - dances[2]).max() > 1e-3  # another prompt gives another


def test_generates_onto_the_users_own_rig(song, tmp_path, capsys):
    from dancegen.motion.bvh import write_bvh
    from dancegen.motion.io import load_motion
    from dancegen.motion.motion import Motion
    from dancegen.motion.retarget import presets
    from dancegen.skeleton.smpl import smpl24
    from dancegen.skeleton.tree import Skeleton

    # A Mixamo-named character, 10 % taller than SMPL, standing in its T-pose for one frame.
    names = dict(presets()["mixamo"].joints)
    base = smpl24()
    character = Skeleton("character", tuple(names.get(n, n) for n in base.joint_names), base.parents, base.offsets * 1.1)
    rest = np.tile([0.0, 0.0, 0.0, 1.0], (1, 24, 1))
    rig_file = tmp_path / "character.bvh"
    write_bvh(Motion(character, 30.0, rest, np.array([[0.0, 1.0, 0.0]])), rig_file)

    out = tmp_path / "mine.bvh"
    code, _, stderr = run(["generate", song, "--out", out, "--seconds", 2, "--rig", rig_file, "--quiet", *FAST], capsys)
    assert code == 0, stderr
    on_rig = load_motion(out)
    assert set(on_rig.skeleton.joint_names) == set(character.joint_names) and on_rig.num_frames == 60
    assert np.isfinite(on_rig.joint_positions()).all()

    code, _, stderr = run(["generate", song, "--out", tmp_path / "x.bvh", "--rig", tmp_path / "none.bvh", *FAST], capsys)
    assert code == 2 and "--rig file not found" in stderr and not (tmp_path / "x.bvh").exists()


def test_foot_lock_leaves_pinned_legs_alone(song, tmp_path, capsys):
    from dancegen.motion.motion import Motion
    from dancegen.sampling.editing import body_part_joints
    from dancegen.skeleton.smpl import smpl24

    frames = 60
    rotations = np.tile([0.0, 0.0, 0.0, 1.0], (frames, 24, 1))
    rotations[:, 4] = [np.sin(0.3), 0.0, 0.0, np.cos(0.3)]  # a bent left knee, held
    reference = Motion(smpl24(), 30.0, rotations, np.tile([0.0, 0.85, 0.0], (frames, 1)))
    reference.save_npz(tmp_path / "reference.npz")
    out = tmp_path / "edit.npz"
    code, stdout, err = run(["generate", song, "--out", out, "--seconds", 2, "--reference", tmp_path / "reference.npz",
                             "--lock-joints", "lower_body", "--json", *FAST], capsys)
    assert code == 0, err
    assert json.loads(stdout)["foot_lock"] == {"skipped": "the legs or the root are pinned by --lock-joints or --keyframes"}
    legs = body_part_joints(smpl24(), "lower_body")
    edited = Motion.load_npz(out)
    np.testing.assert_array_equal(edited.rotations[:, legs], rotations[:, legs])
    np.testing.assert_array_equal(edited.root_translation, reference.root_translation)
