"""Text: prompt encoders (MiniLM offline by default, CLIP from local weights), cached on disk."""

from dancegen.text.encoders import TextEncoder, embed_texts, get_text_encoder, shared_text_encoder

__all__ = ["TextEncoder", "embed_texts", "get_text_encoder", "shared_text_encoder"]
