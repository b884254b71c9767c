"""FineDance (Li et al., ICCV 2023): 52-joint SMPL-X dance with hands, 30 fps.

Layout of the release:

    ROOT/motion/001.npy        (T, 315): root translation (3) + 52 joints x 6D rotation
    ROOT/music_wav/001.wav     (or music/001.wav)
    ROOT/label_json/001.json   {"name": ..., "style1": coarse style, "style2": genre}

Clips are numbered 001-211. The published splits (FineDance repository,
`dataset/FineDance_dataset.py`, `get_train_test_list`): FineDance@Genre (`cross_genre`, the one
the paper reports and recommends) and FineDance@Dancer (`cross_dancer`). Ids on a split's ignore
list are left out; the rest that are not test are train.
"""

from __future__ import annotations

from dancegen.data.datasets.base import Clip, DanceDataset, find_annotation, find_audio, read_json
from dancegen.data.genres import FINEDANCE
from dancegen.errors import ArgumentError

MUSIC_FOLDERS = ("music_wav", "music")
LABEL_FOLDER = "label_json"

# FineDance repository, dataset/FineDance_dataset.py (test ids, ignored ids).
PUBLISHED_SPLITS = {
    "cross_genre": (
        ("063", "132", "143", "036", "098", "198", "130", "012", "211", "193",
         "179", "065", "137", "161", "092", "120", "037", "109", "204", "144"),
        ("116", "117", "118", "119", "120", "121", "122", "123", "202", "130"),
    ),
    "cross_dancer": (
        ("001", "002", "003", "004", "005", "006", "007", "008", "009", "010",
         "011", "012", "013", "124", "126", "128", "130", "132"),
        # The first twelve are FineDance@Dancer's validation set; the rest are ignored outright.
        ("115", "117", "119", "121", "122", "135", "137", "139", "141", "143", "145", "147",
         "116", "118", "120", "123", "202", "159", "130"),
    ),
}
CROSS_DANCER_VAL = PUBLISHED_SPLITS["cross_dancer"][1][:12]


class FineDanceDataset(DanceDataset):
    kind = "finedance"

    def __init__(self, root, split_scheme: str = "cross_genre", **options):
        if split_scheme not in PUBLISHED_SPLITS:
            raise ArgumentError("--split-scheme", f"unknown FineDance split {split_scheme!r}",
                                f"use one of {', '.join(PUBLISHED_SPLITS)}")
        self.split_scheme = split_scheme
        super().__init__(root, **options)

    def layout_hint(self) -> str:
        return "expected motion/NNN.npy, music_wav/NNN.wav and label_json/NNN.json"

    def _split_of(self, name: str) -> str | None:
        test, ignored = PUBLISHED_SPLITS[self.split_scheme]
        if self.split_scheme == "cross_dancer" and name in CROSS_DANCER_VAL:
            return "val"
        if name in ignored:
            return None
        return "test" if name in test else "train"

    def scan(self) -> list[Clip]:
        music_dirs = [self.root / name for name in MUSIC_FOLDERS if (self.root / name).is_dir()]
        clips = []
        for path in sorted((self.root / "motion").glob("*.npy")):
            name = path.stem
            split = self._split_of(name)
            if split is None:
                self.skipped.append((path.name, f"on the {self.split_scheme} ignore list"))
                continue
            audio = find_audio(name, music_dirs)
            if audio is None:
                self.missing_pair(path, f"{name}.wav in {self.root}/music_wav")
                continue
            genre, extra = None, [("split_scheme", self.split_scheme)]
            label_path = self.root / LABEL_FOLDER / f"{name}.json"
            if label_path.is_file():
                label = read_json(label_path)
                genre = FINEDANCE.genre_of(str(label.get("style2", "")))
                extra += [("style1", label.get("style1")), ("style2", label.get("style2"))]
            clips.append(Clip(name, path, audio, genre, split, find_annotation(path), tuple(extra)))
        return clips
