"""The Motorica Dance dataset (Alexanderson et al., SIGGRAPH 2023): BVH mocap + wav, 8 styles.

Clips are named like the AIST Dance DB, `prefix_genre_situation_camera_dancer_music_choreo`
(`kthstreet_gKR_sFM_cAll_d01_mKR_ch01_chargedcableupyour_001.bvh`); the style code is the
second tag, as LDA reads it (`style_index: [1]`). Each BVH has a wav of the same stem beside it
(or in `wav/`). BVH files are at 120 fps and are resampled to the dataset rate (LDA: 30 fps).

Split: LDA's `dance_test_files.txt` (ListenDenoiseAction, data/motorica_dance/) names the test
clips, each cut into `_00`/`_01` halves; the clips below are those files without the suffix.
A `dance_test_files.txt` in the dataset folder replaces this list. Everything else is train.
"""

from __future__ import annotations

import re

from dancegen.data.datasets.base import Clip, DanceDataset, find_annotation, find_audio, read_name_list
from dancegen.data.genres import MOTORICA

STYLE_TAG = re.compile(r"^g[A-Z]{2}$")
TEST_LIST_FILE = "dance_test_files.txt"
LDA_TEST_CLIPS = (
    "kthjazz_gCH_sFM_cAll_d02_mCH_ch01_whitemanpaulandhisorchestraloisiana_006",
    "kthjazz_gJZ_sFM_cAll_d02_mJZ_ch01_bennygoodmansugarfootstomp_003",
    "kthjazz_gTP_sFM_sngl_d02_015",
    "kthmisc_gCA_sFM_cAll_d01_mCA_ch24",
    "kthstreet_gKR_sFM_cAll_d01_mKR_ch01_chargedcableupyour_001",
    "kthstreet_gLH_sFM_cAll_d01_mLH_ch01_thisisit_001",
    "kthstreet_gLH_sFM_cAll_d02_mLH_ch01_lala_001",
    "kthstreet_gLO_sFM_cAll_d02_mLO_ch01_arethafranklinrocksteady_002",
    "kthstreet_gPO_sFM_cAll_d01_mPO_ch01_bombom_002",
    "kthstreet_gPO_sFM_cAll_d02_mPO_ch01_bombom_001",
)
_SEGMENT_SUFFIX = re.compile(r"_\d\d(_mirrored)?$")


def style_code(name: str) -> str | None:
    """The style tag of a Motorica clip name (`gKR`), or None."""
    tags = name.split("_")
    return tags[1] if len(tags) > 1 and STYLE_TAG.match(tags[1]) else None


class MotoricaDataset(DanceDataset):
    kind = "motorica"

    def layout_hint(self) -> str:
        return "expected BVH files named like kthstreet_gKR_sFM_cAll_d01_mKR_ch01_song_001.bvh with a .wav of the same stem"

    def _test_clips(self) -> set[str]:
        path = self.root / TEST_LIST_FILE
        if not path.is_file():
            return set(LDA_TEST_CLIPS)
        return {_SEGMENT_SUFFIX.sub("", name) for name in read_name_list(path)}

    def scan(self) -> list[Clip]:
        test = self._test_clips()
        clips = []
        for path in sorted(self.root.rglob("*.bvh")):
            name, code = path.stem, style_code(path.stem)
            if code is None or code not in MOTORICA.labels:
                self.skipped.append((path.name, "no Motorica style tag (gCA, gCH, gJZ, gKR, gLH, gLO, gPO, gTP) in the name"))
                continue
            audio = find_audio(name, [path.parent, path.parent / "wav", self.root / "wav"])
            if audio is None:
                self.missing_pair(path, f"{name}.wav beside it")
                continue
            clips.append(Clip(
                name=name,
                motion_path=path,
                audio_path=audio,
                genre=MOTORICA.genre_of(code),
                split="test" if name in test else "train",
                annotation_path=find_annotation(path),
                extra=(("style_code", code),),
            ))
        return clips
