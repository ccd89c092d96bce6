"""The CLI as a user runs it: exit codes, one-line errors, and the JSON document against its schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest
from twinserve_support.paths import REPO  # noqa: E402

SCHEMA = json.loads((REPO / "scripts/twinbench/simulate/schema.json").read_text())


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "scripts"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "twinbench.cli.simulate", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


@pytest.mark.parametrize("args", [
    ["--rps", "nan"], ["--rps", "5", "--keep-alive-s", "inf"], ["--rps", "5", "--keep-alive-s", "-1"],
    ["--rps", "5", "--workers", "0"], ["--rps", "5", "--pod-capacity-rps", "0"], ["--rps", "5", "--memory", "64"],
    ["--rps", "5", "--scale", "nan"], ["--trace", "/nonexistent.csv"], ["--azure", "/nonexistent.csv"],
    ["--rps", "5", "--hpa", "/nonexistent.yaml"], ["--rps", "5", "--from", "/nonexistent"],
    ["--rps", "5", "--platforms", "ecs"], [], ["--rps", "5", "--provisioned-schedule", "1/2"],
    ["--rps", "5", "--provisioned-schedule", "/".join(["1"] * 23 + ["x"])], ["--rps", "5", "--arm64-speed-factor", "nan"],
    ["--rps", "5", "--provisioned-schedule", "/".join(["1"] * 24), "--provisioned-concurrency", "2"],
])
def test_bad_input_exits_2_with_one_line(args):
    proc = cli(*args, "--minutes", "2")
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_non_utf8_trace_exits_2(tmp_path):
    f = tmp_path / "t.csv"
    f.write_bytes(b"minute,requests\n0,1\n1,\xe9\n")
    proc = cli("--trace", str(f))
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr


def test_json_document_validates_against_the_schema(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("\ufeffminute,requests\n0,600\n3,1200\n")
    out = tmp_path / "full.json"
    proc = cli("--trace", str(f), "--json", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    full = json.loads(out.read_text())
    jsonschema.validate(full, SCHEMA)
    assert doc["format"] == "twinbench.simulation" and doc["version"] == 2
    assert doc["profile"]["minutes"] == 4 and doc["profile"]["requests"] == 1800  # used as it is, not rescaled
    assert "2 of 4 minutes" in doc["profile"]["warnings"][0]
    assert len(full["platforms"]["kubernetes"]["per_minute"]["replicas_max"]) == 4
    for p in ("lambda", "kubernetes"):
        assert doc["platforms"][p]["requests"] == 1800
        assert doc["platforms"][p]["latency_ms"]["p99"] > 0


def test_schema_rejects_a_document_missing_a_platform_figure():
    doc = {"format": "twinbench.simulation", "version": 1, "profile": {}, "seed": 0, "engine": {}, "inputs": {},
           "parameters": {}, "platforms": {"lambda": {"requests": 1}}, "warnings": []}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def _lambda_parameters(*args: str) -> dict:
    proc = cli("--rps", "5", "--minutes", "2", "--platforms", "lambda", "--json", "--quiet", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["parameters"]["lambda"]


def test_caps_default_to_serverless_yml_and_can_be_lifted():
    from twinserve_support.lambda_caps import deployed_caps

    caps = deployed_caps()
    params = _lambda_parameters()
    assert (params["reserved_concurrency"], params["throttle_rate_rps"], params["throttle_burst"]) == (
        caps.reserved_concurrency, caps.throttle_rate_rps, caps.throttle_burst)
    lifted = _lambda_parameters("--reserved-concurrency", "none", "--throttle-rate-rps", "none")
    assert (lifted["reserved_concurrency"], lifted["throttle_rate_rps"], lifted["throttle_burst"]) == (None, None, None)
    raised = _lambda_parameters("--reserved-concurrency", "400", "--throttle-burst", "50")
    assert (raised["reserved_concurrency"], raised["throttle_burst"]) == (400, 50)
    # serverless.yml's throttling is the HTTP API's: a Function URL bypasses it (reserved concurrency still caps).
    url = _lambda_parameters("--front-door", "function-url")
    assert url["throttle_rate_rps"] is None and url["reserved_concurrency"] == caps.reserved_concurrency


@pytest.mark.parametrize("args", [["--reserved-concurrency", "901"], ["--reserved-concurrency", "lots"],
                                  ["--throttle-rate-rps", "0"], ["--throttle-burst", "0"]])
def test_caps_out_of_range_exit_2_with_one_line(args):
    proc = cli("--rps", "5", "--minutes", "2", *args)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _configured_gb_s(*args: str) -> float:
    proc = cli("--rps", "2", "--minutes", "1440", "--platforms", "lambda", "--memory", "1024", "--json", "--quiet", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["platforms"]["lambda"]["provisioned_configured_gb_s"]


def test_an_hourly_schedule_is_simulated_from_the_flag_and_from_a_written_parameters_file(tmp_path):
    """recommend --write puts the schedule in provisionedSchedule (and its smallest hour in
    provisionedConcurrency); simulating that file must keep the schedule, not the constant."""
    schedule = "/".join(["1"] * 12 + ["5"] * 12)
    params = tmp_path / "lambda-params.json"
    params.write_text(json.dumps({"params": {"memoryMb": 1024, "provisionedConcurrency": 1,
                                             "provisionedSchedule": schedule}}))
    from_flag = _configured_gb_s("--provisioned-schedule", schedule)
    from_file = _configured_gb_s("--lambda-params", str(params))
    constant = _configured_gb_s("--provisioned-concurrency", "1")
    assert from_flag == pytest.approx(3 * 86_400)  # three environments on average, one GB each, a day
    assert from_file == pytest.approx(from_flag)
    assert constant == pytest.approx(86_400)



def _doors(*args: str) -> list[str]:
    proc = cli("--rps", "20", "--minutes", "2", "--platforms", "lambda", "--json", "--quiet", *args)
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)["platforms"]["lambda"]["cost"]["items"]
    return [i["name"] for i in items if i["name"].startswith("front door")]


def test_a_parameters_files_front_door_is_simulated_unless_the_option_says_otherwise(tmp_path):
    """recommend --write puts the chosen door in frontDoor; --front-door still wins over the file."""
    params = tmp_path / "lambda-params.json"
    params.write_text(json.dumps({"params": {"memoryMb": 1024, "frontDoor": "function-url", "functionUrl": True}}))
    assert _doors() == ["front door (http-api)"]
    assert _doors("--lambda-params", str(params)) == ["front door (function-url)"]
    assert _doors("--lambda-params", str(params), "--front-door", "http-api") == ["front door (http-api)"]
