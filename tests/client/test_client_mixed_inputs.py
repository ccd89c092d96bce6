"""Rows for models with mixed input types (DataFrames with string categories and missing values,
text models): what the client sends for JSON and CSV input, and what it still refuses."""

from __future__ import annotations

import csv
import json

import pytest
from twinserve.cli import main
from twinserve.client import Schema
from twinserve.client.batches import rows_from_csv, rows_from_json
from twinserve_support.client_stand_in import Reply

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


# End to end: a DataFrame pipeline (a string category and missing values) registered from a user's
# joblib file and served by the real core; the client's CSV and JSON rows are what the server takes.

@pytest.fixture(scope="module")
def frame_models(tmp_path_factory) -> dict:
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from twinserve.registration import import_estimator
    from twinserve.service import Service
    from twinserve.settings import Settings

    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame({"city": rng.choice(["Paris", "Lyon, FR", "Nice"], n).astype(object),
                          "age": rng.integers(18, 80, n).astype(float), "income": rng.normal(1000, 200, n)})
    frame.loc[::7, "age"] = np.nan
    frame.loc[::11, "city"] = None
    city = make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"), OneHotEncoder(handle_unknown="ignore"))
    pre = ColumnTransformer([("cat", city, ["city"]), ("num", SimpleImputer(), ["age", "income"])])
    estimators = {
        "classifier": Pipeline([("pre", pre), ("m", LogisticRegression(max_iter=500))]).fit(
            frame, np.where(frame["income"] > 1000, "rich", "poor")),
        "two_outputs": Pipeline([("pre", pre), ("m", Ridge())]).fit(
            frame, np.c_[frame["income"] * 2, frame["income"] - 1]),
    }
    root = tmp_path_factory.mktemp("frame_models")
    frame.to_csv(root / "sample.csv", index=False)
    services = {}
    for name, estimator in estimators.items():
        joblib.dump(estimator, root / f"{name}.joblib")
        import_estimator(root / f"{name}.joblib", root / name, sample_path=root / "sample.csv")
        services[name] = Service.start(Settings(model_path=root / name))
    return services


ROWS_CSV = 'income,city,age\n1200.5,Paris,\n900,,30\n1000,"Lyon, FR",41.5\n'
ROWS_BY_NAME = [{"city": "Paris", "age": None, "income": 1200.5}, {"city": None, "age": 30, "income": 900},
                {"city": "Lyon, FR", "age": 41.5, "income": 1000}]


def _direct(service, rows) -> dict:
    answer = service.dispatch("POST", "/predict", "application/json", json.dumps({"instances": rows}).encode())
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


def test_csv_rows_for_a_dataframe_classifier_are_answered_as_the_server_answers_them(stand_in, frame_models,
                                                                                     tmp_path, capsys):
    from twinserve_support.client_stand_in import serving

    service = frame_models["classifier"]
    server = stand_in(serving(service))
    (tmp_path / "rows.csv").write_text(ROWS_CSV)
    out = tmp_path / "preds.csv"
    assert main(["predict", "--url", server.url, "--csv", str(tmp_path / "rows.csv"), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    expected = _direct(service, ROWS_BY_NAME)
    # the server's names were read from its /openapi.json: rows by name went by position, in its order
    assert json.loads(server.posts()[0].body)["instances"] == [[r["city"], r["age"], r["income"]] for r in ROWS_BY_NAME]
    lines = list(csv.reader(out.read_text().splitlines()))
    assert lines[0] == ["row", "prediction", *(f"probability_{c}" for c in expected["classes"])]
    assert [line[1] for line in lines[1:]] == expected["predictions"] and set(expected["predictions"]) <= {"rich", "poor"}
    assert [[float(p) for p in line[2:]] for line in lines[1:]] == expected["probabilities"]


def test_json_rows_for_a_two_output_regressor_give_two_prediction_columns(stand_in, frame_models, tmp_path, capsys):
    from twinserve_support.client_stand_in import serving

    service = frame_models["two_outputs"]
    server = stand_in(serving(service))
    (tmp_path / "rows.json").write_text(json.dumps(ROWS_BY_NAME))
    assert main(["predict", "--url", server.url, "--json", str(tmp_path / "rows.json"), "--format", "csv"]) == 0, \
        capsys.readouterr().err
    expected = _direct(service, ROWS_BY_NAME)["predictions"]
    lines = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert lines[0] == ["row", "prediction_0", "prediction_1"]
    assert [[float(v) for v in line[1:]] for line in lines[1:]] == expected


def test_a_value_the_model_does_not_take_is_the_servers_one_line_refusal(stand_in, frame_models, tmp_path, capsys):
    from twinserve_support.client_stand_in import serving

    server = stand_in(serving(frame_models["classifier"]))
    (tmp_path / "rows.csv").write_text("income,city,age\n,Paris,3\n")  # income takes no missing value
    assert main(["predict", "--url", server.url, "--csv", str(tmp_path / "rows.csv")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "server refused the request (422" in err and "'income'" in err, err
