"""Inline timed moves (`--moves`), merging a request's annotation parts, and the move vocabulary."""

from __future__ import annotations

import pytest

from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan
from dancegen.data.moves import merge_annotation, parse_moves
from dancegen.errors import DanceGenError
from dancegen.text.moves import DEFAULT_VOCABULARY
from dancegen.text.normalise import TimeSyntaxError, parse_clock


def spans(annotation):
    return [(s.start, s.end, s.tokens) for s in annotation.spans]


def test_parse_moves_reads_every_time_form():
    got = parse_moves("0:08-0:12 spin; 0:20-0:24 stomp, clap\n30-31.5: pirouette; 0:01:00-0:01:02.5 funky chicken;"
                      " 0:40.5 - 0:42 jump")
    assert spans(got) == [(8.0, 12.0, ("spin",)), (20.0, 24.0, ("stomp", "clap")), (30.0, 31.5, ("spin",)),
                          (40.5, 42.0, ("jump",)), (60.0, 62.5, ("funky chicken",))]
    assert got.style == GlobalStyle()


def test_parse_clock():
    assert parse_clock("8") == 8 and parse_clock("8.5") == 8.5 and parse_clock("0:08.5") == 8.5
    assert parse_clock("1:02:03") == 3723 and parse_clock("20 s") == 20 and parse_clock("1.5 min") == 90
    with pytest.raises(TimeSyntaxError):
        parse_clock("0:75")


@pytest.mark.parametrize("text, message", [
    ("spin at eight", "cannot read entry 1"),
    ("", "is empty"),
    ("0:12-0:08 spin", "ends before it starts"),
    ("0:08-0:12 spin; 0:10-0:14 jump", "overlap"),
    ("0:08-0:12 spin; 0:20-0:99 jump", "entry 2"),
    ("0:08-0:12", "names no move"),
    ("0:50-1:10 spin", "ends after the music (60.00 s)"),
])
def test_parse_moves_errors_are_one_line_and_name_the_option(text, message):
    with pytest.raises(DanceGenError) as error:
        parse_moves(text, duration=60.0)
    line = str(error.value)
    assert line.startswith("--moves: ") and message in line and "\n" not in line


def test_merge_annotation_priorities():
    base = Annotation(GlobalStyle("house", "extrovert", "large"), (LocalSpan(0, 4, ("travel",)), LocalSpan(9, 11, ("spin",))))
    moves = parse_moves("10-12 jump")
    merged = merge_annotation(base, "a chill dance", moves, duration=20.0)
    assert merged.style == base.style  # the annotation's style wins over the prompt
    assert spans(merged) == [(0, 4, ("travel",)), (10.0, 12.0, ("jump",))]  # overlapped base span dropped
    plain = merge_annotation(None, "a chill dance, lots of spins", moves)
    assert plain.global_text() == "a chill dance, lots of spins" and plain.style.genre is None
    assert merge_annotation(None, None, None) == Annotation()
    with pytest.raises(DanceGenError, match="ends after the audio"):
        merge_annotation(None, None, moves, duration=11.0)


def test_vocabulary_matches_synonyms_longest_first():
    vocabulary = DEFAULT_VOCABULARY
    assert [m.token for m in vocabulary.find_all("a grand jete en tourant, then a full turn and arms up")] == [
        "jump", "turn", "spin", "arm raise"]
    assert vocabulary.lookup("Pirouettes!") == "spin" and vocabulary.lookup("nothing here") is None
    assert vocabulary.canonical("  Twirl ") == "spin" and vocabulary.canonical("Funky  Chicken") == "funky chicken"
    assert {"spin", "jump", "kick", "arm raise", "floor work", "travel", "freeze", "stomp", "clap"} <= set(vocabulary.detectable)
    assert vocabulary.order(["clap", "spin", "custom", "spin"]) == ("spin", "clap", "custom")
