import json

import numpy as np
import pytest

from export_helpers import read_page_data
from dancegen.cli import main
from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan, write_annotation
from dancegen.export.gltf import write_glb


def run(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


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
