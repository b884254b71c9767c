"""Fixtures for the export tests: synthetic dances and the viewer's npm packages (for node checks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from export_helpers import make_dance
from dancegen.motion.motion import Motion
from dancegen.skeleton.smplx import smplx52
from dancegen.viewer.page import BUILD_COMMAND, BUNDLE_PATH, VIEWER_DIR


@pytest.fixture
def dance() -> Motion:
    return make_dance()


@pytest.fixture
def hands_dance() -> Motion:
    return make_dance(smplx52(), frames=12, fps=30.0, seed=3)


@pytest.fixture(scope="session")
def node_packages() -> Path:
    """The viewer folder, once node and its npm packages are installed (else skip)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (VIEWER_DIR / "node_modules" / "three").is_dir():
        pytest.skip(f"the viewer's npm packages are not installed (run `{BUILD_COMMAND}`)")
    return VIEWER_DIR


@pytest.fixture(scope="session")
def viewer_bundle() -> Path:
    """The viewer's built JavaScript, which every page inlines (else skip)."""
    if not BUNDLE_PATH.is_file():
        pytest.skip(f"the viewer is not built (run `{BUILD_COMMAND}`)")
    return BUNDLE_PATH
