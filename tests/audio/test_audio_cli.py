"""`dancegen audio beats` and `dancegen audio features` through the real CLI entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from dancegen.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as done:
        code = done.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_beats_json_reports_tempo_beats_and_downbeats(capsys, groove_wav, groove):
    code, out, _ = run(capsys, "audio", "beats", str(groove_wav), "--json")
    report = json.loads(out)
    assert code == 0 and report["bpm"] == pytest.approx(120, rel=0.01)
    truth = groove[1]
    beats = np.array(report["beats_s"])
    assert np.abs(beats[:, None] - truth[None, :]).min(axis=0).max() < 0.02
    np.testing.assert_allclose(report["downbeats_s"], truth[::4], atol=0.02)

    code, out, _ = run(capsys, "audio", "beats", str(groove_wav))
    assert code == 0 and out.startswith("bpm: 1") and "downbeats (" in out


def test_beats_sums_stems_and_reports_silence(capsys, tmp_path, groove_wav):
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.zeros(22050 * 2), 22050)
    code, out, err = run(capsys, "audio", "beats", str(silent))
    assert code == 0 and "no beats found (the audio is silent)" in err
    code, out, _ = run(capsys, "audio", "beats", str(silent), "--stem", str(groove_wav), "--json")
    assert code == 0 and json.loads(out)["bpm"] == pytest.approx(120, rel=0.01)


def test_features_writes_frames_by_dims(capsys, tmp_path, groove_wav):
    out_file = tmp_path / "out" / "feats.npy"
    code, out, _ = run(capsys, "audio", "features", str(groove_wav), "--kind", "baseline35", "--fps", "30", "-o", str(out_file), "--end", "4")
    assert code == 0 and "120 frames x 35 baseline35" in out
    values = np.load(out_file, allow_pickle=False)
    assert values.shape == (120, 35) and values.dtype == np.float32
    assert [p.name for p in out_file.parent.iterdir()] == ["feats.npy"]


@pytest.mark.parametrize(
    "argv, words",
    [
        (["audio", "beats", "missing.wav"], "audio file not found"),
        (["audio", "features", "{wav}", "--kind", "mfcc99", "-o", "{tmp}/x.npy"], "unknown feature kind"),
        (["audio", "features", "{wav}", "--fps", "0", "-o", "{tmp}/x.npy"], "fps"),
        (["audio", "features", "{wav}", "-o", "{tmp}/x.txt"], "must end in .npy"),
        (["audio", "beats", "{wav}", "--start", "99"], "past the end"),
    ],
)
def test_user_errors_exit_2_with_one_line(capsys, tmp_path, groove_wav, argv, words):
    argv = [a.format(wav=groove_wav, tmp=tmp_path) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2 and words in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.npy").exists()
