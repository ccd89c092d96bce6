"""Deferred writes: a worker that counts in memory and writes on idle exposes exactly what writing
every request through prometheus-client would (buckets at their edges included), writes neither
counts nor log lines before idle or the interval, writes held lines whole and at most PIPE_BUF at
a time, and counts itself busy until it waits. Request ids stay unique across a fork."""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from twinserve.service import Service
from twinserve.settings import Settings
from twinserve_flask import observability
from twinserve_flask.fastpath import create_wsgi_app
from twinserve_flask.observability import LATENCY_BUCKETS_S, Metrics, Observed, RequestIds


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
    deferred.defer_writes()
    for observation in OBSERVATIONS:
        direct.observe(*observation)
        deferred.observe(*observation)
    deferred.idle()
    assert _exposition(deferred) == _exposition(direct)
    assert _value(deferred, "twinserve_request_duration_seconds_bucket", route="/predict", le="+Inf") == 5


def test_nothing_is_written_before_idle_and_busy_counts_until_then(service):
    metrics = Metrics(service)
    metrics.defer_writes()
    metrics.started()
    metrics.observe("/predict", "POST", 200, 0.001)
    metrics.finished()
    metrics.started()  # the next request: still one busy worker
    assert _value(metrics, "twinserve_requests_in_flight") == 1
    assert _predicts(metrics) is None
    metrics.idle()
    assert _value(metrics, "twinserve_requests_in_flight") == 0
    assert _predicts(metrics) == 1


def _observed(service: Service, log_fd: int) -> Observed:
    return Observed(create_wsgi_app(service), Metrics(service), access_log=True, log_fd=log_fd)


def _predicts(metrics: Metrics) -> float | None:
    return _value(metrics, "twinserve_requests_total", route="/predict", method="POST", status="200")


def _call(app: Observed, body: bytes) -> None:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/predict", "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "127.0.0.1"}
    b"".join(app(environ, lambda status, headers, exc_info=None: None))


@pytest.fixture
def logged(service: Service, tmp_path: Path) -> Iterator[tuple[Observed, Path]]:
    """An observed app (log + metrics) writing its access log to a file, with the deferred writes on."""
    log = tmp_path / "access.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        app = _observed(service, fd)
        app.write_when_idle()
        yield app, log
    finally:
        os.close(fd)


def test_held_log_lines_and_counts_are_written_on_idle(logged, good_body, monkeypatch):
    monkeypatch.setattr(observability, "FLUSH_INTERVAL_S", 3600.0)
    app, log = logged
    for _ in range(3):
        _call(app, good_body)
    assert log.read_bytes() == b""
    assert _predicts(app.metrics) is None
    app.idle()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["status"] for line in lines] == [200, 200, 200]
    assert _predicts(app.metrics) == 3


def test_a_busy_worker_writes_once_the_interval_has_passed(logged, good_body, monkeypatch):
    monkeypatch.setattr(observability, "FLUSH_INTERVAL_S", 0.0)
    app, log = logged
    _call(app, good_body)
    assert len(log.read_text().splitlines()) == 1
    assert _predicts(app.metrics) == 1


def test_held_lines_are_written_in_whole_lines_of_at_most_pipe_buf(service, good_body, monkeypatch):
    monkeypatch.setattr(observability, "FLUSH_INTERVAL_S", 3600.0)
    read_end, write_end = os.pipe()
    try:
        app = _observed(service, write_end)
        idle = app.write_when_idle()
        writes = []
        real_write = os.write
        monkeypatch.setattr(observability.os, "write", lambda fd, data: writes.append(data) or real_write(fd, data))
        for _ in range(40):
            _call(app, good_body)
        idle()
        assert len(writes) > 1 and all(len(w) <= observability.LOG_WRITE_BYTES and w.endswith(b"\n") for w in writes)
        assert sum(w.count(b"\n") for w in writes) == 40
    finally:
        os.close(read_end)
        os.close(write_end)


def test_without_an_idle_hook_every_request_is_written_at_once(service):
    metrics = Metrics(service)
    metrics.started()
    assert _value(metrics, "twinserve_requests_in_flight") == 1
    metrics.observe("/predict", "POST", 200, 0.001)
    metrics.finished()
    assert _value(metrics, "twinserve_requests_in_flight") == 0
    assert _predicts(metrics) == 1


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
