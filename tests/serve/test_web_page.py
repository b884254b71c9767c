"""The upload-and-watch page in headless Chromium (Debian's `chromium`, driven by Playwright):
upload a song, watch the progress, and the dance plays in the job's viewer page, with the API
key the page asks for."""

from __future__ import annotations

import shutil

import pytest
from conftest import API_KEY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [  # as tests/viewer uses them: sandboxed, offline, GPU-less, quiet
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, playwright):
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_FLAGS, viewport={"width": 1000, "height": 640},
    )
    yield context
    context.close()


def open_page(browser, url: str):
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    return page, problems


def test_upload_progress_and_the_dance_plays(browser, worker_server, song):
    page, problems = open_page(browser, worker_server.url + "/")
    try:
        page.wait_for_selector("#key-box:not([hidden])")  # the server wants a key: the page asks
        page.wait_for_function("document.getElementById('error').textContent.includes('API key')")
        page.fill("#key", API_KEY)
        page.dispatch_event("#key", "change")
        page.wait_for_function("document.getElementById('model').options.length >= 3")
        assert page.eval_on_selector("#model", "select => select.value") == "gcdance-small"
        page.set_input_files("#song", str(song))
        page.fill("#seconds", "2")
        page.fill("#steps", "3")
        page.fill("#seed", "5")
        page.fill("#prompt", "slow spins")
        page.click("#go")
        page.wait_for_function("window.dancegenService.job && window.dancegenService.job.status === 'done'", timeout=90_000)
        job = page.evaluate("window.dancegenService.job")
        assert job["result"]["frames"] == 60 and job["result"]["seed"] == 5 and job["options"]["prompt"] == "slow spins"
        assert page.eval_on_selector("#bar", "bar => bar.value") == 1
        assert page.locator("#files a").count() == len(job["files"]) == 5
        assert page.inner_text("#state") == "done"
        # The viewer page plays in the frame (fetched with the key, shown from a blob).
        page.wait_for_selector("#viewer:not([hidden])")
        frame = page.frame_locator("#viewer")
        viewer = next(f for f in page.frames if f != page.main_frame)
        viewer.wait_for_function("window.dancegenViewer && window.dancegenViewer.ready", timeout=30_000)
        assert viewer.evaluate("dancegenViewer.numFrames") == 60
        if not viewer.evaluate("dancegenViewer.isPlaying()"):
            frame.locator("#play").click()  # a real click: the browser lets the music start
        viewer.wait_for_function("dancegenViewer.currentTime() > 0.3", timeout=10_000)
        assert viewer.evaluate("dancegenViewer.isPlaying()")
        assert page.locator("#jobs li").count() >= 1
        assert problems == []
    finally:
        page.close()


def test_a_refused_upload_shows_its_one_line_error(browser, queue_server, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not music")
    page, problems = open_page(browser, queue_server.url + "/")
    try:
        page.wait_for_function("document.getElementById('model').options.length >= 3")
        assert page.locator("#key-box").is_hidden()  # no key on this server
        page.set_input_files("#song", str(text))
        page.click("#go")
        page.wait_for_function("document.getElementById('error').textContent.length > 0")
        assert "unsupported audio format '.txt'" in page.inner_text("#error")
        # The console shows the refused request (400) and nothing else.
        assert all("400" in problem for problem in problems)
    finally:
        page.close()
