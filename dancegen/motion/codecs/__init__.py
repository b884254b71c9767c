"""Motion feature codecs: canonical `Motion` <-> the feature vectors the models learn.

    codec = get_codec("smpl6d", smpl24())     # or "expmap", "hml263"; see CODEC_NAMES
    features = codec.encode(motion)           # (T, codec.dim) float32
    motion = codec.decode(features, fps=30)

`smpl6d` (EDGE / FineDance / GCDance), `expmap` (LDA / Motorica, used by LRCM) and `hml263`
(HumanML3D, DanceMosaic's tokenizer). The interface is in `base.py`.
"""

from __future__ import annotations

from dancegen.errors import ArgumentError
from dancegen.motion.codecs.base import MotionCodec, PlanarPose, TrajectoryCodec
from dancegen.motion.codecs.expmap import ExpmapCodec
from dancegen.motion.codecs.hml263 import Hml263Codec
from dancegen.motion.codecs.smpl6d import Smpl6dCodec
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.tree import Skeleton

CODECS: dict[str, type[MotionCodec]] = {codec.name: codec for codec in (Smpl6dCodec, ExpmapCodec, Hml263Codec)}
CODEC_NAMES = tuple(CODECS)


def get_codec(name: str, skeleton: Skeleton | None = None) -> MotionCodec:
    """The codec called `name` for `skeleton` (default SMPL-24)."""
    if name not in CODECS:
        raise ArgumentError("codec", f"unknown codec {name!r}", f"choose one of {', '.join(CODEC_NAMES)}")
    return CODECS[name](smpl24() if skeleton is None else skeleton)


__all__ = [
    "CODECS",
    "CODEC_NAMES",
    "ExpmapCodec",
    "Hml263Codec",
    "MotionCodec",
    "PlanarPose",
    "Smpl6dCodec",
    "TrajectoryCodec",
    "get_codec",
]
