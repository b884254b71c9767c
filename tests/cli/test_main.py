import pytest

from dancegen.cli import app, main
from dancegen.errors import InputFileError


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("dancegen ")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "version" in capsys.readouterr().out


def test_user_errors_become_one_line(capsys):
    @app.command("_raise_for_test", hidden=True)
    def _raise() -> None:
        raise InputFileError("song.wav", "no such file", "check the path")

    with pytest.raises(SystemExit) as done:
        main(["_raise_for_test"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "dancegen: error: song.wav: no such file (check the path)"
