"""Shared test fixtures.

The shared data kit lives beside the repository (../shared/data) or where DANCEGEN_KIT points.
Tests that need it take the `kit` fixture and are skipped, with a reason, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# librosa's numba kernels are compiled on first use and cached on disk. Two xdist workers
# writing that cache at once on a fresh install corrupt it (segfaults inside numba), so each
# worker gets its own cache folder. Set before anything imports librosa.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER and "NUMBA_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / f"dancegen-test-numba-{_WORKER}")

REPO_ROOT = Path(__file__).resolve().parents[1]
KIT_DIR = Path(os.environ.get("DANCEGEN_KIT", REPO_ROOT.parent / "shared" / "data"))

# Two xdist workers share two cores: one thread each keeps them from fighting.
torch.set_num_threads(1)

# Caches (features, text embeddings) go to a folder of the test runs, not the user's home.
# Entries are keyed by content, so runs can share it.
if "DANCEGEN_CACHE" not in os.environ:
    import tempfile

    os.environ["DANCEGEN_CACHE"] = str(Path(tempfile.gettempdir()) / "dancegen-test-cache")


@pytest.fixture(scope="session")
def kit() -> Path:
    if not (KIT_DIR / "manifest.json").is_file():
        pytest.skip(f"shared data kit not found at {KIT_DIR} (set DANCEGEN_KIT to its folder)")
    return KIT_DIR


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def blender() -> str:
    """The Python that runs Blender's FBX code (`dancegen[fbx]`); tests that need it skip without."""
    from dancegen.motion import fbx

    python = fbx.blender_python()
    if python is None:
        pytest.skip(f"Blender's bpy is not installed ({fbx.INSTALL_HINT})")
    return python


@pytest.fixture(scope="session")
def playwright():
    """One Playwright per test process: its sync API refuses to start while another instance
    runs in the same thread, so the viewer's and the service's browser tests share this one."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with playwright_api.sync_playwright() as instance:
        yield instance
