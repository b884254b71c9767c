import numpy as np
import pytest
from export_helpers import make_dance, read_page_data, write_click_track

from dancegen.errors import ArgumentError, InputFileError
from dancegen.export import export_motion, formats_for, resolve_beats
from dancegen.export.smpl_params import write_smpl_npz
from dancegen.motion.io import load_motion
from dancegen.skeleton.tree import Skeleton

# BVH stores Euler angles in degrees with 6 decimals: positions come back to well under 0.1 mm.
BVH_ATOL_M = 1e-4
PAIR = Skeleton("pair", ("hips", "head"), (-1, 0), np.array([[0, 0, 0], [0, 0.6, 0]]))  # not SMPL


def assert_same_dance(loaded, motion, atol=1e-5):
    assert loaded.num_frames == motion.num_frames and loaded.fps == pytest.approx(motion.fps)
    np.testing.assert_allclose(loaded.joint_positions(), motion.joint_positions(), atol=atol)


@pytest.mark.parametrize("ext", [".glb", ".npz", ".bvh", ".pkl"])
def test_one_file_by_extension_reimports(dance, tmp_path, ext):
    written = export_motion(dance, tmp_path / f"out{ext}")
    assert written == [tmp_path / f"out{ext}"]
    # AIST++ files have no frame rate and play at 60 fps: the 24 fps dance is resampled to it.
    expected = dance.resample(60.0) if ext == ".pkl" else dance
    assert_same_dance(load_motion(written[0]), expected, atol=BVH_ATOL_M if ext == ".bvh" else 1e-5)


def test_page_by_extension_holds_the_dance(dance, tmp_path, viewer_bundle):
    export_motion(dance, tmp_path / "dance.html", beats=[0.5, 1.0], prompt="a slow waltz")
    data = read_page_data(tmp_path / "dance.html")
    np.testing.assert_allclose(data["positions"], dance.joint_positions(), atol=1e-6)
    assert data["beats"] == [0.5, 1.0] and data["style"] == "a slow waltz" and data["music"] is None


def test_directory_gets_every_format(dance, hands_dance, tmp_path, viewer_bundle):
    for motion, expected in ((dance, {".bvh", ".npz", ".pkl", ".glb", ".html"}),
                             (hands_dance, {".bvh", ".npz", ".pkl", ".npy", ".glb", ".html"})):
        out = tmp_path / motion.skeleton.name
        written = export_motion(motion, out, beats=[], name="take")
        assert {p.suffix for p in written} == expected and all(p.parent == out and p.stem == "take" for p in written)
        assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
        for path in written:
            if path.suffix == ".html":
                np.testing.assert_allclose(read_page_data(path)["positions"], motion.joint_positions(), atol=1e-6)
            elif path.suffix == ".pkl" and motion is hands_dance:
                # AIST++ is SMPL-24, another template: the 22 shared body joints keep their rotations
                # (at AIST++'s 60 fps, so every other frame is one of the 30 fps dance's).
                loaded = load_motion(path)
                assert loaded.fps == 60.0 and loaded.duration == pytest.approx(motion.duration)
                np.testing.assert_allclose(loaded.rotation_matrices()[::2, :22], motion.rotation_matrices()[:, :22], atol=1e-9)
                np.testing.assert_allclose(loaded.root_translation[::2], motion.root_translation, atol=1e-9)
            elif path.suffix == ".pkl":
                assert_same_dance(load_motion(path), motion.resample(60.0))
            else:
                assert_same_dance(load_motion(path, fps=motion.fps), motion,
                                  atol=BVH_ATOL_M if path.suffix == ".bvh" else 1e-5)


def test_formats_follow_the_skeleton(dance, hands_dance):
    assert formats_for(dance) == (".bvh", ".npz", ".pkl", ".glb", ".html")
    assert ".npy" in formats_for(hands_dance)
    assert formats_for(make_dance(PAIR, frames=4)) == (".bvh", ".npz", ".glb", ".html")


def test_chosen_formats_into_a_directory(dance, tmp_path):
    written = export_motion(dance, tmp_path / "few", formats=["glb", ".NPZ"])
    assert [p.name for p in written] == ["synthetic.glb", "synthetic.npz"]


@pytest.mark.parametrize("call, error, words", [
    (lambda m, d: export_motion(m, d / "x.gif"), ArgumentError, "unknown output extension"),
    (lambda m, d: export_motion(m, d / "x.glb", formats=["bvh"]), ArgumentError, "does not match"),
    (lambda m, d: export_motion(m, d / "all", formats=["gif"]), ArgumentError, "unknown format"),
    (lambda m, d: export_motion(m, d / "all", music=d / "missing.wav"), InputFileError, "no such file"),
    (lambda m, d: export_motion(m, d / "all", music_start=-1.0), ArgumentError, "music-start"),
    (lambda m, d: export_motion(m.copy(rotations=m.rotations * np.nan), d / "x.glb"), ArgumentError, "NaN"),
    (lambda m, d: export_motion(make_dance(PAIR, frames=3), d / "all", formats=["glb", "pkl"]), ArgumentError,
     "SMPL-family"),
])
def test_bad_arguments_write_nothing(dance, tmp_path, call, error, words):
    with pytest.raises(error, match=words) as raised:
        call(dance, tmp_path)
    assert "\n" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_plain_smpl_parameter_files_load(dance, tmp_path):
    full = write_smpl_npz(dance, tmp_path / "full.npz")
    with np.load(full, allow_pickle=False) as data:
        np.savez(tmp_path / "plain.npz", **{k: data[k] for k in ("poses", "trans", "betas", "mocap_framerate")})
    assert_same_dance(load_motion(tmp_path / "plain.npz"), dance)


def test_beats_given_or_from_a_file(tmp_path):
    np.testing.assert_array_equal(resolve_beats(None, [0.5, 1.0]), [0.5, 1.0])
    assert resolve_beats(None, None).shape == (0,)


def test_beats_detected_in_music(tmp_path):
    pytest.importorskip("dancegen.audio.beats", reason="dancegen.audio is not available yet")
    song = tmp_path / "clicks.wav"
    truth = write_click_track(song, seconds=6.0, bpm=120.0)
    detected = resolve_beats(song)
    # Most clicks have a detected beat within 70 ms (mir_eval's usual window).
    error = np.min(np.abs(np.array(truth)[:, None] - detected[None]), axis=1)
    assert (error < 0.07).mean() >= 0.8, detected


def test_bvh_retargeted_onto_a_character_rig(dance, tmp_path):
    from dancegen.motion.bvh import write_bvh
    from dancegen.skeleton.smpl import smpl24

    # The user's character: a taller SMPL-named rig standing in its rest pose.
    character = make_dance(smpl24().scaled(1.2), frames=2)
    character.rotations[:] = [0.0, 0.0, 0.0, 1.0]
    write_bvh(character, tmp_path / "character.bvh")
    written = export_motion(dance, tmp_path / "on_character.bvh", rig=tmp_path / "character.bvh")
    loaded = load_motion(written[0], fps=dance.fps)
    np.testing.assert_allclose(loaded.skeleton.offsets, character.skeleton.offsets, atol=1e-5)
    # Same dance on the bigger body: every joint relative to the pelvis, scaled by 1.2.
    shown, source = loaded.joint_positions(), dance.joint_positions()
    np.testing.assert_allclose(shown - shown[:, :1], 1.2 * (source - source[:, :1]), atol=BVH_ATOL_M)


def test_missing_viewer_build_stops_a_directory_export_before_any_file(dance, tmp_path, monkeypatch):
    from dancegen.errors import MissingResourceError
    from dancegen.viewer import page

    monkeypatch.setattr(page, "BUNDLE_PATH", tmp_path / "nowhere.js")
    with pytest.raises(MissingResourceError, match="npm ci --prefix dancegen/viewer"):
        export_motion(dance, tmp_path / "all")
    assert not (tmp_path / "all").exists()


def test_page_text_comes_from_the_motion_metadata(dance, tmp_path, viewer_bundle):
    from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan

    annotation = Annotation(GlobalStyle("krump"), (LocalSpan(0.0, 0.5, ("stomp",)),))
    tagged = dance.copy(metadata={"prompt": "angry", "annotation": annotation.to_dict()})
    data = read_page_data(export_motion(tagged, tmp_path / "tagged.html")[0])
    assert data["style"] == "angry · krump" and data["spans"] == [{"start": 0.0, "end": 0.5, "text": "stomp"}]
