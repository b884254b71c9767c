"""Several dances on one song in one page, in headless Chromium: N labelled figures, each drawing
its own dance at its own frame rate, side by side or overlaid, each one's downloads."""

import numpy as np
import pytest
from export_helpers import make_dance, write_click_track
from viewer_helpers import ViewerPage

from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan
from dancegen.export.gltf import motion_to_glb
from dancegen.export.viewer_page import write_viewer_page

LABELS = ["alpha", "beta", "gamma"]


def shifted(motion, offset):
    return motion.copy(root_translation=motion.root_translation + np.asarray(offset))


@pytest.fixture(scope="module")
def compared(tmp_path_factory, browser_context, viewer_bundle):
    folder = tmp_path_factory.mktemp("compare")
    song = folder / "song.wav"
    beats = write_click_track(song, seconds=2.0)
    motions = [
        make_dance(frames=90, fps=30.0, seed=7),
        shifted(make_dance(frames=48, fps=24.0, seed=3), [3.0, 0.0, -2.0]),  # elsewhere, shorter, 24 fps
        make_dance(frames=60, fps=30.0, seed=5),
    ]
    motions[0].metadata["annotation"] = Annotation(GlobalStyle("popping"), (LocalSpan(0.2, 0.9, ("wave",)),)).to_dict()
    path = write_viewer_page(motions, folder / "compare.html", labels=LABELS, music=song, beats=beats)
    viewer = ViewerPage(browser_context, path)
    yield viewer, motions
    viewer.close()


def test_shows_one_labelled_figure_per_dance(compared):
    viewer, motions = compared
    page = viewer.page
    assert viewer.js("dancegenViewer.dances") == 3 and viewer.js("dancegenViewer.figuresShown()") == 3
    assert viewer.js("dancegenViewer.labels()") == LABELS
    assert page.locator("#labels .label").all_inner_texts() == LABELS
    assert page.locator("#legend .dancer").count() == 3 and "popping" in page.inner_text("#legend")
    assert page.inner_text("#title") == "alpha vs beta vs gamma"
    assert viewer.js("dancegenViewer.duration") == pytest.approx(max(m.duration for m in motions))
    assert viewer.problems == []


def test_each_figure_draws_its_own_dance(compared):
    viewer, motions = compared
    for t in (0.0, 0.77, 1.9, 2.9):  # past the second dance's end (2 s): it holds its last pose
        viewer.js(f"dancegenViewer.seek({t})")
        for i, motion in enumerate(motions):
            frame = min(int(np.floor(t * motion.fps + 1e-6)), motion.num_frames - 1)
            assert viewer.js(f"dancegenViewer.shownFrame({i})") == frame
            shown = viewer.js(f"dancegenViewer.shownPose({i})")
            expected = motion.joint_positions()[frame]
            for joint, point in enumerate(shown):
                if point is not None:
                    np.testing.assert_allclose(point, expected[joint], atol=1e-5)


def test_side_by_side_then_overlaid(compared):
    viewer, _ = compared
    page = viewer.page
    viewer.js("dancegenViewer.seek(0.5)")
    assert viewer.js("dancegenViewer.layout()") == "side" and page.inner_text("#layout") == "side by side"
    xs = [viewer.js(f"dancegenViewer.screenPoint({i}, 0)[0]") for i in range(3)]
    assert xs[0] + 60 < xs[1] < xs[2] - 60  # left to right in the legend's order, apart
    places = np.array([viewer.js(f"dancegenViewer.placement({i})") for i in range(3)])
    assert np.all(np.linalg.norm(np.diff(places, axis=0), axis=1) > 0.8)
    page.click("#layout")
    try:
        assert viewer.js("dancegenViewer.layout()") == "overlay" and page.inner_text("#layout") == "overlay"
        places = np.array([viewer.js(f"dancegenViewer.placement({i})") for i in range(3)])
        np.testing.assert_allclose(places, 0.0, atol=1e-9)  # every dance's floor centre on the same spot
        assert viewer.js("dancegenViewer.figuresShown()") == 3
    finally:
        page.click("#layout")
    assert viewer.js("dancegenViewer.layout()") == "side"
    assert viewer.problems == []


def test_the_legend_hides_and_shows_a_dance(compared):
    viewer, _ = compared
    page = viewer.page
    beta = page.locator("#legend .dancer").nth(1)
    beta.click()
    try:
        assert viewer.js("dancegenViewer.figuresShown()") == 2 and beta.get_attribute("aria-pressed") == "false"
        assert page.locator("#labels .label:visible").all_inner_texts() == ["alpha", "gamma"]
    finally:
        beta.click()
    assert viewer.js("dancegenViewer.figuresShown()") == 3


def test_timed_text_names_its_dance(compared):
    viewer, _ = compared
    viewer.js("dancegenViewer.seek(0.5)")
    assert viewer.page.inner_text("#prompt") == "alpha: wave"
    viewer.js("dancegenViewer.seek(1.0)")
    assert viewer.page.inner_text("#prompt") == ""


def test_every_dance_downloads_as_bvh_and_glb(compared):
    viewer, motions = compared
    buttons = viewer.page.locator("#downloads button").evaluate_all("bs => bs.map(b => b.dataset.file)")
    assert buttons == [f"{label}.{ext}" for label in LABELS for ext in ("bvh", "glb")] + ["png"]
    glb = bytes(viewer.js("dancegenViewer.downloadBytes('beta.glb')"))
    assert glb == motion_to_glb(motions[1])


def test_layout_from_the_page_and_the_query(open_viewer, tmp_path):
    motions = [make_dance(frames=30, fps=30.0, seed=s) for s in (1, 2)]
    path = write_viewer_page(motions, tmp_path / "two.html", layout="overlay", glb=False)
    assert open_viewer(path).js("dancegenViewer.layout()") == "overlay"
    viewer = open_viewer(path, "?layout=side")
    assert viewer.js("dancegenViewer.layout()") == "side" and viewer.js("dancegenViewer.labels()") == ["dance 1", "dance 2"]
    assert viewer.problems == []
