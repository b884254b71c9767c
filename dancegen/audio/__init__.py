"""Audio: loading, hand-crafted features, beats, foundation-encoder registry, feature cache."""

from dancegen.audio.io import Audio, load_audio, write_wav

__all__ = ["Audio", "load_audio", "write_wav"]
