"""End-to-end pipelines: song (and prompt, edits) in, Motion out."""
