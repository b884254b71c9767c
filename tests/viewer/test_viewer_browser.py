"""The page in headless Chromium (Debian's `chromium`, driven by Playwright): it loads cleanly,
plays in time, draws the right pose at every time and is not blank."""

import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from export_helpers import make_dance, write_click_track
from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan
from dancegen.viewer.page import write_page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags that keep a sandboxed, offline, GPU-less Chromium quiet and quick.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
]
SPAN = (0.8, 1.4, "wave")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 640, "height": 420},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def page_setup(tmp_path_factory, browser_context, viewer_bundle):
    folder = tmp_path_factory.mktemp("page")
    motion = make_dance(frames=120, fps=30.0)
    song = folder / "song.wav"
    beats = write_click_track(song, seconds=3.0)  # ends before the dance: the dance plays on
    annotation = Annotation(GlobalStyle("house"), (LocalSpan(SPAN[0], SPAN[1], (SPAN[2],)),))
    path = write_page(motion, folder / "dance.html", music=song, beats=beats, annotation=annotation)
    page = browser_context.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(Path(path).as_uri())
    page.wait_for_function("window.dancegenViewer && window.dancegenViewer.ready", timeout=30_000)
    yield page, motion, beats, problems
    page.close()


def speed_ratio(page, wait_ms=300):
    """Page seconds per wall second while playing, measured inside the page."""
    return page.evaluate(f"""() => new Promise(done => {{
        const v = window.dancegenViewer, t0 = v.currentTime(), w0 = performance.now();
        setTimeout(() => done((v.currentTime() - t0) / ((performance.now() - w0) / 1000)), {wait_ms});
    }})""")


def test_loads_without_console_errors(page_setup):
    page, motion, beats, problems = page_setup
    assert problems == []
    assert page.evaluate("dancegenViewer.numFrames") == motion.num_frames
    assert page.locator("#marks .beat").count() == sum(0 <= b <= motion.duration for b in beats)
    assert page.inner_text("#style") == "house"
    assert page.evaluate("document.getElementById('music').duration") == pytest.approx(3.0, abs=0.05)


def test_shown_pose_matches_the_data(page_setup):
    page, motion, _, _ = page_setup
    positions = motion.joint_positions()
    for t in (0.0, 0.51, 1.234, motion.duration - 0.01):
        page.evaluate(f"dancegenViewer.seek({t})")
        frame = int(np.floor(t * motion.fps + 1e-6))
        assert page.evaluate("dancegenViewer.shownFrame()") == frame
        np.testing.assert_allclose(page.evaluate("dancegenViewer.shownPose()"), positions[frame], atol=1e-5)
        np.testing.assert_allclose(page.evaluate(f"dancegenViewer.poseAt({t})"), positions[frame], atol=1e-5)


def test_prompt_span_shows_only_in_its_time(page_setup):
    page, *_ = page_setup
    page.evaluate(f"dancegenViewer.seek({(SPAN[0] + SPAN[1]) / 2})")
    assert page.inner_text("#prompt") == SPAN[2]
    page.evaluate(f"dancegenViewer.seek({SPAN[1] + 0.1})")
    assert page.inner_text("#prompt") == ""


def test_play_follows_the_music_and_its_speed(page_setup):
    page, motion, _, problems = page_setup
    page.locator("#scrub").fill("0.3")
    assert page.evaluate("dancegenViewer.currentTime()") == pytest.approx(0.3, abs=1 / motion.fps)
    page.click("#play")  # a real click: the browser lets the music start
    try:
        assert page.evaluate("dancegenViewer.isPlaying()")
        # The dance waits for the music to start, then runs with it.
        page.wait_for_function("dancegenViewer.currentTime() > 0.4", timeout=10_000)
        gap = "Math.abs(document.getElementById('music').currentTime - dancegenViewer.currentTime())"
        assert page.evaluate("!document.getElementById('music').paused") and page.evaluate(gap) < 0.25
        page.select_option("#speed", "2")
        assert page.evaluate("document.getElementById('music').playbackRate") == 2
        before = page.evaluate("dancegenViewer.currentTime()")
        page.wait_for_timeout(300)
        assert page.evaluate("dancegenViewer.currentTime()") > before + 0.1
    finally:
        page.select_option("#speed", "1")
        page.click("#play")
    stopped = page.evaluate("dancegenViewer.currentTime()")
    page.wait_for_timeout(200)
    assert not page.evaluate("dancegenViewer.isPlaying()")
    assert page.evaluate("dancegenViewer.currentTime()") == stopped and 0.4 < stopped < motion.duration
    assert page.evaluate("document.getElementById('music').paused")
    assert problems == []


def test_playback_stops_at_the_end(page_setup):
    page, motion, _, _ = page_setup
    page.evaluate(f"dancegenViewer.seek({motion.duration - 0.1}); dancegenViewer.play()")
    page.wait_for_function("!dancegenViewer.isPlaying()", timeout=5_000)
    assert page.evaluate("dancegenViewer.currentTime()") == pytest.approx(motion.duration)
    assert page.evaluate("dancegenViewer.shownFrame()") == motion.num_frames - 1


def test_screenshot_is_not_blank(page_setup):
    from PIL import Image

    page, *_ = page_setup
    page.evaluate("dancegenViewer.seek(1.0)")
    pixels = np.asarray(Image.open(io.BytesIO(page.locator("#stage").screenshot())).convert("RGB")).astype(int)
    assert pixels.std() > 8
    # The limbs' orange is on screen (the figure, not only the background and grid).
    orange = (pixels[..., 0] > 200) & (pixels[..., 1] > 140) & (pixels[..., 2] < 130)
    assert orange.sum() > 200


def test_plays_on_its_own_clock_without_music(browser_context, viewer_bundle, tmp_path):
    motion = make_dance(frames=90, fps=30.0)
    page = browser_context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(write_page(motion, tmp_path / "silent.html").as_uri())
    page.wait_for_function("window.dancegenViewer && window.dancegenViewer.ready", timeout=30_000)
    page.keyboard.press("Space")  # the keyboard shortcut for play
    try:
        assert page.evaluate("dancegenViewer.isPlaying()")
        # Without music the clock is performance.now() times the speed, exactly.
        assert speed_ratio(page) == pytest.approx(1.0, abs=0.02)
        page.select_option("#speed", "2")
        assert speed_ratio(page) == pytest.approx(2.0, abs=0.04)
    finally:
        page.close()
    assert problems == []
