import json
import shutil
import subprocess

import numpy as np
import pytest

from export_helpers import make_dance, write_click_track
from dancegen.errors import ArgumentError, InputFileError
from dancegen.export.video import VideoConfig, render_frames, render_video
from dancegen.viewer.page import PromptSpan

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                reason="ffmpeg/ffprobe not installed (apt-get install ffmpeg)")

TINY = VideoConfig(width=96, height=64, supersample=1, preset="ultrafast")


def probe(path):
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type,width,height",
                           "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def decoded_frames(path, width, height):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width)


def test_video_has_the_dance_duration_music_and_moving_frames(tmp_path):
    motion = make_dance(frames=36, fps=24.0)  # 1.5 s
    song = tmp_path / "clicks.wav"
    beats = write_click_track(song, seconds=3.0)
    out = render_video(motion, tmp_path / "dance.mp4", music=song, music_start=0.5, beats=beats, config=TINY,
                       annotation=[PromptSpan(0.0, 1.0, "step")])
    info = probe(out)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (96, 64)
    assert float(info["format"]["duration"]) == pytest.approx(motion.duration, abs=0.05)
    frames = decoded_frames(out, 96, 64)
    assert len(frames) == motion.num_frames
    assert frames.std(axis=(1, 2)).min() > 5  # never blank
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 1  # the figure moved
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".mp4"] == ["dance.mp4"]


def test_frames_are_deterministic_and_show_the_figure():
    motion = make_dance(frames=3)
    first = list(render_frames(motion, TINY))
    again = list(render_frames(motion, TINY))
    assert len(first) == 3 and first[0].shape == (64, 96, 3) and first[0].dtype == np.uint8
    np.testing.assert_array_equal(np.stack(first), np.stack(again))
    # The bone colours (orange/blue) are present: the figure is drawn, not only the grid.
    orange = (first[0][..., 0] > 180) & (first[0][..., 2] < 140)
    blue = (first[0][..., 2] > 200) & (first[0][..., 0] < 150)
    assert orange.sum() > 5 and blue.sum() > 5


def test_video_fps_resamples(tmp_path):
    motion = make_dance(frames=24, fps=24.0)
    out = render_video(motion, tmp_path / "slow.mp4", config=TINY.model_copy(update={"fps": 12.0}))
    assert len(decoded_frames(out, 96, 64)) == 12
    assert float(probe(out)["format"]["duration"]) == pytest.approx(1.0, abs=0.05)


def test_unreadable_music_is_one_line_and_leaves_no_file(tmp_path):
    song = tmp_path / "song.wav"
    song.write_bytes(b"this is not audio")
    with pytest.raises(InputFileError, match="ffmpeg cannot read it") as error:
        render_video(make_dance(frames=6), tmp_path / "out.mp4", music=song, config=TINY)
    assert "\n" not in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]


def test_bad_settings():
    with pytest.raises(ValueError, match="must be even"):
        VideoConfig(width=101, height=64)
    with pytest.raises(ArgumentError, match=r"\.mp4"):
        render_video(make_dance(frames=2), "out.avi", config=TINY)
