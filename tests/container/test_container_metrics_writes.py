"""Deferred metric writes: a worker that counts in memory and writes on idle exposes exactly what
writing every request through prometheus-client would (buckets at their edges included), writes
nothing before idle or the interval, and counts itself busy until it waits. Request ids stay
unique across a fork. In-process, one registry per case."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from twinserve.service import Service
from twinserve.settings import Settings
from twinserve_flask import observability
from twinserve_flask.observability import LATENCY_BUCKETS_S, Metrics, RequestIds


@pytest.fixture(scope="module")
def service(rf_dir: Path) -> Service:
    return Service.start(Settings(model_path=rf_dir))


OBSERVATIONS = [
    ("/predict", "POST", 200, 0.0003), ("/predict", "POST", 200, LATENCY_BUCKETS_S[0]),
    ("/predict", "POST", 200, math.nextafter(LATENCY_BUCKETS_S[0], 1.0)), ("/predict", "POST", 422, 0.004),
    ("/v2/models/{name}/infer", "POST", 200, LATENCY_BUCKETS_S[-1]), ("unmatched", "GET", 404, 0.0),
    ("/predict", "POST", 200, 7.5),  # past the last bound: +Inf
]


def _exposition(metrics: Metrics) -> list[str]:
    body, _ = metrics.exposition()
    return sorted(line for line in body.decode().splitlines() if "_created" not in line)


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics._registry.get_sample_value(name, labels)


def test_deferred_writes_expose_what_direct_writes_do(service):
    direct, deferred = Metrics(service), Metrics(service)
    idle = deferred.defer_writes()
    for observation in OBSERVATIONS:
        direct.observe(*observation)
        deferred.observe(*observation)
    idle()
    assert _exposition(deferred) == _exposition(direct)
    assert _value(deferred, "twinserve_request_duration_seconds_bucket", route="/predict", le="+Inf") == 5


def test_nothing_is_written_before_idle_and_busy_counts_until_then(service, monkeypatch):
    monkeypatch.setattr(observability, "FLUSH_INTERVAL_S", 3600.0)
    metrics = Metrics(service)
    idle = metrics.defer_writes()
    metrics.started()
    metrics.observe("/predict", "POST", 200, 0.001)
    metrics.finished()
    metrics.started()  # the next request: still one busy worker
    assert _value(metrics, "twinserve_requests_in_flight") == 1
    assert _value(metrics, "twinserve_requests_total", route="/predict", method="POST", status="200") is None
    idle()
    assert _value(metrics, "twinserve_requests_in_flight") == 0
    assert _value(metrics, "twinserve_requests_total", route="/predict", method="POST", status="200") == 1


def test_a_busy_worker_writes_once_the_interval_has_passed(service, monkeypatch):
    monkeypatch.setattr(observability, "FLUSH_INTERVAL_S", 0.0)
    metrics = Metrics(service)
    metrics.defer_writes()
    metrics.observe("/predict", "POST", 200, 0.001)
    assert _value(metrics, "twinserve_requests_total", route="/predict", method="POST", status="200") == 1


def test_without_an_idle_hook_every_request_is_written_at_once(service):
    metrics = Metrics(service)
    metrics.started()
    assert _value(metrics, "twinserve_requests_in_flight") == 1
    metrics.observe("/predict", "POST", 200, 0.001)
    metrics.finished()
    assert _value(metrics, "twinserve_requests_in_flight") == 0
    assert _value(metrics, "twinserve_requests_total", route="/predict", method="POST", status="200") == 1


def test_request_ids_differ_after_a_fork():
    ids = RequestIds()
    parent = ids.new()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write_end, ids.new().encode())
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 200).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert child.split("-")[0] != parent.split("-")[0]
    assert ids.new().split("-")[0] == parent.split("-")[0]
