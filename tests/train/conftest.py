"""Fixtures for the GCDance training, pipeline and CLI tests (helpers: gcdance_fixtures.py)."""

from __future__ import annotations

import pytest
from gcdance_fixtures import synthetic_data, tiny_config

from dancegen.train.trainer import TrainingData


@pytest.fixture(scope="session")
def dance_data() -> TrainingData:
    return synthetic_data()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, dance_data):
    """model.pt of a tiny GCDance trained for a few steps on the synthetic dances."""
    from dancegen.train.trainer import train

    directory = tmp_path_factory.mktemp("tiny_gcdance")
    config = tiny_config(directory, max_steps=20, checkpoint_every=1000)
    train(config, data=dance_data, progress=False)
    return directory / "run" / "model.pt"
