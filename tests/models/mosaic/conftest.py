"""Fixtures for the DanceMosaic tests (helpers: mosaic_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # mosaic_fixtures, also for tests/pipelines

from mosaic_fixtures import synthetic_data  # noqa: E402


@pytest.fixture(scope="session")
def mosaic_data():
    return synthetic_data()
