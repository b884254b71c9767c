"""Fixtures for the viewer tests: the synthetic dance and song come from the export tests'
helpers; pages are opened in headless Chromium (Debian's `chromium`, driven by Playwright)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))  # export_helpers

from export_helpers import make_dance  # noqa: E402
from viewer_helpers import CHROMIUM, CHROMIUM_FLAGS, VIEWPORT, ViewerPage  # noqa: E402

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


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory, playwright):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_FLAGS, viewport=VIEWPORT, accept_downloads=True,
    )
    yield context
    context.close()


@pytest.fixture
def open_viewer(browser_context, viewer_bundle):
    """open_viewer(path, query="") -> ViewerPage, closed when the test ends (an open page keeps
    drawing frames, which a shared CPU notices)."""
    pages = []

    def open_page(path: Path, query: str = "") -> ViewerPage:
        pages.append(ViewerPage(browser_context, path, query))
        return pages[-1]

    yield open_page
    for page in pages:
        page.close()
