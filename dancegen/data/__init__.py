"""Data: the `DanceSample` type, text annotations, genres, datasets, windows and pairing.

Every source (AIST++, FineDance, Motorica, a generic folder) becomes `DanceSample`s: motion +
audio + a decoupled text annotation (global style, timed local moves), cut into windows.
"""

from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan, frame_conditioning, read_annotation, write_annotation
from dancegen.data.genres import GENRES, VOCABULARIES, genre_prompt, get_vocabulary, resolve_genre
from dancegen.data.sample import DanceSample

__all__ = [
    "Annotation", "DanceSample", "GENRES", "GlobalStyle", "LocalSpan", "VOCABULARIES", "frame_conditioning",
    "genre_prompt", "get_vocabulary", "read_annotation", "resolve_genre", "write_annotation",
]
