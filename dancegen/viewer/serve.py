"""Show a viewer page: open it in the local browser, or serve its folder over HTTP.

Pages are self-contained and work from `file://`; serving helps on a remote machine (forward
the port) or with a browser that refuses local files.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import webbrowser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from dancegen.errors import ArgumentError

DEFAULT_HOST = "127.0.0.1"  # local only: a page may hold unreleased music


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


class PageServer:
    """An HTTP server for one page's folder, running in a background thread.

    with PageServer(page) as server: print(server.url)
    """

    def __init__(self, page: str | Path, host: str = DEFAULT_HOST, port: int = 0):
        self.page = Path(page).resolve()
        handler = functools.partial(_QuietHandler, directory=str(self.page.parent))
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as error:
            raise ArgumentError("--port", f"cannot listen on {host}:{port} ({error.strerror})", "pick another port") from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{quote(self.page.name)}"

    def start(self) -> "PageServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "PageServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def has_display() -> bool:
    """Whether a graphical browser could show a page here (not over SSH or in a container)."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_in_browser(target: str | Path) -> bool:
    """Open a URL or a local page in the default browser; False when there is none.

    Without a display nothing is tried: Python would fall back to a terminal browser (lynx,
    w3m) that takes over the console and cannot play WebGL anyway.
    """
    url = target if isinstance(target, str) and "://" in target else Path(target).resolve().as_uri()
    if not has_display():
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def serve_forever(page: str | Path, host: str = DEFAULT_HOST, port: int = 0, open_browser: bool = True,
                  announce=print) -> None:
    """Serve `page` until interrupted (Ctrl+C), optionally opening it in the browser."""
    with PageServer(page, host, port) as server:
        announce(f"serving {server.url} (Ctrl+C to stop)")
        if open_browser:
            open_in_browser(server.url)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
