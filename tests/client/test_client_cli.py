"""`twinserve predict` as a user types it: exit codes, one-line errors, and a real gunicorn end to end."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from twinserve.cli import main
from twinserve_support.client_stand_in import prediction, scripted


@pytest.fixture
def server(stand_in):
    return stand_in(scripted([prediction(1)]))


BAD_FILES = [
    ("rows.json", None, "no such file"),
    ("rows.json", "", "not valid JSON"),
    ("rows.json", "[[1, 2], [3, oops]]", "not valid JSON (line 1, column 14"),
    ("rows.json", "[[1, 2], [1, NaN]]", "rows.json: row 1[1] is NaN, which is not a JSON number"),
    ("rows.json", '[{"a": 1}, {"a": -Infinity}]', "rows.json: row 1['a'] is -Infinity, which is not a JSON number"),
    ("rows.json", "[[1, 2], [3, 1e999]]", "rows.json: row 1[1] is a number too large for a float"),
    ("rows.json", "[[1, [2]]]", "rows.json: row 0[1] is an array; a value must be a number, a string, true/false or null"),
    ("rows.json", '[{"a": {"b": 1}}]', "rows.json: row 0['a'] is an object"),
    ("rows.json", "[" + "1" * 5000 + "]", "rows.json: Exceeds the limit"),
    ("rows.json", "[]", "no rows"),
    ("rows.json", '{"rows": []}', 'exactly one of "instances"'),
    ("rows.json", "[[1, 2], 3]", "row 1 is int"),
    ("rows.csv", "", "no data rows"),
    ("rows.csv", "1,2\n3,x\n", "rows.csv:2 column 2 is 'x'; expected a number"),
    ("rows.csv", "1,2\n3\n", "rows.csv:2 has 1 cells; the first line has 2"),
    ("rows.csv", "1,2\n3,inf\n", "rows.csv:2 column 2 is 'inf'; expected a finite number"),
    ("rows.csv", "a,a\n1,2\n", "names 'a' twice"),
    ("rows.csv", b"\xff\xfe1,2\n", "not UTF-8 text"),
]


@pytest.mark.parametrize("name,content,message", BAD_FILES)
def test_bad_files_exit_2_with_one_line_and_send_nothing(server, tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    flag = "--json" if name.endswith(".json") else "--csv"
    code = main(["predict", "--url", server.url, flag, str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("twinserve predict: error: ") and err.count("\n") == 1, err
    assert message in err
    assert server.posts() == []


@pytest.mark.parametrize("argv,message", [
    (["--row", "1,,3"], "--row value 2 is ''"),
    (["--row", "1,nan"], "--row value 2 is 'nan'; expected a finite number"),
    (["--row", "1", "--region", "eu-west-1"], "--region only applies with --sigv4"),
    (["--row", "1", "--batch-rows", "0"], "--batch-rows must be >= 1"),
    (["--row", "1", "--retries", "-1"], "retries must be between 0 and 100"),
    (["--row", "1", "--out", "/nonexistent-dir/x.json"], "does not exist"),
])
def test_bad_usage_exits_2_with_one_line(server, capsys, argv, message):
    code = main(["predict", "--url", server.url, *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("out,message", [
    ("{d}", "is a folder; give a file name"),
    ("{d}/missing/x.csv", "folder {d}/missing does not exist"),
    ("{d}/afile/x.csv", "{d}/afile is a file, not a folder"),
])
def test_a_bad_out_is_refused_before_anything_is_sent(server, tmp_path, capsys, out, message):
    (tmp_path / "afile").write_text("")
    code = main(["predict", "--url", server.url, "--row", "1", "--out", out.replace("{d}", str(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message.replace("{d}", str(tmp_path)) in err, err
    assert server.posts() == []


@pytest.mark.parametrize("url", ["ftp://example.com", "example.com/predict", "http://", "http://h/x?a=1"])
def test_bad_urls_exit_2(url, capsys):
    assert main(["predict", "--url", url, "--row", "1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_argparse_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["predict", "--url", "http://127.0.0.1:9", "--row", "1", "--csv", "x.csv"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["predict", "--url", "http://127.0.0.1:9", "--row", "1", "--timeout-s", "0"])
    assert info.value.code == 2 and "seconds > 0" in capsys.readouterr().err


def test_a_200_that_is_not_a_prediction_exits_1(stand_in, capsys):
    from twinserve_support.client_stand_in import Reply

    server = stand_in(scripted([Reply(200, b"<html>login</html>")]))
    assert main(["predict", "--url", server.url, "--row", "1"]) == 1
    assert "the body is not JSON" in capsys.readouterr().err


def test_help_documents_the_exit_codes():
    text = subprocess.run([sys.executable, "-m", "twinserve.cli", "predict", "--help"],
                          capture_output=True, text=True, timeout=60).stdout
    assert "Exit status:" in text and "gave up after N" in text and "2  bad usage or input" in text


@pytest.mark.slow
def test_end_to_end_against_real_gunicorn(gunicorn_url, rf_metadata, tmp_path):
    """The console script, a real gunicorn, a CSV with a header: the container's own answers, in order."""
    rows = [[v * (1 + i / 100) for v in rf_metadata["example_row"]] for i in range(5)]
    with open(tmp_path / "rows.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rf_metadata["feature_names"])
        writer.writerows(rows)
    proc = subprocess.run(
        [sys.executable, "-m", "twinserve.cli", "predict", "--url", gunicorn_url, "--csv", str(tmp_path / "rows.csv"),
         "--format", "json", "--batch-rows", "2"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import requests

    direct = requests.post(gunicorn_url + "/predict", json={"instances": rows}, timeout=30).json()
    assert json.loads(proc.stdout) == direct
    assert proc.stderr.splitlines()[-1].startswith("5 rows in 3 requests (3 attempts)")

    bad = subprocess.run([sys.executable, "-m", "twinserve.cli", "predict", "--url", gunicorn_url, "--row", "1,2,3"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "has 3 values; the server's model expects 30" in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


def test_a_bad_file_is_exit_2_even_when_the_server_is_down(tmp_path, capsys):
    (tmp_path / "rows.csv").write_text("1,2\n3,x\n")
    dead = "http://127.0.0.1:9"
    assert main(["predict", "--url", dead, "--csv", str(tmp_path / "rows.csv")]) == 2
    assert main(["predict", "--url", dead, "--json", str(tmp_path / "missing.json")]) == 2
    assert "rows.csv:2 column 2" in capsys.readouterr().err


def test_stdin_is_read_once_and_checked(stand_in, rf_service, rf_metadata):
    from twinserve_support.client_stand_in import serving

    server = stand_in(serving(rf_service))
    text = ",".join(rf_metadata["feature_names"]) + "\n" + ",".join(map(str, rf_metadata["example_row"])) + "\n"
    proc = subprocess.run([sys.executable, "-m", "twinserve.cli", "predict", "--url", server.url, "--csv", "-",
                           "--format", "csv"], input=text, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "row,prediction,probability_0,probability_1"
    assert len(proc.stdout.splitlines()) == 2 and len(server.posts()) == 1
