import urllib.request
import webbrowser

import pytest

from dancegen.errors import ArgumentError
from dancegen.viewer import serve
from dancegen.viewer.serve import PageServer, open_in_browser


def test_server_serves_the_page_and_stops(tmp_path):
    page = tmp_path / "my dance.html"
    page.write_text("<!doctype html><title>x</title>", encoding="utf-8")
    with PageServer(page) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/my%20dance.html")
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert response.status == 200 and response.read() == page.read_bytes()
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=2)


def test_busy_port_is_one_line(tmp_path):
    page = tmp_path / "a.html"
    page.write_text("x", encoding="utf-8")
    with PageServer(page) as first:
        port = int(first.url.split(":")[2].split("/")[0])
        with pytest.raises(ArgumentError, match="cannot listen"):
            PageServer(page, port=port)


def test_browser_is_opened_only_with_a_display(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    monkeypatch.setattr(serve.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not open_in_browser(tmp_path / "a.html") and opened == []
    monkeypatch.setenv("DISPLAY", ":0")
    assert open_in_browser(tmp_path / "a.html") and opened == [(tmp_path / "a.html").as_uri()]
    assert open_in_browser("http://127.0.0.1:8000/a.html") and opened[-1] == "http://127.0.0.1:8000/a.html"
