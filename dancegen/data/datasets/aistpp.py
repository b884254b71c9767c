"""AIST++ (Li et al., ICCV 2021): SMPL motion from the AIST Dance Video Database.

Layout (the AIST++ annotation download plus the AIST Dance DB music):

    ROOT/motions/gBR_sBM_cAll_d04_mBR0_ch01.pkl   smpl_poses (N, 72), smpl_trans (N, 3),
                                                 smpl_scaling (1,); 60 fps; translation is
                                                 divided by the scaling on load
    ROOT/wav/mBR0.wav  (or wavs/, music/, audio/) the music, named by the mXX id in the name
    ROOT/splits/crossmodal_{train,val,test}.txt  the official music-to-dance splits
    ROOT/ignore_list.txt (or splits/ignore_list.txt)  sequences with bad fits, left out

Sequence names follow the AIST Dance DB: genre gXX, situation sXX (sBM basic, sFM advanced),
camera cAll, dancer dNN, music mXXn (n = 0-5, six pieces per genre), choreography chNN. Pickles
are read through `dancegen.safe_pickle` (the motion readers use it): a pickle that asks for
anything but arrays and containers is refused, never run. Without the split files every
sequence gets a deterministic hashed split (recorded as `split_source: hash`).
"""

from __future__ import annotations

import re

from dancegen.data.datasets.base import Clip, DanceDataset, find_annotation, find_audio, read_name_list
from dancegen.data.genres import AISTPP
from dancegen.data.windows import split_for

MUSIC_FOLDERS = ("wav", "wavs", "music", "audio")
SPLIT_FILES = {"train": "crossmodal_train.txt", "val": "crossmodal_val.txt", "test": "crossmodal_test.txt"}
IGNORE_FILE = "ignore_list.txt"
SEQUENCE_NAME = re.compile(r"^(?P<genre>g[A-Z]{2})_(?P<situation>s[A-Z]{2})_c\w+?_(?P<dancer>d\d+)_(?P<music>m[A-Z]{2}\d)_(?P<choreo>ch\d+)$")


def parse_sequence_name(name: str) -> dict[str, str] | None:
    """The tags of an AIST++ sequence name, or None if it is not one."""
    match = SEQUENCE_NAME.match(name)
    return None if match is None else match.groupdict()


class AISTPPDataset(DanceDataset):
    kind = "aistpp"

    def layout_hint(self) -> str:
        return "expected motions/*.pkl named like gBR_sBM_cAll_d04_mBR0_ch01.pkl and wav/mBR0.wav"

    def _split_lists(self) -> tuple[dict[str, str], set[str], str]:
        splits_dir = self.root / "splits"
        membership: dict[str, str] = {}
        for split, filename in SPLIT_FILES.items():
            path = splits_dir / filename
            if path.is_file():
                membership.update((name, split) for name in read_name_list(path))
        ignore_path = next((p for p in (self.root / IGNORE_FILE, splits_dir / IGNORE_FILE) if p.is_file()), None)
        ignored = set(read_name_list(ignore_path)) if ignore_path else set()
        return membership, ignored, "official" if membership else "hash"

    def scan(self) -> list[Clip]:
        motion_dir = self.root / "motions"
        music_dirs = [self.root / name for name in MUSIC_FOLDERS if (self.root / name).is_dir()]
        membership, ignored, split_source = self._split_lists()
        clips = []
        for path in sorted(motion_dir.glob("*.pkl")):
            name = path.stem
            tags = parse_sequence_name(name)
            if tags is None or name in ignored:
                self.skipped.append((path.name, "not an AIST++ sequence name" if tags is None else "in ignore_list.txt"))
                continue
            audio = find_audio(tags["music"], music_dirs)
            if audio is None:
                self.missing_pair(path, f"{tags['music']}.wav in {self.root}/wav")
                continue
            split = membership.get(name) if split_source == "official" else split_for(name)
            clips.append(Clip(
                name=name,
                motion_path=path,
                audio_path=audio,
                genre=AISTPP.genre_of(tags["genre"]),
                split=split,
                annotation_path=find_annotation(path),
                extra=(("music_id", tags["music"]), ("situation", tags["situation"]),
                       ("dancer", tags["dancer"]), ("split_source", split_source)),
            ))
        return clips

