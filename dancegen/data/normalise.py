"""Informal prompt -> structured LRCM annotation (global style + timed local moves).

LRCM fine-tunes an LLM to rewrite a user's prompt into its plain annotation format. dancegen
ships an offline normaliser that needs no model, and can optionally ask an OpenAI-compatible
endpoint instead (`NormaliserConfig.endpoint`, off by default). Both return the same validated
`Annotation`.

Offline rules (docs/annotations.md lists the word tables):
- genre: the first genre spelling of `dancegen.data.genres` in the prompt ("hip hop" ->
  `hiphop`); short spellings that are also common words ("pop", "tap", "house", "swing") count
  only when a dance word follows ("pop routine", "house dance");
- expressiveness and moving range: synonym words ("chill" -> introvert, "big" -> large);
- local moves: the prompt is cut into clauses (`,` `;` `.` "then", "followed by"); a clause's
  moves are found by the move vocabulary's synonyms, else (for a clause that gives a time or
  a count) by MiniLM nearest neighbour over the move descriptions when the model is installed;
- times: "at 0:30", "8 seconds in", "from 1:00 to 1:10", "around 20 s", "(0:30)"; a point in
  time becomes a span of `point_span_s`; a count ("twice", "three times") becomes that many
  back-to-back spans of `repeat_span_s`; "then X" with no time starts where the previous span
  ended; moves without a time become global core moves.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from dancegen.config import StrictConfig
from dancegen.data.annotations import (
    EXPRESSIVENESS,
    MOVING_RANGES,
    Annotation,
    GlobalStyle,
    LocalSpan,
    parse_plain,
)
from dancegen.data.genres import GENRES, find_genre
from dancegen.errors import ArgumentError, DanceGenError, InputFileError, MissingResourceError
from dancegen.text.moves import DEFAULT_MIN_SIMILARITY, DEFAULT_VOCABULARY, MoveVocabulary
from dancegen.text.normalise import find_count, find_expressiveness, find_moving_range, find_times

# Genre spellings that are also everyday words or move names: they name a genre only when a
# dance word follows ("pop routine", "house dance"), never on their own ("a pop at 0:03").
AMBIGUOUS_GENRE_WORDS = frozenset({
    "pop", "lock", "break", "tap", "tapping", "swing", "whirl", "whirling", "casual", "house", "wei", "tai", "kun",
    "dai", "urban", "chinese", "korean", "choreography", "popping", "locking", "breaking",
})
DANCE_WORDS = r"(?:dance|dancing|dancer|style|routine|music|song|track|choreo|choreography|number|piece|moves|vibe|groove|battle|session)"
# Where a prompt is cut into clauses: punctuation (not a decimal point) and sequencing words.
_CLAUSE_BREAK = re.compile(r"[,;!?]|(?<!\d)\.|\.(?!\d)|\b(and then|then|followed by|after that|afterwards)\b",
                           re.IGNORECASE)
_FOLLOW_WORDS = {"and then", "then", "followed by", "after that", "afterwards"}
# Words stripped from a clause before it is embedded (they carry no move meaning).
_FILLER = re.compile(r"\b(a|an|the|at|around|about|in|on|by|do|does|some|and|with|to|then|of|seconds?|secs?|s|"
                     r"times|once|twice|thrice|chorus|verse|drop|intro|outro|mark|start|end)\b", re.IGNORECASE)


class NormaliserConfig(StrictConfig):
    """How informal prompts are normalised (`normalise_prompt`)."""

    point_span_s: float = Field(2.0, gt=0)  # length of the span of a move named at one moment ("at 0:30")
    repeat_span_s: float = Field(1.0, gt=0)  # length of each repetition of a counted move ("twice")
    encoder: str | None = "minilm"  # embedding fallback for unknown wordings; None: synonyms only
    min_similarity: float = Field(DEFAULT_MIN_SIMILARITY, ge=-1, le=1)  # cosine a clause needs to its nearest move
    # Optional OpenAI-compatible chat endpoint (e.g. http://127.0.0.1:8000); None = offline only.
    endpoint: str | None = None
    model: str = "lrcm-annotator"
    api_key_env: str | None = "DANCEGEN_NORMALISER_API_KEY"  # env var holding a bearer token, if any
    timeout_s: float = Field(20.0, gt=0)
    fallback: bool = True  # endpoint unreachable or reply malformed: warn and use the offline rules


# --- the offline normaliser ---------------------------------------------------------------------


def _genre_spellings() -> list[tuple[str, str]]:
    """(spelling, genre key), longest spelling first."""
    pairs = {}
    for genre in GENRES.values():
        for spelling in (genre.key.replace("_", " "), genre.name, *genre.aliases):
            pairs.setdefault(" ".join(spelling.lower().split()), genre.key)
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


_GENRE_SPELLINGS = _genre_spellings()


def find_prompt_genre(text: str) -> tuple[str | None, tuple[int, int] | None]:
    """The genre a prompt names and where, leftmost match first (longest at a tie)."""
    best = None
    for spelling, key in _GENRE_SPELLINGS:
        words = r"[\s-]+".join(re.escape(word) for word in spelling.split())
        pattern = rf"(?<![\w-]){words}(?![\w-])"
        if spelling in AMBIGUOUS_GENRE_WORDS:
            pattern += rf"(?=\s+{DANCE_WORDS}\b)"
        match = re.search(pattern, text, re.IGNORECASE)
        if match and (best is None or (match.start(), -len(spelling)) < (best[0], best[1])):
            best = (match.start(), -len(spelling), key, match.span())
    return (best[2], best[3]) if best else (None, None)


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _clauses(text: str) -> list[tuple[str, bool]]:
    """(clause, follows the previous one) pieces of a prompt; ", then" marks the next clause."""
    out, follows, position = [], False, 0
    for match in _CLAUSE_BREAK.finditer(text):
        piece = text[position:match.start()]
        if piece.strip():
            out.append((piece, follows))
            follows = False
        follows = follows or (match.group(1) or "").lower() in _FOLLOW_WORDS
        position = match.end()
    if text[position:].strip():
        out.append((text[position:], follows))
    return out


@dataclass
class _ClauseMoves:
    tokens: tuple[str, ...]
    times: list  # TimePhrase
    count: int | None
    follows: bool


class _Embedder:
    """The MiniLM fallback, loaded on first use only; None when it cannot load."""

    def __init__(self, name: str | None, encoder: Any = None):
        self.name, self._encoder, self._failed = name, encoder, name is None and encoder is None

    def get(self) -> Any:
        if self._encoder is None and not self._failed:
            try:
                from dancegen.text.encoders import shared_text_encoder

                self._encoder = shared_text_encoder(self.name)
            except (DanceGenError, ImportError, OSError):
                self._failed = True
        return self._encoder


def _read_clause(clause: str, follows: bool, vocabulary: MoveVocabulary, embedder: _Embedder) -> _ClauseMoves:
    times = find_times(clause)
    count = find_count(clause)
    words = _mask(clause, [t.span for t in times])
    tokens = vocabulary.order([m.token for m in vocabulary.find_all(words)])
    if not tokens and (times or count):
        phrase = " ".join(_FILLER.sub(" ", re.sub(r"[\d:.()~-]+", " ", words)).split())
        encoder = embedder.get() if phrase else None
        if encoder is not None:
            token, _ = vocabulary.nearest([phrase], encoder)[0]
            tokens = (token,) if token else ()
    return _ClauseMoves(tokens, times, count, follows)


def _clause_spans(found: _ClauseMoves, previous_end: float | None, config: NormaliserConfig) -> list[LocalSpan]:
    if not found.tokens:
        return []
    starts: list[tuple[float, float | None]] = [(t.start, t.end) for t in found.times]
    if not starts and found.follows and previous_end is not None:
        starts = [(previous_end, None)]
    spans = []
    for start, end in starts:
        if end is not None:
            spans.append(LocalSpan(start, end, found.tokens))
        elif found.count and found.count > 1:
            spans += [LocalSpan(start + i * config.repeat_span_s, start + (i + 1) * config.repeat_span_s, found.tokens)
                      for i in range(found.count)]
        else:
            spans.append(LocalSpan(start, start + config.point_span_s, found.tokens))
    return spans


def _assemble(spans: list[LocalSpan], duration: float | None, source: str) -> tuple[LocalSpan, ...]:
    """Sorted, non-overlapping spans inside the music: same start -> one span with both moves;
    a span running into the next one is cut where the next starts."""
    out: list[LocalSpan] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.end <= span.start:
            raise ArgumentError(source, f"the span {span.start:g}-{span.end:g} s ends before it starts",
                                "give the earlier time first")
        if duration is not None and span.start >= duration:
            raise ArgumentError(source, f"mentions {span.start:g} s but the music is {duration:.2f} s long",
                                "use times inside the song")
        if duration is not None:
            span = LocalSpan(span.start, min(span.end, duration), span.tokens)
        if out and abs(out[-1].start - span.start) < 1e-6:
            last = out.pop()
            span = LocalSpan(last.start, max(last.end, span.end), tuple(dict.fromkeys(last.tokens + span.tokens)))
        elif out and span.start < out[-1].end:
            out[-1] = LocalSpan(out[-1].start, span.start, out[-1].tokens)
        out.append(span)
    return tuple(out)


def normalise_offline(prompt: str, duration: float | None = None, vocabulary: MoveVocabulary = DEFAULT_VOCABULARY,
                      config: NormaliserConfig | None = None, encoder: Any = None, source: str = "--prompt") -> Annotation:
    """The rule-based normaliser (no network): see the module docstring."""
    config = config or NormaliserConfig()
    if config.min_similarity != vocabulary.min_similarity:
        vocabulary = MoveVocabulary(vocabulary.moves, config.min_similarity)
    genre, genre_span = find_prompt_genre(prompt)
    text = _mask(prompt, [genre_span] if genre_span else [])
    embedder = _Embedder(config.encoder, encoder)
    spans: list[LocalSpan] = []
    core: list[str] = []
    for clause, follows in _clauses(text):
        found = _read_clause(clause, follows, vocabulary, embedder)
        new = _clause_spans(found, spans[-1].end if spans else None, config)
        if new:
            spans += new
        else:
            core += found.tokens
    timeless = _mask(text, [t.span for t in find_times(text)])
    style = GlobalStyle(genre, find_expressiveness(timeless), find_moving_range(timeless), vocabulary.order(core))
    return Annotation(style, _assemble(spans, duration, source)).validate(duration, source)


def normalise_prompt(prompt: str, duration: float | None = None, vocabulary: MoveVocabulary = DEFAULT_VOCABULARY,
                     config: NormaliserConfig | None = None, encoder: Any = None, source: str = "--prompt") -> Annotation:
    """A free-text prompt as a validated `Annotation`: through `config.endpoint` when one is set
    (falling back to the offline rules with a warning if `config.fallback`), else offline.
    `encoder` overrides the embedding model named by `config.encoder`."""
    if not prompt or not prompt.strip():
        raise ArgumentError(source, "is empty", "describe the dance in words")
    config = config or NormaliserConfig()
    if config.endpoint:
        try:
            return normalise_with_endpoint(prompt, duration, vocabulary, config, source)
        except DanceGenError as error:
            if not config.fallback:
                raise
            warnings.warn(f"prompt normaliser endpoint failed, using the offline rules: {error}", stacklevel=2)
    return normalise_offline(prompt, duration, vocabulary, config, encoder, source)


# --- an OpenAI-compatible endpoint -------------------------------------------------------------

SYSTEM_PROMPT = """You turn a user's description of a dance into a structured annotation.
Reply with exactly this plain-text format and nothing else:

Dance style characteristics: <genre>, <expressiveness>, <size> moving range, <core move>, ...
Dance movement sequence:
HH:MM:SS.sss - HH:MM:SS.sss: <move>, <move>

Genre: one of {genres}. Expressiveness: one of {expressiveness}. Size: one of {ranges}.
Moves: prefer these words: {moves}. Times count from the start of the music{duration}; spans
must not overlap. Leave out what the user does not say."""


def system_prompt(vocabulary: MoveVocabulary = DEFAULT_VOCABULARY, duration: float | None = None) -> str:
    return SYSTEM_PROMPT.format(
        genres=", ".join(GENRES), expressiveness=", ".join(EXPRESSIVENESS), ranges=", ".join(MOVING_RANGES),
        moves=", ".join(vocabulary.tokens),
        duration="" if duration is None else f", which lasts {duration:.3f} s; every span must end by then",
    )


def chat_url(endpoint: str) -> str:
    """`http://host:port`, `.../v1` or the full `.../v1/chat/completions` -> the chat URL."""
    url = endpoint.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


def _post_chat(prompt: str, duration: float | None, vocabulary: MoveVocabulary, config: NormaliserConfig) -> str:
    url = chat_url(config.endpoint)
    body = {"model": config.model, "temperature": 0,
            "messages": [{"role": "system", "content": system_prompt(vocabulary, duration)},
                         {"role": "user", "content": prompt}]}
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(config.api_key_env) if config.api_key_env else None
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:
            data = json.loads(response.read().decode("utf-8"))
        return data["choices"][0]["message"]["content"]
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise MissingResourceError(f"prompt normaliser endpoint {url}: cannot reach it ({reason})") from None
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise InputFileError(url, f"reply is not an OpenAI chat completion ({type(error).__name__})") from None


def _canonical_style(style: GlobalStyle, vocabulary: MoveVocabulary, source: str) -> GlobalStyle:
    expressiveness = style.expressiveness
    if expressiveness and expressiveness not in EXPRESSIVENESS:
        expressiveness = find_expressiveness(expressiveness)
        if expressiveness is None:
            raise InputFileError(source, f"unknown expressiveness {style.expressiveness!r}",
                                 f"expected one of {', '.join(EXPRESSIVENESS)}")
    moving_range = style.moving_range
    if moving_range and moving_range not in MOVING_RANGES:
        moving_range = find_moving_range(moving_range)
        if moving_range is None:
            raise InputFileError(source, f"unknown moving range {style.moving_range!r}",
                                 f"expected one of {', '.join(MOVING_RANGES)}")
    genre = (find_genre(style.genre) or style.genre) if style.genre else None  # unknown genres kept as written
    return GlobalStyle(genre, expressiveness, moving_range, tuple(vocabulary.canonical(m) for m in style.core_moves))


def normalise_with_endpoint(prompt: str, duration: float | None = None, vocabulary: MoveVocabulary = DEFAULT_VOCABULARY,
                            config: NormaliserConfig | None = None, source: str = "--prompt") -> Annotation:
    """Ask `config.endpoint` (POST /v1/chat/completions) for LRCM's plain format and validate
    the reply; an unreachable endpoint or a malformed reply is a one-line error."""
    config = config or NormaliserConfig()
    if not config.endpoint:
        raise ArgumentError("normaliser.endpoint", "is not set", "give an OpenAI-compatible server URL")
    content = _post_chat(prompt, duration, vocabulary, config)
    reply = f"{chat_url(config.endpoint)} reply"
    text = re.sub(r"^```\w*\s*|```\s*$", "", content.strip())  # chat models like code fences
    parsed = parse_plain(text, reply)
    spans = tuple(LocalSpan(s.start, s.end, tuple(dict.fromkeys(vocabulary.canonical(t) for t in s.tokens)))
                  for s in parsed.spans)
    return Annotation(_canonical_style(parsed.style, vocabulary, reply), spans).validate(duration, reply)


__all__ = ["NormaliserConfig", "normalise_prompt", "normalise_offline", "normalise_with_endpoint", "system_prompt",
           "chat_url", "find_prompt_genre"]
