import json

import numpy as np
import pytest
from export_helpers import read_page_data

from dancegen.cli import main
from dancegen.data.annotations import (
    Annotation,
    GlobalStyle,
    LocalSpan,
    write_annotation,
)
from dancegen.export.gltf import write_glb


def run(argv, capsys):
    """(exit status, stdout, stderr); `main(argv)` returns on success or raises SystemExit."""
    try:
        main(argv)
        code = 0
    except SystemExit as done:
        code = done.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_view_writes_the_page(dance, tmp_path, capsys, viewer_bundle):
    source = write_glb(dance, tmp_path / "take.glb")
    status, out, err = run(["view", str(source), "-o", str(tmp_path / "take.html"), "--no-open", "--json",
                            "--prompt", "slow", "--fps", "15"], capsys)
    assert status in (0, None) and err == ""
    result = json.loads(out)
    assert result["page"] == str(tmp_path / "take.html") and result["fps"] == 15.0
    data = read_page_data(tmp_path / "take.html")
    assert data["fps"] == 15.0 and data["style"] == "slow"
    np.testing.assert_allclose(data["positions"], dance.joint_positions(), atol=1e-5)


def test_view_default_output_is_in_the_current_folder(dance, tmp_path, capsys, viewer_bundle, monkeypatch):
    source = write_glb(dance, tmp_path / "in" / "take.glb")
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(["view", str(source), "--no-open"], capsys)
    assert status in (0, None) and out.strip() == f"wrote {tmp_path / 'take.html'}"


def test_view_missing_file_is_one_line(tmp_path, capsys):
    status, out, err = run(["view", str(tmp_path / "none.glb"), "--no-open"], capsys)
    assert status == 2 and out == ""
    assert err.strip() == f"dancegen: error: {tmp_path / 'none.glb'}: no such file"
    assert list(tmp_path.iterdir()) == []


def test_view_shows_the_annotation_file(dance, tmp_path, capsys, viewer_bundle):
    source = write_glb(dance, tmp_path / "take.glb")
    write_annotation(Annotation(GlobalStyle("locking"), (LocalSpan(0.2, 1.0, ("point", "lock")),)), tmp_path / "take.txt")
    status, _, err = run(["view", str(source), "--annotation", str(tmp_path / "take.txt"), "-o", str(tmp_path / "t.html"),
                          "--no-open", "--quiet"], capsys)
    assert status in (0, None) and err == ""
    data = read_page_data(tmp_path / "t.html")
    assert data["style"] == "locking" and data["spans"] == [{"start": 0.2, "end": 1.0, "text": "point, lock"}]


def test_view_compares_several_dances_on_one_song(tmp_path, capsys, viewer_bundle, monkeypatch):
    from export_helpers import make_dance, write_click_track

    first, second = tmp_path / "a" / "take.npz", tmp_path / "b" / "take.npz"
    for path, seed in ((first, 1), (second, 2)):
        path.parent.mkdir()
        make_dance(frames=30, fps=30.0, seed=seed).save_npz(path)
    song = tmp_path / "song.wav"
    write_click_track(song, seconds=1.0)
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["view", str(first), str(second), "--music", str(song), "--layout", "overlay",
                            "--no-open", "--json"], capsys)
    assert status == 0 and err == ""
    result = json.loads(out)
    page = tmp_path / "take-vs-take.html"
    assert result["page"] == str(page) and [d["label"] for d in result["dances"]] == ["a/take", "b/take"]
    data = read_page_data(page)
    assert data["layout"] == "overlay" and [d["label"] for d in data["dances"]] == ["a/take", "b/take"]
    assert data["music"] is not None and [f["name"] for f in data["dances"][1]["downloads"]] == ["b_take.bvh", "b_take.glb"]
    status, out, _ = run(["view", str(first), str(second), "--label", "one", "--label", "two", "-o", str(tmp_path / "x.html"),
                          "--no-open"], capsys)
    assert status == 0 and out.strip() == f"wrote {tmp_path / 'x.html'}"
    assert [d["label"] for d in read_page_data(tmp_path / "x.html")["dances"]] == ["one", "two"]


@pytest.mark.parametrize("extra, message", [
    (["--label", "only-one"], "--label: 1 labels for 2 files (give one --label per file)"),
    (["--layout", "grid"], "--layout: unknown layout 'grid' (use one of side, overlay)"),
])
def test_view_argument_errors_are_one_line(dance, tmp_path, capsys, extra, message):
    files = []
    for name in ("a", "b"):
        files.append(tmp_path / f"{name}.npz")
        dance.save_npz(files[-1])
    status, out, err = run(["view", *map(str, files), "--no-open", *extra], capsys)
    assert status == 2 and out == "" and err.strip() == f"dancegen: error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]
