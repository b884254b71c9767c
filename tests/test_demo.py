"""`make demo` end to end on a short track: four files that open again and agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from dancegen import demo

SECONDS = 4.0
BPM = 120.0


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("demo") / "demo"
    code = demo.main(["--out", str(out), "--seconds", str(SECONDS), "--bpm", str(BPM), "--steps", "2", "--json"])
    return out, code


def test_demo_writes_the_track_and_four_files(demo_run, capsys):
    out, code = demo_run
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["dance.bvh", "dance.glb", "dance.html", "dance.npz", "demo_track.wav"]


def test_the_files_reimport_and_match(demo_run):
    from dancegen.motion.glb import load_glb
    from dancegen.motion.io import load_motion

    out, _ = demo_run
    frames = int(SECONDS * 30)
    npz = load_motion(out / "dance.npz")
    bvh = load_motion(out / "dance.bvh")
    glb = load_glb(out / "dance.glb")
    assert npz.num_joints == 24 and npz.num_frames == frames and npz.fps == 30
    reference = npz.joint_positions()
    assert np.isfinite(reference).all()
    for other in (bvh, glb):
        assert other.num_frames == frames
        np.testing.assert_allclose(other.joint_positions(), reference, atol=1e-3)
    assert npz.metadata["prompt"] == demo.DEFAULT_PROMPT and npz.metadata["seed"] == demo.DEFAULT_SEED


def test_the_page_plays_the_demo_track(demo_run):
    out, _ = demo_run
    page = (out / "dance.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="dancegen-data">(.*?)</script>', page, re.S)[1])
    assert data["dances"][0]["num_frames"] == int(SECONDS * 30)
    assert "audio/wav;base64" in page or "audio/x-wav;base64" in page  # the track travels inside the page
    beats = np.asarray(data.get("beats") or data.get("beat_times"), dtype=float)
    assert len(beats) >= 4 and np.allclose(np.diff(beats), 60 / BPM, atol=0.06)  # detected on the 120 BPM groove


def test_report_says_where_and_how_to_open(tmp_path):
    outputs = [str(tmp_path / f"dance{ext}") for ext in demo.FORMATS]
    text = demo.report({"seconds": 4.0, "bpm": 120.0, "prompt": "p", "genre": "salsa", "seed": 0, "wall_seconds": 9,
                        "track": str(tmp_path / "demo_track.wav"), "outputs": outputs})
    for output in outputs:
        assert str(Path(output).resolve()) in text
    assert "web browser" in text and "Blender" in text and "120 BPM" in text


def test_missing_model_is_one_line(tmp_path, capsys):
    code = demo.main(["--out", str(tmp_path / "o"), "--seconds", "2", "--model", str(tmp_path / "none.pt")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "model file not found" in err[0]
    assert not (tmp_path / "o" / "dance.bvh").exists()
