import pytest
from pydantic import Field

from dancegen.config import StrictConfig, load_config
from dancegen.errors import ArgumentError, InputFileError
from dancegen.fileio import atomic_open, atomic_write_text


class Optim(StrictConfig):
    lr: float = Field(1e-3, gt=0)
    steps: int = 10


class Experiment(StrictConfig):
    name: str = "x"
    optim: Optim = Optim()


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: demo\noptim:\n  lr: 0.01\n")
    config = load_config(Experiment, path, ["optim.steps=5", "optim.lr=2e-4"])
    assert config.name == "demo" and config.optim.steps == 5 and config.optim.lr == pytest.approx(2e-4)


def test_unknown_keys_and_bad_values_are_one_line_errors(tmp_path):
    with pytest.raises(ArgumentError, match="optim.lrr"):
        load_config(Experiment, None, ["optim.lrr=1"])
    with pytest.raises(ArgumentError, match="greater than 0"):
        load_config(Experiment, None, ["optim.lr=-1"])
    with pytest.raises(ArgumentError, match="key.path=value"):
        load_config(Experiment, None, ["nonsense"])
    with pytest.raises(InputFileError, match="config file not found"):
        load_config(Experiment, tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(InputFileError, match="not valid YAML"):
        load_config(Experiment, bad)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as handle:
            handle.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
