"""Genre vocabularies and the decoupled annotation format: round trips, validation, conditioning."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dancegen.data.annotations import (
    Annotation, GlobalStyle, LocalSpan, format_time, frame_conditioning, parse_plain,
    read_annotation, write_annotation,
)
from dancegen.data.genres import AISTPP, FINEDANCE, GENRES, MOTORICA, find_genre, genre_prompt, get_vocabulary, resolve_genre
from dancegen.errors import ArgumentError, InputFileError

EXAMPLE = Annotation(
    GlobalStyle("popping", "extrovert", "medium", ("isolation", "wave")),
    (LocalSpan(0.0, 2.5, ("walk out", "foot movement")), LocalSpan(2.5, 4.25, ("head isolation",))),
)


# --- genres ---------------------------------------------------------------------------------

def test_vocabulary_sizes_and_published_codes():
    assert len(AISTPP) == 10 and len(FINEDANCE) == 16 and len(MOTORICA) == 8
    assert AISTPP.labels == ("gBR", "gPO", "gLO", "gMH", "gLH", "gHO", "gWA", "gKR", "gJS", "gJB")
    assert [AISTPP.genre_of(c) for c in ("gBR", "gMH", "gLH", "gWA", "gJB")] == [
        "breaking", "middle_hiphop", "la_hiphop", "waacking", "ballet_jazz"]
    assert MOTORICA.labels == ("gCA", "gCH", "gJZ", "gKR", "gLH", "gLO", "gPO", "gTP")
    assert MOTORICA.genre_of("gLH") == "hiphop" and MOTORICA.genre_of("gJZ") == "vintage_jazz"
    # FineDance's alternative spellings (LODGE's table) land on the same class.
    assert FINEDANCE.genre_of("Tai") == FINEDANCE.genre_of("Dai") == "dai"
    assert FINEDANCE.genre_of("Wei") == "uyghur" and FINEDANCE.genre_of("jazz") == "street_jazz"
    assert FINEDANCE.index("korean") == 13


def test_genre_lookup_prompt_and_errors():
    assert find_genre("gKR") == "krump" and find_genre("Hip-hop") == "hiphop" and find_genre("b-boying") == "breaking"
    assert find_genre("tango") is None
    assert resolve_genre("Break", "aistpp") == "breaking"
    assert genre_prompt("middle_hiphop") == "This is a Middle Hip-hop type of music."
    with pytest.raises(ArgumentError, match="not in|unknown genre 'Dai'"):
        resolve_genre("Dai", "aistpp")  # a FineDance genre, not an AIST++ one
    with pytest.raises(ArgumentError, match="unknown genre vocabulary"):
        get_vocabulary("nope")
    with pytest.raises(ArgumentError, match="not a aistpp label"):
        AISTPP.genre_of("gXX")
    assert set(get_vocabulary(None).genres) == set(GENRES)


# --- annotation files ---------------------------------------------------------------------

def test_json_and_plain_round_trips(tmp_path):
    for name in ("a.annotation.json", "a.txt"):
        write_annotation(EXAMPLE, tmp_path / name)
        assert read_annotation(tmp_path / name) == EXAMPLE
    plain = (tmp_path / "a.txt").read_text()
    assert plain.splitlines() == [
        "Dance style characteristics: popping, extrovert, medium moving range, isolation, wave",
        "Dance movement sequence:",
        "00:00:00.000 - 00:00:02.500: walk out, foot movement",
        "00:00:02.500 - 00:00:04.250: head isolation",
    ]
    assert json.loads((tmp_path / "a.annotation.json").read_text())["local"][1] == {
        "start": 2.5, "end": 4.25, "tokens": ["head isolation"]}


def test_reads_lrcm_json_and_the_papers_one_line_header(tmp_path):
    lrcm = {"global": "krump, extrovert, large moving range, stomp",
            "local": [{"start_time": "00:00:01.000", "end_time": "00:00:03.500", "action": "arm swing, jab"}]}
    (tmp_path / "lrcm.json").write_text(json.dumps(lrcm))
    annotation = read_annotation(tmp_path / "lrcm.json")
    assert annotation.style == GlobalStyle("krump", "extrovert", "large", ("stomp",))
    assert annotation.spans == (LocalSpan(1.0, 3.5, ("arm swing", "jab")),)
    one_line = parse_plain("Dance style characteristics: tap, introvert Dance movement sequence:\n"
                           "- 01:02:03.5 - 01:02:04.000: shuffle\n")
    assert one_line.style.genre == "tap" and one_line.style.expressiveness == "introvert"
    assert one_line.spans[0].start == pytest.approx(3723.5)


@pytest.mark.parametrize("spans, duration, message", [
    ([(0.0, 2.0), (1.5, 3.0)], None, "spans 1 and 2 overlap"),
    ([(-1.0, 2.0)], None, "starts before 0 s"),
    ([(2.0, 2.0)], None, "does not end after it starts"),
    ([(0.0, 5.0)], 4.0, r"ends after the audio \(4.000 s\)"),
])
def test_validation_errors_are_one_line(tmp_path, spans, duration, message):
    path = tmp_path / "bad.txt"
    lines = ["Dance style characteristics: house"] + [f"{format_time(a)} - {format_time(b)}: step" for a, b in spans]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=message) as error:
        read_annotation(path, duration=duration)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_malformed_files_name_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("Dance style characteristics: house\n00:00:01.000 to 00:00:02.000: step\n")
    with pytest.raises(InputFileError, match=r"bad.txt:2: cannot read"):
        read_annotation(path)
    path.write_text("00:00:01.000 - 00:00:02.000: step\n")
    with pytest.raises(InputFileError, match="no 'Dance style characteristics:' line"):
        read_annotation(path)
    (tmp_path / "bad.json").write_text('{"global": {"genre": "x"}, "local": [{"start": 0, "tokens": ["a"]}]}')
    with pytest.raises(InputFileError, match="malformed annotation entry"):
        read_annotation(tmp_path / "bad.json")
    with pytest.raises(InputFileError, match="not found"):
        read_annotation(tmp_path / "missing.json")


# --- time and conditioning ----------------------------------------------------------------

def test_window_and_stretch_move_the_spans():
    window = EXAMPLE.window(2.0, 3.0)
    assert window.spans == (LocalSpan(0.0, 0.5, ("walk out", "foot movement")), LocalSpan(0.5, 1.0, ("head isolation",)))
    assert EXAMPLE.stretched(2.0).spans[1] == LocalSpan(5.0, 8.5, ("head isolation",))
    assert EXAMPLE.window(10.0, 12.0).spans == ()


def test_frame_conditioning_indices_and_embeddings():
    index = frame_conditioning(EXAMPLE, num_frames=10, fps=2.0)  # frames at 0, 0.5, ..., 4.5 s
    assert index.dtype == torch.int64
    assert index.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, -1]

    class LengthEncoder:  # embeds a text as (length, number of commas): enough to tell texts apart
        def encode(self, texts):
            return np.array([[len(t), t.count(",")] for t in texts], dtype=np.float32)

    embedded = frame_conditioning(EXAMPLE, num_frames=10, fps=2.0, encoder=LengthEncoder())
    global_text = "popping, extrovert, medium moving range, isolation, wave"
    assert embedded.shape == (10, 2) and embedded.dtype == torch.float32
    assert embedded[9].tolist() == [len(global_text), 4]
    assert embedded[0].tolist() == [len(global_text + ", walk out, foot movement"), 6]
