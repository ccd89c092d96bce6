"""The container's access log and Prometheus metrics under real gunicorn (the shipped
gunicorn.conf.py, two workers): JSON access lines with an accepted or generated X-Request-Id
echoed back, counters summed across workers and scraped from the side listener (METRICS_PORT),
in-flight back to 0 after a worker is killed, the model's identity, route templates as labels."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from twinserve.routes import route_of
from twinserve_support.local_container import LocalContainer
from twinserve_support.process.net import free_port

pytestmark = pytest.mark.slow

WORKERS = 2


@pytest.fixture(scope="module")
def server(rf_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalContainer]:
    log = tmp_path_factory.mktemp("observability") / "gunicorn.log"
    # The access log and the metrics are on by default; the side listener on a free port.
    env = {"WEB_CONCURRENCY": str(WORKERS), "METRICS_PORT": str(free_port())}
    with LocalContainer(model_path=rf_dir, env=env, log_path=log) as container:
        # Ready means one worker answers; gunicorn forks the next up to 0.1 s later (a random
        # sleep between spawns), and these tests can be done by then.
        assert _wait_workers(container), container.process.log_tail(20)
        yield container


def _metrics(server: LocalContainer) -> dict[str, float]:
    text = requests.get(f"http://127.0.0.1:{server.server_env['METRICS_PORT']}/metrics", timeout=5).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def _settled_metrics(server: LocalContainer, settled) -> dict[str, float]:
    """The metrics once ``settled(values)`` holds, or as they are after a bound: the answer reaches the
    client just before the worker's metrics call returns, so the last request's count may be a moment late."""
    deadline = time.monotonic() + 3.0
    values = _metrics(server)
    while not settled(values) and time.monotonic() < deadline:
        time.sleep(0.05)
        values = _metrics(server)
    return values


def _alive(process: psutil.Process) -> bool:
    """Running and not a zombie; a process reaped between the listing and this check is not."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _is_worker(process: psutil.Process) -> bool:
    """A gunicorn worker, not nginx nor the side listener (the master's other children)."""
    try:
        return "gunicorn" in " ".join(process.cmdline())
    except psutil.NoSuchProcess:
        return False


def _wait_workers(server: LocalContainer, without: int | None = None, timeout_s: float = 20.0) -> list[psutil.Process]:
    """The live workers once there are WORKERS of them (none of them ``without``), or as they are after the bound."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [p for p in server.process.children() if _alive(p) and _is_worker(p)]
        if (len(alive) == WORKERS and without not in [p.pid for p in alive]) or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


def _access_lines(server: LocalContainer) -> list[dict]:
    lines = []
    for line in server.process.log_text().splitlines():
        if line.startswith("{") and '"twinserve.access"' in line:
            lines.append(json.loads(line))
    return lines


def test_request_ids_are_echoed_or_generated_and_logged(server, good_body):
    given = requests.post(f"{server.url}/predict", data=good_body, headers={"X-Request-Id": "client-id-42"}, timeout=5)
    made = requests.post(f"{server.url}/predict", data=good_body, timeout=5)
    hostile = requests.post(f"{server.url}/predict", data=good_body, headers={"X-Request-Id": "a\"b{" * 50}, timeout=5)
    assert given.headers["X-Request-Id"] == "client-id-42"
    assert made.headers["X-Request-Id"] and made.headers["X-Request-Id"] != "client-id-42"
    assert hostile.headers["X-Request-Id"] != "a\"b{" * 50  # not a safe id: replaced, never echoed
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = {line["request_id"]: line for line in _access_lines(server)}
        if {"client-id-42", made.headers["X-Request-Id"]} <= set(lines):
            break
        time.sleep(0.05)
    line = lines["client-id-42"]
    assert line["status"] == 200 and line["route"] == "/predict" and line["method"] == "POST"
    assert line["bytes"] == len(given.content) and 0 < line["latency_ms"] < 1000
    assert line["time"].endswith("Z")


def test_counters_are_summed_across_workers(server, good_body, rf_metadata):
    before = _metrics(server)
    key = 'twinserve_requests_total{method="POST",route="/predict",status="200"}'
    infer = f"/v2/models/{rf_metadata['name']}/infer"
    body = json.dumps({"inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP64",
                                   "data": rf_metadata["example_row"]}]}).encode()
    for _ in range(40):  # a new connection each: nginx spreads them over its upstream connections
        assert requests.post(f"{server.url}/predict", data=good_body, timeout=5).status_code == 200
    requests.post(f"{server.url}{infer}", data=body, timeout=5)
    requests.get(f"{server.url}/no/such/path/{time.time()}", timeout=5)
    unmatched = 'twinserve_requests_total{method="GET",route="unmatched",status="404"}'
    after = _settled_metrics(server, lambda values: values.get(key, 0.0) - before.get(key, 0.0) >= 40
                             and values.get(unmatched) and values.get("twinserve_requests_in_flight") == 0)
    assert after[key] - before.get(key, 0.0) == 40
    assert after['twinserve_requests_total{method="POST",route="/v2/models/{name}/infer",status="200"}'] >= 1
    assert after['twinserve_requests_total{method="GET",route="unmatched",status="404"}'] >= 1
    assert after['twinserve_request_duration_seconds_count{route="/predict"}'] >= 40
    assert after["twinserve_requests_in_flight"] == 0
    info = [k for k in after if k.startswith("twinserve_model_info{")]
    assert len(info) == 1 and rf_metadata["sha256"] in info[0] and after[info[0]] == 1


def test_a_killed_worker_is_marked_dead(server, good_body):
    workers = _wait_workers(server)
    assert len(workers) == WORKERS, server.process.log_tail(20)
    os.kill(workers[0].pid, signal.SIGKILL)
    _wait_workers(server, without=workers[0].pid)
    for _ in range(10):
        assert requests.post(f"{server.url}/predict", data=good_body, timeout=5).status_code == 200
    key = 'twinserve_requests_total{method="POST",route="/predict",status="200"}'
    after = _settled_metrics(server, lambda values: values.get(key, 0.0) >= 50
                             and values.get("twinserve_requests_in_flight") == 0)
    assert after["twinserve_requests_in_flight"] == 0
    assert after['twinserve_requests_total{method="POST",route="/predict",status="200"}'] >= 50  # kept


@pytest.mark.parametrize(("path", "route"), [
    ("/predict", "/predict"), ("/metrics", "/metrics"), ("/v2", "/v2"), ("/v2/health/ready", "/v2/health/ready"),
    ("/v2/models/m", "/v2/models/{name}"), ("/v2/models/m/versions/3/infer", "/v2/models/{name}/infer"),
    ("/v2/models/m/ready", "/v2/models/{name}/ready"), ("/v2/models/m/x", "unmatched"), ("/etc/passwd", "unmatched"),
])
def test_route_templates_bound_the_labels(path, route):
    assert route_of(path) == route
