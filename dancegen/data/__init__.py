"""Data: the `DanceSample` type, text annotations, genres, datasets, windows and pairing.

Every source (AIST++, FineDance, Motorica, a generic folder) becomes `DanceSample`s: motion +
audio + a decoupled text annotation (global style, timed local moves), cut into windows.
"""

from dancegen.lazy import lazy_attributes

_EXPORTS = {
    **dict.fromkeys(("Annotation", "GlobalStyle", "LocalSpan", "frame_conditioning", "read_annotation", "write_annotation"),
                    "dancegen.data.annotations"),
    **dict.fromkeys(("GENRES", "VOCABULARIES", "genre_prompt", "get_vocabulary", "resolve_genre"), "dancegen.data.genres"),
    "DanceSample": "dancegen.data.sample",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_attributes(globals(), _EXPORTS)
