"""Predictions out: the file is written through a temporary file the client made itself, and CSV
lays out classifiers, regressors, multi-output models and string labels."""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest
from twinserve.cli import main
from twinserve.client import Predictions, UnexpectedAnswer
from twinserve.client.output import render
from twinserve_support.client_stand_in import Reply, prediction, scripted


def _answer(doc: dict) -> Reply:
    return Reply(200, json.dumps(doc).encode())


MODEL = {"name": "m", "version": "1", "sha256": "0" * 64}


def test_a_planted_symlink_at_the_temporary_name_is_not_followed(stand_in, tmp_path, capsys):
    """The old temporary name (.<out>.<pid>.tmp) was predictable: a symlink planted there sent the
    predictions into the file it points to. The client now opens only a file it created (O_EXCL)."""
    server = stand_in(scripted([prediction(1)]))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "preds.json"
    planted = tmp_path / f".preds.json.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    assert main(["predict", "--url", server.url, "--row", "1", "--out", str(out)]) == 0, capsys.readouterr().err
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and json.loads(out.read_text())["predictions"] == [1]
    assert planted.is_symlink()  # left alone, not used
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([planted.name, "preds.json", "victim.txt"])


def test_an_existing_symlink_at_out_is_replaced_not_written_through(stand_in, tmp_path):
    server = stand_in(scripted([prediction(1)]))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "preds.csv"
    out.symlink_to(victim)
    assert main(["predict", "--url", server.url, "--row", "1", "--out", str(out)]) == 0
    assert victim.read_text() == "precious\n" and not out.is_symlink()
    assert out.read_text().splitlines()[0] == "row,prediction,probability_0,probability_1"


def test_the_file_gets_the_mode_a_new_file_gets(stand_in, tmp_path):
    server = stand_in(scripted([prediction(1)]))
    out = tmp_path / "preds.json"
    old = os.umask(0o027)
    try:
        assert main(["predict", "--url", server.url, "--row", "1", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_a_failed_rename_leaves_nothing_and_exits_2(stand_in, tmp_path, monkeypatch, capsys):
    server = stand_in(scripted([prediction(1)]))

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    assert main(["predict", "--url", server.url, "--row", "1", "--out", str(tmp_path / "preds.json")]) == 2
    assert capsys.readouterr().err == "twinserve predict: error: --out " + str(tmp_path / "preds.json") + \
        ": Permission denied\n"
    assert list(tmp_path.iterdir()) == []


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_for_string_labels():
    result = Predictions(predictions=["setosa", "virginica, maybe", None], probabilities=[[0.9, 0.1]] * 3,
                         classes=["setosa", "virginica, maybe"], model=MODEL)
    assert _rows(render(result, "csv")) == [
        ["row", "prediction", "probability_setosa", "probability_virginica, maybe"],
        ["0", "setosa", "0.9", "0.1"], ["1", "virginica, maybe", "0.9", "0.1"], ["2", "", "0.9", "0.1"]]


def test_csv_for_a_regressor_has_no_probability_columns():
    result = Predictions(predictions=[1.5, -0.25, 1e-300], model=MODEL)
    assert render(result, "csv") == "row,prediction\n0,1.5\n1,-0.25\n2,1e-300\n"


def test_csv_for_a_multi_output_regressor_has_one_column_per_output():
    result = Predictions(predictions=[[1.0, 2.5, -3.0], [4.0, 5.0, 6.125]], model=MODEL)
    assert _rows(render(result, "csv")) == [["row", "prediction_0", "prediction_1", "prediction_2"],
                                            ["0", "1.0", "2.5", "-3.0"], ["1", "4.0", "5.0", "6.125"]]


def test_csv_booleans_and_nested_values():
    result = Predictions(predictions=[True, False, {"a": 1}], model=MODEL)
    assert render(result, "csv") == 'row,prediction\n0,true\n1,false\n2,"{""a"":1}"\n'


def test_csv_refuses_ragged_multi_output_answers():
    with pytest.raises(UnexpectedAnswer, match="row 1's prediction has 2 values but row 0's has 3 values"):
        render(Predictions(predictions=[[1, 2, 3], [1, 2]]), "csv")
    with pytest.raises(UnexpectedAnswer, match="row 1's prediction has one value"):
        render(Predictions(predictions=[[1, 2], 3]), "csv")


def test_cli_writes_a_regressors_answers_as_csv(stand_in, tmp_path, capsys):
    server = stand_in(scripted([_answer({"predictions": [[0.5, 1.5], [2.0, 3.0]], "model": MODEL})]))
    (tmp_path / "rows.json").write_text("[[1, 2], [3, 4]]")
    assert main(["predict", "--url", server.url, "--json", str(tmp_path / "rows.json"), "--format", "csv"]) == 0
    assert capsys.readouterr().out == "row,prediction_0,prediction_1\n0,0.5,1.5\n1,2.0,3.0\n"


def test_cli_ragged_answer_is_exit_1_one_line(stand_in, tmp_path, capsys):
    server = stand_in(scripted([_answer({"predictions": [[0.5, 1.5], [2.0]], "model": MODEL})]))
    (tmp_path / "rows.json").write_text("[[1, 2], [3, 4]]")
    assert main(["predict", "--url", server.url, "--json", str(tmp_path / "rows.json"), "--format", "csv"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CSV needs one width: use --format json" in err


def test_csv_on_a_terminal_has_no_escape_sequences_but_files_keep_the_labels():
    label = "\x1b]0;owned\x07cat\x1b[2J\r"
    result = Predictions(predictions=[label], probabilities=[[1.0]], classes=[label], model=MODEL)
    assert render(result, "csv", terminal=True) == "row,prediction,probability_cat \n0,cat ,1.0\n"
    assert label in render(result, "csv")
    assert "\x1b" not in render(result, "json") and "\\u001b" in render(result, "json")


def test_csv_to_a_terminal_stdout_is_cleaned(stand_in, monkeypatch):
    label = "\x1b]52;c;ZXZpbA==\x07ok\x1b[8m"
    server = stand_in(scripted([_answer({"predictions": [label], "model": MODEL})]))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    assert main(["predict", "--url", server.url, "--row", "1", "--format", "csv"]) == 0
    assert terminal.getvalue() == "row,prediction\n0,ok\n"
