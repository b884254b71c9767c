import base64
import re

import numpy as np
import pytest
from export_helpers import make_dance, read_page_data, write_click_track

from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan
from dancegen.errors import ArgumentError, InputFileError, MissingResourceError
from dancegen.viewer import page as page_module
from dancegen.viewer.page import PromptSpan, prompt_texts, write_page


def test_page_embeds_motion_music_beats_and_prompt(dance, tmp_path, viewer_bundle):
    song = tmp_path / "song.wav"
    beats = write_click_track(song, seconds=2.0)
    annotation = Annotation(GlobalStyle("popping", "extrovert"), (LocalSpan(0.5, 1.5, ("wave", "pop")),))
    page = write_page(dance, tmp_path / "dance.html", music=song, music_start=0.25, beats=beats, annotation=annotation,
                      prompt="robot dance")
    data = read_page_data(page)
    np.testing.assert_allclose(data["positions"], dance.joint_positions(), atol=1e-6)
    assert data["parents"] == list(dance.skeleton.parents) and data["fps"] == dance.fps
    assert data["beats"] == pytest.approx(beats)
    assert data["style"] == "robot dance · popping, extrovert"
    assert data["spans"] == [{"start": 0.5, "end": 1.5, "text": "wave, pop"}]
    assert data["music"]["start"] == 0.25
    header, payload = data["music"]["src"].split(",", 1)
    assert header == "data:audio/wav;base64" and base64.b64decode(payload) == song.read_bytes()


def test_page_is_self_contained(dance, tmp_path, viewer_bundle):
    html = write_page(dance, tmp_path / "dance.html").read_text(encoding="utf-8")
    # Nothing is fetched: no external scripts, styles, modules or CDN addresses (outside the
    # data block, whose base64 may spell anything).
    code = re.sub(r'(<script type="application/json" id="dancegen-data">).*?(</script>)', r"\1\2", html, flags=re.S)
    assert not re.search(r'<(script|link|img)[^>]+(src|href)=', code)
    assert "cdn" not in code.lower() and 'from"http' not in code.replace(" ", "")
    assert html.count("<script") == 2 and "WebGLRenderer" in html


def test_text_cannot_break_out_of_the_data_block(dance, tmp_path, viewer_bundle):
    page = write_page(dance, tmp_path / "p.html", prompt="</script><script>alert(1)</script>")
    assert "<script>alert" not in page.read_text(encoding="utf-8")
    assert read_page_data(page)["style"] == "</script><script>alert(1)</script>"


def test_large_music_goes_beside_the_page(dance, tmp_path, viewer_bundle, monkeypatch):
    song = tmp_path / "big.wav"
    write_click_track(song, seconds=1.0)
    monkeypatch.setattr(page_module, "MAX_EMBEDDED_MUSIC_BYTES", 100)
    page = write_page(dance, tmp_path / "out" / "dance.html", music=song)
    assert read_page_data(page)["music"]["src"] == "dance.music.wav"
    assert (tmp_path / "out" / "dance.music.wav").read_bytes() == song.read_bytes()


def test_prompt_texts_from_spans_and_prompt():
    style, spans = prompt_texts([PromptSpan(0, 1, "a")], "b")
    assert style == "b" and spans == [PromptSpan(0, 1, "a")]
    assert prompt_texts() == ("", [])


def test_user_errors(dance, tmp_path, viewer_bundle, monkeypatch):
    with pytest.raises(InputFileError, match="music file not found"):
        write_page(dance, tmp_path / "a.html", music=tmp_path / "none.mp3")
    (tmp_path / "song.mid").write_bytes(b"MThd")
    with pytest.raises(InputFileError, match="browsers cannot play .mid"):
        write_page(dance, tmp_path / "a.html", music=tmp_path / "song.mid")
    with pytest.raises(ArgumentError, match=r"\.html"):
        write_page(dance, tmp_path / "a.txt")
    monkeypatch.setattr(page_module, "BUNDLE_PATH", tmp_path / "missing" / "viewer.js")
    with pytest.raises(MissingResourceError, match="npm ci --prefix dancegen/viewer"):
        write_page(dance, tmp_path / "a.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]


def test_the_camera_faces_the_dancers_front():
    """A dancer turned to face +x is filmed from +x (the page and the video agree)."""
    import numpy as np
    import torch

    from dancegen.export.video import VideoConfig, _cameras
    from dancegen.motion.facing import front_direction
    from dancegen.motion.motion import Motion
    from dancegen.skeleton import smpl24
    from dancegen.skeleton.rotations import axis_angle_to_quat
    from dancegen.viewer.page import page_data

    rotations = np.tile([0.0, 0.0, 0.0, 1.0], (10, 24, 1))
    rotations[:, 0] = axis_angle_to_quat(torch.tensor([[0.0, np.pi / 2, 0.0]] * 10, dtype=torch.float64)).numpy()
    turned = Motion(smpl24(), 30.0, rotations, np.tile([0.0, 0.9, 0.0], (10, 1)))
    np.testing.assert_allclose(front_direction(turned), [1.0, 0.0], atol=0.05)
    np.testing.assert_allclose(page_data(turned)["dances"][0]["front"], [1.0, 0.0], atol=0.05)
    camera = _cameras(turned.joint_positions(), 30.0, VideoConfig(azimuth_degrees=0.0), 1, front_direction(turned))[0][0]
    offset = camera.eye - camera.target
    assert offset[0] > 0.9 * np.linalg.norm(offset[[0, 2]])  # in front of the dancer, on +x
    still = Motion(smpl24(), 30.0, np.tile([0.0, 0.0, 0.0, 1.0], (10, 24, 1)), np.tile([0.0, 0.9, 0.0], (10, 1)))
    np.testing.assert_allclose(front_direction(still), [0.0, 1.0], atol=0.05)  # SMPL's rest pose faces +z


# --- several dances, labels and downloads ----------------------------------------------------


def test_several_dances_each_keep_their_own_data(tmp_path, viewer_bundle):
    from dancegen.viewer.page import Dance

    first, second = make_dance(frames=30, fps=30.0, seed=1), make_dance(frames=20, fps=24.0, seed=2)
    own = Dance(second, "mine", prompt="slow", files={".npz": b"PK-bytes"})
    page = write_page([first, own], tmp_path / "two.html", prompt="for all", layout="overlay")
    data = read_page_data(page)
    assert data["version"] == 2 and data["layout"] == "overlay" and data["title"] == "dance 1 vs mine"
    one, two = data["dances"]
    assert (one["label"], one["style"]) == ("dance 1", "for all") and (two["label"], two["style"]) == ("mine", "slow")
    np.testing.assert_allclose(two["positions"], second.joint_positions(), atol=1e-6)
    assert two["fps"] == 24.0 and two["num_frames"] == 20
    assert [f["name"] for f in two["downloads"]] == ["mine.bvh", "mine.npz"]


def test_download_holds_the_bvh_gzipped(dance, tmp_path, viewer_bundle):
    import gzip

    from dancegen.motion.bvh import write_bvh

    write_bvh(dance, tmp_path / "expected.bvh")
    (file,) = read_page_data(write_page(dance, tmp_path / "take.html", labels=["my take!"]))["downloads"]
    assert file["name"] == "my_take.bvh" and file["type"] == "text/plain"
    assert gzip.decompress(base64.b64decode(file["gzip"])) == (tmp_path / "expected.bvh").read_bytes()
    assert read_page_data(write_page(dance, tmp_path / "none.html", bvh=False))["downloads"] == []


def test_labels_default_and_stay_unique(viewer_bundle):
    from dancegen.viewer.page import as_dances

    named = make_dance(frames=4)  # metadata name "synthetic"
    assert [d.label for d in as_dances(named, default_label="page")] == ["synthetic"]
    assert [d.label for d in as_dances(named.copy(metadata={}), default_label="page")] == ["page"]
    assert [d.label for d in as_dances([named, named])] == ["dance 1", "dance 2"]
    assert [d.label for d in as_dances([named, named], labels=["x", "x"])] == ["x", "x (2)"]


def test_page_argument_errors(dance, tmp_path, viewer_bundle):
    from dancegen.viewer.page import MAX_DANCES

    with pytest.raises(ArgumentError, match="unknown layout 'grid'"):
        write_page(dance, tmp_path / "a.html", layout="grid")
    with pytest.raises(ArgumentError, match="2 labels for 1 dances"):
        write_page(dance, tmp_path / "a.html", labels=["a", "b"])
    with pytest.raises(ArgumentError, match="no dance to show"):
        write_page([], tmp_path / "a.html")
    with pytest.raises(ArgumentError, match="too many"):
        write_page([dance] * (MAX_DANCES + 1), tmp_path / "a.html")
    assert list(tmp_path.iterdir()) == []


def test_export_page_adds_metadata_texts_beats_and_glb(tmp_path, viewer_bundle):
    import gzip

    from dancegen.export import export_motion
    from dancegen.export.gltf import motion_to_glb
    from dancegen.export.viewer_page import write_viewer_page

    tagged = make_dance(frames=30, fps=30.0)
    tagged.metadata["annotation"] = Annotation(GlobalStyle("krump"), (LocalSpan(0.0, 0.5, ("stomp",)),)).to_dict()
    plain = make_dance(frames=30, fps=30.0, seed=9)
    song = tmp_path / "song.wav"
    beats = write_click_track(song, seconds=1.0)
    data = read_page_data(write_viewer_page([tagged, plain], tmp_path / "c.html", labels=["a", "b"], music=song))
    assert data["beats"][:2] == pytest.approx(beats, abs=0.05)  # detected in the song
    a, b = data["dances"]
    assert a["style"] == "krump" and a["spans"] == [{"start": 0.0, "end": 0.5, "text": "stomp"}]
    assert b["style"] == "" and b["spans"] == []
    assert [f["name"] for f in b["downloads"]] == ["b.bvh", "b.glb"]
    assert gzip.decompress(base64.b64decode(b["downloads"][1]["gzip"])) == motion_to_glb(plain)
    # `export_motion` writes its page the same way.
    page = export_motion(tagged, tmp_path / "one.html")[0]
    assert [f["name"] for f in read_page_data(page)["downloads"]] == ["synthetic.bvh", "synthetic.glb"]
    with pytest.raises(InputFileError, match="no such file"):
        write_viewer_page(plain, tmp_path / "x.html", music=tmp_path / "none.wav")
