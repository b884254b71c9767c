"""Build hook only: the project's metadata lives in pyproject.toml.

Wheels must ship the viewer's three.js bundle, `dancegen/viewer/build/viewer.js`, which is
git-ignored and made by npm (see dancegen/viewer/package.json). `build_py` below makes it when
it is missing or older than its sources, before the package data are collected, and then
checks that it reached the build tree. Editable installs (`pip install -e .`) are left alone:
they read the source tree, where `make install` (or `npm ci --prefix dancegen/viewer`) builds it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import BaseError as DistutilsError  # distutils' DistutilsError: `setup()` prints it as one line

VIEWER_PACKAGE = "dancegen.viewer"
BUNDLE = Path("build", "viewer.js")  # relative to the viewer package
SOURCES = (Path("src", "viewer.js"), Path("package-lock.json"), Path("package.json"))


def _stale_reason(viewer_dir: Path) -> str | None:
    """Why the bundle must be (re)built, or None when it is up to date."""
    bundle = viewer_dir / BUNDLE
    if not bundle.is_file():
        return f"{bundle} is missing"
    built = bundle.stat().st_mtime
    newer = [str(viewer_dir / s) for s in SOURCES if (viewer_dir / s).is_file() and (viewer_dir / s).stat().st_mtime > built]
    return f"{bundle} is older than {', '.join(newer)}" if newer else None


def build_viewer_bundle(viewer_dir: Path) -> None:
    """Run `npm ci` in the viewer folder when its bundle is missing or stale."""
    reason = _stale_reason(viewer_dir)
    if reason is None:
        return
    npm = shutil.which("npm")
    command = ["npm", "ci", "--prefix", str(viewer_dir), "--no-audit", "--no-fund", "--loglevel=error"]
    if npm is None:
        raise DistutilsError(
            f"{reason} and npm is not installed: install Node.js/npm, or build the viewer first "
            f"with `npm ci --prefix {viewer_dir.as_posix()}`"
        )
    print(f"dancegen: {reason}; building it: {' '.join(command)}", flush=True)
    try:
        status = subprocess.run([npm, *command[1:]]).returncode
    except OSError as error:
        raise DistutilsError(f"cannot run npm ({npm}): {error}") from None
    if status != 0:
        raise DistutilsError(f"`{' '.join(command)}` failed with exit status {status} (npm's output is above)")
    still = _stale_reason(viewer_dir)
    if still is not None:
        raise DistutilsError(f"`{' '.join(command)}` ran, but {still}")


class BuildPyWithViewer(build_py):
    """`build_py` that first builds the viewer bundle, then checks it is in the build tree."""

    def run(self) -> None:
        if self.editable_mode:
            return super().run()
        viewer_dir = Path(self.get_package_dir(VIEWER_PACKAGE))
        build_viewer_bundle(viewer_dir)
        # The package-data list is computed lazily and cached: recompute it now that the bundle exists.
        self.__dict__.pop("data_files", None)
        super().run()
        built = Path(self.build_lib, *VIEWER_PACKAGE.split("."), BUNDLE)
        if not built.is_file():
            raise DistutilsError(
                f"{built} is not in the build tree: is 'build/*.js' still in "
                f"[tool.setuptools.package-data] \"{VIEWER_PACKAGE}\" in pyproject.toml?"
            )


setup(cmdclass={"build_py": BuildPyWithViewer})
