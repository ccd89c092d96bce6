"""`twinbench cost` as a user runs it: bad input is one line and exit 2, a trace is priced as it is.

The bad-input cases run the installed console script in a subprocess, so a traceback printed
by the interpreter (not only an exception inside ``main``) fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from twinbench.cli import cost as cost_cli
from twinbench.cost import traffic
from twinserve_support.paths import REPO

TWINBENCH = Path(sys.executable).with_name("twinbench")


def run_cost(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TWINBENCH), "cost", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture
def traces(tmp_path: Path) -> dict[str, Path]:
    files = {
        "non_utf8": b"minute,requests\n0,\xff\xfe\n",
        "huge_span": b"timestamp,requests\n0001-01-01T00:00:00Z,1\n9999-12-31T00:00:00Z,1\n",
        "huge_count": b"minute,requests\n0,1e300\n",
        # One request at the start and one at the end of a day, every other minute skipped.
        "sparse": b"minute,requests\n0,30\n1439,30\n",
        "bom": "\ufeffminute,requests\n0,60\n1,120\n".encode(),
        "skipped": b"timestamp,requests\n2026-01-01T00:10:00Z,60\n2026-01-01T00:14:00Z,120\n",
    }
    for name, body in files.items():
        (tmp_path / f"{name}.csv").write_bytes(body)
    return {name: tmp_path / f"{name}.csv" for name in files}


BAD_INPUTS = [
    (["--trace", "{non_utf8}"], "not UTF-8"),
    (["--trace", "{huge_span}"], "over the limit of 527,040"),
    (["--trace", "{huge_count}"], "requests in a minute"),
    (["--rps", "5", "--headroom", "nan"], "headroom_factor must be within"),
    (["--rps", "5", "--headroom", "inf"], "headroom_factor must be within"),
    (["--rps", "5", "--keep-alive-s", "nan"], "must be finite and >= 0"),
    (["--rps", "5", "--pod-cpu-m", "nan"], "pod_cpu_m and pod_memory_mib must be finite"),
    (["--rps", "5", "--max-rps", "0"], "max_rps must be within"),
    (["--rps", "5", "--alb-new-connections-per-request", "nan"], "ALB assumptions must be finite"),
    (["--rps", "1e300"], "rate must be within 0..1,000,000 req/s"),
    (["--rps", "nan"], "rate must be within"),
    (["--rps", "5", "--duration-ms", "1e308"], "15-minute timeout"),
    (["--rps", "5", "--pod-rps", "1e-300"], "pod_rps must be finite and >= 0.001"),
    (["--rps", "1000", "--alb-new-connections-per-request", "1e306"], "not a finite number"),
    (["--trace", "{sparse}", "--rps", "50"], "--scale 50 rescales it"),
    (["--trace", "{sparse}", "--scale", "nan"], "--scale must be within"),
    (["--trace", "{sparse}", "--scale", "0"], "--scale must be > 0"),
    (["--trace", "{sparse}", "--span-minutes", "100"], "shorter than the rows' 1,440"),
    (["--trace", "{sparse}", "--span-minutes", "10000000"], "span must be within 1..527,040"),
    (["--rps", "5", "--span-minutes", "1440"], "applies to a trace"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(traces, args, message):
    done = run_cost(*(a.format(**traces) for a in args))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("twinbench cost: error: ")
    assert message in done.stderr
    assert done.stdout == ""


def test_sparse_trace_is_priced_as_it_is(traces):
    done = run_cost("--trace", str(traces["sparse"]), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["traffic"]["minutes"] == 1440
    assert data["traffic"]["mean_rps"] == pytest.approx(60 / (1440 * 60))  # 60 requests a day, not 50 req/s
    assert data["lambda_cost"]["monthly_usd"] < 0.10
    assert "1,438 of 1,440 minutes have no row" in done.stderr


def test_scale_rescales_only_when_asked(traces):
    data = json.loads(run_cost("--trace", str(traces["sparse"]), "--scale", "50", "--json").stdout)
    assert data["traffic"]["mean_rps"] == pytest.approx(50.0)
    assert "rescaled to a mean of 50 req/s" in data["traffic"]["description"]


def test_bom_header_is_accepted(traces):
    done = run_cost("--trace", str(traces["bom"]), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["traffic"]["mean_rps"] == pytest.approx(1.5)


def test_skipped_minutes_keep_the_span_and_warn(traces):
    done = run_cost("--trace", str(traces["skipped"]), "--json")
    assert done.returncode == 0, done.stderr
    t = json.loads(done.stdout)["traffic"]
    assert t["minutes"] == 5 and t["idle_minutes_fraction"] == pytest.approx(0.6)
    assert t["warnings"] and "3 of 5 minutes" in t["warnings"][0]
    assert done.stderr.startswith("twinbench cost: warning: ") and "3 of 5 minutes have no row" in done.stderr
    longer = run_cost("--trace", str(traces["skipped"]), "--span", "60", "--json")
    t = json.loads(longer.stdout)["traffic"]
    assert t["minutes"] == 60 and t["mean_rps"] == pytest.approx(180 / 3600)
    assert "58 of 60 minutes" in longer.stderr


def test_azure_trace_is_priced_per_function(tmp_path):
    header = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(i) for i in range(1, 1441))
    busy = ",".join(["600"] * 1440)
    idle = ",".join(["0"] * 1439 + ["60"])
    f = tmp_path / "az.csv"
    f.write_text(f"{header}\no,a,aaa111,http,{idle}\no,a,bbb222,timer,{busy}\n")
    data = json.loads(run_cost("--azure", str(f), "--function", "rank:1", "--json").stdout)
    assert data["traffic"]["mean_rps"] == pytest.approx(10.0)
    data = json.loads(run_cost("--azure", str(f), "--function", "aaa", "--json").stdout)
    assert data["traffic"]["mean_rps"] == pytest.approx(60 / 86400)
    done = run_cost("--trace", str(f))
    assert done.returncode == 2 and "use --azure" in done.stderr


def test_long_span_is_announced(capsys, monkeypatch):
    monkeypatch.setattr(cost_cli, "SLOW_NOTICE_S", 0.0)
    configs = (cost_cli.cost.LambdaConfig(12, 1024), cost_cli.cost.ContainerConfig(pod_rps=400),
               cost_cli.cost.AlbAssumptions(), cost_cli.cost.load_prices())
    cost_cli._announce_long_run(traffic.constant(5.0), *configs)
    assert capsys.readouterr().err == ""  # short profiles are not even timed
    week_and_a_day = traffic.TrafficProfile("trace", [5.0] * (8 * 1440))
    cost_cli._announce_long_run(week_and_a_day, *configs)
    err = capsys.readouterr().err
    assert "pricing 11,520 minutes" in err and " s\n" in err


@pytest.mark.parametrize(("make_args", "expected", "absent"), [
    (["TRACE=t.csv"], "cost --trace t.csv --memory 1024", "--rps"),
    (["TRACE=t.csv", "RPS=20"], "cost --trace t.csv --scale 20 --memory 1024", "--rps"),
    ([], "cost --rps 50 --memory 1024", "--trace"),
    (["RPS=7"], "cost --rps 7 --memory 1024", "--scale"),
])
def test_make_cost_passes_a_trace_without_rps(make_args, expected, absent):
    env = {"PATH": "/usr/bin:/bin"}  # no RPS/TRACE inherited from the caller's environment
    done = subprocess.run(["make", "-n", "-s", "cost", *make_args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    line = done.stdout.strip().splitlines()[-1]
    assert expected in line and absent not in line
