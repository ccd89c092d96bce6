"""bench-limit's arithmetic and its no-op app: ratios per round against the no-op under the same
arrangement, the verdict at the targets' edges, the table.
(The end-to-end run with wrk is ``make bench-limit-smoke``, a CI target.)"""

from __future__ import annotations

import io
import time

import pytest
from twinbench.measure import http_limit
from twinbench.measure.http_limit import (
    TARGET_P99_RATIO,
    TARGET_THROUGHPUT_RATIO,
    noop_app,
    render,
    summarise,
)


def _run(server: str, round_: int, rps: float, p99: float) -> dict:
    return {"server": server, "round": round_, "rps": rps, "p99_ms": p99, "load_avg_1m": 0.5,
            "workers": 4 if server == "noop" else 2,
            "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}}


def _runs(twinserve: list[tuple[float, float]]) -> list[dict]:
    runs = []
    for i, (rps, p99) in enumerate(twinserve, start=1):
        runs += [_run("noop", i, 10_000.0, 5.0), _run("twinserve", i, rps, p99)]
    return runs


NAMES = ["noop", "twinserve"]


def test_ratios_are_per_round_then_median_against_each_base():
    runs = _runs([(6_000.0, 6.0), (8_000.0, 9.0), (7_500.0, 7.0)])
    runs += [_run("old-edge", i, 5_000.0, 8.0) for i in (1, 2, 3)]
    summary = summarise(runs, [*NAMES, "old-edge"])
    main = summary["ratios"]["twinserve"]
    assert main["throughput_ratio"] == 0.75 and main["throughput_ratio_range"] == [0.6, 0.8]
    assert main["p99_ratio"] == pytest.approx(1.4)
    old = summary["ratios_vs_old_edge"]["twinserve"]
    assert old["throughput_ratio"] == 1.5 and old["p99_ratio"] == pytest.approx(7 / 8, abs=1e-6)
    assert summary["target"]["met"] is False  # 0.75 of the no-op is under the 0.85 target
    assert summary["target"]["vs_old_edge_met"] is True


@pytest.mark.parametrize(("rps", "p99", "met"), [
    (10_000 * TARGET_THROUGHPUT_RATIO, 5.0 * TARGET_P99_RATIO, True),  # exactly at both edges
    (10_000 * TARGET_THROUGHPUT_RATIO - 1, 5.0, False),
    (10_000.0, 5.0 * TARGET_P99_RATIO + 0.01, False),
])
def test_the_verdict_at_the_targets_edges(rps, p99, met):
    assert summarise(_runs([(rps, p99)]), NAMES)["target"]["met"] is met


def test_the_table_names_both_comparisons_and_the_verdict():
    runs = _runs([(6_000.0, 9.0)])
    document = {"summary": summarise(runs, NAMES), "runs": runs, "path": "limit.json",
                "settings": {"rounds": 1, "concurrency": 32, "duration_s": 10.0, "model": "m", "answer_bytes": 219},
                "environment": {"cpus": 2}}
    text = render(document)
    assert "| noop | 4 | 10,000 (10,000-10,000) | 5.00 | 1 | 1x | 0 |" in text
    assert "| twinserve | 2 | 6,000 (6,000-6,000) | 9.00 | 0.60 | 1.80x | 0 |" in text
    assert "NOT met" in text and "buffered" not in text


def test_without_the_old_edge_there_is_no_comparison_with_it():
    runs = _runs([(9_000.0, 6.0)])
    summary = summarise(runs, ["noop", "twinserve"])
    assert summary["ratios_vs_old_edge"] == {} and summary["target"]["vs_old_edge_met"] is None
    assert summary["target"]["met"]


def test_the_no_op_app_reads_the_body_and_answers_the_configured_size(monkeypatch):
    monkeypatch.setattr(http_limit, "_NOOP_BODY", None)
    monkeypatch.setenv(http_limit.ENV_NOOP_ANSWER_BYTES, "219")
    body = b'{"features": [1, 2, 3]}'
    stream = io.BytesIO(body)
    seen = []
    answer = b"".join(noop_app({"CONTENT_LENGTH": str(len(body)), "wsgi.input": stream},
                               lambda status, headers: seen.append((status, dict(headers)))))
    assert stream.tell() == len(body)
    assert len(answer) == 219 and seen[0][0] == "200 OK" and seen[0][1]["Content-Length"] == "219"


def test_nine_rounds_give_the_median_ratios_a_ci_and_five_do_not():
    nine = [(6_000.0 + 250 * i, 6.0 + 0.25 * i) for i in range(9)]  # ratios 0.60 .. 0.80, p99 1.2 .. 1.6
    main = summarise(_runs(nine), NAMES)["ratios"]["twinserve"]
    # The 2nd and 8th of 9 ordered ratios bound the median with >= 95 % (binomial order statistics).
    assert main["throughput_ratio_ci95"] == [pytest.approx(0.625), pytest.approx(0.775)]
    assert main["p99_ratio_ci95"] == [pytest.approx(1.25), pytest.approx(1.55)]
    five = summarise(_runs(nine[:5]), NAMES)["ratios"]["twinserve"]
    assert None in five["throughput_ratio_ci95"]
    runs = _runs(nine)
    text = render({"summary": summarise(runs, NAMES), "runs": runs, "path": "limit.json",
                   "settings": {"rounds": 9, "concurrency": 32, "duration_s": 5.0, "model": "m", "answer_bytes": 219},
                   "environment": {"cpus": 2}})
    assert "throughput 0.700, 95% CI 0.625-0.775; p99 1.400x, 95% CI 1.250-1.550; medians over 9 rounds" in text


def test_every_server_runs_the_images_worker_count(tmp_path):
    from twinbench.measure.http_limit import image_workers, variants
    from twinserve_support.k8s.manifests import pod_settings

    workers, source = image_workers()
    assert workers == int(pod_settings().env["WEB_CONCURRENCY"]) and "ConfigMap" in source
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")  # no ConfigMap: gunicorn.conf.py decides
    assert image_workers(tmp_path)[0] is None
    # The no-op runs under exactly the container's arrangement, worker count included.
    counts = {v.name: v.workers for v in variants(include_breakdown=True)}
    assert "noop" in counts and set(counts.values()) == {"image"}


def test_the_booted_workers_are_counted_from_gunicorns_log(tmp_path):
    from twinbench.measure.http_limit import booted_workers

    log = tmp_path / "server.log"
    log.write_text("[INFO] Starting gunicorn 23.0.0\n[INFO] Booting worker with pid: 11\n"
                   "[INFO] Booting worker with pid: 12\n[INFO] Worker exiting (pid: 12)\n")
    assert booted_workers(log) == 2
    assert booted_workers(tmp_path / "missing.log") is None


def test_cpu_per_request_is_split_by_role_and_its_medians_are_tabled():
    before = {"workers": 1.0, "nginx": 0.5, "rest": 0.1}
    after = {"workers": 1.3, "nginx": 0.55, "rest": 0.1}
    split = http_limit.cpu_per_request(before, after, wrk_cpu_s=0.02, requests=1000)
    assert split == {"workers": 300.0, "nginx": 50.0, "rest": 0.0, "wrk": 20.0, "total": 370.0}
    assert http_limit.cpu_per_request(before, after, 0.02, requests=0) is None
    runs = _runs([(6_000.0, 9.0), (7_000.0, 8.0), (6_500.0, 7.0)])
    for i, run in enumerate(r for r in runs if r["server"] == "twinserve"):
        run["cpu_us_per_request"] = {**split, "workers": 300.0 + 10 * i}
    summary = summarise(runs, NAMES)
    assert summary["servers"]["twinserve"]["cpu_us_per_request"]["workers"] == 310.0
    assert summary["servers"]["noop"]["cpu_us_per_request"] is None  # no split recorded: no row
    text = render({"summary": summary, "runs": runs, "path": "limit.json",
                   "settings": {"rounds": 3, "concurrency": 32, "duration_s": 5.0, "model": "m", "answer_bytes": 219},
                   "environment": {"cpus": 2}})
    assert "| twinserve | 310 | 50 | 0 | 20 | 370 |" in text
    assert "| noop | " not in text.split("CPU per answered request")[1]


def test_cpu_by_role_counts_a_busy_child_of_the_master_as_a_worker():
    import subprocess
    import sys

    import psutil

    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 1.0\n"
                              "while time.process_time() < end: pass\ntime.sleep(10)"])
    try:
        root = psutil.Process()
        before = http_limit.cpu_by_role(root)
        deadline = time.monotonic() + 10
        while http_limit.cpu_by_role(root)["workers"] - before["workers"] < 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)
        after = http_limit.cpu_by_role(root)
    finally:
        child.kill()
        child.wait()
    assert after["workers"] - before["workers"] >= 0.5
    assert set(after) == set(http_limit.CPU_ROLES)
