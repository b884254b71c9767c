"""Inline timed moves (`--moves "0:08-0:12 spin; 0:20-0:24 stomp, clap"`) and how a request's
annotation, prompt and moves combine into one `Annotation`.

An entry is `START-END tokens`, entries separated by `;` or new lines. Times are plain seconds
(`8`, `8.5`), `m:ss(.s)` or `h:mm:ss(.s)`; a colon after the end time is allowed
(`0:08-0:12: spin`). Tokens are comma-separated; known moves are spelt as the move vocabulary
spells them (`pirouette` -> `spin`), other words are kept as written (LRCM's local tokens are
an open vocabulary).
"""

from __future__ import annotations

import re

from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan, split_tokens
from dancegen.errors import ArgumentError
from dancegen.text.moves import DEFAULT_VOCABULARY, MoveVocabulary
from dancegen.text.normalise import TimeSyntaxError, parse_clock

_TIME = r"\d+(?::\d{1,2}){0,2}(?:\.\d+)?"
_ENTRY = re.compile(rf"^\s*(?P<a>{_TIME})\s*[-–]\s*(?P<b>{_TIME})\s*:?\s*(?P<tokens>.*)$")
MOVES_SYNTAX = "write 'START-END move, move; START-END move', e.g. '0:08-0:12 spin; 20-24 stomp, clap'"


def parse_moves(text: str, duration: float | None = None, source: str = "--moves",
                vocabulary: MoveVocabulary = DEFAULT_VOCABULARY) -> Annotation:
    """Timed local moves from inline text; an annotation with no global style.

    Bad syntax, reversed or overlapping spans and spans ending after `duration` (seconds) are
    one-line errors naming `source`."""
    from dancegen.text.clean import has_words, strip_control

    spans = []
    entries = [e.strip() for e in re.split(r"[;\n]", text) if e.strip()]
    entries = [strip_control(e) for e in entries if strip_control(e)]  # terminal escapes are no moves
    if not entries:
        raise ArgumentError(source, "is empty", MOVES_SYNTAX)
    for number, entry in enumerate(entries, 1):
        match = _ENTRY.match(entry)
        if match is None:
            raise ArgumentError(source, f"cannot read entry {number} {entry[:40]!r}", MOVES_SYNTAX)
        try:
            start, end = parse_clock(match["a"]), parse_clock(match["b"])
        except TimeSyntaxError as error:
            raise ArgumentError(source, f"entry {number}: {error}", MOVES_SYNTAX) from None
        tokens = tuple(dict.fromkeys(vocabulary.canonical(t) for t in split_tokens(match["tokens"]) if has_words(t)))
        if not tokens:
            raise ArgumentError(source, f"entry {number} {entry[:40]!r} names no move", MOVES_SYNTAX)
        if end <= start:
            raise ArgumentError(source, f"entry {number} {entry[:40]!r} ends before it starts",
                                "give the earlier time first")
        if duration is not None and end > duration + 1e-3:
            raise ArgumentError(source, f"entry {number} {entry[:40]!r} ends after the music ({duration:.2f} s)",
                                "trim the span or use a longer song")
        spans.append(LocalSpan(start, end, tokens))
    ordered = sorted(spans, key=lambda s: s.start)
    for before, after in zip(ordered, ordered[1:]):
        if after.start < before.end - 1e-3:
            raise ArgumentError(source, f"spans {before.start:g}-{before.end:g} s and {after.start:g}-{after.end:g} s overlap",
                                "local moves must not overlap; put moves danced together in one span: '8-12 spin, clap'")
    return Annotation(GlobalStyle(), tuple(spans))


def _has_style(annotation: Annotation | None) -> bool:
    return annotation is not None and bool(annotation.style.tokens())


def merge_annotation(base: Annotation | None, prompt: str | None, moves: Annotation | None,
                     duration: float | None = None, source: str = "--moves") -> Annotation:
    """One annotation from a request's parts.

    Global style: `base`'s if it has one, else `moves`' (a normalised prompt carries one), else
    the prompt's text as free global tokens (pass the prompt through
    `dancegen.data.normalise.normalise_prompt` first to get genre, expressiveness and range).
    Local spans: `moves` win; `base` spans that overlap one of them are dropped, the rest kept."""
    if _has_style(base):
        style = base.style
    elif _has_style(moves):
        style = moves.style
    elif prompt and prompt.strip():
        style = GlobalStyle(core_moves=tuple(split_tokens(prompt)))
    else:
        style = GlobalStyle()
    new = moves.spans if moves is not None else ()
    kept = [s for s in (base.spans if base is not None else ())
            if all(s.end <= m.start or s.start >= m.end for m in new)]
    return Annotation(style, tuple(kept) + tuple(new)).validate(duration, source)
