"""Text: prompt encoders (MiniLM offline by default, CLIP from local weights), cached on disk."""

from dancegen.text.encoders import TextEncoder, get_text_encoder

__all__ = ["TextEncoder", "get_text_encoder"]
