"""Rows in, batches on the wire, predictions out in order - against the real core on 127.0.0.1."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from twinserve.cli import main
from twinserve.client import PredictClient, Schema
from twinserve.client.batches import batches, rows_from_csv, rows_from_json
from twinserve.responses import json_bytes
from twinserve_support.client_stand_in import serving


@pytest.fixture(scope="module")
def table(rf_metadata) -> tuple[list[str], np.ndarray]:
    """2,500 distinct rows around the example row: names and values."""
    rng = np.random.default_rng(7)
    example = np.array(rf_metadata["example_row"], dtype=np.float64)
    rows = example * rng.uniform(0.5, 1.5, size=(2_500, example.size))
    return list(rf_metadata["feature_names"]), rows


def _write_csv(path, names, rows, header=True) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(names)
        writer.writerows(rows.tolist())


def _expected(service, rows: np.ndarray) -> dict:
    """What the core answers for all ``rows`` at once (no row or body limit on this path)."""
    return json.loads(json_bytes(service.predictor.predict_rows(rows.astype(service.predictor.spec.dtype))))


def test_2500_row_csv_goes_in_3_requests_and_keeps_order(stand_in, rf_service, table, tmp_path):
    names, rows = table
    _write_csv(tmp_path / "rows.csv", names, rows)
    server = stand_in(serving(rf_service))
    out = tmp_path / "preds.csv"
    code = main(["predict", "--url", server.url, "--csv", str(tmp_path / "rows.csv"), "--out", str(out), "--quiet"])
    assert code == 0
    sent = [len(json.loads(r.body)["instances"]) for r in server.posts()]
    assert sent == [1000, 1000, 500]  # the server's MAX_ROWS, read from its /openapi.json
    expected = _expected(rf_service, rows)
    with open(out, newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["row", "prediction", "probability_0", "probability_1"]
    assert [int(line[0]) for line in lines[1:]] == list(range(2_500))
    assert [int(line[1]) for line in lines[1:]] == expected["predictions"]
    assert [[float(p) for p in line[2:]] for line in lines[1:]] == expected["probabilities"]


def test_json_output_is_the_server_answer_for_all_rows(stand_in, rf_service, table, tmp_path):
    names, rows = table
    (tmp_path / "rows.json").write_text(json.dumps({"instances": rows[:1_234].tolist()}))
    server = stand_in(serving(rf_service))
    out = tmp_path / "preds.json"
    assert main(["predict", "--url", server.url + "/predict", "--json", str(tmp_path / "rows.json"),
                 "--out", str(out), "--batch-rows", "500", "--quiet"]) == 0
    assert [len(json.loads(r.body)["instances"]) for r in server.posts()] == [500, 500, 234]
    assert json.loads(out.read_text()) == _expected(rf_service, rows[:1_234])


def test_the_server_limit_is_read_from_openapi(stand_in, small_limit_service, table, tmp_path):
    names, rows = table
    _write_csv(tmp_path / "rows.csv", names, rows[:1_500], header=False)
    server = stand_in(serving(small_limit_service))
    with PredictClient(server.url) as client:
        schema = client.schema()
        assert schema.max_rows == 700 and schema.feature_names == tuple(names)
    assert main(["predict", "--url", server.url, "--csv", str(tmp_path / "rows.csv"), "--quiet"]) == 0
    assert [len(json.loads(r.body)["instances"]) for r in server.posts()] == [700, 700, 100]
    assert main(["predict", "--url", server.url, "--csv", str(tmp_path / "rows.csv"), "--batch-rows", "701"]) == 2


def test_header_columns_in_any_order_are_sent_in_the_server_order(stand_in, rf_service, table, tmp_path, capsys):
    names, rows = table
    order = list(reversed(range(len(names))))
    _write_csv(tmp_path / "rows.csv", [names[i] for i in order], rows[:3, order])
    server = stand_in(serving(rf_service))
    assert main(["predict", "--url", server.url, "--csv", str(tmp_path / "rows.csv")]) == 0
    assert json.loads(server.posts()[0].body)["instances"] == rows[:3].tolist()  # by position, server order
    assert json.loads(capsys.readouterr().out)["predictions"] == _expected(rf_service, rows[:3])["predictions"]


def test_progress_is_one_line_per_batch_on_a_pipe(stand_in, rf_service, table, tmp_path, capsys):
    names, rows = table
    _write_csv(tmp_path / "rows.csv", names, rows)
    server = stand_in(serving(rf_service))
    assert main(["predict", "--url", server.url, "--csv", str(tmp_path / "rows.csv"), "--out", str(tmp_path / "o.json")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["batch 1/3", "batch 2/3", "batch 3/3"]
    assert lines[2].startswith("batch 3/3: rows 2000-2499 ") and "(2500/2500 rows" in lines[2]
    assert lines[3].startswith("2500 rows in 3 requests (3 attempts)") and len(lines) == 4


def test_without_openapi_rows_by_name_are_sent_by_name(tmp_path):
    (tmp_path / "rows.csv").write_text("b,a\n1,2\n3,4\n")
    rows = list(rows_from_csv(str(tmp_path / "rows.csv"), Schema()))
    assert rows == [{"b": 1.0, "a": 2.0}, {"b": 3.0, "a": 4.0}]


def test_bodies_over_the_byte_limit_are_halved_in_order():
    rows = [[float(i)] * 10 for i in range(100)]
    cut = list(batches(rows, batch_rows=100, max_body_bytes=1_000))
    assert sum(b.rows for b in cut) == 100 and all(len(b.body) <= 1_000 for b in cut)
    assert [b.start for b in cut] == [sum(c.rows for c in cut[:i]) for i in range(len(cut))]
    assert [row for b in cut for row in json.loads(b.body)["instances"]] == rows


@pytest.mark.parametrize("doc,expected", [
    ([[1, 2], [3, 4]], [[1, 2], [3, 4]]),
    ({"instances": [[1, 2]]}, [[1, 2]]),
    ({"features": [1, 2]}, [[1, 2]]),
    ([1.5, 2], [[1.5, 2]]),
    ([{"a": 1, "b": 2}], [[1, 2]]),
])
def test_json_forms(tmp_path, doc, expected):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(doc))
    assert list(rows_from_json(str(path), Schema(feature_names=("a", "b")))) == expected


@pytest.mark.parametrize("rows", [[[1.0, float("nan")]], [[float("inf")]], [{"a": object()}]])
def test_rows_given_in_code_that_json_cannot_carry_are_bad_input(rows):
    from twinserve.client import BadInput

    with PredictClient("http://127.0.0.1:9") as client, pytest.raises(BadInput, match="cannot be sent as JSON"):
        client.predict(rows)
