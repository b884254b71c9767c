"""A generic folder: any motion file + audio with the same stem + optional sidecars.

    DIR/clip.bvh | clip.npz | clip.pkl | clip.npy    the motion (anything `load_motion` reads)
    DIR/clip.wav | .ogg | .flac | .mp3                its music
    DIR/clip.annotation.json | clip.annotation.txt   optional text annotation (data.annotations)
    DIR/clip.provenance.json                          optional: where the pair came from
    DIR/splits/{train,val,test}.txt                   optional split lists (clip stems)

`dancegen data pair` writes exactly this layout. Without split lists each clip's split is a
deterministic hash of its stem.
"""

from __future__ import annotations

from pathlib import Path

from dancegen.data.datasets.base import Clip, DanceDataset, SPLITS, find_annotation, find_audio, read_json, read_name_list
from dancegen.data.genres import find_genre
from dancegen.data.windows import split_for

MOTION_EXTENSIONS = (".bvh", ".npz", ".pkl", ".npy")
PROVENANCE_SUFFIX = ".provenance.json"


def motion_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in MOTION_EXTENSIONS and p.is_file())


class FolderDataset(DanceDataset):
    kind = "folder"

    def layout_hint(self) -> str:
        return "expected motion files (.bvh, .npz, .pkl, .npy) each with an audio file of the same stem"

    def _split_lists(self) -> dict[str, str]:
        membership = {}
        for split in SPLITS:
            path = self.root / "splits" / f"{split}.txt"
            if path.is_file():
                membership.update((name, split) for name in read_name_list(path))
        return membership

    def scan(self) -> list[Clip]:
        membership = self._split_lists()
        clips = []
        for path in motion_files(self.root):
            name = path.stem
            audio = find_audio(name, [self.root])
            if audio is None:
                self.missing_pair(path, f"{name}.wav (or .ogg, .flac, .mp3) beside it")
                continue
            extra, genre = [], None
            provenance = path.with_name(name + PROVENANCE_SUFFIX)
            if provenance.is_file():
                data = read_json(provenance)
                extra.append(("provenance", data))
                genre = find_genre(str(data.get("genre") or ""))
            annotation = find_annotation(path)
            split = membership.get(name) if membership else split_for(name)
            clips.append(Clip(name, path, audio, genre, split, annotation, tuple(extra)))
        return clips

