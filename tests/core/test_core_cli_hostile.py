"""Hostile input to ``twinserve train`` / ``import``: one line on stderr and exit 2, before any work."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from twinserve.cli import main


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a fitted model (m.joblib), its sample (s.csv), a file (afile) and a JSON file (x.json)."""
    folder = tmp_path_factory.mktemp("hostile")
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 2)), columns=["a", "b"])
    y = (frame["a"] > 0).astype(int)
    joblib.dump(LogisticRegression().fit(frame, y), folder / "m.joblib")
    joblib.dump(LogisticRegression().fit(frame, y), folder / "my model.joblib")
    frame.assign(label=y).to_csv(folder / "s.csv", index=False)
    (folder / "afile").write_text("not a folder")
    (folder / "x.json").write_text('{"a": 1}')
    return folder


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("argv,message", [
    (["train", "--out", "{d}/afile"], "--out {d}/afile is a file, not a folder"),
    (["train", "--out", "{d}/afile/model"], "{d}/afile is a file, not a folder"),
    (["import", "--src", "{d}/m.joblib", "--out", "{d}/afile"], "--out {d}/afile is a file, not a folder"),
    (["import", "--src", "{d}/x.json", "--out", "{d}/o"], "x.json: it is not a joblib, pickle or skops model file"),
    (["import", "--src", "{d}/m.joblib", "--sample", "{d}/s.csv", "--text-column", "zz", "--out", "{d}/o"],
     "SAMPLE has no column 'zz' (TEXT_COLUMN); it has a, b, label"),
    (["import", "--src", "{d}/m.joblib", "--name", "", "--out", "{d}/o"], "model name '' is not allowed"),
    (["import", "--src", "{d}/m.joblib", "--name", "../../x", "--out", "{d}/o"], "model name '../../x' is not allowed"),
    (["import", "--src", "{d}/m.joblib", "--name", "..", "--out", "{d}/o"], "model name '..' is not allowed"),
    (["import", "--src", "{d}/m.joblib", "--name", "a/b", "--out", "{d}/o"], "model name 'a/b' is not allowed"),
    (["import", "--src", "{d}/m.joblib", "--name", "x" * 129, "--out", "{d}/o"], "is not allowed"),
    (["import", "--src", "{d}/my model.joblib", "--out", "{d}/o"], "my model.joblib gives it: pass --name"),
    (["import", "--src", "{d}/m.joblib", "--sample", "{d}/s.csv", "--out", "/proc/twinserve-no/model"],
     "--out /proc/twinserve-no/model: cannot write the model folder"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(small, capsys, argv, message):
    line = _one_line(capsys, [arg.replace("{d}", str(small)) for arg in argv])
    assert message.replace("{d}", str(small)) in line
    assert not (small / "o").exists() and (small / "afile").read_text() == "not a folder"


@pytest.mark.parametrize("name", ["m", "theirs", "second-model", "breast_cancer-rf", "model.v2", "X" * 128])
def test_names_in_use_are_accepted(name):
    from twinserve.cli import _name_problem

    assert _name_problem(name) is None
