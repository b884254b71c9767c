"""Fixtures of the hardening suite: the synthesized bad inputs, written once per session.

The inputs folder is shared by every case (none writes into it; the corpus test checks that
nothing new appears there), and each case gets its own empty output folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# cases.py, inputs.py and runner.py sit beside this file (tests/ has no packages).
sys.path.insert(0, str(Path(__file__).parent))

from inputs import make_inputs  # noqa: E402


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("hardening-inputs"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Feature and text caches in a folder of this session, never the user's."""
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path_factory.getbasetemp() / "hardening-cache"))
