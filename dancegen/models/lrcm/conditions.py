"""What LRCM's text conditions are, the same in training and generation.

- Global text: the annotation's style tokens (`Annotation.global_text()`) when it has more than
  a genre; otherwise the genre's prompt ("This is a Popping type of music."); None without
  either (the text condition is then dropped).
- Local text, per frame: on the frames a `LocalSpan` covers, `Annotation.span_text(span)`
  (global then local tokens, LRCM's concatenation); elsewhere the global text.
"""

from __future__ import annotations

from dancegen.data.annotations import Annotation, frame_span_index

NO_TEXT = -1  # index of a frame (or clip) without text


def global_text(annotation: Annotation | None, genre: str | None = None) -> str | None:
    from dancegen.data.genres import find_genre, genre_prompt

    style = annotation.style if annotation is not None else None
    if style is not None and (style.expressiveness or style.moving_range or style.core_moves):
        return annotation.global_text()
    key = find_genre(genre or (style.genre if style is not None else None) or "")
    return genre_prompt(key) if key is not None else None


def frame_texts(annotation: Annotation | None, num_frames: int, fps: float) -> tuple[list[str], "object"]:
    """(the span texts, (T,) int64 index into them per frame, `NO_TEXT` outside every span)."""
    import numpy as np

    if annotation is None or not annotation.spans:
        return [], np.full(num_frames, NO_TEXT, dtype=np.int64)
    return [annotation.span_text(span) for span in annotation.spans], frame_span_index(annotation, num_frames, fps)
