"""Cleaning the text people type or files carry: prompts, descriptions, annotation tokens.

Control characters (terminal escapes, NULs, bidirectional overrides, zero-width marks) are
replaced by spaces and runs of white space folded to one, so what a model reads and a page
shows is what the user sees. What is left must be short enough to be a description and must
contain a word: a prompt of punctuation or escape codes is refused, not turned into a dance.
Every command that takes text uses these checks, with its own option in the message.
"""

from __future__ import annotations

import re

from dancegen.errors import ArgumentError, DanceGenError, InputFileError

EXAMPLE_PROMPT = "expressive arms, pirouette"


# Terminal escape sequences, removed whole (their printable tail, like "[31m", is no word):
# CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \\), and two-character escapes.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")


def strip_control(text: str) -> str:
    """`text` without terminal escape sequences, every other non-printable character (NUL,
    BEL, bidirectional overrides, zero-width marks, line breaks) replaced by a space, and white
    space folded."""
    text = _ESCAPES.sub(" ", str(text))
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def has_words(text: str) -> bool:
    """At least one letter: a word in any script (digits and punctuation alone are not)."""
    return any(character.isalpha() for character in text)


def clean_text(text: str, option: str, max_chars: int | None = None, example: str = EXAMPLE_PROMPT) -> str:
    """`text` cleaned (`strip_control`), or an `ArgumentError` naming `option` when nothing is
    left, it is longer than `max_chars` (default: the max_prompt_chars limit) or has no words."""
    from dancegen.limits import limits

    max_chars = limits().max_prompt_chars if max_chars is None else max_chars
    raw = str(text)
    if len(raw) > 8 * max_chars:  # do not even scan a pasted document character by character
        raise ArgumentError(option, f"is {len(raw)} characters long", f"keep it under {max_chars}: a few words on the dance")
    cleaned = strip_control(raw)
    if not cleaned:
        problem = "has only control characters" if raw.strip() else "is empty"
        raise ArgumentError(option, problem, f"describe the dance, e.g. {option} '{example}'")
    if len(cleaned) > max_chars:
        raise ArgumentError(option, f"is {len(cleaned)} characters long", f"keep it under {max_chars}: a few words on the dance")
    if not has_words(cleaned):
        raise ArgumentError(option, f"{cleaned[:40]!r} has no words", "describe the dance in words, e.g. 'slow spins'")
    return cleaned


def clean_tokens(tokens, source, where: str) -> tuple[str, ...]:
    """Annotation tokens (move names, style words) cleaned; each must still contain a word.
    Errors name the file (`source`) and the entry (`where`)."""
    cleaned = []
    for token in tokens:
        if not isinstance(token, str):
            raise InputFileError(source, f"{where}: token {token!r} is not text")
        try:
            cleaned.append(clean_text(token, where, max_chars=200, example="spin"))
        except DanceGenError as error:
            problem = str(error).split(": ", 1)[-1]
            raise InputFileError(source, f"{where}: token {strip_control(token)[:40]!r} {problem}") from None
    return tuple(cleaned)
