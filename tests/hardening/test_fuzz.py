"""Property-based fuzzing (hypothesis): whatever bytes or arguments come in, the answer is a
valid result or a clean one-line `DanceGenError` — never another exception, never code run.

Covered: the BVH parser (mutated files and made-up hierarchies), every motion loader (random
and damaged .npz / .pkl / .npy / .glb / DeepMimic .txt), keyframe and annotation JSON, audio
headers (WAV fields of any value), and the command-line argument layer. Runs are derandomized
(the same examples every time) and keep no example database in the checkout.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dancegen.errors import DanceGenError

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=120,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


def _loads_cleanly(load, *args):
    """`load(*args)`'s result, or None for a `DanceGenError` with a one-line message."""
    try:
        return load(*args)
    except DanceGenError as error:
        assert "\n" not in str(error) and str(error)
        return None


def _valid_motion(motion) -> None:
    assert motion.num_frames > 0 and np.isfinite(motion.rotations).all() and np.isfinite(motion.root_translation).all()
    assert 0 < motion.fps and np.isfinite(motion.fps)


# --- BVH -------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(["1e400", "-0", "nan", "inf", "0x10", "1,5", "", "١٢"]),
)
TOKENS = st.one_of(NUMBERS, st.sampled_from(["{", "}", "ROOT", "JOINT", "End", "Site", "OFFSET", "CHANNELS", "MOTION",
                                             "Frames:", "Frame", "Time:", "Xrotation", "Yposition", "HIERARCHY"]),
                   st.text(min_size=1, max_size=8))


@st.composite
def damaged_bvh(draw, good: str) -> str:
    tokens = good.split(" ")
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "truncate", "duplicate-line"]))
        at = draw(st.integers(0, len(tokens) - 1))
        if kind == "replace":
            tokens[at] = draw(TOKENS)
        elif kind == "delete" and len(tokens) > 1:
            del tokens[at]
        elif kind == "insert":
            tokens.insert(at, draw(TOKENS))
        elif kind == "truncate":
            tokens = tokens[: max(1, at)]
        else:
            tokens.insert(at, "\n" + tokens[at] + "\n")
    return " ".join(tokens)


@st.composite
def made_up_bvh(draw) -> str:
    """A hierarchy of any shape (possibly broken) with frames of any values."""
    names = draw(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Zs", "Cc"]), min_size=1, max_size=6),
                          min_size=1, max_size=8))
    depth = draw(st.lists(st.integers(0, 3), min_size=len(names), max_size=len(names)))
    lines, open_joints = ["HIERARCHY"], 0
    for k, name in enumerate(names):
        while open_joints > depth[k] + (k > 0) and open_joints > 1:
            lines.append("}")
            open_joints -= 1
        lines += [("ROOT " if k == 0 else "JOINT ") + name, "{", "OFFSET " + " ".join(draw(st.lists(NUMBERS, min_size=3, max_size=3)))]
        channels = draw(st.sampled_from(["CHANNELS 3 Zrotation Xrotation Yrotation",
                                          "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation",
                                          "CHANNELS 0", "CHANNELS 2 Xrotation"]))
        lines.append(channels)
        open_joints += 1
    lines += ["}"] * open_joints
    frames = draw(st.integers(0, 4))
    lines += ["MOTION", f"Frames: {draw(st.sampled_from([frames, frames + 1, 10**9]))}",
              f"Frame Time: {draw(st.sampled_from(['0.0333333', '0', '-1', 'nan', '1e-12']))}"]
    width = draw(st.integers(0, 20))
    lines += [" ".join(draw(st.lists(NUMBERS, min_size=width, max_size=width))) for _ in range(frames)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def good_bvh(inputs) -> str:
    return inputs["good.bvh"].read_text()


@FUZZ
@given(data=st.data())
def test_damaged_bvh_files(data, good_bvh, tmp_path):
    from dancegen.motion.io import load_motion

    text = data.draw(damaged_bvh(good_bvh))
    motion = _loads_cleanly(load_motion, _write(tmp_path, "fuzz.bvh", text))
    if motion is not None:
        _valid_motion(motion)


@FUZZ
@given(text=made_up_bvh())
def test_made_up_bvh_hierarchies(text, tmp_path):
    from dancegen.motion.io import load_motion

    motion = _loads_cleanly(load_motion, _write(tmp_path, "fuzz.bvh", text))
    if motion is not None:
        _valid_motion(motion)


# --- every motion loader -------------------------------------------------------------------------


@st.composite
def damaged_bytes(draw, good: bytes) -> bytes:
    data = bytearray(good)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "truncate", "splice", "zero"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            data = data[:at]
        elif kind == "splice":
            data[at:at] = draw(st.binary(max_size=16))
        elif data:
            data[at : at + 8] = bytes(len(data[at : at + 8]))
    return bytes(data)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # the examples are whole files
@pytest.mark.parametrize("name", ["good.npz", "good.glb", "nan.pkl", "good.bvh"])
def test_damaged_motion_files(name, inputs, tmp_path):
    """Bit flips, cuts and splices of real files of each format (the .pkl is a real AIST++ layout)."""
    from dancegen.motion.io import load_motion

    good = inputs[name].read_bytes()

    @FUZZ
    @given(data=damaged_bytes(good))
    def check(data):
        motion = _loads_cleanly(load_motion, _write(tmp_path, "fuzz" + Path(name).suffix, data))
        if motion is not None:
            _valid_motion(motion)

    check()
    assert not (inputs[name].parent / "pwned-marker").exists()


@FUZZ
@given(suffix=st.sampled_from([".npz", ".pkl", ".npy", ".glb", ".txt", ".bvh"]),
       head=st.sampled_from([b"", b"PK\x03\x04", b"\x80\x04", b"\x93NUMPY\x01\x00", b"glTF\x02\x00\x00\x00", b"{"]),
       body=st.binary(max_size=600))
def test_random_bytes_in_every_motion_format(suffix, head, body, tmp_path):
    from dancegen.motion.io import load_motion

    motion = _loads_cleanly(load_motion, _write(tmp_path, "fuzz" + suffix, head + body))
    if motion is not None:
        _valid_motion(motion)


PICKLE_GLOBALS = st.sampled_from([("os", "system"), ("builtins", "eval"), ("builtins", "exec"), ("subprocess", "Popen"),
                                  ("numpy", "load"), ("builtins", "getattr"), ("posix", "system"), ("io", "open")])


@FUZZ
@given(target=PICKLE_GLOBALS, argument=st.text(max_size=20), protocol=st.integers(0, 5))
def test_hostile_pickles_never_run(target, argument, protocol, tmp_path):
    """A pickle naming any callable outside the allow-list is refused before it is imported."""
    from dancegen.motion.io import load_motion

    module, name = target
    marker = tmp_path / "ran"
    # GLOBAL / STACK_GLOBAL, then REDUCE: calls module.name(argument).
    payload = pickle_call(module, name, f"touch {marker} {argument}", protocol)
    for suffix in (".pkl", ".npy"):
        assert _loads_cleanly(load_motion, _write(tmp_path, "hostile" + suffix, payload)) is None
    assert not marker.exists()


def pickle_call(module: str, name: str, argument: str, protocol: int) -> bytes:
    """A pickle that calls module.name(argument) when loaded: GLOBAL (protocols 0-1) or
    STACK_GLOBAL (2+) to find the callable, then REDUCE."""
    import pickle

    def text(value: str) -> bytes:  # BINUNICODE: a str of any length
        data = value.encode("utf-8", "surrogatepass")
        return b"X" + struct.pack("<I", len(data)) + data

    if protocol < 2:
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n" + pickle.dumps((argument,), protocol=0)[:-1] + b"R."
    return b"\x80" + bytes([protocol]) + text(module) + text(name) + b"\x93" + text(argument) + b"\x85R."


# --- keyframes and annotations -----------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=12)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20,
)
TIMES = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), st.text(max_size=12), st.none())
ROTATIONS = st.one_of(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=5), st.text(max_size=4),
                      st.lists(st.lists(st.integers(), max_size=3), max_size=3), JSON_VALUES)
JOINTS = st.sampled_from(["left_knee", "pelvis", "head", "tail", "", "left_knee\x00"])


@st.composite
def keyframe_documents(draw) -> str:
    if draw(st.booleans()):
        return json.dumps(draw(JSON_VALUES))
    entries = draw(st.lists(st.fixed_dictionaries(
        {"time": TIMES}, optional={"rotations": st.dictionaries(JOINTS, ROTATIONS, max_size=3), "root": ROTATIONS}),
        max_size=4))
    text = json.dumps({"keyframes": entries})
    # JSON itself has no NaN or huge numbers; files do.
    return text.replace("0.5", draw(st.sampled_from(["0.5", "NaN", "Infinity", "1e400", "9" * 400])))


@FUZZ
@given(text=keyframe_documents())
def test_keyframe_files(text, tmp_path):
    from dancegen.sampling.editing import load_keyframes
    from dancegen.skeleton.smpl import smpl24

    keyframes = _loads_cleanly(load_keyframes, _write(tmp_path, "keyframes.json", text), smpl24())
    if keyframes is not None:
        assert all(np.isfinite(k.time) for k in keyframes)


TOKENS_TEXT = st.one_of(st.text(max_size=10), st.integers(), st.none(), st.lists(st.text(max_size=4), max_size=2))


@st.composite
def annotation_documents(draw) -> str:
    if draw(st.booleans()):
        return json.dumps(draw(JSON_VALUES))
    span = st.fixed_dictionaries({"start": TIMES, "end": TIMES, "tokens": st.lists(TOKENS_TEXT, max_size=3)})
    lrcm = st.fixed_dictionaries({"start_time": TIMES, "end_time": TIMES, "action": TOKENS_TEXT})
    glob = st.one_of(st.text(max_size=20), st.fixed_dictionaries({}, optional={
        "genre": TOKENS_TEXT, "expressiveness": TOKENS_TEXT, "core_moves": st.lists(TOKENS_TEXT, max_size=2)}))
    document = {"format": "dancegen.annotation", "version": 1, "global": draw(glob),
                "local": draw(st.lists(st.one_of(span, lrcm, JSON_VALUES), max_size=3))}
    return json.dumps(document).replace("0.5", draw(st.sampled_from(["0.5", "NaN", "-Infinity", "1e999"])))


@FUZZ
@given(text=annotation_documents(), plain=st.booleans())
def test_annotation_files(text, plain, tmp_path):
    from dancegen.data.annotations import read_annotation

    if plain:  # LRCM's plain text: the same content, one line per entry
        text = "Dance style characteristics: " + text.replace("{", "\n").replace(",", "\n00:00:0")
    annotation = _loads_cleanly(read_annotation, _write(tmp_path, "a.txt" if plain else "a.json", text), 10.0)
    if annotation is not None:
        for span in annotation.spans:
            assert np.isfinite(span.start) and np.isfinite(span.end) and all(t.isprintable() for t in span.tokens)


# --- audio headers ---------------------------------------------------------------------------------


# Fewer examples: an undecodable file is retried through ffmpeg (audioread), a process each.
@settings(FUZZ, max_examples=40)
@given(fmt=st.sampled_from([1, 3, 0, 2, 0xFFFE, 17]), channels=st.integers(0, 2**16 - 1),
       rate=st.integers(0, 2**32 - 1), bits=st.sampled_from([0, 8, 16, 24, 32, 64, 7]),
       data_bytes=st.integers(0, 2**32 - 1), body=st.binary(max_size=2000))
def test_wav_headers(fmt, channels, rate, bits, data_bytes, body, tmp_path):
    from dancegen.audio.io import audio_duration, load_audio

    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) % 2**32, block % 2**16, bits)
    riff = (b"RIFF" + struct.pack("<I", (36 + len(body)) % 2**32) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt_chunk + b"data" + struct.pack("<I", data_bytes) + body)
    path = _write(tmp_path, "fuzz.wav", riff)
    duration = _loads_cleanly(audio_duration, path)
    if duration is not None:
        assert duration >= 0
    audio = _loads_cleanly(load_audio, path)
    if audio is not None:
        assert audio.sample_rate > 0 and np.isfinite(audio.samples).all()


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_damaged_audio_files(data, inputs, tmp_path):
    from dancegen.audio.beats import detect_beats_in_file

    name = data.draw(st.sampled_from(["good.wav", "silent.wav"]))
    damaged = data.draw(damaged_bytes(inputs[name].read_bytes()[:6000]))
    analysis = _loads_cleanly(detect_beats_in_file, _write(tmp_path, "fuzz.wav", damaged))
    if analysis is not None:
        assert analysis.duration >= 0


# --- the command line ------------------------------------------------------------------------------

VALUES = st.one_of(
    st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e400", str(2**64), str(10**40), "", " ", "abc", "1,5", "0x1f",
                     "\x1b[31m", "\x00", "cuda:99", "mps", "spin " * 300, "music=nan", "music", "=2", "a=b=c"]),
    st.text(max_size=20),
    st.floats().map(repr),
    st.integers().map(str),
)
COMMANDS = {
    "motion info": ["@good.bvh"],
    "motion convert": ["@good.bvh", "%out.bvh"],
    "audio beats": ["@good.wav"],
    "audio features": ["@good.wav", "-o", "%f.npy", "--no-cache"],
    "view": ["@good.bvh", "--no-open", "-o", "%page.html"],
    "render": ["@good.bvh", "-o", "%sheet.png", "--frames", "1", "--size", "64x48"],
    # A header-valid bundle whose weights do not load: every option is checked, nothing generates.
    "generate": ["@good.wav", "-o", "%d.bvh", "--model", "@no-weights.pt"],
    "data annotation": ["@good.annotation.json"],
    "evaluate": ["--generated", "@motions", "--reference", "@motions"],
}
OPTIONS = {
    "motion info": ["--input-fps", "--json"],
    "motion convert": ["--fps", "--input-fps", "--to", "--rig", "--mapping"],
    "audio beats": ["--start", "--end", "--stem", "--json"],
    "audio features": ["--kind", "--fps", "--start", "--end"],
    "view": ["--fps", "--music-start", "--prompt", "--beats", "--annotation", "--label", "--layout"],
    "render": ["--fps", "--prompt", "--video-fps", "--size", "--frames"],
    "generate": ["--seed", "--seconds", "--start", "--steps", "--guidance", "--device", "--prompt", "--genre",
                 "--moves", "--lock-joints", "--keyframes", "--annotation", "--reference", "--rig"],
    "data annotation": ["--audio", "--convert"],
    "evaluate": ["--metrics", "--fps", "--up", "--bas-variant", "--max-frames"],
}


@st.composite
def command_lines(draw) -> tuple[str, list[str]]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    args = command.split() + list(COMMANDS[command])
    for _ in range(draw(st.integers(1, 3))):
        option = draw(st.sampled_from(OPTIONS[command] + ["--bogus", "-x"]))
        args.append(option)
        if option not in ("--json", "--bogus", "-x") or draw(st.booleans()):
            args.append(draw(VALUES))
    return command, args


@settings(FUZZ, max_examples=70)
@given(line=command_lines())
def test_the_command_line(line, inputs, tmp_path_factory):
    """Any option with any value: a result (status 0), or one error line naming what is wrong
    (status 2). Never a traceback, an internal error, or a partial output."""
    import contextlib
    import io

    from runner import chdir_to, resolve

    from dancegen.cli import main

    command, args = line
    out = tmp_path_factory.mktemp("cli-fuzz")
    argv = resolve(tuple(args), inputs, out)
    stdout, stderr, status = io.StringIO(), io.StringIO(), 0
    with chdir_to(out), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main(argv)
        except SystemExit as stop:
            status = stop.code
    lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
    assert status in (0, 2), (argv, stderr.getvalue())
    assert "Traceback" not in stderr.getvalue() and "internal error" not in stderr.getvalue()
    if status == 2:
        assert len(lines) == 1 and lines[0].startswith("dancegen: error: "), (argv, lines)
        written = [p for p in out.rglob("*") if p.is_file()]
        assert written == [], (argv, written)


def test_fuzzing_is_repeatable():
    """Derandomized: a failure seen once is seen again on the next run, by anyone."""
    assert FUZZ.derandomize and FUZZ.database is None
