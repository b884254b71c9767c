"""AIST++, FineDance, Motorica and generic-folder datasets on synthetic fixtures written here."""

from __future__ import annotations

import os
import pickle

import pytest

from data_synth import beat_motion, make_aistpp, make_finedance, write_song
from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan, write_annotation
from dancegen.data.datasets import (
    AISTPPDataset, FineDanceDataset, FolderDataset, MissingPairError, MotoricaDataset, detect_kind, open_dataset,
)
from dancegen.errors import InputFileError

AIST_NAMES = {
    "gBR_sBM_cAll_d04_mBR0_ch01": "train",
    "gMH_sFM_cAll_d22_mMH3_ch04": "val",
    "gJB_sBM_cAll_d08_mJB5_ch02": "test",
    "gKR_sBM_cAll_d28_mKR2_ch03": None,  # on the ignore list
}


@pytest.fixture(scope="module")
def aist_root(tmp_path_factory):
    return make_aistpp(tmp_path_factory.mktemp("aist"), AIST_NAMES, ignore=["gKR_sBM_cAll_d28_mKR2_ch03"])


def test_aistpp_splits_genres_and_60_to_30_fps(aist_root):
    dataset = open_dataset(aist_root)
    assert isinstance(dataset, AISTPPDataset) and len(dataset) == 3
    assert {c.name: (c.split, c.genre) for c in dataset.clips} == {
        "gBR_sBM_cAll_d04_mBR0_ch01": ("train", "breaking"),
        "gMH_sFM_cAll_d22_mMH3_ch04": ("val", "middle_hiphop"),
        "gJB_sBM_cAll_d08_mJB5_ch02": ("test", "ballet_jazz"),
    }
    assert dataset.skipped == [("gKR_sBM_cAll_d28_mKR2_ch03.pkl", "in ignore_list.txt")]
    sample = dataset.load("gMH_sFM_cAll_d22_mMH3_ch04")
    assert sample.fps == 30.0 and sample.num_frames == 60 and sample.motion.skeleton.name == "smpl24"
    assert sample.audio_path.name == "mMH3.wav" and sample.genre == "middle_hiphop"
    assert sample.source["source_fps"] == 60.0 and sample.source["music_id"] == "mMH3"
    windows = list(dataset.windows("train", length_s=1.0, stride_s=0.5))
    assert len(windows) == 3 and all(w.num_frames == 30 and w.split == "train" for w in windows)


def test_aistpp_features_are_cut_to_the_motion(aist_root):
    sample = AISTPPDataset(aist_root, feature_kind="baseline35").load("gBR_sBM_cAll_d04_mBR0_ch01")
    assert sample.audio_features.shape == (60, 35) and sample.num_frames == 60


def test_aistpp_missing_music_is_a_clear_error(tmp_path):
    root = make_aistpp(tmp_path / "a", {"gPO_sBM_cAll_d10_mPO1_ch01": "train"})
    (root / "wav" / "mPO1.wav").unlink()
    with pytest.raises(MissingPairError, match=r"gPO_sBM_cAll_d10_mPO1_ch01.pkl: no music for this motion \(expected mPO1.wav"):
        AISTPPDataset(root)
    lenient = AISTPPDataset(root, skip_missing=True)
    assert len(lenient) == 0 and "no music" in lenient.summary()["skipped"][0]


class _Hostile:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_hostile_pickle_is_refused_not_run(tmp_path):
    root = make_aistpp(tmp_path / "a", {"gHO_sBM_cAll_d14_mHO5_ch01": "train"})
    marker = tmp_path / "pwned"
    hostile = _Hostile()
    hostile.marker = marker
    (root / "motions" / "gHO_sBM_cAll_d14_mHO5_ch01.pkl").write_bytes(pickle.dumps({"smpl_poses": hostile}))
    dataset = AISTPPDataset(root)
    with pytest.raises(InputFileError, match="refused to unpickle global (posix|os).system"):
        dataset.load("gHO_sBM_cAll_d14_mHO5_ch01")
    assert not marker.exists()


def test_finedance_genres_and_published_split(tmp_path):
    root = make_finedance(tmp_path / "fd", {"063": "Breaking", "001": "Tai", "116": "Popping", "130": "Kun"})
    dataset = open_dataset(root)
    assert isinstance(dataset, FineDanceDataset)
    assert {c.name: (c.split, c.genre) for c in dataset.clips} == {"001": ("train", "dai"), "063": ("test", "breaking")}
    assert sorted(name for name, _ in dataset.skipped) == ["116.npy", "130.npy"]  # ignored ids
    dancer = FineDanceDataset(root, split_scheme="cross_dancer")
    assert {c.name: c.split for c in dancer.clips} == {"001": "test", "063": "train"}
    sample = dataset.load("001")
    assert sample.motion.skeleton.name == "smplx52" and sample.fps == 30.0 and sample.num_frames == 30


def test_motorica_style_codes_and_lda_test_split(tmp_path):
    from dancegen.motion.bvh import write_bvh

    names = ["kthstreet_gKR_sFM_cAll_d01_mKR_ch01_chargedcableupyour_001", "kthjazz_gCH_sFM_cAll_d02_mCH_ch01_song_003"]
    for index, name in enumerate(names):
        write_bvh(beat_motion([0.5], 1.0, fps=120.0), tmp_path / f"{name}.bvh")
        write_song(tmp_path / f"{name}.wav", 100.0, 1.5, seed=index)
    write_bvh(beat_motion([0.5], 1.0, fps=120.0), tmp_path / "no_style_here.bvh")
    assert detect_kind(tmp_path) == "motorica"
    dataset = MotoricaDataset(tmp_path)
    assert {c.name: (c.split, c.genre) for c in dataset.clips} == {names[0]: ("test", "krump"), names[1]: ("train", "charleston")}
    assert dataset.skipped[0][0] == "no_style_here.bvh"
    sample = dataset.load(names[1])
    assert sample.fps == 30.0 and sample.num_frames == 30 and sample.source["source_fps"] == pytest.approx(120.0)


def test_folder_dataset_with_sidecars_and_split_lists(tmp_path):
    for index, name in enumerate(["alpha", "beta"]):
        beat_motion([0.5, 1.0], 1.5, fps=30.0).save_npz(tmp_path / f"{name}.npz")
        write_song(tmp_path / f"{name}.wav", 120.0, 2.0, seed=index)
    write_annotation(Annotation(GlobalStyle("gLO", "extrovert"), (LocalSpan(0.0, 1.0, ("point",)),)),
                     tmp_path / "alpha.annotation.txt")
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("beta\n")
    (tmp_path / "splits" / "train.txt").write_text("alpha\n")
    assert detect_kind(tmp_path) == "folder"
    dataset = FolderDataset(tmp_path)
    assert {c.name: c.split for c in dataset.clips} == {"alpha": "train", "beta": "test"}
    alpha = dataset.load("alpha")
    assert alpha.genre == "locking"  # the sidecar's AIST++ code, made canonical
    assert alpha.annotation.spans == (LocalSpan(0.0, 1.0, ("point",)),) and alpha.num_frames == 45
    assert dataset.summary()["with_annotation"] == 1
    (tmp_path / "beta.wav").unlink()
    with pytest.raises(MissingPairError, match=r"beta.npz: no music"):
        FolderDataset(tmp_path)


def test_an_annotation_longer_than_its_audio_is_refused(tmp_path):
    beat_motion([0.5], 1.0, fps=30.0).save_npz(tmp_path / "clip.npz")
    write_song(tmp_path / "clip.wav", 120.0, 1.0)
    write_annotation(Annotation(GlobalStyle("house"), (LocalSpan(0.0, 3.0, ("jack",)),)), tmp_path / "clip.annotation.json")
    with pytest.raises(InputFileError, match="ends after the audio"):
        FolderDataset(tmp_path).load("clip")


def test_empty_or_missing_folders_fail_in_one_line(tmp_path):
    with pytest.raises(InputFileError, match="dataset folder not found"):
        open_dataset(tmp_path / "nope")
    with pytest.raises(InputFileError, match="no folder clips found"):
        open_dataset(tmp_path)
