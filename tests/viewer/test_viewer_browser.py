"""One dance's page in headless Chromium: it loads cleanly, plays in time (with or without music,
on its own with ?autoplay, looping), draws the right pose at every time as a body that faces the
camera, and its download buttons save the dance."""

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from export_helpers import make_dance, write_click_track
from viewer_helpers import ViewerPage

from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan
from dancegen.motion.bvh import write_bvh
from dancegen.motion.motion import Motion
from dancegen.skeleton import smpl24
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.viewer.page import write_page

SPAN = (0.8, 1.4, "wave")
SMPL = smpl24().joint_names


@pytest.fixture(scope="module")
def page_setup(tmp_path_factory, browser_context, viewer_bundle):
    folder = tmp_path_factory.mktemp("page")
    motion = make_dance(frames=120, fps=30.0)
    song = folder / "song.wav"
    beats = write_click_track(song, seconds=3.0)  # ends before the dance: the dance plays on
    annotation = Annotation(GlobalStyle("house"), (LocalSpan(SPAN[0], SPAN[1], (SPAN[2],)),))
    path = write_page(motion, folder / "dance.html", music=song, beats=beats, annotation=annotation)
    viewer = ViewerPage(browser_context, path)
    yield viewer.page, motion, beats, viewer.problems
    viewer.close()


def speed_ratio(page, wait_ms=300):
    """Page seconds per wall second while playing, measured inside the page."""
    return page.evaluate(f"""() => new Promise(done => {{
        const v = window.dancegenViewer, t0 = v.currentTime(), w0 = performance.now();
        setTimeout(() => done((v.currentTime() - t0) / ((performance.now() - w0) / 1000)), {wait_ms});
    }})""")


def drawn(pose):
    """The joints a capsule reaches (the trunk's inner spine joints are inside its two capsules)."""
    return {j: p for j, p in enumerate(pose) if p is not None}


def test_loads_without_console_errors(page_setup):
    page, motion, beats, problems = page_setup
    assert problems == []
    assert page.evaluate("dancegenViewer.numFrames") == motion.num_frames
    assert page.evaluate("dancegenViewer.figuresShown()") == 1
    assert page.locator("#marks .beat").count() == sum(0 <= b <= motion.duration for b in beats)
    assert page.inner_text("#style") == "house"
    assert page.evaluate("document.getElementById('music').duration") == pytest.approx(3.0, abs=0.05)
    assert page.is_hidden("#layout")  # one dance: nothing to lay out


def test_shown_pose_matches_the_data(page_setup):
    page, motion, _, _ = page_setup
    positions = motion.joint_positions()
    for t in (0.0, 0.51, 1.234, motion.duration - 0.01):
        page.evaluate(f"dancegenViewer.seek({t})")
        frame = int(np.floor(t * motion.fps + 1e-6))
        assert page.evaluate("dancegenViewer.shownFrame()") == frame
        shown = drawn(page.evaluate("dancegenViewer.shownPose()"))
        assert set(SMPL[j] for j in range(len(SMPL)) if j not in shown) == {"spine1"}
        for joint, point in shown.items():
            np.testing.assert_allclose(point, positions[frame, joint], atol=1e-5, err_msg=SMPL[joint])
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


def test_playback_stops_at_the_end_unless_looping(page_setup):
    page, motion, _, _ = page_setup
    assert not page.evaluate("dancegenViewer.loop()")
    page.evaluate(f"dancegenViewer.seek({motion.duration - 0.1}); dancegenViewer.play()")
    page.wait_for_function("!dancegenViewer.isPlaying()", timeout=5_000)
    assert page.evaluate("dancegenViewer.currentTime()") == pytest.approx(motion.duration)
    assert page.evaluate("dancegenViewer.shownFrame()") == motion.num_frames - 1
    page.click("#loop")  # now it starts again from the top
    try:
        assert page.evaluate("dancegenViewer.loop()") and page.get_attribute("#loop", "aria-pressed") == "true"
        page.evaluate(f"dancegenViewer.seek({motion.duration - 0.1}); dancegenViewer.play()")
        page.wait_for_function("dancegenViewer.currentTime() < 1", timeout=5_000)
        assert page.evaluate("dancegenViewer.isPlaying()")
    finally:
        page.evaluate("dancegenViewer.pause()")
        page.click("#loop")
    assert not page.evaluate("dancegenViewer.loop()")


def colour_pixels(png: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the left side's blue and the right side's orange in a screenshot."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (b > r + 70) & (b > 150), (r > b + 90) & (r > 170) & (g > 70)


def test_the_body_is_drawn_with_left_and_right_colours(open_viewer, tmp_path):
    still = Motion(smpl24(), 30.0, np.tile([0.0, 0.0, 0.0, 1.0], (10, 24, 1)), np.tile([0.0, 0.9, 0.0], (10, 1)))
    viewer = open_viewer(write_page(still, tmp_path / "still.html"))  # SMPL's rest pose: arms out, facing +z
    blue, orange = colour_pixels(viewer.page.locator("#stage").screenshot())
    assert blue.sum() > 400 and orange.sum() > 400  # limbs with thickness, not hairlines
    # Facing the camera, the dancer's left (blue) is on the viewer's right.
    assert np.nonzero(blue)[1].mean() > np.nonzero(orange)[1].mean() + 40
    assert viewer.problems == []


def test_the_camera_faces_the_dancer(page_setup):
    page, motion, _, _ = page_setup
    left, right = SMPL.index("left_shoulder"), SMPL.index("right_shoulder")
    times = np.linspace(0, motion.duration - 0.05, 12)
    facing = 0
    for t in times:
        page.evaluate(f"dancegenViewer.seek({t})")
        facing += page.evaluate(f"dancegenViewer.screenPoint(0, {left})[0] > dancegenViewer.screenPoint(0, {right})[0]")
    assert facing >= 0.8 * len(times)


def test_a_dancer_facing_sideways_is_filmed_from_the_front(open_viewer, tmp_path):
    rotations = np.tile([0.0, 0.0, 0.0, 1.0], (10, 24, 1))
    rotations[:, 0] = axis_angle_to_quat(torch.tensor([[0.0, np.pi / 2, 0.0]] * 10, dtype=torch.float64)).numpy()
    turned = Motion(smpl24(), 30.0, rotations, np.tile([0.0, 0.9, 0.0], (10, 1)))  # faces +x
    viewer = open_viewer(write_page(turned, tmp_path / "turned.html"))
    offset = viewer.js("dancegenViewer.cameraOffset()")
    assert offset[0] > 0.9 * np.hypot(offset[0], offset[2])  # the camera stands on +x
    assert viewer.js(f"dancegenViewer.screenPoint(0, {SMPL.index('left_hip')})[0]") > \
        viewer.js(f"dancegenViewer.screenPoint(0, {SMPL.index('right_hip')})[0]")
    assert viewer.problems == []


def test_plays_on_its_own_clock_without_music(open_viewer, tmp_path):
    viewer = open_viewer(write_page(make_dance(frames=90, fps=30.0), tmp_path / "silent.html"))
    page = viewer.page
    page.keyboard.press("Space")  # the keyboard shortcut for play
    assert page.evaluate("dancegenViewer.isPlaying()")
    # Without music the clock is performance.now() times the speed, exactly.
    assert speed_ratio(page) == pytest.approx(1.0, abs=0.02)
    page.select_option("#speed", "2")
    assert speed_ratio(page) == pytest.approx(2.0, abs=0.04)
    assert viewer.problems == []


def test_autoplay_plays_and_loops_without_a_click(open_viewer, tmp_path):
    """What a script or a kiosk gets: `?autoplay` plays at once and goes round and round; the
    music cannot start without a click, so the dance goes on silently."""
    song = tmp_path / "song.wav"
    write_click_track(song, seconds=1.0)
    motion = make_dance(frames=24, fps=24.0)  # one second
    viewer = open_viewer(write_page(motion, tmp_path / "auto.html", music=song), "?autoplay")
    assert viewer.js("dancegenViewer.isPlaying() && dancegenViewer.loop()")
    # Sample the clock for 1.6 s: it moves on, wraps round at the end, and keeps playing.
    times = viewer.js("""() => new Promise(done => {
        const times = [], timer = setInterval(() => times.push(dancegenViewer.currentTime()), 50);
        setTimeout(() => { clearInterval(timer); done(times); }, 1600);
    })""")
    assert max(times) > 0.5 and any(b < a - 0.5 for a, b in zip(times, times[1:]))
    assert viewer.js("dancegenViewer.isPlaying()")
    assert viewer.problems == []


def test_query_picks_the_start_and_no_loop(open_viewer, tmp_path):
    motion = make_dance(frames=30, fps=30.0)
    viewer = open_viewer(write_page(motion, tmp_path / "q.html"), "?autoplay&loop=0&t=0.6&speed=2")
    assert not viewer.js("dancegenViewer.loop()") and viewer.page.input_value("#speed") == "2"
    viewer.page.wait_for_function("!dancegenViewer.isPlaying()", timeout=5_000)  # 0.4 s at 2x, then stops
    assert viewer.js("dancegenViewer.currentTime()") == pytest.approx(motion.duration)


def test_download_buttons_save_the_bvh_and_a_picture(page_setup, tmp_path):
    page, motion, _, problems = page_setup
    expected = tmp_path / "expected.bvh"
    write_bvh(motion, expected)
    page.click("#downloads summary")
    with page.expect_download() as info:
        page.click('#downloads button[data-file="synthetic.bvh"]')
    assert info.value.suggested_filename == "synthetic.bvh"
    assert Path(info.value.path()).read_bytes() == expected.read_bytes()
    page.click("#downloads summary")
    with page.expect_download() as info:
        page.click('#downloads button[data-file="png"]')
    assert info.value.suggested_filename.endswith(".png")
    assert Path(info.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert problems == []
