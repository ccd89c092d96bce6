"""Rows for models with mixed input types (DataFrames with string categories and missing values,
text models): what the client sends for JSON and CSV input, and what it still refuses."""

from __future__ import annotations

import csv
import json

import pytest
from client_stand_in import Reply
from twinserve.cli import main
from twinserve.client import Schema
from twinserve.client.batches import rows_from_csv, rows_from_json

MODEL = {"name": "mixed", "version": "1", "sha256": "0" * 64}


def _labels(n: int) -> Reply:
    doc = {"predictions": ["yes", "no"] * (n // 2) + ["yes"] * (n % 2),
           "probabilities": [[0.25, 0.75]] * n, "classes": ["no", "yes"], "model": MODEL}
    return Reply(200, json.dumps(doc).encode())


@pytest.fixture
def labels_server(stand_in):
    def answer(got):
        if got.method != "POST":
            return Reply(404, b'{"message":"Not Found"}')
        return _labels(len(json.loads(got.body)["instances"]))

    return stand_in(answer)


ROWS = [
    {"city": "Paris", "age": 31, "income": 1234.5, "member": True, "note": None},
    {"city": "Lyon, FR", "age": None, "income": -0.5, "member": False, "note": "caf\u00e9 \"au lait\""},
]


def test_json_rows_by_name_carry_any_scalar_as_given(labels_server, tmp_path, capsys):
    (tmp_path / "rows.json").write_text(json.dumps(ROWS))
    out = tmp_path / "preds.csv"
    assert main(["predict", "--url", labels_server.url, "--json", str(tmp_path / "rows.json"),
                 "--out", str(out)]) == 0, capsys.readouterr().err
    assert json.loads(labels_server.posts()[0].body) == {"instances": ROWS}
    assert out.read_text() == "row,prediction,probability_no,probability_yes\n0,yes,0.25,0.75\n1,no,0.25,0.75\n"


def test_json_rows_by_position_carry_strings_and_nulls(labels_server, tmp_path, capsys):
    rows = [["a text to classify", 3, None, True], ["another", -1.5, "x", False]]
    (tmp_path / "rows.json").write_text(json.dumps({"instances": rows}))
    assert main(["predict", "--url", labels_server.url, "--json", str(tmp_path / "rows.json")]) == 0
    assert json.loads(labels_server.posts()[0].body)["instances"] == rows
    assert json.loads(capsys.readouterr().out)["predictions"] == ["yes", "no"]


def test_one_bare_row_of_mixed_values(tmp_path):
    (tmp_path / "row.json").write_text('["a text", 1, null, false]')
    assert list(rows_from_json(str(tmp_path / "row.json"), Schema())) == [["a text", 1, None, False]]


def test_integers_stay_integers_and_named_rows_go_in_the_server_order(tmp_path):
    (tmp_path / "rows.json").write_text('[{"b": "x", "a": 7}, {"a": 2.5, "b": null}]')
    rows = list(rows_from_json(str(tmp_path / "rows.json"), Schema(feature_names=("a", "b"))))
    assert rows == [[7, "x"], [2.5, None]] and isinstance(rows[0][0], int)


CSV_TEXT = (
    "city,age,income,member,note\n"
    'Paris,31,1e3,true,\n'
    '"Lyon, FR",-2,0.5,, "quoted ""text"""\n'
    "007,+4, 2.5 ,nan,inf\n"
)


def test_csv_with_a_header_sends_numbers_nulls_and_strings(labels_server, tmp_path, capsys):
    (tmp_path / "rows.csv").write_text(CSV_TEXT)
    assert main(["predict", "--url", labels_server.url, "--csv", str(tmp_path / "rows.csv"),
                 "--format", "csv"]) == 0, capsys.readouterr().err
    sent = json.loads(labels_server.posts()[0].body)["instances"]
    assert sent == [
        {"city": "Paris", "age": 31, "income": 1000.0, "member": "true", "note": None},
        {"city": "Lyon, FR", "age": -2, "income": 0.5, "member": None, "note": ' "quoted ""text"""'},
        {"city": 7, "age": 4, "income": 2.5, "member": "nan", "note": "inf"},
    ]
    assert isinstance(sent[0]["age"], int) and isinstance(sent[0]["income"], float)
    assert list(csv.reader(capsys.readouterr().out.splitlines()))[1:] == [
        ["0", "yes", "0.25", "0.75"], ["1", "no", "0.25", "0.75"], ["2", "yes", "0.25", "0.75"]]


def test_csv_cells_are_read_by_the_csv_module(tmp_path):
    """A quoted cell keeps its commas, quotes and newlines; spaces in a string are kept."""
    with open(tmp_path / "rows.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "n"])
        writer.writerow(["one, two\nthree \"four\"", "5"])
        writer.writerow(["  padded  ", ""])
    rows = list(rows_from_csv(str(tmp_path / "rows.csv"), Schema(feature_names=("n", "text"))))
    assert rows == [[5, 'one, two\nthree "four"'], [None, "  padded  "]]


@pytest.mark.parametrize("cell,expected", [
    ("12", 12), ("-0", 0), (" 3 ", 3), ("1.50", 1.5), (".5", 0.5), ("5.", 5.0), ("-1E-3", -0.001),
    ("", None), ("   ", None), ("1e999", "1e999"), ("NaN", "NaN"), ("Infinity", "Infinity"), ("1_000", "1_000"),
    ("0x10", "0x10"), ("\u0661\u0662", "\u0661\u0662"), ("true", "true"), ("null", "null"), ("1 2", "1 2"),
])
def test_csv_cell_kinds(tmp_path, cell, expected):
    (tmp_path / "rows.csv").write_text(f'x,y\n"{cell}",1\n')
    [row] = list(rows_from_csv(str(tmp_path / "rows.csv"), Schema()))
    assert row["x"] == expected and type(row["x"]) is type(expected)


def test_csv_without_a_header_stays_numbers_only(labels_server, tmp_path, capsys):
    (tmp_path / "rows.csv").write_text("1,2\n3,\n")
    assert main(["predict", "--url", labels_server.url, "--csv", str(tmp_path / "rows.csv")]) == 2
    assert "rows.csv:2 column 2 is ''; expected a number" in capsys.readouterr().err
    assert labels_server.posts() == []


def test_the_row_flag_stays_numbers_only(labels_server, capsys):
    assert main(["predict", "--url", labels_server.url, "--row", "1,red"]) == 2
    assert "--row value 2 is 'red'; expected a number" in capsys.readouterr().err


def test_a_header_checked_against_the_server_names(tmp_path):
    (tmp_path / "rows.csv").write_text("city,age\nParis,3\n")
    from twinserve.client import BadInput

    with pytest.raises(BadInput, match="missing feature"):
        rows_from_csv(str(tmp_path / "rows.csv"), Schema(feature_names=("city", "age", "income")))
