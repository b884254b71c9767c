"""Synthetic music for the audio tests: drum grooves with known beats, written as real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dancegen.audio import Audio
from dancegen.audio.synth import drum_pattern

RATE = 22050


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own feature cache folder, never the user's ~/.cache."""
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def groove() -> tuple[Audio, np.ndarray]:
    """12 s at 120 bpm, first beat at 0.5 s."""
    samples, beats = drum_pattern(120, 12.0, RATE, seed=3, start=0.5)
    return Audio(samples, RATE), beats


@pytest.fixture
def groove_wav(tmp_path: Path, groove) -> Path:
    import soundfile

    path = tmp_path / "groove.wav"
    soundfile.write(str(path), groove[0].samples, RATE)
    return path
