"""Bounded memory gives the same answers: streamed audio equals decoded audio, streamed beat
analysis equals the in-memory one, the block-wise BVH reader and height estimate equal a
single block; and the named limits (`dancegen.limits`) are what stops oversized input."""

from __future__ import annotations

import numpy as np
import pytest

from dancegen.errors import ArgumentError, DanceGenError, InputFileError


def test_streamed_audio_is_the_decoded_audio(inputs):
    from dancegen.audio.io import load_audio, stream_audio

    whole = load_audio(inputs["good.wav"], sample_rate=16000, start=0.25, end=1.75)
    blocks = list(stream_audio(inputs["good.wav"], 16000, start=0.25, end=1.75, block_seconds=0.3))
    assert len(blocks) > 3
    np.testing.assert_allclose(np.concatenate(blocks), whole.samples, atol=1e-6)


def test_streamed_beats_are_the_in_memory_beats(inputs, monkeypatch):
    from dancegen.audio import beats
    from dancegen.audio.io import load_audio

    expected = beats.detect_beats(load_audio(inputs["good.wav"]))
    monkeypatch.setattr(beats, "STREAM_BLOCK_S", 0.4)  # many blocks for a 2 s song
    analysis = beats.detect_beats_in_file(inputs["good.wav"])
    assert analysis.duration == pytest.approx(2.0, abs=1e-3) and not analysis.is_silent
    assert analysis.info.bpm == pytest.approx(expected.bpm, rel=1e-3)
    np.testing.assert_allclose(analysis.info.beat_times, expected.beat_times, atol=2e-3)
    assert beats.detect_beats_in_file(inputs["silent.wav"]).is_silent


def test_the_spectrogram_does_not_depend_on_the_blocks(inputs):
    from dancegen.audio.beats import ANALYSIS_RATE, _Spectra
    from dancegen.audio.io import load_audio

    samples = load_audio(inputs["good.wav"], sample_rate=ANALYSIS_RATE).samples
    one = _Spectra.of([samples])
    many = _Spectra.of(np.array_split(samples, 7))
    np.testing.assert_allclose(one.log_mel(), many.log_mel(), atol=1e-4)
    np.testing.assert_allclose(one.chroma(), many.chroma(), atol=1e-5)


def test_the_bvh_reader_does_not_depend_on_its_blocks(inputs, monkeypatch):
    from dancegen.motion import bvh

    whole = bvh.read_bvh(inputs["good.bvh"])
    monkeypatch.setattr(bvh, "_ROWS_PER_BLOCK", 3)
    blocked = bvh.read_bvh(inputs["good.bvh"])
    np.testing.assert_array_equal(blocked.rotations, whole.rotations)
    np.testing.assert_array_equal(blocked.root_translation, whole.root_translation)
    # An error in a later block still names its line.
    lines = inputs["good.bvh"].read_text().splitlines()
    row = len(lines) - 2
    lines[row] = lines[row].replace(lines[row].split()[3], "oops", 1)
    broken = inputs["good.bvh"].parent / "hardening-broken.bvh"
    try:
        broken.write_text("\n".join(lines) + "\n")
        with pytest.raises(InputFileError) as caught:
            bvh.read_bvh(broken)
        assert caught.value.line == row + 1 and "non-numeric value 'oops'" in str(caught.value)
    finally:
        broken.unlink()


def test_the_height_does_not_depend_on_the_blocks(inputs, monkeypatch):
    from dancegen.motion import io

    motion = io.load_motion(inputs["good.bvh"])
    whole = io.estimate_height(motion)
    monkeypatch.setattr(io, "_FK_BLOCK", 4)
    assert io.estimate_height(motion) == pytest.approx(whole, abs=1e-12)


def test_limits_are_named_and_can_be_raised(inputs, monkeypatch):
    from dancegen.limits import limits
    from dancegen.motion.io import load_motion

    monkeypatch.setenv("DANCEGEN_LIMITS", "max_frames=10")
    assert limits().max_frames == 10
    with pytest.raises(InputFileError, match=r"20 frames is more than the limit of 10 \(max_frames; raise it with"):
        load_motion(inputs["good.bvh"])
    monkeypatch.setenv("DANCEGEN_LIMITS", "max_frames=100, max_joints=5")
    with pytest.raises(InputFileError, match="more than 5 joints"):
        load_motion(inputs["good.bvh"])
    for bad in ("max_frames", "max_frames=-1", "frames=3", "max_fps=fast"):
        monkeypatch.setenv("DANCEGEN_LIMITS", bad)
        with pytest.raises(ArgumentError, match="DANCEGEN_LIMITS"):
            limits()
    monkeypatch.delenv("DANCEGEN_LIMITS")
    assert limits().max_frames == 2_000_000


@pytest.mark.parametrize("text, problem", [
    ('{"a": ' + "9" * 500 + "}", "too large"),
    ('{"a": ' + "9" * 320 + "}", "too large"),
    ("[" * 70 + "]" * 70, "nested too deeply"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a": 1,}', "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_json_inputs_are_read_strictly(text, problem, tmp_path):
    from dancegen.limits import load_json_file

    path = tmp_path / "in.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DanceGenError, match=problem):
        load_json_file(path)


def test_json_nan_and_infinity_are_left_to_the_readers_checks(tmp_path):
    """NaN and 1e400 parse as floats, so the reader names the entry that holds them."""
    import math

    from dancegen.limits import load_json_file

    path = tmp_path / "in.json"
    path.write_text('{"a": NaN, "b": 1e400, "c": -Infinity}')
    data = load_json_file(path)
    assert math.isnan(data["a"]) and data["b"] == math.inf and data["c"] == -math.inf


def test_text_is_cleaned_and_must_have_words():
    from dancegen.text.clean import clean_text

    assert clean_text("  slow\u202e spins\x1b[0m\t\nand  turns ", "--prompt") == "slow spins and turns"
    for text, problem in [("\x1b[31m\x07", "only control characters"), ("", "is empty"), ("123 !!", "has no words"),
                          ("spin " * 200, "characters long"), ("x" * 100_000, "characters long")]:
        with pytest.raises(ArgumentError, match=f"--prompt: .*{problem}"):
            clean_text(text, "--prompt")


def test_a_folder_export_into_an_existing_folder(tmp_path):
    from dancegen.fileio import atomic_directory, is_temporary

    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    (out / "a.bvh").write_text("old")
    with atomic_directory(out) as staging:
        (staging / "a.bvh").write_text("new")
        (staging / "b.npz").write_text("new")
        assert not (out / "b.npz").exists()  # nothing shows until the export is whole
    assert {p.name: p.read_text() for p in out.iterdir()} == {"mine.txt": "keep", "a.bvh": "new", "b.npz": "new"}
    with pytest.raises(RuntimeError):
        with atomic_directory(out) as staging:
            (staging / "c.glb").write_text("half")
            raise RuntimeError("the export failed half way")
    assert sorted(p.name for p in out.iterdir()) == ["a.bvh", "b.npz", "mine.txt"]
    assert not any(is_temporary(p.name) for p in tmp_path.iterdir())
