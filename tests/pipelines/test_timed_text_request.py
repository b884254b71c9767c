"""Timed text in a generation request: `--annotation` files and inline `--moves` are read,
merged, checked against the song and cut to the requested span before any weights load;
models without timed text refuse them with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dancegen.bundle import BundleHeader
from dancegen.data.annotations import Annotation
from dancegen.errors import DanceGenError
from dancegen.pipelines.request import GenerationRequest

FPS = 30.0
SONG_SECONDS = 40.0


def header(timed_text: bool) -> BundleHeader:
    return BundleHeader(family="lrcm" if timed_text else "gcdance", name="m", config={}, skeleton="smpl24", fps=FPS,
                        genres=["salsa"], supports={"text": True, "timed_text": timed_text},
                        modalities=["music", "text"])


def features(seconds: float = SONG_SECONDS) -> np.ndarray:
    return np.zeros((int(seconds * FPS), 3), np.float32)


def test_inline_moves_are_cut_to_the_span_and_shifted_to_its_start():
    request = GenerationRequest(features(), start=10.0, seconds=20.0, moves="0:08-0:12 spin; 0:20-0:24 stomp; 0:35-0:38 clap")
    annotation = request.checked(header(True)).annotation
    assert isinstance(annotation, Annotation)
    spans = [(span.start, span.end, span.tokens) for span in annotation.spans]
    # 8-12 s is cut to 10-12 s (0-2 s of the span), 20-24 s becomes 10-14 s, 35-38 s is past the span.
    assert spans == [(0.0, 2.0, ("spin",)), (10.0, 14.0, ("stomp",))]


def test_an_annotation_file_and_inline_moves_merge(tmp_path):
    path = tmp_path / "moves.json"
    path.write_text(json.dumps({"global": "salsa, extrovert", "local": [
        {"start_time": "00:00:01.000", "end_time": "00:00:03.000", "action": "walk out"}]}))
    annotation = GenerationRequest(features(), annotation=path, moves="0:05-0:06 jump").checked(header(True)).annotation
    assert annotation.style.genre == "salsa" and annotation.style.expressiveness == "extrovert"
    assert [span.tokens for span in annotation.spans] == [("walk out",), ("jump",)]


@pytest.mark.parametrize("options, option", [
    (dict(moves="0:08-0:12 spin"), "--moves"),
    (dict(annotation="missing.json"), "--annotation"),
])
def test_models_without_timed_text_refuse_it_before_loading(options, option):
    with pytest.raises(DanceGenError) as error:
        GenerationRequest(features(), **options).checked(header(False))
    assert str(error.value).startswith(option) and "timed text" in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("moves, message", [
    ("0:38-0:45 spin", "after"),  # past the song's 40 s
    ("0:12-0:08 spin", "end"),
    ("spin at some point", "--moves"),
])
def test_bad_inline_moves_are_one_line_errors(moves, message):
    with pytest.raises(DanceGenError) as error:
        GenerationRequest(features(), moves=moves).checked(header(True))
    text = str(error.value)
    assert "--moves" in text and message in text and "\n" not in text


def test_a_missing_annotation_file_is_named(tmp_path):
    with pytest.raises(DanceGenError, match="nope.json.*not found"):
        GenerationRequest(features(), annotation=tmp_path / "nope.json").checked(header(True))
