"""Fixtures for the GCDance training, pipeline and CLI tests (helpers: gcdance_fixtures.py)."""

from __future__ import annotations

import pytest
from gcdance_fixtures import synthetic_data, tiny_config, train_tiny

from dancegen.models.gcdance.task import TrainingData


@pytest.fixture(scope="session")
def dance_data() -> TrainingData:
    return synthetic_data()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, dance_data):
    """model.pt of a tiny GCDance trained for a few steps on the synthetic dances."""
    directory = tmp_path_factory.mktemp("tiny_gcdance")
    config = tiny_config(directory, max_steps=20, checkpoint_every=1000)
    train_tiny(config, dance_data)
    return directory / "run" / "model.pt"
