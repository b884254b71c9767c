"""`make demo`: the most complete real thing dancegen does today.

Until a trained generator ships, the demo takes a real dance from the shared data kit (CMU
subject 05, iClone rig), retargets it onto SMPL-24 and writes it as BVH and dancegen .npz, then
prints what it did. It never invents a dance: without the kit it says so and stops. Later
issues replace this with generation from music.

    python -m dancegen.demo [--clip 005_02] [--out out/demo]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from dancegen.errors import ArgumentError, DanceGenError

KIT_ENV = "DANCEGEN_KIT"
# The kit lives beside the repository: ../shared/data (see tests/conftest.py).
KIT_BESIDE_REPO = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLIPS_DIR = Path("motion") / "cmu05"
DEFAULT_CLIP = "005_02"  # "dance - expressive arms, pirouette"
DEFAULT_OUT = Path("out") / "demo"


def find_kit() -> Path | None:
    """The shared data kit: $DANCEGEN_KIT if set, else ../shared/data beside the repo or the cwd."""
    if os.environ.get(KIT_ENV):
        candidates = [Path(os.environ[KIT_ENV])]
    else:
        candidates = [KIT_BESIDE_REPO, Path.cwd().parent / "shared" / "data"]
    return next((path for path in candidates if (path / "manifest.json").is_file()), None)


def clip_description(kit: Path, clip: str) -> str:
    table = kit / CLIPS_DIR / "descriptions.csv"
    if not table.is_file():
        return ""
    with open(table, newline="", encoding="utf-8") as handle:
        return next((row["description"] for row in csv.DictReader(handle) if row["clip_id"] == clip), "")


def run(clip: str = DEFAULT_CLIP, out: Path = DEFAULT_OUT) -> int:
    kit = find_kit()
    if kit is None:
        where = os.environ.get(KIT_ENV) or KIT_BESIDE_REPO
        print(f"dancegen demo: shared data kit not found at {where} (set {KIT_ENV} to its folder); nothing written.")
        print("Retarget your own dance meanwhile: dancegen motion convert YOUR.bvh dance.bvh --to smpl24")
        return 0

    from dancegen.motion.io import estimate_height, load_motion, save_motion
    from dancegen.motion.retarget import retarget

    source_path = kit / CLIPS_DIR / f"{clip}.bvh"
    if not source_path.is_file():
        clips = sorted(path.stem for path in (kit / CLIPS_DIR).glob("*.bvh"))
        raise ArgumentError("--clip", f"no clip {clip!r} in {kit / CLIPS_DIR}", f"choose one of {', '.join(clips)}")
    source = load_motion(source_path)
    result = retarget(source)
    dance = result.motion
    out.mkdir(parents=True, exist_ok=True)
    bvh_path, npz_path = out / "dance.bvh", out / "dance.npz"
    save_motion(dance, bvh_path)
    save_motion(dance, npz_path)

    description = clip_description(kit, clip)
    print(f"dancegen demo: CMU {clip}{f' ({description})' if description else ''} from the shared kit")
    print(f"  source   {source_path}: rig {source.skeleton.name!r}, {source.num_joints} joints, "
          f"{source.num_frames} frames @ {source.fps:g} fps ({source.duration:.1f} s), figure {estimate_height(source):.2f} m")
    print(f"  retarget {result.summary()}")
    print(f"  result   SMPL-24, {dance.num_frames} frames @ {dance.fps:g} fps, figure {estimate_height(dance):.2f} m")
    print(f"  wrote    {bvh_path.resolve()}")
    print(f"           {npz_path.resolve()}")
    print("  (no trained generator yet: this is a real captured dance, retargeted, not a generated one)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dancegen.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=DEFAULT_CLIP, help="CMU subject 05 clip id in the kit (005_01 .. 005_20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for dance.bvh and dance.npz")
    args = parser.parse_args(argv)
    try:
        return run(args.clip, args.out)
    except DanceGenError as error:
        print(f"dancegen demo: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
