"""The decoupled text annotation of a dance (LRCM, Duan et al. 2026): global style + timed local moves.

An `Annotation` has one `GlobalStyle` (genre, expressiveness, moving range, core moves) for the
whole clip and any number of `LocalSpan`s, each a time span with the moves danced in it. Two
file forms hold it:

- a JSON sidecar (what dancegen writes):
  `{"format": "dancegen.annotation", "version": 1,
    "global": {"genre": "popping", "expressiveness": "extrovert", "moving_range": "medium",
               "core_moves": ["isolation"]},
    "local": [{"start": 0.0, "end": 2.5, "tokens": ["walk out", "foot movement"]}]}`
  LRCM's own JSON (`{"global": "popping, extrovert", "local": [{"start_time": "00:00:00.000",
  "end_time": ..., "action": "walk out"}]}`) is read as well;
- LRCM's plain text, what its fine-tuned LLM emits (paper, appendix A.2):

      Dance style characteristics: popping, extrovert, medium moving range, isolation
      Dance movement sequence:
      00:00:00.000 - 00:00:02.500: walk out, foot movement

Global tokens are read in that order: the first is the genre unless it is an expressiveness word
or a moving range; `<size> moving range` is the range; the other tokens are core moves.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from dancegen.errors import InputFileError
from dancegen.fileio import atomic_write_text

JSON_FORMAT = "dancegen.annotation"
JSON_VERSION = 1
EXPRESSIVENESS = ("introvert", "neutral", "extrovert")
MOVING_RANGES = ("small", "medium", "large")
MOVING_RANGE_SUFFIX = " moving range"
# The plain format stores milliseconds: times that agree to half of one are the same time.
TIME_TOLERANCE_S = 0.0005

_GLOBAL_HEADER = "Dance style characteristics:"
_LOCAL_HEADER = "Dance movement sequence:"
_TIME = r"-?\d+:\d{1,2}:\d{1,2}(?:\.\d+)?"
_SPAN_LINE = re.compile(rf"^(?:[-*•]\s+)?({_TIME})\s*[-–]\s*({_TIME})\s*:\s*(.*)$")


@dataclass(frozen=True)
class GlobalStyle:
    genre: str | None = None
    expressiveness: str | None = None  # one of EXPRESSIVENESS (or a free word)
    moving_range: str | None = None  # one of MOVING_RANGES (or a free word)
    core_moves: tuple[str, ...] = ()

    def tokens(self) -> list[str]:
        tokens = [t for t in (self.genre, self.expressiveness) if t]
        if self.moving_range:
            tokens.append(self.moving_range + MOVING_RANGE_SUFFIX)
        return tokens + list(self.core_moves)

    @classmethod
    def from_tokens(cls, tokens: Sequence[str]) -> "GlobalStyle":
        genre = expressiveness = moving_range = None
        moves: list[str] = []
        for index, token in enumerate(tokens):
            lowered = token.lower()
            if lowered.endswith(MOVING_RANGE_SUFFIX) and moving_range is None:
                moving_range = lowered[: -len(MOVING_RANGE_SUFFIX)].strip()
            elif lowered in EXPRESSIVENESS and expressiveness is None:
                expressiveness = lowered
            elif index == 0:
                genre = token
            else:
                moves.append(token)
        return cls(genre, expressiveness, moving_range, tuple(moves))


@dataclass(frozen=True)
class LocalSpan:
    start: float  # seconds from the start of the clip
    end: float
    tokens: tuple[str, ...]

    @property
    def text(self) -> str:
        return ", ".join(self.tokens)


@dataclass(frozen=True)
class Annotation:
    style: GlobalStyle = field(default_factory=GlobalStyle)
    spans: tuple[LocalSpan, ...] = ()  # sorted by start time

    def __post_init__(self) -> None:
        object.__setattr__(self, "spans", tuple(sorted(self.spans, key=lambda s: (s.start, s.end))))

    @property
    def genre(self) -> str | None:
        return self.style.genre

    def global_text(self) -> str:
        return ", ".join(self.style.tokens())

    def span_text(self, span: LocalSpan) -> str:
        """What conditions the frames of a span: global then local tokens (LRCM's concatenation)."""
        return ", ".join(t for t in (self.global_text(), span.text) if t)

    # --- validation ---------------------------------------------------------------------

    def validate(self, duration: float | None = None, source: str | Path = "annotation") -> "Annotation":
        """Raise a one-line `InputFileError` on empty, negative, reversed or overlapping spans,
        or spans that end after `duration` (the audio's length) when it is given."""
        for number, span in enumerate(self.spans, 1):
            where = f"span {number} ({format_time(span.start)} - {format_time(span.end)})"
            if not span.tokens or not all(t.strip() for t in span.tokens):
                raise InputFileError(source, f"{where} has no tokens", "list the moves danced in it")
            if span.start < -TIME_TOLERANCE_S:
                raise InputFileError(source, f"{where} starts before 0 s", "times count from the start of the clip")
            if span.end <= span.start + TIME_TOLERANCE_S:
                raise InputFileError(source, f"{where} does not end after it starts")
            if duration is not None and span.end > duration + TIME_TOLERANCE_S:
                raise InputFileError(source, f"{where} ends after the audio ({duration:.3f} s)",
                                     "trim the span or check that this is the right audio file")
        for number, (before, after) in enumerate(zip(self.spans, self.spans[1:]), 1):
            if after.start < before.end - TIME_TOLERANCE_S:
                raise InputFileError(
                    source,
                    f"spans {number} and {number + 1} overlap ({format_time(before.start)} - "
                    f"{format_time(before.end)} and {format_time(after.start)} - {format_time(after.end)})",
                    "local spans must not overlap",
                )
        return self

    # --- editing time -------------------------------------------------------------------

    def retimed(self, time_map: Callable[[np.ndarray], np.ndarray], start: float = 0.0,
                end: float = np.inf) -> "Annotation":
        """Spans mapped through a monotone time map, clipped to [start, end) of the new time
        line and shifted so `start` becomes 0; spans left empty are dropped."""
        spans = []
        for span in self.spans:
            new_start, new_end = (float(t) for t in time_map(np.array([span.start, span.end])))
            new_start, new_end = max(new_start, start), min(new_end, end)
            if new_end - new_start > TIME_TOLERANCE_S:
                spans.append(replace(span, start=new_start - start, end=new_end - start))
        return replace(self, spans=tuple(spans))

    def window(self, start: float, end: float) -> "Annotation":
        return self.retimed(lambda t: t, start, end)

    def stretched(self, factor: float) -> "Annotation":
        """Played `factor` times slower (a time-stretched clip)."""
        return self.retimed(lambda t: t * factor)

    # --- dictionaries -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        style = self.style
        return {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "global": {
                "genre": style.genre,
                "expressiveness": style.expressiveness,
                "moving_range": style.moving_range,
                "core_moves": list(style.core_moves),
            },
            "local": [{"start": round(s.start, 6), "end": round(s.end, 6), "tokens": list(s.tokens)} for s in self.spans],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str | Path = "annotation") -> "Annotation":
        """Our JSON form, or LRCM's (`global` a string, spans with `start_time`/`end_time`/`action`)."""
        if not isinstance(data, dict) or "global" not in data:
            raise InputFileError(source, "not an annotation: expected an object with a 'global' entry")
        try:
            glob = data["global"]
            if isinstance(glob, str):
                style = GlobalStyle.from_tokens(split_tokens(glob))
            else:
                style = GlobalStyle(glob.get("genre"), glob.get("expressiveness"), glob.get("moving_range"),
                                    tuple(glob.get("core_moves") or ()))
            spans = []
            for number, item in enumerate(data.get("local") or [], 1):
                if "action" in item:
                    start, end, tokens = item["start_time"], item["end_time"], split_tokens(item["action"])
                else:
                    start, end, tokens = item["start"], item["end"], item["tokens"]
                spans.append(LocalSpan(_seconds(start, source, f"local[{number}]"),
                                       _seconds(end, source, f"local[{number}]"), tuple(tokens)))
        except (KeyError, TypeError, AttributeError) as error:
            raise InputFileError(source, f"malformed annotation entry ({type(error).__name__}: {error})") from None
        return cls(style, tuple(spans))


# --- the plain format -------------------------------------------------------------------------

def format_time(seconds: float) -> str:
    """HH:MM:SS.sss"""
    millis = int(round(seconds * 1000))
    sign = "-" if millis < 0 else ""
    millis = abs(millis)
    return f"{sign}{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"


def parse_time(text: str) -> float:
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    hours, minutes, seconds = text.lstrip("-").split(":")
    return sign * (int(hours) * 3600 + int(minutes) * 60 + float(seconds))


def _seconds(value: Any, source: str | Path, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InputFileError(source, f"{where}: time {value!r} is not a finite number of seconds")
        return float(value)
    if isinstance(value, str) and re.fullmatch(_TIME, value.strip()):
        return parse_time(value)
    raise InputFileError(source, f"{where}: bad time {value!r}", "use seconds or HH:MM:SS.sss")


def split_tokens(text: str) -> list[str]:
    return [token.strip() for token in text.split(",") if token.strip()]


def parse_plain(text: str, source: str | Path = "annotation") -> Annotation:
    style: GlobalStyle | None = None
    spans: list[LocalSpan] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.lower() == _LOCAL_HEADER.lower():
            continue
        if line.lower().startswith(_GLOBAL_HEADER.lower()):
            rest = line[len(_GLOBAL_HEADER):]
            # The paper prints both headers on one line.
            rest = re.split(re.escape(_LOCAL_HEADER), rest, flags=re.IGNORECASE)[0]
            style = GlobalStyle.from_tokens(split_tokens(rest))
            continue
        match = _SPAN_LINE.match(line)
        if match is None:
            raise InputFileError(source, f"cannot read {line[:60]!r}",
                                 "expected 'Dance style characteristics: ...' or 'HH:MM:SS.sss - HH:MM:SS.sss: tokens'",
                                 line=number)
        spans.append(LocalSpan(parse_time(match[1]), parse_time(match[2]), tuple(split_tokens(match[3]))))
    if style is None:
        raise InputFileError(source, "no 'Dance style characteristics:' line", "start the file with the global style tokens")
    return Annotation(style, tuple(spans))


def format_plain(annotation: Annotation) -> str:
    lines = [f"{_GLOBAL_HEADER} {annotation.global_text()}", _LOCAL_HEADER]
    lines += [f"{format_time(s.start)} - {format_time(s.end)}: {s.text}" for s in annotation.spans]
    return "\n".join(lines) + "\n"


# --- files ------------------------------------------------------------------------------------

def read_annotation(path: str | Path, duration: float | None = None) -> Annotation:
    """Read a `.json` sidecar or a plain-format text file and validate it (against the audio's
    `duration` when given)."""
    path = Path(path)
    from dancegen.limits import limits, load_json_file

    if not path.is_file():
        raise InputFileError(path, "annotation file not found")
    if path.suffix.lower() == ".json":
        # Strict: no NaN, no numbers past float range, bounded size and nesting.
        annotation = Annotation.from_dict(load_json_file(path, "annotation file"), path)
    else:
        if path.stat().st_size > limits().max_text_file_bytes:
            raise InputFileError(path, f"is larger than the limit of {limits().max_text_file_bytes} bytes",
                                 "an annotation is a few lines of text (max_text_file_bytes)")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InputFileError(path, f"cannot read annotation: {error}") from None
        annotation = parse_plain(text, path)
    return cleaned(annotation, path).validate(duration, path)


def cleaned(annotation: Annotation, source: str | Path) -> Annotation:
    """Every token cleaned of control characters (`text.clean`); one that has no words left is
    an error naming the file and the entry."""
    from dancegen.text.clean import clean_tokens

    style = annotation.style

    def one(value: Any, where: str) -> str | None:
        return None if value is None else clean_tokens([value], source, where)[0]

    style = GlobalStyle(one(style.genre, "global genre"), one(style.expressiveness, "global expressiveness"),
                        one(style.moving_range, "global moving_range"),
                        clean_tokens(style.core_moves, source, "global core_moves"))
    spans = tuple(replace(span, tokens=clean_tokens(span.tokens, source, f"local[{number}]"))
                  for number, span in enumerate(annotation.spans, 1))
    return replace(annotation, style=style, spans=spans)


def write_annotation(annotation: Annotation, path: str | Path) -> None:
    """Write atomically: JSON for `.json`, LRCM's plain format otherwise."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        atomic_write_text(path, json.dumps(annotation.to_dict(), indent=1, ensure_ascii=False) + "\n")
    else:
        atomic_write_text(path, format_plain(annotation))


# --- conditioning -----------------------------------------------------------------------------

def frame_span_index(annotation: Annotation, num_frames: int, fps: float) -> np.ndarray:
    """(T,) index of the span each frame (shown at i / fps) falls in, -1 where none does."""
    times = np.arange(num_frames) / fps
    if not annotation.spans:
        return np.full(num_frames, -1, dtype=np.int64)
    starts = np.array([s.start for s in annotation.spans])
    ends = np.array([s.end for s in annotation.spans])
    index = np.searchsorted(starts, times + TIME_TOLERANCE_S, side="right") - 1
    inside = (index >= 0) & (times < ends[np.clip(index, 0, None)] - TIME_TOLERANCE_S)
    return np.where(inside, index, -1).astype(np.int64)


def frame_conditioning(annotation: Annotation, num_frames: int, fps: float, encoder: Any = None):
    """The per-frame text condition built from the spans.

    Without an encoder: a (T,) int64 tensor, the span index of each frame (-1 = global only).
    With one (anything with `.encode(list[str]) -> (N, D)`): a (T, D) float32 tensor, each
    frame the embedding of its text (`Annotation.span_text`, or the global text outside spans).
    Each distinct text is encoded once.
    """
    import torch

    index = torch.from_numpy(frame_span_index(annotation, num_frames, fps))
    if encoder is None:
        return index
    texts = [annotation.global_text()] + [annotation.span_text(s) for s in annotation.spans]
    table = torch.as_tensor(np.asarray(encoder.encode(texts)), dtype=torch.float32)
    return table[index + 1]
