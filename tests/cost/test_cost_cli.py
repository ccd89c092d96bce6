"""`python -m twinbench cost`: the table, the JSON, --help, and errors as exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from twinbench.__main__ import main
from twinbench.cost.lambda_logs import lambda_log_bytes
from twinbench.cost.prices import load_prices
from twinserve_support.paths import REPO  # noqa: E402


def test_table_for_the_issue_example(capsys):
    assert main(["cost", "--rps", "50", "--memory", "1024"]) == 0
    out = capsys.readouterr().out
    assert "730-hour month" in out
    assert "Lambda + API Gateway HTTP API" in out and "EKS + EC2 t3.medium" in out and "EKS on Fargate" in out
    # 131.4 M requests: $26.28 requests + $26.28 compute + $131.40 HTTP API + their log lines
    logs_usd = 131.4e6 * lambda_log_bytes().per_invocation / 1e9 * load_prices().usd("cloudwatch_logs_ingestion_usd_per_gb")
    assert f"${183.96 + logs_usd:,.2f}" in out
    assert "CloudWatch Logs ingestion" in out and "NAT gateway (1)" in out and "public IPv4 addresses (3)" in out
    assert "Break-even" in out and "req/s mean" in out
    assert "ALB LCUs: 1 new connection(s) per request" in out


def test_json_output_is_the_comparison(capsys):
    args = ["cost", "--rps", "50", "--memory", "512", "--duration-ms", "20", "--arch", "arm64",
            "--front-door", "function-url", "--pod-rps", "300", "--instance", "c7g.large", "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["format"], data["version"]) == ("twinbench.cost", 2)
    assert data["lambda_config"] == {"billed_duration_ms": 20.0, "memory_mb": 512, "architecture": "arm64",
                                     "front_door": "function-url", "init_duration_ms": 0.0,
                                     "keep_alive_s": 300.0, "provisioned_concurrency": 0,
                                     "reserved_concurrency": None, "throttle_rate_rps": None,
                                     "provisioned_schedule": []}
    assert data["eks_cost"]["sizing"]["instance_type"] == "c7g.large"
    assert any("arm64" in n for n in data["eks_cost"]["notes"])
    assert data["break_even_eks"]["rps"] > 0


def test_diurnal_and_trace_profiles(tmp_path, capsys):
    assert main(["cost", "--rps", "20", "--profile", "diurnal", "--peak-to-mean", "1.8"]) == 0
    assert "peak minute 36.00 req/s" in capsys.readouterr().out
    trace = tmp_path / "t.csv"
    trace.write_text("minute,requests\n0,600\n2,1200\n")
    assert main(["cost", "--trace", str(trace), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["traffic"]["mean_rps"] == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--rps is required"),
        (["--rps", "5", "--instance", "z9.huge"], "not pinned"),
        (["--rps", "5", "--pod-cpu-m", "4000"], "choose a larger instance type"),
        (["--rps", "5", "--memory", "20000"], "128..10240"),
        (["--rps", "5", "--profile", "trace"], "needs --trace"),
        (["--trace", "/nonexistent/trace.csv"], "cannot read trace"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, message):
    assert main(["cost", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_help_explains_each_option():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "scripts"), str(REPO / "shared")])}
    done = subprocess.run([sys.executable, "-m", "twinbench", "cost", "--help"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=True)
    for option in ("--rps", "--memory", "--duration-ms", "--arch", "--front-door", "--pod-rps", "--instance",
                   "--headroom", "--min-replicas", "--trace", "--keep-alive-s", "--json", "730-hour"):
        assert option in done.stdout
