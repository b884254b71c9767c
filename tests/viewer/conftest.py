"""Fixtures for the viewer tests. The synthetic dance and song come from the export tests' helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))  # export_helpers

from export_helpers import make_dance  # noqa: E402
from dancegen.motion.motion import Motion  # noqa: E402
from dancegen.viewer.page import BUILD_COMMAND, BUNDLE_PATH  # noqa: E402


@pytest.fixture
def dance() -> Motion:
    return make_dance(frames=60, fps=30.0)


@pytest.fixture(scope="session")
def viewer_bundle() -> Path:
    if not BUNDLE_PATH.is_file():
        pytest.skip(f"the viewer is not built (run `{BUILD_COMMAND}`)")
    return BUNDLE_PATH
