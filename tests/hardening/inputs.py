"""Bad and hostile inputs, synthesized: every kind of file each command reads, broken in every
way the hardening issue (#14) found, plus a few good ones to break from.

`make_inputs(folder)` writes them all once and returns {name: path}. Each maker is small and
says what is wrong with its file; nothing here needs the data kit or the network.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

# A file a hostile pickle would create if any loader ever ran its code.
PWNED = "pwned-marker"


class _Exploit:
    """Unpickling this calls os.system: the classic pickle attack."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalExploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


def hostile_pickle(marker: Path, kind: type = _Exploit) -> bytes:
    return pickle.dumps({"smpl_poses": kind(marker)}, protocol=2)


# --- good inputs to start from ---------------------------------------------------------------


def good_motion(frames: int = 20):
    from dancegen.motion.motion import Motion
    from dancegen.skeleton.smpl import smpl24

    rng = np.random.default_rng(0)
    angles = rng.normal(scale=0.1, size=(frames, 24, 3))
    half = np.linalg.norm(angles, axis=-1, keepdims=True) / 2
    axis = angles / np.maximum(np.linalg.norm(angles, axis=-1, keepdims=True), 1e-9)
    quats = np.concatenate([axis * np.sin(half), np.cos(half)], axis=-1)
    root = np.tile([0.0, 0.9, 0.0], (frames, 1))
    return Motion(smpl24(), 30.0, quats, root)


def good_song_samples(seconds: float = 2.0, rate: int = 22050) -> np.ndarray:
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(120.0, seconds, rate, seed=1)
    return samples


# --- BVH ---------------------------------------------------------------------------------------

_BVH_HEAD = "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"


def _bvh_chain(names: list[str], frames: int = 2, frame_time: str = "0.033333", rows: list[str] | None = None) -> str:
    """A one-chain BVH: the first name is the root, each next one a child of the previous."""
    lines = ["HIERARCHY", f"ROOT {names[0]}", "{", "OFFSET 0 0 0",
             "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"]
    for name in names[1:]:
        lines += [f"JOINT {name}", "{", "OFFSET 0 10 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    lines += ["End Site", "{", "OFFSET 0 10 0", "}"]
    lines += ["}"] * len(names)
    channels = 6 + 3 * (len(names) - 1)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {frame_time}"]
    lines += rows if rows is not None else [" ".join(["0"] * channels)] * frames
    return "\n".join(lines) + "\n"


def _bvh_siblings(count: int) -> str:
    lines = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"]
    for k in range(count):
        lines += [f"JOINT j{k}", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation", "End Site", "{", "OFFSET 0 1 0", "}", "}"]
    lines += ["}", "MOTION", "Frames: 1", "Frame Time: 0.033333", " ".join(["0"] * (6 + 3 * count))]
    return "\n".join(lines) + "\n"


def bvh_files(folder: Path) -> dict[str, bytes | str]:
    from dancegen.motion.bvh import write_bvh

    write_bvh(good_motion(), folder / "good.bvh")
    good = (folder / "good.bvh").read_text()
    head, _, body = good.partition("MOTION")
    rows = body.strip().splitlines()[2:]
    one_row = rows[0].split()
    def with_value(value: str) -> str:
        row = " ".join([value] + one_row[1:])
        return head + "MOTION\nFrames: 1\nFrame Time: 0.0333333\n" + row + "\n"

    return {
        "empty.bvh": "",
        "truncated-header.bvh": good[: len(head) // 2],
        "truncated-frames.bvh": head + "MOTION\nFrames: 20\nFrame Time: 0.0333333\n" + "\n".join(rows[:5]) + "\n",
        "cut-mid-row.bvh": good[: len(good) - 40],
        "nan-value.bvh": with_value("nan"),
        "inf-value.bvh": with_value("inf"),
        "huge-value.bvh": with_value("1e400"),
        "word-value.bvh": with_value("twelve"),
        "duplicate-names.bvh": _bvh_chain(["Hips", "Spine", "Spine", "Head"]),
        "deep-10000.bvh": _bvh_chain(["Hips"] + [f"j{k}" for k in range(10_000)], frames=1),
        "wide-2000.bvh": _bvh_siblings(2000),
        "frames-1e12.bvh": head + "MOTION\nFrames: 1000000000000\nFrame Time: 0.0333333\n" + rows[0] + "\n",
        "frames-negative.bvh": head + "MOTION\nFrames: -3\nFrame Time: 0.0333333\n" + rows[0] + "\n",
        "zero-frames.bvh": head + "MOTION\nFrames: 0\nFrame Time: 0.0333333\n",
        "frame-time-zero.bvh": head + "MOTION\nFrames: 1\nFrame Time: 0\n" + rows[0] + "\n",
        "frame-time-nan.bvh": head + "MOTION\nFrames: 1\nFrame Time: nan\n" + rows[0] + "\n",
        "frame-time-tiny.bvh": head + "MOTION\nFrames: 1\nFrame Time: 1e-12\n" + rows[0] + "\n",
        "channels-huge.bvh": _BVH_HEAD.replace("CHANNELS 6", "CHANNELS 99999999999"),
        "channels-bad-name.bvh": _bvh_chain(["Hips", "Spine"]).replace("Zrotation Xrotation Yrotation", "Wrotation Xrotation Yrotation"),
        "offset-nan.bvh": _bvh_chain(["Hips", "Spine"]).replace("OFFSET 0 10 0", "OFFSET 0 nan 0", 1),
        "no-motion.bvh": head,
        "two-roots.bvh": head + head.replace("HIERARCHY\n", "") + "MOTION\nFrames: 1\nFrame Time: 0.03\n" + rows[0] + "\n",
        "binary.bvh": bytes(range(256)) * 64,
        "utf16.bvh": good.encode("utf-16"),
        "control-name.bvh": _bvh_chain(["Hips", "Sp\x1b[2Jine"]),
        "long-name.bvh": _bvh_chain(["Hips", "x" * 20_000]),
        "end-site-empty.bvh": _bvh_chain(["Hips", "Spine"]).replace("End Site\n{\nOFFSET 0 10 0\n}", "End Site\n{\n}"),
        "unclosed-brace.bvh": _bvh_chain(["Hips", "Spine"]).replace("}\n}\nMOTION", "}\nMOTION"),
    }


# --- NumPy archives and arrays -----------------------------------------------------------------


def _npz(arrays: dict) -> bytes:
    stream = io.BytesIO()
    np.savez(stream, **arrays)
    return stream.getvalue()


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=allow_pickle)
    return stream.getvalue()


def npz_files(folder: Path, marker: Path) -> dict[str, bytes]:
    motion = good_motion()
    motion.save_npz(folder / "good.npz")
    with np.load(folder / "good.npz") as data:
        arrays = {key: data[key] for key in data.files}

    def changed(**changes) -> bytes:
        return _npz({**arrays, **changes})

    zero = arrays["rotations"].copy()
    zero[3, 2] = 0.0
    nan = arrays["rotations"].copy()
    nan[5, 1, 0] = np.nan
    good = (folder / "good.npz").read_bytes()
    hostile = io.BytesIO()
    with zipfile.ZipFile(hostile, "w") as archive:
        archive.writestr("rotations.npy", _npy(np.array([_Exploit(marker)], dtype=object), allow_pickle=True))
    return {
        "empty.npz": b"",
        "truncated.npz": good[: len(good) // 2],
        "not-zip.npz": b"PK\x03\x04" + bytes(200),
        "zero-frames.npz": changed(rotations=arrays["rotations"][:0], root_translation=arrays["root_translation"][:0]),
        "nan-rotation.npz": changed(rotations=nan),
        "inf-translation.npz": changed(root_translation=np.full_like(arrays["root_translation"], np.inf)),
        "zero-quaternion.npz": changed(rotations=zero),
        "wrong-shape.npz": changed(rotations=arrays["rotations"][:, :5]),
        "fps-zero.npz": changed(fps=np.array(0.0)),
        "fps-nan.npz": changed(fps=np.array(np.nan)),
        "fps-1e9.npz": changed(fps=np.array(1e9)),
        "fps-text.npz": changed(fps=np.array("fast")),
        "bad-parents.npz": changed(skeleton_parents=np.array([-1] + [5] * 23)),
        "parents-short.npz": changed(skeleton_parents=np.array([-1, 0])),
        "metadata-garbage.npz": changed(metadata=np.array("{not json")),
        "no-arrays.npz": _npz({"hello": np.zeros(3)}),
        "object-array.npz": hostile.getvalue(),
        "smpl-nan.npz": _npz({"poses": np.full((4, 72), np.nan), "trans": np.zeros((4, 3)), "fps": np.array(30.0)}),
        "smpl-shape.npz": _npz({"poses": np.zeros((4, 7)), "trans": np.zeros((4, 3)), "fps": np.array(30.0)}),
        "smpl-no-fps.npz": _npz({"poses": np.zeros((4, 72)), "trans": np.zeros((4, 3))}),
        "smpl-zero-frames.npz": _npz({"poses": np.zeros((0, 72)), "trans": np.zeros((0, 3)), "fps": np.array(30.0)}),
    }


def pkl_files(marker: Path) -> dict[str, bytes]:
    from dancegen.motion.formats import portable_pickle

    good = {"smpl_poses": np.zeros((5, 72)), "smpl_trans": np.zeros((5, 3)), "smpl_scaling": np.array([1.0])}
    nan = dict(good, smpl_poses=np.full((5, 72), np.nan))
    return {
        "hostile-system.pkl": hostile_pickle(marker),
        "hostile-eval.pkl": hostile_pickle(marker, _EvalExploit),
        "empty.pkl": b"",
        "truncated.pkl": portable_pickle(good)[:60],
        "list.pkl": portable_pickle([1, 2, 3]),
        "nan.pkl": portable_pickle(nan),
        "zero-frames.pkl": portable_pickle(dict(good, smpl_poses=np.zeros((0, 72)), smpl_trans=np.zeros((0, 3)))),
        "scaling-zero.pkl": portable_pickle(dict(good, smpl_scaling=np.array([0.0]))),
        "text.pkl": b"just some text, not a pickle",
    }


def npy_files(marker: Path) -> dict[str, bytes]:
    lie = _npy(np.zeros((2, 315), np.float32)).replace(b"'shape': (2, 315)", b"'shape': (999999999, 315)")
    return {
        "empty.npy": b"",
        "bad-header.npy": b"\x93NUMPY\x01\x00garbage-header",
        "wrong-width.npy": _npy(np.zeros((10, 100))),
        "nan.npy": _npy(np.full((10, 315), np.nan)),
        "zero-frames.npy": _npy(np.zeros((0, 315))),
        "hostile-object.npy": _npy(np.array([_Exploit(marker)], dtype=object), allow_pickle=True),
        "shape-lie.npy": lie,
        "one-d.npy": _npy(np.zeros(315)),
    }


# --- glTF ----------------------------------------------------------------------------------------


def _glb(document: dict, binary: bytes = b"") -> bytes:
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary:
        chunks += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<III", 0x46546C67, 2, 12 + len(chunks)) + chunks


def glb_files(folder: Path) -> dict[str, bytes]:
    from dancegen.export.gltf import write_glb

    write_glb(good_motion(), folder / "good.glb")
    good = (folder / "good.glb").read_bytes()
    skeleton = {"nodes": [{"name": "root"}], "scenes": [{"nodes": [0]}], "scene": 0}
    out_of_range = dict(skeleton, accessors=[{"componentType": 5126, "type": "SCALAR", "count": 1000, "bufferView": 0}],
                        bufferViews=[{"buffer": 0, "byteLength": 8}],
                        animations=[{"samplers": [{"input": 0, "output": 0}], "channels": []}])
    huge_count = dict(out_of_range, accessors=[{"componentType": 5126, "type": "VEC4", "count": 10**12, "bufferView": 0}])
    bad_index = dict(skeleton, animations=[{"samplers": [{"input": 7, "output": 9}], "channels": []}])
    return {
        "empty.glb": b"",
        "bad-magic.glb": b"glTX" + good[4:],
        "truncated.glb": good[: len(good) // 2],
        "json-garbage.glb": _glb({}).replace(b"{}", b"{["),
        "no-animation.glb": _glb(skeleton),
        "accessor-out-of-range.glb": _glb(out_of_range, b"\0" * 8),
        "accessor-huge.glb": _glb(huge_count, b"\0" * 8),
        "bad-index.glb": _glb(bad_index),
        "nodes-not-list.glb": _glb({"nodes": "not a list", "animations": [1]}),
    }


# --- DeepMimic (.txt JSON) ---------------------------------------------------------------------


def deepmimic_files() -> dict[str, str]:
    from dancegen.motion.formats import DEEPMIMIC_FRAME_SIZE

    frame = [0.0333] + [0.0] * 3 + [1.0, 0.0, 0.0, 0.0] + [1.0, 0.0, 0.0, 0.0] * 8 + [0.0] * 4
    frame = (frame + [0.0] * DEEPMIMIC_FRAME_SIZE)[:DEEPMIMIC_FRAME_SIZE]

    def motion(frames) -> str:
        return json.dumps({"Loop": "wrap", "Frames": frames})

    return {
        "deepmimic-not-json.txt": "{Frames: oops",
        "deepmimic-empty-frames.txt": motion([]),
        "deepmimic-short-frame.txt": motion([frame[:10]]),
        "deepmimic-nan.txt": motion([frame, frame]).replace("0.0333", "NaN", 1),
        "deepmimic-huge.txt": motion([frame, frame]).replace("0.0333", "1e400", 1),
        "deepmimic-bigint.txt": motion([frame, frame]).replace("0.0333", "9" * 500, 1),
        "deepmimic-strings.txt": motion([["a"] * DEEPMIMIC_FRAME_SIZE]),
        "deepmimic-nested.txt": '{"Frames": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "deepmimic-zero-dt.txt": motion([[0.0] + frame[1:], [0.0] + frame[1:]]),
        "deepmimic-zero-quat.txt": motion([[0.0333] + [0.0] * (DEEPMIMIC_FRAME_SIZE - 1)]),
    }


# --- audio -------------------------------------------------------------------------------------


def _wav_header(channels: int, rate: int, bits: int = 16, data_bytes: int = 0, fmt: int = 1) -> bytes:
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) % 2**32, block, bits)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt_chunk) + 8 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", data_bytes))


def audio_files(folder: Path) -> dict[str, bytes | str]:
    import soundfile

    rate = 22050
    samples = good_song_samples(2.0, rate)
    soundfile.write(str(folder / "good.wav"), samples, rate, subtype="PCM_16")
    soundfile.write(str(folder / "silent.wav"), np.zeros(rate), rate, subtype="PCM_16")
    soundfile.write(str(folder / "one-sample.wav"), samples[:1], rate, subtype="PCM_16")
    soundfile.write(str(folder / "short-clip.wav"), samples[:300], rate, subtype="PCM_16")
    nan = samples.astype(np.float32).copy()
    nan[100] = np.nan
    stream = io.BytesIO()
    soundfile.write(stream, nan, rate, subtype="FLOAT", format="WAV")
    nan_bytes = stream.getvalue()
    inf = samples.astype(np.float32).copy()
    inf[7] = np.inf
    stream = io.BytesIO()
    soundfile.write(stream, inf, rate, subtype="FLOAT", format="WAV")
    pcm = (samples[:1000] * 20000).astype("<i2").tobytes()
    good = (folder / "good.wav").read_bytes()
    return {
        "empty.wav": b"",
        "garbage.wav": b"RIFF" + bytes(range(256)) * 4,
        "zero-channels.wav": _wav_header(0, rate, data_bytes=len(pcm)) + pcm,
        "zero-rate.wav": _wav_header(1, 0, data_bytes=len(pcm)) + pcm,
        "huge-rate.wav": _wav_header(1, 4_000_000_000, data_bytes=len(pcm)) + pcm,
        "many-channels.wav": _wav_header(1000, rate, data_bytes=2000 * 1000) + bytes(2000 * 1000),
        "truncated.wav": good[: len(good) // 3],
        "header-only.wav": good[:44],
        "header-lies.wav": _wav_header(1, rate, data_bytes=2**31) + pcm,
        "nan.wav": nan_bytes,
        "inf.wav": stream.getvalue(),
        "text.mp3": "this is not an mp3 at all",
        "garbage.mp3": b"\xff\xfb\x90\x00" + bytes(range(256)) * 16,
        "song.aac": b"\0" * 100,
        "noise.flac": b"fLaC" + bytes(300),
    }


# --- text inputs ---------------------------------------------------------------------------------


def annotation_files() -> dict[str, str | bytes]:
    def doc(local, glob=None) -> str:
        return json.dumps({"format": "dancegen.annotation", "version": 1,
                           "global": glob or {"genre": "salsa", "core_moves": []}, "local": local})

    span = {"start": 0.1, "end": 0.5, "tokens": ["spin"]}
    return {
        "annotation-empty.json": "",
        "annotation-garbage.json": "{not json",
        "annotation-nan.json": doc([dict(span, start="__NAN__")]).replace('"__NAN__"', "NaN"),
        "annotation-huge.json": doc([dict(span, end="__BIG__")]).replace('"__BIG__"', "1e400"),
        "annotation-bigint.json": doc([dict(span, end="__BIG__")]).replace('"__BIG__"', "9" * 400),
        "annotation-nested.json": "[" * 100_000 + "]" * 100_000,
        "annotation-control.json": doc([dict(span, tokens=["\x1b[31m\x07\x00"])]),
        "annotation-nowords.json": doc([dict(span, tokens=["!!! ???"])]),
        "annotation-control-global.json": doc([span], {"genre": "\x1b]0;pwned\x07", "core_moves": []}),
        "annotation-reversed.json": doc([dict(span, start=0.5, end=0.1)]),
        "annotation-negative.json": doc([dict(span, start=-1.0)]),
        "annotation-tokens-number.json": doc([dict(span, tokens=[5])]),
        "annotation-local-not-list.json": doc("spin"),
        "annotation-huge-file.json": doc([span] * 60_000),
        "annotation-plain.txt": "nothing like the plain format\n",
        "annotation-utf16.json": doc([span]).encode("utf-16"),
    }


def keyframe_files() -> dict[str, str | bytes]:
    def doc(entries) -> str:
        return json.dumps({"keyframes": entries})

    pose = {"time": 0.2, "rotations": {"left_knee": [0.3, 0.0, 0.0]}}
    return {
        "keyframes-nan.json": doc([dict(pose, time="__X__")]).replace('"__X__"', "NaN"),
        "keyframes-huge.json": doc([dict(pose, time="__X__")]).replace('"__X__"', "1e400"),
        "keyframes-bigint.json": doc([dict(pose, time="__X__")]).replace('"__X__"', "9" * 400),
        "keyframes-ragged.json": doc([dict(pose, rotations={"left_knee": [[1, 2], [3]]})]),
        "keyframes-strings.json": doc([dict(pose, rotations={"left_knee": ["a", "b", "c"]})]),
        "keyframes-unknown-joint.json": doc([dict(pose, rotations={"tail": [0, 0, 0]})]),
        "keyframes-empty.json": doc([]),
        "keyframes-nested.json": "[" * 100_000 + "]" * 100_000,
        "keyframes-latin1.json": doc([pose]).encode("utf-8").replace(b"left_knee", b"left_kn\xe9e"),
        "keyframes-late.json": doc([dict(pose, time=1e6)]),
        "keyframes-root-nan.json": doc([{"time": 0.1, "root": "__X__"}]).replace('"__X__"', "[NaN, 0, 0]"),
    }


def beats_files() -> dict[str, str]:
    return {
        "beats-nan.json": '{"bpm": 120, "beats_s": [0.5, NaN, 1.5]}',
        "beats-not-list.json": '{"beats_s": "0.5 1.0"}',
        "beats-decreasing.json": '{"beats_s": [1.0, 0.5]}',
        "beats-bigint.json": '{"beats_s": [' + "9" * 400 + "]}",
        "beats-array.json": "[0.5, 1.0]",
    }


def model_files(folder: Path, marker: Path) -> dict[str, bytes | str]:
    """Bundles: hostile, without weights, with NaN weights, or not bundles at all."""
    import torch

    from dancegen.bundle import ModelBundle, load_bundle, read_header, save_bundle
    from dancegen.catalog import SHIPPED_DIR

    shipped = SHIPPED_DIR / "gcdance-small.pt"
    header = read_header(shipped)
    save_bundle(ModelBundle(header, {"network": {"nothing": torch.zeros(1)}}), folder / "no-weights.pt")
    bundle = load_bundle(shipped)
    nan_components = {name: {key: torch.full_like(value, float("nan")) if value.is_floating_point() else value
                             for key, value in state.items()} for name, state in bundle.components.items()}
    save_bundle(ModelBundle(header, nan_components, bundle.normalizers, bundle.assets), folder / "nan-weights.pt")
    hostile = folder / "hostile-model.pt"
    torch.save({"format": "x", "exploit": _Exploit(marker)}, hostile)
    written = {name: (folder / name).read_bytes() for name in ("no-weights.pt", "nan-weights.pt", "hostile-model.pt")}
    garbage_zip = io.BytesIO()
    with zipfile.ZipFile(garbage_zip, "w") as archive:
        archive.writestr("x/data.pkl", b"not a pickle")
    return {**written, "garbage-model.pt": garbage_zip.getvalue(), "text-model.pt": "not a model"}


def config_files() -> dict[str, str]:
    return {
        "config-garbage.yaml": "family: [unclosed",
        "config-unknown.yaml": "family: gcdance\nbogus_key: 1\n",
        "config-no-family.yaml": "train:\n  max_steps: 3\n",
        "config-nan.yaml": "family: gcdance\ntrain:\n  learning_rate: .nan\n",
        "config-list.yaml": "- 1\n- 2\n",
        "config-seed.yaml": f"family: gcdance\ntrain:\n  seed: {2**70}\n",
    }


# --- everything ----------------------------------------------------------------------------------


def make_inputs(folder: Path) -> dict[str, Path]:
    """Write every input into `folder` (and a few folders) and return {name: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / PWNED
    makers: list[Callable[[], dict]] = [
        lambda: bvh_files(folder), lambda: npz_files(folder, marker), lambda: pkl_files(marker),
        lambda: npy_files(marker), lambda: glb_files(folder), deepmimic_files, lambda: audio_files(folder),
        annotation_files, keyframe_files, beats_files, lambda: model_files(folder, marker), config_files,
    ]
    for make in makers:
        for name, content in make().items():
            path = folder / name
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                path.write_bytes(content)
    annotation = {"format": "dancegen.annotation", "version": 1, "global": {"genre": "salsa", "core_moves": ["spin"]},
                  "local": [{"start": 0.1, "end": 0.5, "tokens": ["spin"]}]}
    (folder / "good.annotation.json").write_text(json.dumps(annotation))
    (folder / "keyframes-good.json").write_text(json.dumps({"keyframes": [{"time": 0.2, "rotations": {"left_knee": [0.3, 0, 0]}}]}))
    for name in ("folder.bvh", "folder.wav", "folder.json", "empty-dir"):
        (folder / name).mkdir(exist_ok=True)
    (folder / "a-file").write_text("I am a file, not a folder\n")
    odd = folder / "odd-rig"  # a rig no preset knows: evaluate cannot put it on SMPL-24
    odd.mkdir(exist_ok=True)
    (odd / "odd.bvh").write_text(_bvh_chain(["Base", "Stalk", "Bloom"], frames=3))
    motions = folder / "motions"
    motions.mkdir(exist_ok=True)
    for name in ("nan-rotation.npz", "hostile-system.pkl", "duplicate-names.bvh"):
        (motions / name).write_bytes((folder / name).read_bytes())
    return {path.name: path for path in folder.iterdir()}
