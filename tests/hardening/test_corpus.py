"""The bad-input corpus (issue #14, "Must show"): every synthesized bad or hostile input through
every command, in-process. Each case must end with exactly one `dancegen: error:` line on
stderr that names the file or option, exit status 2, no traceback, nothing written to its
output folder or beside its inputs, no temporaries, and no code run by a hostile file. The few
odd-but-good inputs (silence, a one-sample clip, a cut-off wav) must simply work."""

from __future__ import annotations

from collections import Counter

import pytest
from cases import CASES
from runner import chdir_to, run_case


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_naming_the_culprit(case, inputs, tmp_path):
    with chdir_to(tmp_path):  # commands that default their output to the current folder
        outcome = run_case(case, inputs, tmp_path / "out")
    assert outcome.problems(inputs) == [], f"{case.args}\nstatus {outcome.status}\nstderr: {outcome.stderr!r}"


def test_the_corpus_covers_every_command_with_150_cases():
    assert len({c.id for c in CASES}) == len(CASES)
    bad = [c for c in CASES if c.status != 0]
    assert len(bad) >= 150
    commands = Counter(" ".join(a for a in c.args[:2] if not a.startswith(("@", "%", "-"))) for c in CASES)
    for command in ("motion info", "motion convert", "audio beats", "audio features", "generate", "view", "render",
                    "data annotation", "data genre", "data info", "data annotate", "data pair", "evaluate",
                    "models", "train"):
        assert any(key.startswith(command) for key in commands), f"no case for {command}"


def test_no_hostile_file_ever_ran_code(inputs):
    from inputs import PWNED

    hostile = [c for c in CASES if "hostile" in " ".join(c.args)]
    assert len(hostile) >= 8
    assert not (next(iter(inputs.values())).parent / PWNED).exists()
