"""The bad-input corpus: each case is one `dancegen` command line over the synthesized inputs
(`inputs.py`) and what its one stderr line must name.

In `args`, `@name` is the input file `name` and `%name` a path in the case's own empty output
folder. `blame` is what the error must name: `@name` (the file's name) or an option such as
`--seed`. `status` is 2 for every bad input; a few good-but-odd inputs must simply work (0).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    blame: str | None = None  # None: the last `@name` in args (the file under test)
    status: int = 2

    @property
    def culprit(self) -> str:
        if self.blame is not None:
            return self.blame
        return [arg for arg in self.args if arg.startswith("@")][-1]


def case(id: str, *args: str, blame: str | None = None, status: int = 2) -> Case:
    return Case(id, tuple(args), blame, status)


BAD_BVH = (
    "empty.bvh", "truncated-header.bvh", "truncated-frames.bvh", "cut-mid-row.bvh", "nan-value.bvh", "inf-value.bvh",
    "huge-value.bvh", "word-value.bvh", "duplicate-names.bvh", "deep-10000.bvh", "wide-2000.bvh", "frames-1e12.bvh",
    "frames-negative.bvh", "zero-frames.bvh", "frame-time-zero.bvh", "frame-time-nan.bvh", "frame-time-tiny.bvh",
    "channels-huge.bvh", "channels-bad-name.bvh", "offset-nan.bvh", "no-motion.bvh", "two-roots.bvh", "binary.bvh",
    "utf16.bvh", "long-name.bvh", "end-site-empty.bvh", "unclosed-brace.bvh",
)
BAD_NPZ = (
    "empty.npz", "truncated.npz", "not-zip.npz", "zero-frames.npz", "nan-rotation.npz", "inf-translation.npz",
    "zero-quaternion.npz", "wrong-shape.npz", "fps-zero.npz", "fps-nan.npz", "fps-1e9.npz", "fps-text.npz",
    "bad-parents.npz", "parents-short.npz", "metadata-garbage.npz", "no-arrays.npz", "object-array.npz",
    "smpl-nan.npz", "smpl-shape.npz", "smpl-no-fps.npz", "smpl-zero-frames.npz",
)
BAD_PKL = ("hostile-system.pkl", "hostile-eval.pkl", "empty.pkl", "truncated.pkl", "list.pkl", "nan.pkl",
           "zero-frames.pkl", "scaling-zero.pkl", "text.pkl")
BAD_NPY = ("empty.npy", "bad-header.npy", "wrong-width.npy", "nan.npy", "zero-frames.npy", "hostile-object.npy",
           "shape-lie.npy", "one-d.npy")
BAD_GLB = ("empty.glb", "bad-magic.glb", "truncated.glb", "json-garbage.glb", "no-animation.glb",
           "accessor-out-of-range.glb", "accessor-huge.glb", "bad-index.glb", "nodes-not-list.glb")
BAD_DEEPMIMIC = ("deepmimic-not-json.txt", "deepmimic-empty-frames.txt", "deepmimic-short-frame.txt", "deepmimic-nan.txt",
                 "deepmimic-huge.txt", "deepmimic-bigint.txt", "deepmimic-strings.txt", "deepmimic-nested.txt",
                 "deepmimic-zero-dt.txt", "deepmimic-zero-quat.txt")
BAD_MOTION = BAD_BVH + BAD_NPZ + BAD_PKL + BAD_NPY + BAD_GLB + BAD_DEEPMIMIC
# One of each kind of breakage, for the commands that read motion on the way to something else.
MOTION_SAMPLE = ("truncated-frames.bvh", "duplicate-names.bvh", "deep-10000.bvh", "nan-rotation.npz", "zero-frames.npz",
                 "hostile-system.pkl", "hostile-object.npy", "accessor-huge.glb", "deepmimic-nan.txt", "folder.bvh")

BAD_AUDIO = ("empty.wav", "garbage.wav", "zero-channels.wav", "zero-rate.wav", "huge-rate.wav", "many-channels.wav",
             "header-only.wav", "nan.wav", "inf.wav", "text.mp3", "garbage.mp3",
             "song.aac", "noise.flac", "folder.wav")
AUDIO_SAMPLE = ("empty.wav", "zero-channels.wav", "zero-rate.wav", "nan.wav", "garbage.mp3", "header-only.wav")

BAD_ANNOTATIONS = ("annotation-empty.json", "annotation-garbage.json", "annotation-nan.json", "annotation-huge.json",
                   "annotation-bigint.json", "annotation-nested.json", "annotation-control.json",
                   "annotation-nowords.json", "annotation-control-global.json", "annotation-reversed.json",
                   "annotation-negative.json", "annotation-tokens-number.json", "annotation-local-not-list.json",
                   "annotation-huge-file.json", "annotation-plain.txt", "annotation-utf16.json")
BAD_KEYFRAMES = ("keyframes-nan.json", "keyframes-huge.json", "keyframes-bigint.json", "keyframes-ragged.json",
                 "keyframes-strings.json", "keyframes-unknown-joint.json", "keyframes-empty.json",
                 "keyframes-nested.json", "keyframes-latin1.json", "keyframes-late.json", "keyframes-root-nan.json")
BAD_BEATS = ("beats-nan.json", "beats-not-list.json", "beats-decreasing.json", "beats-bigint.json", "beats-array.json")
BAD_MODELS = ("no-weights.pt", "hostile-model.pt", "garbage-model.pt", "text-model.pt")
BAD_CONFIGS = ("config-garbage.yaml", "config-unknown.yaml", "config-no-family.yaml", "config-nan.yaml", "config-list.yaml")

CONTROL_PROMPT = "\x1b[31m\x07\x1b]0;x\x07\x00"
GEN = ("--steps", "2", "--seed", "1", "--quiet")


def _motion_cases() -> list[Case]:
    cases = [case(f"motion-info/{name}", "motion", "info", f"@{name}") for name in BAD_MOTION]
    cases += [case(f"motion-convert/{name}", "motion", "convert", f"@{name}", "%out.bvh") for name in MOTION_SAMPLE]
    cases += [
        case("motion-info/folder.bvh", "motion", "info", "@folder.bvh"),
        case("motion-info/unknown-extension", "motion", "info", "@a-file"),
        case("motion-info/missing", "motion", "info", "%missing.bvh", blame="missing.bvh"),
        case("motion-info/input-fps-1e9", "motion", "info", "@good.bvh", "--input-fps", "1e9", blame="--input-fps"),
        case("motion-info/input-fps-nan", "motion", "info", "@good.bvh", "--input-fps", "nan", blame="--input-fps"),
        case("motion-convert/fps-1e9", "motion", "convert", "@good.bvh", "%out.bvh", "--fps", "1e9", blame="--fps"),
        case("motion-convert/fps-1e400", "motion", "convert", "@good.bvh", "%out.bvh", "--fps", "1e400", blame="--fps"),
        case("motion-convert/fps-nan", "motion", "convert", "@good.bvh", "%out.bvh", "--fps", "nan", blame="--fps"),
        case("motion-convert/fps-word", "motion", "convert", "@good.bvh", "%out.bvh", "--fps", "fast", blame="--fps"),
        case("motion-convert/to-bogus", "motion", "convert", "@good.bvh", "%out.bvh", "--to", "horse", blame="--to"),
        case("motion-convert/out-is-folder", "motion", "convert", "@good.bvh", "@folder.bvh", blame="folder.bvh"),
        case("motion-convert/out-under-file", "motion", "convert", "@good.bvh", "@a-file", blame="a-file"),
        case("motion-convert/rig-duplicates", "motion", "convert", "@good.bvh", "%out.bvh", "--rig",
             "@duplicate-names.bvh"),
        case("motion-convert/rig-deep", "motion", "convert", "@good.bvh", "%out.bvh", "--rig", "@deep-10000.bvh"),
        case("motion-convert/extension", "motion", "convert", "@good.bvh", "%out.doc", blame="out.doc"),
    ]
    return cases


def _audio_cases() -> list[Case]:
    cases = [case(f"audio-beats/{name}", "audio", "beats", f"@{name}") for name in BAD_AUDIO]
    cases += [case(f"audio-features/{name}", "audio", "features", f"@{name}", "-o", "%f.npy") for name in AUDIO_SAMPLE]
    cases += [
        case("audio-beats/silent", "audio", "beats", "@silent.wav", status=0),
        case("audio-beats/one-sample", "audio", "beats", "@one-sample.wav", status=0),
        case("audio-beats/short-clip", "audio", "beats", "@short-clip.wav", status=0),
        # A cut-off wav, or one whose header claims more data than it has, plays as far as it goes.
        case("audio-beats/truncated", "audio", "beats", "@truncated.wav", status=0),
        case("audio-beats/header-lies", "audio", "beats", "@header-lies.wav", status=0),
        case("audio-beats/start-nan", "audio", "beats", "@good.wav", "--start", "nan", blame="--start"),
        case("audio-beats/start-past-end", "audio", "beats", "@good.wav", "--start", "100", blame="--start"),
        case("audio-beats/end-before-start", "audio", "beats", "@good.wav", "--start", "1", "--end", "0.5", blame="--end"),
        case("audio-beats/stem-missing", "audio", "beats", "@good.wav", "--stem", "absent.ogg", blame="absent.ogg"),
        case("audio-beats/stem-garbage", "audio", "beats", "@good.wav", "--stem", "@garbage.wav", blame="garbage.wav"),
        case("audio-features/short-clip", "audio", "features", "@short-clip.wav", "-o", "%f.npy", status=0),
        case("audio-features/out-is-folder", "audio", "features", "@good.wav", "-o", "@folder.json", blame="folder.json"),
        case("audio-features/out-under-file", "audio", "features", "@good.wav", "-o", "@a-file/f.npy", blame="a-file"),
        case("audio-features/fps-1e9", "audio", "features", "@good.wav", "-o", "%f.npy", "--fps", "1e9", blame="--fps"),
        case("audio-features/fps-zero", "audio", "features", "@good.wav", "-o", "%f.npy", "--fps", "0", blame="--fps"),
        case("audio-features/fps-nan", "audio", "features", "@good.wav", "-o", "%f.npy", "--fps", "nan", blame="--fps"),
        case("audio-features/kind", "audio", "features", "@good.wav", "-o", "%f.npy", "--kind", "mp3", blame="--kind"),
        case("audio-features/wrong-ext", "audio", "features", "@good.wav", "-o", "%f.csv", blame="--out"),
    ]
    return cases


def _generate_cases() -> list[Case]:
    out = ("-o", "%dance.bvh")
    # (a folder of songs is a batch run, which needs an output folder: blamed on --out)
    cases = [case(f"generate/{name}", "generate", f"@{name}", *out, *GEN, blame="--out" if name == "folder.wav" else None)
             for name in BAD_AUDIO]
    cases += [case(f"generate/keyframes/{name}", "generate", "@good.wav", *out, *GEN, "--model", "mosaic-small",
                   "--keyframes", f"@{name}", blame=f"@{name}" if name != "keyframes-late.json" else "--keyframes")
              for name in BAD_KEYFRAMES]
    cases += [case(f"generate/annotation/{name}", "generate", "@good.wav", *out, *GEN, "--model", "lrcm-small",
                   "--annotation", f"@{name}") for name in BAD_ANNOTATIONS]
    cases += [case(f"generate/reference/{name}", "generate", "@good.wav", *out, *GEN, "--reference", f"@{name}",
                   "--lock-joints", "lower_body") for name in MOTION_SAMPLE]
    cases += [case(f"generate/rig/{name}", "generate", "@good.wav", *out, *GEN, "--rig", f"@{name}")
              for name in ("duplicate-names.bvh", "deep-10000.bvh", "nan-value.bvh", "wide-2000.bvh")]
    cases += [case(f"generate/model/{name}", "generate", "@good.wav", *out, *GEN, "--model", f"@{name}")
              for name in BAD_MODELS]
    option_cases = {
        "seed-2**64": ("--seed", str(2**64)),
        "seed-10**30": ("--seed", str(10**30)),
        "seed-negative": ("--seed", "-1"),
        "seed-word": ("--seed", "lucky"),
        "seconds-word": ("--seconds", "abc"),
        "seconds-1e400": ("--seconds", "1e400"),
        "seconds-nan": ("--seconds", "nan"),
        "seconds-zero": ("--seconds", "0"),
        "start-inf": ("--start", "inf"),
        "steps-zero": ("--steps", "0"),
        "steps-huge": ("--steps", str(10**12)),
        "guidance-nan": ("--guidance", "music=nan"),
        "guidance-1e400": ("--guidance", "music=1e400"),
        "guidance-syntax": ("--guidance", "music"),
        "guidance-modality": ("--guidance", "smell=2"),
        "device-cuda7": ("--device", "cuda:7"),
        "device-mps": ("--device", "mps"),
        "device-bogus": ("--device", "tpu"),
        "device-garbage": ("--device", "cuda:abc"),
        "prompt-control": ("--prompt", CONTROL_PROMPT),
        "prompt-100kb": ("--prompt", "spin " * 20_000),
        "prompt-empty": ("--prompt", ""),
        "prompt-digits": ("--prompt", "123 456 !!!"),
        "genre-bogus": ("--genre", "tango"),
        "moves-control": ("--moves", "0:00-0:01 \x1b[31m\x07"),
        "moves-huge-time": ("--moves", "0:00-99999999999999999999:00 spin"),
        "lock-joints-alone": ("--lock-joints", "lower_body"),
        "format-ext": ("-o", "%dance.xyz"),  # blamed on --out
    }
    for name, extra in option_cases.items():
        option = extra[0] if extra[0] != "-o" else "--out"
        args = ("generate", "@good.wav", *out, *GEN, *extra)
        if name.startswith("moves"):
            args = (*args, "--model", "lrcm-small")
        cases.append(case(f"generate/{name}", *args, blame=option))
    cases += [
        case("generate/out-is-folder", "generate", "@good.wav", "-o", "@folder.bvh", *GEN, blame="folder.bvh"),
        case("generate/out-under-file", "generate", "@good.wav", "-o", "@a-file/dance.bvh", *GEN, blame="a-file"),
        case("generate/seconds-past-end", "generate", "@good.wav", *out, *GEN, "--seconds", "30", blame="--seconds"),
        case("generate/nan-weights", "generate", "@good.wav", *out, *GEN, "--seconds", "1", "--model",
             "@nan-weights.pt"),
    ]
    return cases


def _page_cases() -> list[Case]:
    view = ("view", "--no-open")
    cases = [case(f"view/{name}", *view, f"@{name}", "-o", "%page.html") for name in MOTION_SAMPLE]
    cases += [case(f"render/{name}", "render", f"@{name}", "-o", "%sheet.png") for name in MOTION_SAMPLE[:5]]
    cases += [case(f"view/music/{name}", *view, "@good.bvh", "-o", "%page.html", "--music", f"@{name}")
              for name in AUDIO_SAMPLE]
    cases += [case(f"render/music/{name}", "render", "@good.bvh", "-o", "%video.mp4", "--music", f"@{name}")
              for name in AUDIO_SAMPLE[:4]]
    cases += [case(f"view/beats/{name}", *view, "@good.bvh", "-o", "%page.html", "--beats", f"@{name}")
              for name in BAD_BEATS]
    cases += [case(f"view/annotation/{name}", *view, "@good.bvh", "-o", "%page.html", "--annotation", f"@{name}")
              for name in BAD_ANNOTATIONS[:8]]
    cases += [
        case("view/out-is-folder", *view, "@good.bvh", "-o", "@folder.json", blame="folder.json"),
        case("view/out-html-folder", *view, "@good.bvh", "-o", "@folder.bvh", blame="folder.bvh"),
        case("view/prompt-control", *view, "@good.bvh", "-o", "%page.html", "--prompt", CONTROL_PROMPT, blame="--prompt"),
        case("view/prompt-100kb", *view, "@good.bvh", "-o", "%page.html", "--prompt", "x" * 100_000, blame="--prompt"),
        case("view/label-control", *view, "@good.bvh", "-o", "%page.html", "--label", "\x1b[2J\x07", blame="--label"),
        case("view/fps-nan", *view, "@good.bvh", "-o", "%page.html", "--fps", "nan", blame="--fps"),
        case("view/fps-1e9", *view, "@good.bvh", "-o", "%page.html", "--fps", "1e9", blame="--fps"),
        case("view/music-start-nan", *view, "@good.bvh", "-o", "%page.html", "--music", "@good.wav",
             "--music-start", "nan", blame="--music-start"),
        case("render/size-zero", "render", "@good.bvh", "-o", "%video.mp4", "--size", "0x0", blame="--size"),
        case("render/size-word", "render", "@good.bvh", "-o", "%video.mp4", "--size", "bigxsmall", blame="--size"),
        case("render/size-huge", "render", "@good.bvh", "-o", "%video.mp4", "--size", "99999x99999", blame="--size"),
        case("render/video-fps-1e9", "render", "@good.bvh", "-o", "%video.mp4", "--video-fps", "1e9", blame="--video-fps"),
        case("render/frames-zero", "render", "@good.bvh", "-o", "%sheet.png", "--frames", "0", blame="--frames"),
        case("render/out-ext", "render", "@good.bvh", "-o", "%video.avi", blame="--output"),
        case("render/out-is-folder", "render", "@good.bvh", "-o", "@folder.json", blame="folder.json"),
        case("render/prompt-control", "render", "@good.bvh", "-o", "%sheet.png", "--prompt", CONTROL_PROMPT,
             blame="--prompt"),
    ]
    return cases


def _data_cases() -> list[Case]:
    cases = [case(f"data-annotation/{name}", "data", "annotation", f"@{name}") for name in BAD_ANNOTATIONS]
    cases += [
        case("data-annotation/audio-zero-rate", "data", "annotation", "@good.annotation.json", "--audio",
             "@zero-rate.wav", blame="zero-rate.wav"),
        case("data-annotation/convert-to-folder", "data", "annotation", "@good.annotation.json", "--convert",
             "@folder.json", blame="folder.json"),
        case("data-genre/control", "data", "genre", CONTROL_PROMPT, blame="TEXT"),
        case("data-genre/100kb", "data", "genre", "spin " * 20_000, blame="TEXT"),
        case("data-genre/digits", "data", "genre", "1234 !!!", blame="TEXT"),
        case("data-genre/top-zero", "data", "genre", "slow spins", "--top", "0", blame="--top"),
        case("data-genre/top-negative", "data", "genre", "slow spins", "--top", "-4", blame="--top"),
        case("data-genre/vocabulary", "data", "genre", "slow spins", "--vocabulary", "klingon", blame="--vocabulary"),
        case("data-genre/head-hostile", "data", "genre", "slow spins", "--head", "@hostile-model.pt"),
        case("data-genre/head-garbage", "data", "genre", "slow spins", "--head", "@text-model.pt"),
        case("data-train-genre/seed-2**70", "data", "train-genre-classifier", "--seed", str(2**70), "--out", "%head.pt",
             blame="--seed"),
        case("data-info/missing", "data", "info", "%nowhere", blame="nowhere"),
        case("data-info/file", "data", "info", "@a-file"),
        case("data-info/kind", "data", "info", "@empty-dir", "--kind", "imaginary", blame="--kind"),
        case("data-annotate/missing", "data", "annotate", "%nowhere", blame="nowhere"),
        case("data-annotate/fps-nan", "data", "annotate", "@motions", "--fps", "nan", blame="--fps"),
        case("data-pair/missing-motion", "data", "pair", "--motion", "%nowhere", "--music", "@empty-dir", "--out",
             "%paired", blame="nowhere"),
        case("data-pair/fps-nan", "data", "pair", "--motion", "@motions", "--music", "@empty-dir", "--out", "%paired",
             "--fps", "nan", blame="--fps"),
    ]
    return cases


def _other_cases() -> list[Case]:
    # `models` reads headers only: a bundle whose header is fine is listed (its weights are checked on load).
    cases = [case(f"models/{name}", "models", f"@{name}", status=0 if name == "no-weights.pt" else 2)
             for name in BAD_MODELS]
    # A config without a family is a gcdance config: what it lacks is named by its key.
    cases += [case(f"train/{name}", "train", "--config", f"@{name}", "--out", "%run",
                   blame="data.root" if name == "config-no-family.yaml" else None) for name in BAD_CONFIGS]
    cases += [
        case("train/resume-hostile", "train", "--resume", "@hostile-model.pt", "--out", "%run"),
        case("train/resume-text", "train", "--resume", "@text-model.pt", "--out", "%run"),
        case("train/seed-2**70", "train", "--config", "@config-seed.yaml", "--out", "%run", blame="train.seed"),
        case("train/override-syntax", "train", "--config", "@config-unknown.yaml", "train.max_steps",
             blame="train.max_steps"),
        case("evaluate/empty-folders", "evaluate", "--generated", "@empty-dir", "--reference", "@empty-dir",
             blame="empty-dir"),
        case("evaluate/bad-motions", "evaluate", "--generated", "@motions", "--reference", "@motions"),
        case("evaluate/odd-rig", "evaluate", "--generated", "@odd-rig", "--reference", "@odd-rig", blame="odd.bvh"),
        case("evaluate/metric", "evaluate", "--generated", "@motions", "--reference", "@motions", "--metrics", "joy",
             blame="--metrics"),
        case("evaluate/max-frames", "evaluate", "--generated", "@motions", "--reference", "@motions",
             "--max-frames", "-5", blame="--max-frames"),
        case("evaluate/fps-nan", "evaluate", "--generated", "@motions", "--reference", "@motions", "--fps", "nan",
             blame="--fps"),
        case("root/unknown-command", "dance", blame="dance"),
        case("root/unknown-option", "--colour", "motion", blame="--colour"),
        case("root/missing-argument", "motion", "info", blame="FILE"),
    ]
    return cases


CASES: list[Case] = _motion_cases() + _audio_cases() + _generate_cases() + _page_cases() + _data_cases() + _other_cases()
