"""A wheel built from a clean clone ships the viewer bundle, and `dancegen view` works from it.

The repository's tracked (and untracked-but-not-ignored) files are copied to a temporary folder,
so there is no dancegen/viewer/build or node_modules; the wheel is built there (setup.py runs
`npm ci` for the bundle), installed into a fresh venv, and that venv's `dancegen view` writes a
page. The venv borrows the dependencies (torch, ...) from the running environment through a
`.pth` file instead of downloading them, its own site-packages first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLE = "dancegen/viewer/build/viewer.js"
MODEL = "dancegen/models/weights/gcdance-small.pt"
# In three.js's module code (the "multiple instances" guard) and the name the viewer exports.
BUNDLE_MARKERS = ("__THREE__", "dancegenViewer")

pytestmark = pytest.mark.slow


def _git_files(*args: str) -> list[str]:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-z", *args],
                         check=True, capture_output=True).stdout
    return [name for name in out.decode("utf-8").split("\0") if name]


def _clean_clone(dest: Path) -> Path:
    """Copy the files a fresh clone (plus not-yet-committed, not-ignored files) would have."""
    try:
        names = sorted(set(_git_files()) | set(_git_files("--others", "--exclude-standard")))
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"needs the git checkout to list its files: {error}")
    for name in names:
        source = REPO_ROOT / name
        if not source.is_file():  # deleted in the working tree, or a submodule folder
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    assert not (dest / "dancegen/viewer/build").exists() and not (dest / "dancegen/viewer/node_modules").exists()
    return dest


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def _run(args: list, cwd: Path, **extra: str) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(**extra), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _dance(path: Path) -> Path:
    from dancegen.motion.motion import Motion
    from dancegen.skeleton import smpl24

    skeleton = smpl24()
    frames, fps = 12, 30.0
    rotations = np.zeros((frames, skeleton.num_joints, 4))
    rotations[..., 3] = 1.0  # identity (x, y, z, w)
    seconds = np.arange(frames) / fps
    root = np.stack([0.1 * np.sin(2 * seconds), np.full(frames, 0.92), 0.2 * seconds], axis=-1)
    Motion(skeleton, fps, rotations, root, metadata={"name": "wheel-test"}).save_npz(path)
    return path


def test_wheel_from_a_clean_clone_ships_the_viewer(tmp_path):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: building the viewer bundle for the wheel needs Node.js/npm")
    clone = _clean_clone(tmp_path / "clone")
    dist = tmp_path / "dist"

    # Build deps are not fetched (--no-build-isolation); npm uses its cache when it can.
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, clone],
         tmp_path, npm_config_prefer_offline="true")
    (wheel,) = dist.glob("dancegen-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert BUNDLE in names, f"{wheel.name} has no {BUNDLE}"
        assert MODEL in names, f"{wheel.name} has no {MODEL}"
        bundle = archive.read(BUNDLE).decode("utf-8")
    assert all(marker in bundle for marker in BUNDLE_MARKERS)
    assert not [name for name in names if "node_modules" in name]

    # Again, now that the clone has the bundle and node_modules: npm is not rerun and npm's
    # packages do not get into the wheel.
    built = (clone / BUNDLE).stat().st_mtime_ns
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist2", clone],
         tmp_path, PATH=os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                         if not (Path(p) / "npm").exists()))
    (again,) = (tmp_path / "dist2").glob("dancegen-*.whl")
    with zipfile.ZipFile(again) as archive:
        assert set(archive.namelist()) == names
    assert (clone / BUNDLE).stat().st_mtime_ns == built

    # A fresh venv on the same base interpreter; the wheel goes in before the deps are linked.
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", None) or sys.executable
    _run([base, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel], tmp_path)
    own_site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip())
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    # Lines of a .pth go after the folder holding it, so the venv's own packages come first.
    (own_site / "zz_dancegen_test_deps.pth").write_text("".join(f"{p}\n" for p in borrowed), encoding="utf-8")

    where = Path(_run([python, "-c", "import dancegen; print(dancegen.__file__)"], tmp_path).strip()).resolve()
    assert where.is_relative_to(venv.resolve()) and not where.is_relative_to(REPO_ROOT), where

    motion = _dance(tmp_path / "dance.npz")
    dancegen = venv / ("Scripts/dancegen.exe" if os.name == "nt" else "bin/dancegen")
    _run([dancegen, "view", motion, "-o", tmp_path / "page.html", "--no-open", "--quiet"], tmp_path)
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and page.rstrip().endswith("</html>")
    assert all(marker in page for marker in BUNDLE_MARKERS)
    # The wheel's bundle is inlined whole (escaped as page.py does); no script or stylesheet is fetched.
    inlined = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)
    assert inlined in page
    assert not re.search(r"<script[^>]*\ssrc=|<link[^>]*\shref=", page.replace(inlined, ""), re.IGNORECASE)
