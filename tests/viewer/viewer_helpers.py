"""Opening viewer pages in headless Chromium (Debian's `chromium`, driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags that keep a sandboxed, offline, GPU-less Chromium quiet and quick.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
]
VIEWPORT = {"width": 640, "height": 420}


class ViewerPage:
    """A page open in Chromium, with the console errors and uncaught exceptions it has had."""

    def __init__(self, context, path: Path, query: str = ""):
        self.page = context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.goto(Path(path).as_uri() + query)
        self.page.wait_for_function("window.dancegenViewer && window.dancegenViewer.ready", timeout=30_000)

    def js(self, expression: str):
        return self.page.evaluate(expression)

    def close(self) -> None:
        self.page.close()
