import json
import shutil
import subprocess

import pytest

from export_helpers import write_click_track
from dancegen.cli import main
from dancegen.export.gltf import write_glb

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg not installed (apt-get install ffmpeg)")


def run(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


@needs_ffmpeg
def test_render_with_music_and_json(dance, tmp_path, capsys):
    pytest.importorskip("dancegen.audio.beats", reason="beat detection (dancegen.audio) is not available yet")
    source = write_glb(dance, tmp_path / "take.glb")
    song = tmp_path / "song.wav"
    write_click_track(song, seconds=3.0)
    out = tmp_path / "take.mp4"
    status, stdout, err = run(["render", str(source), "--music", str(song), "-o", str(out), "--size", "64x48",
                               "--json"], capsys)
    assert status in (0, None) and err == ""
    result = json.loads(stdout)
    assert result["video"] == str(out) and (result["width"], result["height"]) == (64, 48)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(out)],
                           capture_output=True, text=True, check=True)
    assert float(probe.stdout) == pytest.approx(dance.duration, abs=0.05)


@needs_ffmpeg
def test_render_quiet_without_music(dance, tmp_path, capsys):
    source = write_glb(dance, tmp_path / "take.glb")
    status, stdout, err = run(["render", str(source), "-o", str(tmp_path / "v.mp4"), "--size", "64x48",
                               "--video-fps", "12", "--quiet"], capsys)
    assert status in (0, None) and stdout == "" and err == ""
    assert (tmp_path / "v.mp4").stat().st_size > 0


@pytest.mark.parametrize("extra, message", [
    (["--size", "big"], "--size: 'big' is not WIDTHxHEIGHT"),
    (["--size", "65x48"], "must be even"),
    (["-o", "clip.gif"], "clip.gif: write a video (.mp4) or a contact sheet (.png)"),
])
def test_bad_render_arguments(dance, tmp_path, capsys, extra, message):
    source = write_glb(dance, tmp_path / "take.glb")
    status, _, err = run(["render", str(source), *extra], capsys)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.glb"]


def test_a_png_output_is_a_contact_sheet_of_spread_frames(dance, tmp_path, capsys):
    from PIL import Image

    source = write_glb(dance, tmp_path / "take.glb")
    status, out, err = run(["render", str(source), "-o", str(tmp_path / "sheet.png"), "--frames", "6"], capsys)
    assert status == 0 and err == "" and "6 frames" in out
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size == (4 * 480, 2 * 360)  # 6 tiles of the default 480x360 in rows of 4
    tiles = [sheet.crop((x * 480, 0, x * 480 + 480, 360)) for x in range(4)] + [sheet.crop((480, 360, 960, 720))]
    assert all(tile.getextrema() != ((0, 0), (0, 0), (0, 0)) for tile in tiles)  # every tile drawn
    assert tiles[0].tobytes() != tiles[3].tobytes()  # different moments of the dance
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png", "take.glb"]  # no temporary left
