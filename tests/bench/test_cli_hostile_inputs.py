"""Hostile options for the bench's small commands: one line on stderr and exit 2, never a traceback.

Each case is refused before anything starts (no server, no model training, no AWS or cluster call),
so the table runs in-process in a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from twinbench.__main__ import main


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    plain.chmod(0o644)
    (tmp_path / "pkg").mkdir()
    return {"file": str(plain), "dir": str(tmp_path), "missing": str(tmp_path / "missing"),
            "pkg": str(tmp_path / "pkg")}


CW = ["collect-cloudwatch", "--function-name", "f", "--region", "us-east-1"]
KC = ["collect-kubectl", "-n", "ns", "-l", "app=x"]


@pytest.mark.parametrize("argv, says", [
    ([*CW, "--since-minutes", "nan"], "finite number > 0"),
    ([*CW, "--since-minutes", "1e309"], "finite number > 0"),
    ([*CW, "--since-minutes", "5", "--page-limit", "0"], "must be >= 1"),
    ([*CW, "--since-minutes", "5", "--period-s", "-60"], "must be >= 1"),
    (["collect-cloudwatch", "--function-name", " ", "--since-minutes", "5"], "must not be empty"),
    ([*CW, "--since-minutes", "5", "--output", "{dir}"], "is a directory"),
    ([*KC, "--kubectl", "{missing}"], "no such file or command"),
    ([*KC, "--kubectl", "{dir}"], "no such file or command"),
    ([*KC, "--kubectl", "{file}"], "cannot run"),
    ([*KC, "--request-timeout", "nan"], "not a duration"),
    ([*KC, "--since", "1e309s"], "--since"),
    ([*KC, "--watch", "--interval-s", "0"], "finite number > 0"),
    ([*KC, "--watch", "--duration-s", "inf"], "finite number > 0"),
    (["serve-lambda", "--package", "{pkg}", "--port", "70000"], "0..65535"),
    (["serve-lambda", "--package", "{pkg}", "--port", "-1"], "must be >= 0"),
    (["serve-lambda", "--package", "{pkg}", "--idle-s", "nan"], "idle_s must be a finite number"),
    (["serve-lambda", "--package", "{pkg}", "--timeout-s", "inf"], "timeout_s must be a finite number"),
    (["serve-lambda", "--overhead", "-n", "0"], "must be >= 1"),
    (["serve-lambda", "--overhead", "--warmup", "-1"], "must be >= 0"),
    (["serve-lambda", "--overhead", "--json", "{dir}"], "is a directory"),
    (["bench-core", "--work-dir", "{file}"], "is not a folder"),
    (["bench-core", "--model-dir", "{missing}"], "no registered model there"),
    (["bench-load", "--work-dir", "{file}"], "is not a folder"),
])
def test_refused_with_one_line_and_exit_2(argv, says, paths, capsys):
    try:
        code = main([a.format(**paths) for a in argv])
    except SystemExit as exc:  # argparse's own usage error
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert says in err.splitlines()[-1], err
    assert "Traceback" not in err


def test_a_port_env_var_that_is_not_a_port_is_one_line(paths, capsys, monkeypatch):
    monkeypatch.setenv("PORT", "abc")
    assert main(["serve-lambda", "--package", paths["pkg"]]) == 2
    assert capsys.readouterr().err.strip() == "serve-lambda: PORT='abc': 'abc' is not a whole number"
