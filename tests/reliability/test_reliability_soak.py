"""``make soak``: its arithmetic, and a few seconds of the real thing on gunicorn."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from twinbench.measure.loadgen import Outcome
from twinbench.measure.progress import Progress
from twinbench.reliability import soak


def _outcome(done_s: float, latency_ms: float, status: int = 200) -> Outcome:
    return Outcome(status=status, latency_ms=latency_ms, service_ms=latency_ms, send_lag_ms=0.0, done_s=done_s)


def test_windows_split_by_completion_time_and_count_errors():
    outcomes = [_outcome(t / 10, 5.0) for t in range(100)] + [_outcome(9.5, 50.0, status=503)]
    wins = soak.windows(outcomes, 5.0)
    assert [w["n"] for w in wins] == [50, 51]
    assert [w["errors"] for w in wins] == [0, 1]
    assert wins[0]["p99_ms"] == pytest.approx(5.0, abs=0.01)  # hdrhistogram precision


def test_rss_of_this_process_and_of_a_gone_pid():
    assert soak.rss_kb(os.getpid()) > 1000
    assert soak.rss_kb(2**22 + 12345) is None


def test_rss_growth_from_the_first_warm_sample():
    samples = [{"t_s": 0.0, "pids": [1], "rss_kb": 500}, {"t_s": 10.0, "pids": [1], "rss_kb": 1000},
               {"t_s": 60.0, "pids": [1], "rss_kb": 1030}]
    growth = soak._rss_growth(samples, warm_s=10.0)
    assert growth["baseline_kb"] == 1000 and growth["growth_pct"] == pytest.approx(3.0)
    assert growth["note"] is None


def test_rss_growth_counts_only_processes_alive_throughout():
    # A Lambda environment started mid-soak (pid 3) is scale-out, not growth of the others.
    samples = [{"t_s": 10.0, "pids": [1, 2], "rss_kb": 2000, "rss_kb_by_pid": {"1": 1000, "2": 1000}},
               {"t_s": 60.0, "pids": [1, 2, 3], "rss_kb": 3040, "rss_kb_by_pid": {"1": 1020, "2": 1020, "3": 1000}}]
    growth = soak._rss_growth(samples, warm_s=10.0)
    assert growth["baseline_kb"] == 2000 and growth["end_kb"] == 2040 and growth["growth_pct"] == pytest.approx(2.0)
    assert growth["pids"] == [1, 2] and "changed" in growth["note"]


def test_rss_growth_without_a_surviving_process_is_not_a_figure():
    samples = [{"t_s": 10.0, "pids": [1], "rss_kb": 1000, "rss_kb_by_pid": {"1": 1000}},
               {"t_s": 60.0, "pids": [2], "rss_kb": 900, "rss_kb_by_pid": {"2": 900}}]
    assert soak._rss_growth(samples, warm_s=10.0)["growth_pct"] is None


def test_rss_growth_net_of_the_runtime_clients_setenv_retention():
    samples = [{"t_s": 10.0, "pids": [1, 2], "rss_kb": 2000, "rss_kb_by_pid": {"1": 1000, "2": 1000},
                "invocations_by_pid": {"1": 100, "2": 50}},
               {"t_s": 60.0, "pids": [1, 2], "rss_kb": 2100, "rss_kb_by_pid": {"1": 1080, "2": 1020},
                "invocations_by_pid": {"1": 10_100, "2": 2_050}}]
    growth = soak._rss_growth(samples, warm_s=10.0, retention_bytes=102.4)
    assert growth["growth_pct"] == pytest.approx(5.0)
    assert growth["invocations_served"] == 12_000 and growth["setenv_retained_kb"] == pytest.approx(1200.0)
    assert growth["net_growth_pct"] == pytest.approx(5.0 - 60.0)  # retention explains more than all of it
    # without per-process invocation counts (the container) there is no net figure
    assert "net_growth_pct" not in soak._rss_growth([{k: v for k, v in x.items() if k != "invocations_by_pid"}
                                                     for x in samples], warm_s=10.0, retention_bytes=102.4)


def test_the_lambda_runtimes_setenv_keeps_every_trace_id():
    from twinbench.local_lambda.settings import DEFAULT_PYTHON

    if not DEFAULT_PYTHON.exists():
        pytest.skip("the Lambda runtime venv is not built (make lambda-runtime)")
    retained = soak.setenv_retention_bytes(DEFAULT_PYTHON, count=20_000)
    # "_X_AMZN_TRACE_ID=Root=1-...;Sampled=0" is ~70 bytes; glibc keeps a copy of each
    assert retained is not None and 50 < retained < 400


def test_a_step_whose_latency_climbs_is_not_held():
    steady = [_outcome(t / 10, 5.0 + (t % 7)) for t in range(300)]
    stable, first, last = soak.latency_stable(steady)
    assert stable and first == pytest.approx(last, rel=0.05)
    # a queue that grows by a little each second: nothing failed yet, but p99 climbs through the step
    climbing = [_outcome(t / 10, 5.0 + t) for t in range(300)]
    stable, first, last = soak.latency_stable(climbing)
    assert not stable and last > 2 * first + 10
    # order is by completion time, not by list position
    assert not soak.latency_stable(list(reversed(climbing)))[0]


def test_worker_pids_come_from_boot_lines_read_once(tmp_path: Path):
    log = tmp_path / "container-serving.log"
    watch = soak._WorkerPids(log)
    assert watch() == []  # no log yet
    me = os.getpid()
    gone = 2**22 + 12345
    log.write_text(f"[INFO] Booting worker with pid: {me}\n[INFO] Booting worker with pid: {gone}\n"
                   f"127.0.0.1 \"POST /predict HTTP/1.1\" 200 31 2ms\n[INFO] Booting worker with pi")
    assert watch() == [me]  # the gone pid is not alive; the half-written line waits
    with log.open("a") as f:
        f.write(f"d: {os.getppid()}\n")
    assert watch() == [me, os.getppid()]
    assert watch._offset == log.stat().st_size  # nothing is read twice


def test_saturation_comes_from_the_newest_results_file(tmp_path: Path):
    for stamp, rps in (("20260101T000000Z", 100.0), ("20260202T000000Z", 250.0)):
        (tmp_path / stamp).mkdir()
        doc = {"scenarios": {"scalability": {"container": {"max_achieved_rps": rps}}}}
        (tmp_path / stamp / "results.json").write_text(json.dumps(doc))
    rps, path = soak.saturation_from_results("container", tmp_path)
    assert rps == 250.0 and "20260202" in path
    assert soak.saturation_from_results("lambda", tmp_path) is None


@pytest.mark.slow
def test_short_soak_on_gunicorn_writes_its_figures(rf_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODEL_PATH", str(rf_dir))
    settings = soak.SoakSettings(duration_s=6.0, targets=("container",), saturation_rps=60.0, window_s=2.0,
                                 ramp_step_s=1.0, out_dir=tmp_path)
    document = soak.run(settings, Progress(quiet=True))
    result = document["targets"][0]
    assert result["offered_rps"] == pytest.approx(42.0)
    assert result["errors"] == 0 and result["sent"] >= 200
    assert [step["offered_rps"] for step in result["ramp"]] == [10.5, 21.0, 31.5]
    assert result["ramp_errors"] == 0 and all(step["sent"] >= 9 for step in result["ramp"])
    assert result["rss"]["baseline_kb"] and result["rss"]["end_kb"]
    assert len(result["rss_samples"][0]["pids"]) >= 1
    assert json.loads((tmp_path / "soak.json").read_text())["format"] == "twinbench.soak"
    assert any(line.startswith("soak: ") for line in soak.summary_lines(document))
