"""Pairing unpaired mocap with music: motion beats, the beat matching, the bounded smooth warp,
and `pair_folders` end to end on synthetic clips with known beats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from data_synth import beat_motion, write_beats_json, write_song
from dancegen.data.datasets import FolderDataset
from dancegen.data.pairing import (
    SPEED_LIMITS, Song, beat_alignment, match_beats, motion_beats, pair_folders, pair_motion, smooth_warp,
)
from dancegen.errors import DanceGenError

# An uneven dance: beats about every 0.5 s, each off by up to 60 ms.
DANCE_BEATS = np.arange(0.5, 8.0, 0.5) + np.random.default_rng(0).uniform(-0.06, 0.06, 15)


def test_motion_beats_are_the_stops_of_the_body():
    found = motion_beats(beat_motion(DANCE_BEATS, 8.0))
    assert len(found) == len(DANCE_BEATS)
    # Smoothing the speed (50 ms) pulls a minimum towards its slower side: within ~2 frames.
    assert np.abs(found - DANCE_BEATS).max() < 0.04 and np.abs(found - DANCE_BEATS).mean() < 0.015
    assert len(motion_beats(beat_motion([], 2.0).slice_frames(0, 2))) == 0


def test_warp_is_monotone_bounded_and_passes_through_its_anchors():
    anchors = np.array([[0.0, 0.0], [0.6, 0.6], [1.2, 1.12], [1.7, 1.7], [2.1, 2.05], [3.0, 2.9]])
    warp = smooth_warp(anchors)
    speed = warp.speed()
    assert speed.min() >= SPEED_LIMITS[0] - 1e-9 and speed.max() <= SPEED_LIMITS[1] + 1e-9
    assert warp.anchor_error() < 1e-3
    assert np.abs(np.diff(speed)).max() < 0.01  # smooth: no jumps in speed between samples
    np.testing.assert_allclose(warp.inverse(warp(np.array([0.3, 1.9]))), [0.3, 1.9], atol=1e-9)


def test_pairing_puts_a_known_dance_on_the_beat():
    music = np.arange(0.3, 40.0, 0.56)  # 107 bpm: the dance must slow down by about 10 %
    song = Song("groove", Path("groove.wav"), (), 40.0, music, music[::4], 107.0, "test")
    pairing = pair_motion("clip", beat_motion(DANCE_BEATS, 8.0), song, fps=30.0)
    assert pairing.matched_beats >= 12
    assert SPEED_LIMITS[0] <= pairing.speed_range[0] <= pairing.speed_range[1] <= SPEED_LIMITS[1]
    assert pairing.before.hit_rate < 0.5 and pairing.before.mean_offset_ms > 80
    assert pairing.after.hit_rate >= 0.9 and pairing.after.mean_offset_ms < 25
    assert pairing.motion.fps == 30.0 and pairing.duration == pytest.approx(pairing.warp.duration, abs=1 / 30)
    assert 0 <= pairing.offset and pairing.offset + pairing.duration <= 40.0 + 1e-6


def test_no_match_without_beats_or_room():
    assert match_beats(np.zeros(0), np.arange(0, 10, 0.5), 5.0, 10.0) is None
    assert match_beats(np.array([1.0, 2.0]), np.array([0.5, 1.0]), 30.0, 2.0) is None  # song too short
    alignment = beat_alignment(np.array([1.0, 2.02]), np.array([1.0, 2.0, 3.0]))
    assert alignment.mean_offset_ms == pytest.approx(10.0) and alignment.hit_rate == 1.0


def test_pair_folders_writes_a_folder_dataset(tmp_path):
    motion_dir, music_dir, out = tmp_path / "cmu05", tmp_path / "music", tmp_path / "out"
    motion_dir.mkdir()
    beat_motion(DANCE_BEATS[:7], 4.0).save_npz(motion_dir / "005_02.npz")
    beat_motion([], 1.0).save_npz(motion_dir / "still.npz")  # no beats: skipped, with the reason
    (motion_dir / "descriptions.csv").write_text('clip_id,description\n005_02,"dance - pirouette, jete"\n')
    for name, bpm in (("slow", 100.0), ("fast", 126.0)):
        (music_dir / name).mkdir(parents=True)
        beats = write_song(music_dir / name / "song.wav", bpm, 12.0)
        write_beats_json(music_dir / name / "beats.json", beats, bpm, "song.wav")
    run = pair_folders(motion_dir, music_dir, out, fps=30.0, to_smpl=False)
    assert [p.clip for p in run.pairings] == ["005_02"] and run.skipped == [("still.npz", "no motion beats found")]
    pairing = run.pairings[0]
    assert pairing.after.hit_rate >= 0.85 and pairing.after.mean_offset_ms < pairing.before.mean_offset_ms

    stem = f"005_02__{pairing.song}"
    provenance = json.loads((out / f"{stem}.provenance.json").read_text())
    assert provenance["genre"] == "modern_ballet" and provenance["motion"]["path"].endswith("005_02.npz")
    assert provenance["offset_s"] == pytest.approx(pairing.offset, abs=1e-3)
    beats = json.loads((out / f"{stem}.beats.json").read_text())["beats_s"]
    assert beats and 0 <= beats[0] and beats[-1] <= pairing.duration
    report = json.loads((out / "pairing_report.json").read_text())
    assert report["summary"]["pairs"] == 1 and report["pairs"][0]["song"] == pairing.song

    dataset = FolderDataset(out)
    sample = dataset.load(stem)
    assert sample.genre == "modern_ballet" and sample.annotation.style.core_moves == ("pirouette", "jete")
    assert sample.num_frames == pytest.approx(pairing.duration * 30, abs=1)
    import soundfile

    assert soundfile.info(str(out / f"{stem}.wav")).duration == pytest.approx(pairing.duration, abs=0.01)


def test_pair_folders_errors(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "s").mkdir()
    with pytest.raises(DanceGenError, match="no motion files"):
        pair_folders(tmp_path / "m", tmp_path / "s", tmp_path / "o")
    with pytest.raises(DanceGenError, match="--music folder not found"):
        pair_folders(tmp_path / "m", tmp_path / "nope", tmp_path / "o")


def test_an_unreadable_clip_is_skipped_with_its_reason(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "broken.bvh").write_text("HIERARCHY\nnonsense\n")
    beat_motion(DANCE_BEATS[:7], 4.0).save_npz(tmp_path / "m" / "good.npz")
    (tmp_path / "s").mkdir()
    beats = write_song(tmp_path / "s" / "groove.wav", 110.0, 10.0)
    write_beats_json(tmp_path / "s" / "groove.beats.json", beats, 110.0, "groove.wav")
    run = pair_folders(tmp_path / "m", tmp_path / "s", tmp_path / "o", to_smpl=False)
    assert [p.clip for p in run.pairings] == ["good"]
    assert run.skipped[0][0] == "broken.bvh" and "broken.bvh" in run.skipped[0][1]


def test_songs_with_stems_load_from_a_relative_music_folder(tmp_path, monkeypatch):
    """A kit-layout song (beats.json naming song.ogg + guitar.ogg) found through a relative
    path: its stems must still be loadable (they were joined to the folder twice)."""
    import json

    from dancegen.audio import load_audio, write_wav
    from dancegen.audio.synth import drum_pattern
    from dancegen.data.pairing import find_songs

    song = tmp_path / "music" / "band-song"
    song.mkdir(parents=True)
    samples, beats = drum_pattern(120, 4.0, seed=0)
    write_wav(song / "song.wav", samples, 22050)
    write_wav(song / "guitar.wav", 0.5 * samples, 22050)
    (song / "beats.json").write_text(json.dumps({"audio": "song.wav", "stems": ["song.wav", "guitar.wav"],
                                                 "beats_s": beats.tolist(), "bpm": 120}))
    monkeypatch.chdir(tmp_path)
    (found,) = find_songs(Path("music"))
    assert [p.name for p in found.stems] == ["guitar.wav"] and all(p.is_file() for p in found.stems)
    mixed = load_audio(found.audio_path, stems=found.stems)
    assert mixed.duration == pytest.approx(4.0, abs=0.01)
