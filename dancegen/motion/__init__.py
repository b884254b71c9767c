"""Motion data: the `Motion` type, file formats, retargeting and model feature codecs."""

from dancegen.motion.motion import Motion

__all__ = ["Motion"]
