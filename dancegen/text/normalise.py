"""Pure text helpers for reading informal dance prompts: clock times, time phrases, counts and
style words. `dancegen.data.normalise` turns what these find into an `Annotation`.

Times: `8`, `8.5`, `0:08`, `0:08.5`, `1:02:03`, `20 s`, `20s`, `20 seconds`, `1.5 min`.
Time phrases: `from 1:00 to 1:10`, `between 5 and 7 s`, `0:08-0:12`, `at 0:30`, `around 20 s`,
`8 seconds in`, `(0:30)`. Counts: `once`, `twice`, `three times`, `3 times`, `x3`, `3x`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXPRESSIVENESS_WORDS: dict[str, tuple[str, ...]] = {
    "extrovert": ("extrovert", "extroverted", "energetic", "explosive", "expressive", "bold", "powerful", "hype",
                  "hyped", "intense", "lively", "dynamic", "wild", "fierce", "aggressive", "loud", "passionate",
                  "exuberant", "flashy", "high energy", "high-energy", "upbeat", "sharp", "hard-hitting", "vigorous"),
    "introvert": ("introvert", "introverted", "chill", "calm", "relaxed", "subtle", "gentle", "soft", "shy",
                  "restrained", "mellow", "laid-back", "laid back", "quiet", "tender", "delicate", "lazy", "low energy",
                  "low-energy", "understated", "soothing", "dreamy", "slow"),
    "neutral": ("neutral", "moderate", "steady", "balanced", "even", "measured"),
}
MOVING_RANGE_WORDS: dict[str, tuple[str, ...]] = {
    "large": ("large", "big", "wide", "huge", "expansive", "sweeping", "broad", "all over the stage",
              "all over the floor", "whole stage", "across the stage", "lots of space", "far-reaching"),
    "small": ("small", "tight", "compact", "contained", "in place", "on the spot", "minimal", "little", "tiny",
              "narrow", "close", "in one spot"),
    "medium": ("medium", "mid-size", "mid-sized", "medium-sized", "some space"),
}

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "a couple of": 2, "a few": 3}
COUNT_WORDS = {"once": 1, "twice": 2, "thrice": 3}

_NUMBER = r"\d+(?:\.\d+)?"
_CLOCK = r"\d+:\d{1,2}(?::\d{1,2})?(?:\.\d+)?"
_SECONDS_UNIT = r"(?:s|sec|secs|second|seconds)"
_MINUTES_UNIT = r"(?:m|min|mins|minute|minutes)"
# One time value: a clock, or a number with an optional unit.
TIME_VALUE = rf"(?:{_CLOCK}|{_NUMBER}(?:\s*(?:{_SECONDS_UNIT}|{_MINUTES_UNIT})(?![\w]))?)"
_PREPOSITION = r"(?:at|around|about|near|by|on|after|approximately|roughly|~)"


def _word_bounded(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w:.]){pattern}(?![\w:])", re.IGNORECASE)


_RANGE_PATTERNS = (
    _word_bounded(rf"from\s+(?:the\s+)?(?P<a>{TIME_VALUE})\s+(?:to|until|till|through)\s+(?P<b>{TIME_VALUE})"),
    _word_bounded(rf"between\s+(?P<a>{TIME_VALUE})\s+and\s+(?P<b>{TIME_VALUE})"),
    _word_bounded(rf"(?P<a>{TIME_VALUE})\s*(?:-|–|to)\s*(?P<b>{TIME_VALUE})"),
)
_POINT_PATTERNS = (
    _word_bounded(rf"(?P<a>{_NUMBER}\s*(?:{_SECONDS_UNIT}|{_MINUTES_UNIT}))\s+in\b"),  # "8 seconds in"
    _word_bounded(rf"{_PREPOSITION}\s+(?:the\s+)?(?P<a>{TIME_VALUE})(?:\s+mark)?"),
    re.compile(rf"\(\s*(?P<a>{TIME_VALUE})\s*\)", re.IGNORECASE),  # "(0:30)"
    _word_bounded(rf"(?P<a>{_CLOCK})"),  # a bare clock is always a time
    _word_bounded(rf"(?P<a>{_NUMBER}\s*{_SECONDS_UNIT})"),  # "20 s"
)
_COUNT_PATTERNS = (
    re.compile(rf"\b(?P<n>\d+|{'|'.join(re.escape(w) for w in NUMBER_WORDS)})\s+times\b", re.IGNORECASE),
    re.compile(r"(?<![\w])(?:x\s*(?P<n>\d+)|(?P<m>\d+)\s*x)(?![\w])", re.IGNORECASE),
    re.compile(rf"\b(?P<w>{'|'.join(COUNT_WORDS)})\b", re.IGNORECASE),
)


class TimeSyntaxError(ValueError):
    """A time value that does not parse (the caller turns it into a one-line user error)."""


def parse_clock(text: str) -> float:
    """Seconds in `8`, `8.5`, `0:08`, `0:08.5`, `1:02:03`, `20 s`, `1.5 min` (raises TimeSyntaxError)."""
    value = " ".join(text.strip().lower().split())
    unit = re.fullmatch(rf"({_NUMBER})\s*({_SECONDS_UNIT}|{_MINUTES_UNIT})?", value)
    if unit:
        seconds = float(unit[1])
        return seconds * 60.0 if unit[2] and re.fullmatch(_MINUTES_UNIT, unit[2]) else seconds
    if not re.fullmatch(_CLOCK, value):
        raise TimeSyntaxError(f"cannot read the time {text.strip()!r}")
    *whole, last = value.split(":")
    if any(int(part) >= 60 for part in whole[1:]) or float(last) >= 60:
        raise TimeSyntaxError(f"cannot read the time {text.strip()!r} (minutes and seconds stop at 59)")
    seconds = float(last)
    for power, part in enumerate(reversed(whole), 1):
        seconds += int(part) * 60 ** power
    return seconds


@dataclass(frozen=True)
class TimePhrase:
    start: float
    end: float | None  # None: a point in time ("at 0:30")
    span: tuple[int, int]  # character offsets in the searched text


def find_times(text: str) -> list[TimePhrase]:
    """Time phrases in `text`, left to right, without overlaps (ranges win over points)."""
    found: list[TimePhrase] = []

    def free(start: int, end: int) -> bool:
        return all(end <= p.span[0] or start >= p.span[1] for p in found)

    for patterns, is_range in ((_RANGE_PATTERNS, True), (_POINT_PATTERNS, False)):
        for pattern in patterns:
            for match in pattern.finditer(text):
                if not free(*match.span()):
                    continue
                try:
                    start = parse_clock(match["a"])
                    end = parse_clock(match["b"]) if is_range else None
                except TimeSyntaxError:
                    continue
                found.append(TimePhrase(start, end, match.span()))
    return sorted(found, key=lambda p: p.span)


def find_count(text: str) -> int | None:
    """How many times a move is asked for ("twice", "three times", "x3"), else None."""
    for pattern in _COUNT_PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("w"):
            return COUNT_WORDS[groups["w"].lower()]
        number = groups.get("n") or groups.get("m")
        return int(number) if number.isdigit() else NUMBER_WORDS[number.lower()]
    return None


def _find_word(text: str, table: dict[str, tuple[str, ...]]) -> str | None:
    """The key of the first (leftmost, then longest) word of `table` found in `text`."""
    best: tuple[int, int, str] | None = None
    for key, words in table.items():
        for word in words:
            match = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.IGNORECASE)
            if match and (best is None or (match.start(), -len(word)) < (best[0], best[1])):
                best = (match.start(), -len(word), key)
    return best[2] if best else None


def find_expressiveness(text: str) -> str | None:
    """`extrovert`, `introvert` or `neutral` from the prompt's wording ("energetic", "chill"), else None."""
    return _find_word(text, EXPRESSIVENESS_WORDS)


def find_moving_range(text: str) -> str | None:
    """`large`, `medium` or `small` from the prompt's wording ("big", "in place"), else None."""
    return _find_word(text, MOVING_RANGE_WORDS)
