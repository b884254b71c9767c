"""HumanML3D-format folders as a torch Dataset, for pretraining the tokenizer and the T2M transformer.

    ROOT/new_joint_vecs/<id>.npy   (T, 263) features, HumanML3D's layout
    ROOT/texts/<id>.txt            one caption a line: "caption#tagged tokens#start#end"
    ROOT/Mean.npy, ROOT/Std.npy    optional normalisation (else fitted on the clips)
    ROOT/<split>.txt               optional list of ids (train.txt, val.txt, test.txt)

Items look like `MosaicData` windows ("motion", "music" (zeros: text-only data), "genre" = −1,
"prompt" = a caption index into `prompt_embeddings`), so `MosaicModule`'s "tokenizer" and
"t2m" stages train on them as they are. HumanML3D's 6D rotation channels hold matrix columns
where dancegen's hml263 holds rows; the tokenizer and T2M never read them as rotations, but
decoding such features with dancegen's codec needs them transposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from dancegen.errors import InputFileError
from dancegen.motion.normalize import Normalizer

HML_DIM = 263
CAPTION_SEPARATOR = "#"


@dataclass
class HumanML3DClip:
    name: str
    features: np.ndarray  # (T, 263) normalised
    captions: list[int]  # indices into the dataset's caption list


def read_captions(path: Path) -> list[str]:
    """The captions of one texts/<id>.txt file (the text before the first '#' of each line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split(CAPTION_SEPARATOR)[0].strip() for line in lines if line.split(CAPTION_SEPARATOR)[0].strip()]


class HumanML3DDataset(Dataset):
    """Windows of `window` frames, `stride` apart, of every clip with features and captions."""

    def __init__(self, root: str | Path, window: int, stride: int, text_encoder: Any = "minilm", text_dim: int = 384,
                 split: str | None = None, music_dim: int = 35):
        from dancegen.text import embed_texts

        self.root, self.window, self.music_dim = Path(root), window, music_dim
        names = self._names(split)
        raw = []
        for name in names:
            vectors, text = self.root / "new_joint_vecs" / f"{name}.npy", self.root / "texts" / f"{name}.txt"
            if not (vectors.is_file() and text.is_file()):
                continue
            features = np.load(vectors).astype(np.float32)
            if features.ndim != 2 or features.shape[1] != HML_DIM:
                raise InputFileError(vectors, f"expected (frames, {HML_DIM}) features, got shape {features.shape}")
            raw.append((name, features, read_captions(text)))
        if not raw:
            raise InputFileError(self.root, "has no new_joint_vecs/*.npy with texts/*.txt beside them",
                                 "point it at a HumanML3D folder")
        self.normalizer = self._normalizer([features for _, features, _ in raw])
        self.captions: list[str] = sorted({caption for _, _, texts in raw for caption in texts})
        self.clips = [HumanML3DClip(name, self.normalizer.transform(features).astype(np.float32),
                                    [self.captions.index(c) for c in texts]) for name, features, texts in raw]
        self.prompt_embeddings = embed_texts(self.captions, text_encoder, text_dim, "transformer.text_dim")
        self.index = [(clip, start) for clip, item in enumerate(self.clips)
                      for start in range(0, len(item.features) - window + 1, max(1, stride))]

    def _names(self, split: str | None) -> list[str]:
        listed = self.root / f"{split}.txt" if split else None
        if listed is not None and listed.is_file():
            return [line.strip() for line in listed.read_text(encoding="utf-8").splitlines() if line.strip()]
        return sorted(path.stem for path in (self.root / "new_joint_vecs").glob("*.npy"))

    def _normalizer(self, clips: list[np.ndarray]) -> Normalizer:
        mean, std = self.root / "Mean.npy", self.root / "Std.npy"
        if mean.is_file() and std.is_file():
            std_values = np.load(std).astype(np.float64)
            return Normalizer("meanstd", np.load(mean).astype(np.float64), np.where(std_values > 0, std_values, 1.0))
        return Normalizer("meanstd").fit(clips)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        clip, start = self.index[item]
        data = self.clips[clip]
        caption = data.captions[item % len(data.captions)] if data.captions else -1  # captions take turns
        return {
            "motion": torch.from_numpy(data.features[start : start + self.window]),
            "music": torch.zeros(self.window, self.music_dim),
            "genre": torch.tensor(-1, dtype=torch.long),
            "prompt": torch.tensor(caption, dtype=torch.long),
        }
