"""The recipes' shared kit steps: the honest split, the per-family evaluation text, shipping names."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from dancegen.data.annotations import Annotation, GlobalStyle, LocalSpan, write_annotation
from dancegen.recipes import kit


def _pairs(root: Path) -> Path:
    pairs = root / "pairs"
    for folder, stems in {"cmu05": ["005_13__songA", "005_02__songB"], "cmu_salsa": ["60_04_scaled__songC", "60_01__songA"]}.items():
        (pairs / folder).mkdir(parents=True)
        (pairs / folder / "pairing_report.json").write_text("{}")
        for stem in stems:
            (pairs / folder / f"{stem}.npz").write_bytes(b"x")
            (pairs / folder / f"{stem}.wav").write_bytes(b"y")
    return pairs


def test_assemble_holds_out_every_pair_of_a_held_out_clip(tmp_path):
    splits = kit.assemble(_pairs(tmp_path), tmp_path / "dataset")
    assert splits == {"train": ["005_02__songB", "60_01__songA"], "test": ["005_13__songA", "60_04_scaled__songC"]}
    assert (tmp_path / "dataset" / "splits" / "test.txt").read_text() == "005_13__songA\n60_04_scaled__songC\n"
    assert (tmp_path / "dataset" / "005_02__songB.wav").read_bytes() == b"y"
    assert not (tmp_path / "dataset" / "pairing_report.json").exists()


def test_held_out_songs_are_not_the_held_out_clips():
    assert not set(kit.HELD_OUT) & set(kit.HELD_OUT_SONGS)
    assert "bandai" not in kit.MOTION_FOLDERS  # non-commercial licence: never in a shipped model


def _pipeline(family: str, supports: dict, genres=("salsa",)):
    header = SimpleNamespace(family=family, supports=supports, genres=list(genres), name="m")
    return SimpleNamespace(header=header)


@pytest.mark.parametrize("supports, expected_keys", [
    ({"timed_text": True, "text": True}, {"annotation", "prompt"}),
    ({"text": True}, {"prompt"}),
])
def test_held_out_request_gives_each_model_the_text_it_takes(tmp_path, supports, expected_keys):
    annotation = Annotation(GlobalStyle("salsa", core_moves=("spin",)), (LocalSpan(1.0, 2.0, ("spin",)), LocalSpan(40, 41, ("clap",))))
    write_annotation(annotation, tmp_path / "clip.annotation.json")
    options = kit.held_out_request(_pipeline("x", supports), tmp_path, "clip", seconds=30.0)
    assert set(options) == expected_keys
    if "annotation" in options:
        assert [span.tokens for span in options["annotation"].spans] == [("spin",)]  # the span past 30 s is cut
        assert options["prompt"] == "salsa, spin"
    else:
        assert options["prompt"] == "spin"


def test_shipped_models_live_beside_the_default(tmp_path):
    shipped = kit.ShippedModel("lrcm-small", "d", command="make lrcm-model")
    assert shipped.path == kit.WEIGHTS_DIR / "lrcm-small.pt"
    assert shipped.path.parent.name == "weights"
