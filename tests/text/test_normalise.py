"""Informal prompt -> structured annotation: the offline rules, MiniLM nearest neighbours, and an
OpenAI-compatible endpoint (a fake server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from dancegen.data.annotations import format_plain
from dancegen.data.normalise import NormaliserConfig, chat_url, normalise_prompt
from dancegen.errors import DanceGenError
from dancegen.text.moves import DEFAULT_VOCABULARY
from dancegen.text.normalise import find_count, find_times

LEXICAL = NormaliserConfig(encoder=None)


def spans(annotation):
    return [(round(s.start, 3), round(s.end, 3), s.tokens) for s in annotation.spans]


def test_the_example_prompt():
    got = normalise_prompt("a chill hip hop routine, spin around 8 seconds in, then jump twice at the chorus (0:30)",
                           duration=60.0, config=LEXICAL)
    assert (got.style.genre, got.style.expressiveness, got.style.moving_range) == ("hiphop", "introvert", None)
    assert spans(got) == [(8.0, 10.0, ("spin",)), (30.0, 31.0, ("jump",)), (31.0, 32.0, ("jump",))]


@pytest.mark.parametrize("prompt, style, expected", [
    ("big energetic house dance: travel from 0:05 to 0:10, then freeze, stomp three times at 15 s",
     ("house", "extrovert", "large", ()),
     [(5.0, 10.0, ("travel",)), (10.0, 12.0, ("freeze",)), (15.0, 16.0, ("stomp",)), (16.0, 17.0, ("stomp",)),
      (17.0, 18.0, ("stomp",))]),
    ("small subtle popping routine with lots of isolations, clap at 0:03 and at 0:06",
     ("popping", "introvert", "small", ("isolation",)), [(3.0, 5.0, ("clap",)), (6.0, 8.0, ("clap",))]),
    ("wide sweeping ballet; pirouette at 0:10.5, grand jete 0:15-0:17, then arms up",
     ("modern_ballet", None, "large", ()), [(10.5, 12.5, ("spin",)), (15.0, 17.0, ("jump",)), (17.0, 19.0, ("arm raise",))]),
    ("krump with stomps and chest pops", ("krump", None, None, ("stomp", "isolation")), []),
    ("spin and clap at 4 s, kick between 5 and 7 s", (None, None, None, ()), [(4.0, 5.0, ("spin", "clap")),
                                                                              (5.0, 7.0, ("kick",))]),
])
def test_informal_prompts(prompt, style, expected):
    got = normalise_prompt(prompt, duration=20.0, config=LEXICAL.model_copy(update={"point_span_s": 2.0}))
    st = got.style
    assert (st.genre, st.expressiveness, st.moving_range, st.core_moves) == style
    assert spans(got) == expected


def test_prompt_times_past_the_music_and_empty_prompts_are_errors():
    with pytest.raises(DanceGenError, match="--prompt: mentions 30 s but the music is 20.00 s long"):
        normalise_prompt("jump at 0:30", duration=20.0, config=LEXICAL)
    with pytest.raises(DanceGenError, match="--prompt: is empty"):
        normalise_prompt("   ", config=LEXICAL)
    # a point near the end is clipped to the music, not an error
    assert spans(normalise_prompt("spin at 19 s", duration=20.0, config=LEXICAL)) == [(19.0, 20.0, ("spin",))]


def test_time_and_count_phrases():
    times = find_times("from 1:00 to 1:10 travel, at 0:30, around 20 s, 8 seconds in, (0:45), between 2 and 3 s")
    assert [(t.start, t.end) for t in times] == [(60, 70), (30, None), (20, None), (8, None), (45, None), (2, 3)]
    assert [find_count(t) for t in ("twice", "three times", "x3", "4x", "once", "a spin")] == [2, 3, 3, 4, 1, None]


class FakeEncoder:
    """Bag-of-words embeddings over the move descriptions' words: a clause sharing words with a
    move's description is near it."""

    WORDS = sorted({w for move in DEFAULT_VOCABULARY.moves for w in move.description.lower().split()})

    def encode(self, texts):
        words = self.WORDS
        vectors = np.array([[float(w in text.lower().split()) for w in words] for text in texts])
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def test_unknown_wording_goes_to_the_nearest_move_description():
    config = LEXICAL.model_copy(update={"min_similarity": 0.3})
    got = normalise_prompt("at 0:04 the dancer holds completely still in a pose", 10.0, config=config, encoder=FakeEncoder())
    assert spans(got) == [(4.0, 6.0, ("freeze",))]  # lexical "hold" already
    got = normalise_prompt("at 0:04 touching the ground with both hands", 10.0, config=config, encoder=FakeEncoder())
    assert spans(got) == [(4.0, 6.0, ("floor work",))]
    assert normalise_prompt("at 0:04 zzz", 10.0, config=config, encoder=FakeEncoder()).spans == ()


def test_minilm_nearest_neighbour():
    try:
        from dancegen.text import get_text_encoder

        encoder = get_text_encoder("minilm", cache=False)
        encoder.encode(["warm up"])
    except Exception as error:  # noqa: BLE001 - any failure to load means: no offline model here
        pytest.skip(f"MiniLM does not load offline here ({type(error).__name__})")
    got = normalise_prompt("at 0:02 bang the floor with my heel, at 0:04 stay totally motionless, "
                           "at 0:06 lift arms to the sky, at 0:08 put my hands together loudly", 10.0,
                           config=NormaliserConfig(), encoder=encoder)
    assert [(s.start, s.tokens) for s in got.spans] == [(2.0, ("stomp",)), (4.0, ("freeze",)), (6.0, ("arm raise",)),
                                                         (8.0, ("clap",))]


# --- the endpoint ---------------------------------------------------------------------------------


class FakeChat(BaseHTTPRequestHandler):
    reply = ""
    requests: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeChat.requests.append((self.path, dict(self.headers), body))
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": FakeChat.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), FakeChat)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    FakeChat.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_endpoint_reply_is_parsed_and_validated(server, monkeypatch):
    monkeypatch.setenv("TEST_NORMALISER_KEY", "sekrit")
    FakeChat.reply = ("```\nDance style characteristics: hip hop, Extrovert, large moving range, pirouette\n"
                      "Dance movement sequence:\n00:00:01.000 - 00:00:02.500: Twirl, clap\n```")
    config = NormaliserConfig(endpoint=server, model="tiny", api_key_env="TEST_NORMALISER_KEY", fallback=False)
    got = normalise_prompt("an energetic hip hop dance with a twirl and a clap at 1 s", duration=10.0, config=config)
    assert (got.style.genre, got.style.expressiveness, got.style.moving_range, got.style.core_moves) == (
        "hiphop", "extrovert", "large", ("spin",))
    assert spans(got) == [(1.0, 2.5, ("spin", "clap"))]
    path, headers, body = FakeChat.requests[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sekrit"
    assert body["model"] == "tiny" and body["messages"][1]["content"].startswith("an energetic")
    assert "Dance style characteristics:" in body["messages"][0]["content"] and "10.000 s" in body["messages"][0]["content"]
    assert chat_url(server + "/v1/") == server + "/v1/chat/completions"


@pytest.mark.parametrize("reply, message", [
    ("Sure! Here is a lovely dance for you.", "cannot read"),
    ("Dance style characteristics: house\n00:00:05.000 - 00:00:30.000: spin", "ends after the audio"),
    ("Dance style characteristics: house, hyperactive moving range", "unknown moving range"),
])
def test_malformed_replies_error_or_fall_back(server, reply, message):
    FakeChat.reply = reply
    strict = NormaliserConfig(endpoint=server, fallback=False, encoder=None)
    with pytest.raises(DanceGenError, match=message) as error:
        normalise_prompt("house dance, spin at 2 s", duration=10.0, config=strict)
    assert "\n" not in str(error.value) and "reply" in str(error.value)
    with pytest.warns(UserWarning, match="using the offline rules"):
        got = normalise_prompt("house dance, spin at 2 s", duration=10.0, config=strict.model_copy(update={"fallback": True}))
    assert got.style.genre == "house" and spans(got) == [(2.0, 4.0, ("spin",))]


def test_unreachable_endpoint_is_a_one_line_error():
    config = NormaliserConfig(endpoint="http://127.0.0.1:9", fallback=False, timeout_s=2.0)
    with pytest.raises(DanceGenError, match="cannot reach it"):
        normalise_prompt("spin at 2 s", config=config)


def test_config_rejects_unknown_keys():
    with pytest.raises(Exception, match="extra"):
        NormaliserConfig(endpont="http://x")
    assert format_plain(normalise_prompt("house dance", config=LEXICAL)).startswith("Dance style characteristics: house")
