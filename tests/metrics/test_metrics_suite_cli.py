"""The evaluation suite (`dancegen.metrics.evaluate`) and the `dancegen evaluate` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from metrics_synth import click_track, synthetic_dance, with_hands

from dancegen.cli import main
from dancegen.errors import ArgumentError, InputFileError
from dancegen.metrics import (
    EvaluationConfig,
    MotionClip,
    beat_align_score,
    evaluate,
    fid_and_diversity,
    format_markdown,
    kinetic_features,
    manual_features,
    pfc,
)
from dancegen.metrics.suite import METRIC_KEYS
from dancegen.motion.motion import Motion
from dancegen.skeleton.axes import y_up_to_z_up
from dancegen.skeleton.rotations import axis_angle_to_quat
from dancegen.skeleton.smpl import smpl24

BEATS = np.arange(0.25, 1.5, 0.5)


def clips(first_seed: int, count: int, frames: int = 90, fps: float = 60.0, beats=BEATS) -> list[MotionClip]:
    return [MotionClip(f"m{first_seed + i}", synthetic_dance(first_seed + i, frames, fps=fps), fps, beats) for i in range(count)]


def test_report_matches_the_metric_functions():
    generated, reference = clips(10, 4), clips(20, 5)
    report = evaluate(generated, reference)
    assert set(METRIC_KEYS) <= set(report) and {"reference", "per_file", "settings", "warnings"} <= set(report)

    def rel(c):
        return c.positions - c.positions[:1, :1]

    kinetic = fid_and_diversity([kinetic_features(rel(c)) for c in generated], [kinetic_features(rel(c)) for c in reference])
    geometric = fid_and_diversity([manual_features(rel(c)) for c in generated], [manual_features(rel(c)) for c in reference])
    assert report["fid_k"] == pytest.approx(kinetic["fid"]) and report["div_k"] == pytest.approx(kinetic["div"])
    assert report["fid_g"] == pytest.approx(geometric["fid"]) and report["div_g"] == pytest.approx(geometric["div"])
    assert report["reference"]["div_k"] == pytest.approx(kinetic["div_ref"])
    assert report["pfc"] == pytest.approx(np.mean([pfc(c.positions, 60.0) for c in generated]))
    assert report["bas"] == pytest.approx(np.mean([beat_align_score(c.positions, BEATS, 60.0) for c in generated]))
    assert report["reference"]["pfc"] == pytest.approx(np.mean([pfc(c.positions, 60.0) for c in reference]))
    assert sorted(report["per_file"]["generated"]) == ["m10", "m11", "m12", "m13"]
    assert report["settings"]["num_reference"] == 5 and report["settings"]["joints"] == 24
    json.dumps(report)  # JSON-ready: no numpy scalars, NaN turned into None
    table = format_markdown(report)
    assert table.splitlines()[0] == "| metric | generated | reference |"
    assert f"| BAS | {report['bas']:.4g} | {report['reference']['bas']:.4g} |" in table


def test_metric_selection_reference_bugs_and_cropping():
    generated, reference = clips(10, 3), clips(20, 3)
    report = evaluate(generated, reference, EvaluationConfig(metrics=["fid_k", "pfc"], reference_bugs=True, max_frames=60))
    assert {k for k in report if k in METRIC_KEYS} == {"fid_k", "pfc"}
    cropped = [c.positions[:60] - c.positions[:1, :1] for c in generated]
    cropped_ref = [c.positions[:60] - c.positions[:1, :1] for c in reference]
    expected = fid_and_diversity(
        [kinetic_features(p, reference_bugs=True) for p in cropped], [kinetic_features(p, reference_bugs=True) for p in cropped_ref]
    )
    assert report["fid_k"] == pytest.approx(expected["fid"])


@pytest.mark.parametrize("joints, hands", [(52, slice(22, 52)), (55, slice(25, 55))])
def test_hands_and_body_are_scored_separately(joints, hands):
    def fingered(first_seed, count):
        out = []
        for i in range(count):
            positions = with_hands(synthetic_dance(first_seed + i, 90), first_seed + i)
            if joints == 55:  # SMPL-X: jaw and eyes between body and fingers
                positions = np.concatenate([positions[:, :22], positions[:, 15:16].repeat(3, axis=1), positions[:, 22:]], axis=1)
            out.append(MotionClip(f"h{first_seed + i}", positions, 60.0))
        return out

    generated, reference = fingered(30, 3), fingered(40, 4)
    report = evaluate(generated, reference, EvaluationConfig(metrics=["fid_k", "div_k", "pfc"]))
    body = fid_and_diversity(
        [kinetic_features(c.positions[:, :22]) for c in generated], [kinetic_features(c.positions[:, :22]) for c in reference]
    )
    hand = fid_and_diversity(
        [kinetic_features(c.positions[:, hands]) for c in generated], [kinetic_features(c.positions[:, hands]) for c in reference]
    )
    assert report["fid_k"] == pytest.approx(body["fid"]) and report["div_k"] == pytest.approx(body["div"])
    assert report["fid_k_hands"] == pytest.approx(hand["fid"]) and report["div_k_hands"] == pytest.approx(hand["div"])
    assert "FID_k hands" in format_markdown(report)


def test_user_errors_name_the_file():
    good = clips(10, 2)
    broken = clips(20, 2)
    broken[1].positions = broken[1].positions.copy()
    broken[1].positions[5, 3, 1] = np.nan
    broken[1].source = "ref/bad.npy"
    with pytest.raises(InputFileError, match="ref/bad.npy: contains NaN"):
        evaluate(good, broken)
    with pytest.raises(InputFileError, match="m21: has 22 joints but m10 has 24"):
        evaluate(good, [clips(20, 1)[0], MotionClip("m21", good[0].positions[:, :22], 60.0)])
    with pytest.raises(InputFileError, match="m21: is 30 fps but m10 is 60 fps"):
        evaluate(good, [clips(20, 1)[0], MotionClip("m21", good[0].positions, 30.0)])
    with pytest.raises(InputFileError, match=r"m21: is too short \(20 frames = 0.33 s\)"):
        evaluate(good, [clips(20, 1)[0], MotionClip("m21", good[0].positions[:20], 60.0)])
    with pytest.raises(InputFileError, match="has 17 joints"):
        evaluate([MotionClip("odd", good[0].positions[:, :17], 60.0)], good, EvaluationConfig(metrics=["pfc"]))
    with pytest.raises(ArgumentError, match="at least 2 motions"):
        evaluate(good[:1], good)


# --- the command -----------------------------------------------------------------------

def write_set(folder, first_seed, count, frames=90, transform=lambda p: p):
    folder.mkdir()
    for i in range(count):
        np.save(folder / f"clip{first_seed + i}.npy", transform(synthetic_dance(first_seed + i, frames)))


def run(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def test_cli_writes_report_and_table(tmp_path, capsys):
    write_set(tmp_path / "gen", 10, 3)
    write_set(tmp_path / "ref", 20, 4)
    (tmp_path / "music").mkdir()
    for i in range(10, 13):
        (tmp_path / "music" / f"clip{i}.beats.json").write_text(json.dumps({"bpm": 120, "beats_s": BEATS.tolist()}))
    out = tmp_path / "report.json"
    code, stdout, _ = run(
        ["evaluate", "--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"), "--music",
         str(tmp_path / "music"), "--fps", "60", "--bas-variant", "fact", "--out", str(out)], capsys,
    )
    assert code in (0, None)
    report = json.loads(out.read_text())
    expected = np.mean([beat_align_score(synthetic_dance(s, 90), BEATS, 60.0, "fact") for s in range(10, 13)])
    assert report["bas"] == pytest.approx(expected)
    assert report["reference"]["bas"] is None  # no music for the reference files
    assert set(report["per_file"]["generated"]) == {"clip10", "clip11", "clip12"}
    assert report["settings"]["bas_variant"] == "fact"
    assert "| FID_k |" in stdout and "| BAS |" in stdout


def test_cli_tracks_beats_in_paired_audio(tmp_path, capsys):
    import soundfile

    from dancegen.metrics.beat_align import music_beats_from_audio

    write_set(tmp_path / "gen", 10, 2, frames=240)
    write_set(tmp_path / "ref", 20, 2, frames=240)
    (tmp_path / "music").mkdir()
    audio, rate = click_track(seconds=4.0)
    for i in (10, 11):
        soundfile.write(tmp_path / "music" / f"clip{i}.wav", audio, rate)
    out = tmp_path / "report.json"
    code, _, _ = run(["evaluate", "--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"),
                      "--music", str(tmp_path / "music"), "--fps", "60", "--metrics", "bas", "--out", str(out)], capsys)
    assert code in (0, None)
    beats = music_beats_from_audio(tmp_path / "music" / "clip10.wav")
    expected = beat_align_score(synthetic_dance(10, 240), beats, 60.0)
    assert json.loads(out.read_text())["per_file"]["generated"]["clip10"]["bas"] == pytest.approx(expected)


def test_cli_reads_z_up_arrays_and_motion_files(tmp_path, capsys):
    reports = []
    for up, transform in (("y", lambda p: p), ("z", y_up_to_z_up)):  # --up applies to both sets
        write_set(tmp_path / f"gen_{up}", 10, 3, transform=transform)
        write_set(tmp_path / f"ref_{up}", 20, 3, transform=transform)
        out = tmp_path / f"{up}.json"
        code, _, _ = run(["evaluate", "--generated", str(tmp_path / f"gen_{up}"), "--reference", str(tmp_path / f"ref_{up}"),
                          "--fps", "60", "--up", up, "--metrics", "fid_k,pfc,fsr", "--out", str(out)], capsys)
        assert code in (0, None)
        reports.append(json.loads(out.read_text()))
    for key in ("fid_k", "pfc", "fsr"):
        assert reports[1][key] == pytest.approx(reports[0][key], rel=1e-9)

    # A dancegen .npz motion goes through forward kinematics.
    rng = np.random.default_rng(0)
    (tmp_path / "npz").mkdir()
    motions = []
    for i in range(2):
        rotvec = 0.3 * np.sin(np.linspace(0, 6, 60)[:, None, None] + rng.uniform(0, 6, (1, 24, 3)))
        root = np.stack([np.linspace(0, 1, 60), np.full(60, 0.93), np.zeros(60)], axis=-1)
        motion = Motion(smpl24(), 30.0, axis_angle_to_quat(torch.from_numpy(rotvec)).numpy(), root)
        motion.save_npz(tmp_path / "npz" / f"dance{i}.npz")
        motions.append(motion)
    out = tmp_path / "npz.json"
    code, _, _ = run(["evaluate", "--generated", str(tmp_path / "npz"), "--reference", str(tmp_path / "npz"),
                      "--metrics", "pfc", "--out", str(out)], capsys)
    assert code in (0, None)
    report = json.loads(out.read_text())
    assert report["settings"]["fps"] == 30.0
    assert report["per_file"]["generated"]["dance1"]["pfc"] == pytest.approx(pfc(motions[1].joint_positions(), 30.0))


def test_cli_tells_finedance_npy_from_positions_by_shape(tmp_path, capsys):
    from dancegen.motion.formats import read_finedance, write_finedance
    from dancegen.skeleton.smplx import smplx52

    rng = np.random.default_rng(1)
    for folder in ("gen", "ref"):
        (tmp_path / folder).mkdir()
        for i in range(2):
            rotvec = 0.3 * np.sin(np.linspace(0, 5, 45)[:, None, None] + rng.uniform(0, 6, (1, 52, 3)))
            root = np.stack([np.linspace(0, 0.5, 45), np.full(45, 0.9), np.zeros(45)], axis=-1)
            motion = Motion(smplx52(), 30.0, axis_angle_to_quat(torch.from_numpy(rotvec)).numpy(), root)
            write_finedance(motion, tmp_path / folder / f"{folder}{i}.npy")
    out = tmp_path / "report.json"
    code, _, _ = run(["evaluate", "--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"),
                      "--metrics", "fid_k,pfc", "--out", str(out)], capsys)
    assert code in (0, None)
    report = json.loads(out.read_text())
    assert report["settings"]["joints"] == 52 and report["settings"]["fps"] == 30.0  # FineDance's rate
    assert "fid_k_hands" in report
    positions = read_finedance(tmp_path / "gen" / "gen1.npy").joint_positions()
    assert report["per_file"]["generated"]["gen1"]["pfc"] == pytest.approx(pfc(positions, 30.0))


@pytest.mark.parametrize(
    "case, message",
    [
        ("nan", "gen/clip11.npy: contains NaN or infinite joint positions"),
        ("no_fps", "gen/clip10.npy: joint-position .npy files carry no frame rate (pass --fps)"),
        ("no_music", "gen/clip10.npy: has no music in"),
        ("bad_metric", "--metrics: unknown metric 'speed'"),
        ("no_beats", "music/clip10.beats.json: lists no beats (its tempo is unknown)"),
        ("empty", "empty: contains no motion files"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, case, message):
    write_set(tmp_path / "gen", 10, 2)
    write_set(tmp_path / "ref", 20, 2)
    (tmp_path / "empty").mkdir()
    (tmp_path / "music").mkdir()
    args = ["evaluate", "--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"), "--fps", "60"]
    if case == "nan":
        bad = synthetic_dance(11, 90)
        bad[3, 2] = np.nan
        np.save(tmp_path / "gen" / "clip11.npy", bad)
    elif case == "no_fps":
        args = args[:-2]
    elif case == "no_music":
        args += ["--music", str(tmp_path / "music")]
    elif case == "no_beats":
        for i in (10, 11):
            (tmp_path / "music" / f"clip{i}.beats.json").write_text(json.dumps({"bpm": None, "beats_s": None}))
        args += ["--music", str(tmp_path / "music")]
    elif case == "bad_metric":
        args += ["--metrics", "bas,speed"]
    elif case == "empty":
        args[2] = str(tmp_path / "empty")
    code, stdout, stderr = run(args, capsys)
    assert code == 2
    assert stderr.startswith("dancegen: error: ") and stderr.count("\n") == 1
    assert message in stderr
    assert not (tmp_path / "report.json").exists()


@pytest.mark.kit
def test_cli_on_kit_mocap(kit, tmp_path, capsys):
    # Real BVH (100-joint iClone rig) is retargeted to SMPL-24 on the way in.
    for folder, clips_ in (("gen", ("005_02", "005_03")), ("ref", ("005_04", "005_05"))):
        (tmp_path / folder).mkdir()
        for clip in clips_:
            (tmp_path / folder / f"{clip}.bvh").symlink_to(kit / "motion" / "cmu05" / f"{clip}.bvh")
    out = tmp_path / "report.json"
    code, stdout, _ = run(["evaluate", "--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"),
                           "--metrics", "fid_k,div_k,pfc,fsr", "--out", str(out)], capsys)
    assert code in (0, None)
    report = json.loads(out.read_text())
    assert report["settings"]["fps"] == 60.0 and report["settings"]["joints"] == 24
    assert set(report["per_file"]["generated"]) == {"005_02", "005_03"}
    # Captured dancers keep a foot planted: far below the PFC of unconstrained synthetic motion.
    assert 0.0 <= report["pfc"] < 1.0 and 0.0 <= report["fsr"] <= 1.0
    assert report["fid_k"] > 0 and report["div_k"] > 0
