"""`make demo`: from a fresh clone to a dance you can watch, with nothing downloaded.

The demo makes its own music (a drum groove from `audio.synth`, so no third-party track ships),
lets the shipped default model dance to it through the same code path as `dancegen generate`,
and writes the dance in the formats people open: BVH (Blender, MotionBuilder), dancegen/SMPL
.npz (Python), glTF .glb (Blender, three.js, any glTF viewer) and a web page that plays it
with the music.

    python -m dancegen.demo [--bpm 120] [--seconds 24] [--prompt "expressive arms, pirouette"] [--out out/demo]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dancegen.errors import DanceGenError

DEFAULT_OUT = Path("out") / "demo"
DEFAULT_BPM = 120.0  # a moderate tempo every dance style in the kit can follow
DEFAULT_SECONDS = 24.0  # 12 bars at 120 BPM: long enough to see the dance develop
# A CMU subject-05 description the default model was trained on ("dance - expressive arms, pirouette").
DEFAULT_PROMPT = "expressive arms, pirouette"
DEFAULT_SEED = 0
TRACK_NAME = "demo_track.wav"
DANCE_NAME = "dance"
FORMATS = [".bvh", ".npz", ".glb", ".html"]

HOW_TO_OPEN = {
    ".html": "open in a web browser (works offline; plays the dance with the music)",
    ".glb": "drag into Blender (File > Import > glTF 2.0) or any glTF viewer",
    ".bvh": "Blender (File > Import > Motion Capture (.bvh)), MotionBuilder, Maya",
    ".npz": "numpy.load(...) (SMPL poses + joints), or `dancegen view` / `dancegen render`",
}


def synthesize_track(path: Path, bpm: float, seconds: float, seed: int = DEFAULT_SEED) -> Path:
    """A drum groove at `bpm` written as a wav (the beats are known exactly)."""
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(bpm, seconds, seed=seed)
    return write_wav(path, samples, sample_rate=22050)


def run(
    out: Path = DEFAULT_OUT,
    bpm: float = DEFAULT_BPM,
    seconds: float = DEFAULT_SECONDS,
    prompt: str = DEFAULT_PROMPT,
    seed: int = DEFAULT_SEED,
    steps: int | None = None,
    model: str | Path | None = None,
    quiet: bool = False,
) -> dict:
    """Synthesize the track, generate, export; returns `dancegen generate`'s summary plus the track."""
    from dancegen.cli.generate import generate_dance

    started = time.perf_counter()
    track = synthesize_track(out / TRACK_NAME, bpm, seconds)
    summary = generate_dance(track, out, model=model, prompt=prompt, seed=seed, steps=steps,
                             formats=FORMATS, name=DANCE_NAME, quiet=quiet)
    summary.update(track=str(track), bpm=bpm, wall_seconds=round(time.perf_counter() - started, 2))
    return summary


def report(summary: dict) -> str:
    """What was made, where it is and how to open each file."""
    genre = f", read as genre {summary['genre']}" if summary.get("genre") else ""
    lines = [
        f"dancegen demo: {summary['seconds']:.1f} s of dance to a {summary['bpm']:g} BPM drum groove, "
        f"prompt {summary['prompt']!r}{genre} (seed {summary['seed']}, {summary['wall_seconds']:.0f} s)",
        f"  music  {Path(summary['track']).resolve()}",
    ]
    for output in map(Path, summary["outputs"]):
        lines.append(f"  {output.suffix[1:]:<6} {output.resolve()}\n         {HOW_TO_OPEN.get(output.suffix, '')}")
    lines.append("Your own song: dancegen generate SONG.wav --out out/mine --prompt 'smooth salsa steps'")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dancegen.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the track and the dance files")
    parser.add_argument("--bpm", type=float, default=DEFAULT_BPM, help="tempo of the synthesized drum track")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of the track and the dance")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="what the dance should look like")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    parser.add_argument("--model", default=None, help="model name or bundle file (default: the shipped model)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    from dancegen.console import third_party_silenced

    try:
        with third_party_silenced():  # the text encoder's loading bar and library warnings, as in the CLI
            summary = run(args.out, args.bpm, args.seconds, args.prompt, args.seed, args.steps, args.model,
                          quiet=args.quiet or args.json)
    except DanceGenError as error:
        print(f"dancegen demo: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary) if args.json else report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
