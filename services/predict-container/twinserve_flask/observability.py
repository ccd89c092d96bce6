"""What the container tells its operators: a JSON access log line per request (with a request id)
and Prometheus metrics, aggregated across gunicorn's workers.

Both are one WSGI layer in front of the app, switched by the environment when the app is built
(``gunicorn.conf.py`` turns them on; the Lambda WSGI handler leaves them off, Lambda has its own):

``TWINSERVE_ACCESS_LOG``  ``json``: one JSON object per request on stdout; ``off`` (default).
``TWINSERVE_METRICS``     ``prometheus``: ``GET /metrics`` and the metrics below; ``off`` (default).
``PROMETHEUS_MULTIPROC_DIR``  prometheus-client's multiprocess directory (on tmpfs), set and
                          emptied by ``gunicorn.conf.py`` before the app (and the client) load.

Cost is the point of the design (measured with ``make bench-limit``): the log line is built by
orjson and written with one ``os.write`` (atomic for lines under PIPE_BUF, so workers never
interleave) instead of ``logging`` and gunicorn's access formatter; metric children are created
once per label set and cached; request ids are a per-process random prefix and a counter, reset
after fork.

Writes are deferred when the worker loop offers an idle hook (the buffered worker does, see
:meth:`Observed.write_when_idle`): each prometheus-client write to the multiprocess files takes a
lock, a ``getpid()`` and an mmap write, five of them a request, and each log line a ``write()``;
on a loaded 2-core machine that cost more than the prediction. Instead a worker counts in plain
dictionaries and holds its log lines (nginx's ``access_log ... buffer=``), and writes them when it
is about to wait for a connection, before it serves ``/metrics`` (its own counts), at exit, when
the held lines reach ``LOG_WRITE_BYTES``, and at least every ``FLUSH_INTERVAL_S`` while it stays
busy. A scrape or a log reader sees a busy worker's figures at most that late and an idle
worker's at once; a worker killed outright loses what it held (at most that interval's).
``twinserve_requests_in_flight`` is then set when a worker takes its first request and cleared
when it next waits, so it counts busy workers (a sync worker holds one request at a time). Under
the stock sync worker every write goes through at once, as before.

Metrics: ``twinserve_requests_total{route,method,status}``,
``twinserve_request_duration_seconds{route}`` (histogram), ``twinserve_requests_in_flight``,
``twinserve_model_info{name,version,sha256,backend}``. ``route`` is the route's template
(``/v2/models/{name}/infer``), never the raw path, so a scan cannot explode the label set.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import time
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from twinserve.routes import METRICS_PATH, route_of
from twinserve.service import Service

ENV_ACCESS_LOG = "TWINSERVE_ACCESS_LOG"
ENV_METRICS = "TWINSERVE_METRICS"
ENV_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_ID_HEADER = "X-Request-Id"
# Latency buckets in seconds: the service answers in well under a millisecond in-process, and a
# client-visible problem starts at tens of milliseconds.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# A busy worker writes its deferred log lines and metrics at least this often (an idle one at once).
FLUSH_INTERVAL_S = 1.0
# Held log lines are written in pieces of at most this many bytes, whole lines only: a write up to
# PIPE_BUF (4096 on Linux) reaches a pipe in one piece, so two workers' lines never interleave.
LOG_WRITE_BYTES = 4096

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
__all__ = ["METRICS_PATH", "Metrics", "Observed", "observe", "route_of"]
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}").fullmatch


class ObservabilityConfigError(ValueError):
    """An observability setting with a value this module does not know."""


class _PendingLatency:
    """Latencies observed since the last write, as prometheus-client stores a histogram: a count per
    bucket (not cumulative) and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.total = 0.0


class Metrics:
    """The container's Prometheus metrics (multiprocess mode when the directory is set)."""

    def __init__(self, service: Service) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self._multiprocess = bool(os.environ.get(ENV_MULTIPROC_DIR))
        # Our own registry: nothing else registered in this process leaks into /metrics.
        registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("twinserve_requests_total", "HTTP requests answered, by route template, method and status.",
                                ("route", "method", "status"), registry=registry)
        self.latency = Histogram("twinserve_request_duration_seconds",
                                 "Time from the request reaching the app to its answer, by route template.",
                                 ("route",), buckets=LATENCY_BUCKETS_S, registry=registry)
        self.in_flight = Gauge("twinserve_requests_in_flight",
                               "Requests being answered now, all workers together (with deferred writes: busy "
                               "workers, each counted from its first request until it next waits).",
                               registry=registry, multiprocess_mode="livesum")
        info = Gauge("twinserve_model_info", "The served model (always 1): name, version, SHA-256, backend.",
                     ("name", "version", "sha256", "backend"), registry=registry, multiprocess_mode="max")
        meta = service.predictor.model.metadata
        info.labels(meta.name, meta.version, meta.sha256, service.predictor.model.backend.name).set(1)
        self._registry = registry
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[str, Any] = {}
        self._bounds = (*LATENCY_BUCKETS_S, math.inf)  # prometheus-client's buckets, +Inf last
        self._deferred = False
        self._busy = False
        self._pending_requests: dict[tuple[str, str, int], int] = {}
        self._pending_latency: dict[str, _PendingLatency] = {}

    def _counter(self, key: tuple[str, str, int]) -> Any:
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(key[0], key[1], str(key[2]))
        return counter

    def _histogram(self, route: str) -> Any:
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.latency.labels(route)
        return histogram

    def defer_writes(self) -> None:
        """From now on count in memory; the caller then calls :meth:`flush` at least every
        FLUSH_INTERVAL_S and :meth:`idle` whenever it is about to wait for work, and before it exits."""
        self._deferred = True

    def started(self) -> None:
        if not self._deferred:
            self.in_flight.inc()
        elif not self._busy:
            self._busy = True
            self.in_flight.set(1)

    def finished(self) -> None:
        if not self._deferred:
            self.in_flight.dec()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        if not self._deferred:
            self._counter((route, method, status)).inc()
            self._histogram(route).observe(seconds)
            return
        key = (route, method, status)
        pending = self._pending_requests
        pending[key] = pending.get(key, 0) + 1
        latency = self._pending_latency.get(route)
        if latency is None:
            latency = self._pending_latency[route] = _PendingLatency(len(self._bounds))
        latency.counts[bisect_left(self._bounds, seconds)] += 1  # the first bucket with seconds <= bound
        latency.total += seconds

    def flush(self) -> None:
        """Write what was counted since the last write (a no-op when nothing was)."""
        if self._pending_requests:
            for key, count in self._pending_requests.items():
                self._counter(key).inc(count)
            self._pending_requests.clear()
        if self._pending_latency:
            for route, latency in self._pending_latency.items():
                # prometheus-client has no public "observe n values"; its histogram child keeps one
                # value per bucket and one for the sum (pinned version; a test compares the
                # exposition with observe()'s).
                child = self._histogram(route)
                for bucket, count in zip(child._buckets, latency.counts, strict=True):
                    if count:
                        bucket.inc(count)
                child._sum.inc(latency.total)
            self._pending_latency.clear()

    def idle(self) -> None:
        """The worker is about to wait: write the counts, and it no longer holds a request."""
        self.flush()
        if self._busy:
            self._busy = False
            self.in_flight.set(0)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every worker's metrics together, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        self.flush()  # this worker's own counts first
        if self._multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self._registry), CONTENT_TYPE_LATEST


class RequestIds:
    """Ids for requests that came without one: unique across workers and restarts, cheap."""

    def __init__(self) -> None:
        self._reset()
        # A forked worker must not repeat its parent's ids; renewed at fork, not checked per request.
        reset = weakref.WeakMethod(self._reset)
        os.register_at_fork(after_in_child=lambda: (method := reset()) is not None and method())

    def _reset(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._count = 0

    def new(self) -> str:
        self._count += 1
        return f"{self._prefix}-{self._count:x}"


class _Clock:
    """UTC timestamps with milliseconds, the date part formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        wall = time.time()
        second = int(wall)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._text}.{int((wall - second) * 1000):03d}Z"


class Observed:
    """The WSGI layer: request id in and out, one access log line, the metrics, ``GET /metrics``."""

    def __init__(self, app: WSGIApp, metrics: Metrics | None, access_log: bool, log_fd: int = 1) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.log_fd = log_fd
        self.ids = RequestIds()
        self.clock = _Clock()
        self._deferred = False
        self._log_lines: list[bytes] = []
        self._log_bytes = 0
        self._flushed_at = time.perf_counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        request_id = environ.get("HTTP_X_REQUEST_ID")
        if request_id is None or not _ACCEPTED_ID(request_id):
            request_id = self.ids.new()
        seen: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen.append(status)
            seen.append(headers)
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        metrics = self.metrics
        if metrics is not None:
            if path == METRICS_PATH and method == "GET":
                result: Iterable[bytes] = self._serve_metrics(start)
            else:
                metrics.started()
                try:
                    result = self.app(environ, start)
                finally:
                    metrics.finished()
        else:
            result = self.app(environ, start)
        seconds = time.perf_counter() - started
        status = int(seen[-2][:3]) if seen else 500
        route = route_of(path)
        if metrics is not None:
            metrics.observe(route, method, status, seconds)
        if self.access_log:
            size = None
            if seen:
                for name, value in seen[-1]:
                    if name.lower() == "content-length":
                        size = int(value)
            line = orjson.dumps({
                "time": self.clock.now(), "level": "info", "logger": "twinserve.access",
                "request_id": request_id, "method": method, "path": path, "route": route, "status": status,
                "bytes": size, "latency_ms": round(seconds * 1000.0, 3),
                "remote_addr": environ.get("REMOTE_ADDR"),
            }, option=orjson.OPT_APPEND_NEWLINE)
            if not self._deferred:
                self._write_log(line)
            else:
                if self._log_bytes + len(line) > LOG_WRITE_BYTES:
                    self._flush_log()
                self._log_lines.append(line)
                self._log_bytes += len(line)
        if self._deferred and started - self._flushed_at >= FLUSH_INTERVAL_S:
            self.flush()
        return result

    def _write_log(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # a closed or full log pipe must never fail the request
            os.write(self.log_fd, data)

    def _flush_log(self) -> None:
        if self._log_lines:
            self._write_log(b"".join(self._log_lines))
            self._log_lines.clear()
            self._log_bytes = 0

    def flush(self) -> None:
        """Write the held log lines and metric counts now."""
        self._flushed_at = time.perf_counter()
        self._flush_log()
        if self.metrics is not None:
            self.metrics.flush()

    def idle(self) -> None:
        """The worker is about to wait for a connection (or to exit): write everything held, and it
        no longer holds a request."""
        self.flush()
        if self.metrics is not None:
            self.metrics.idle()

    def write_when_idle(self) -> Callable[[], None]:
        """Offered to the worker loop: if it takes the returned hook, it promises to call it whenever
        it is about to wait for a connection and at exit, and the log lines and metrics are then
        written in batches (see the module docstring)."""
        self._deferred = True
        self._flushed_at = time.perf_counter()
        if self.metrics is not None:
            self.metrics.defer_writes()
        return self.idle

    def _serve_metrics(self, start: Callable[..., Any]) -> list[bytes]:
        assert self.metrics is not None
        body, content_type = self.metrics.exposition()
        start("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]


def _switch(environ: Mapping[str, str], name: str, on: str) -> bool:
    value = environ.get(name, "off").strip().lower() or "off"
    if value not in (on, "off"):
        raise ObservabilityConfigError(f"{name} must be {on!r} or 'off', not {value!r}")
    return value == on


def observe(app: WSGIApp, service: Service, environ: Mapping[str, str] | None = None) -> WSGIApp:
    """``app`` behind the access log and metrics the environment asks for (``app`` itself if none).
    Raises ObservabilityConfigError for an unknown setting: the server must not start half-configured."""
    env = os.environ if environ is None else environ
    access_log = _switch(env, ENV_ACCESS_LOG, "json")
    metrics = Metrics(service) if _switch(env, ENV_METRICS, "prometheus") else None
    if not access_log and metrics is None:
        return app
    return Observed(app, metrics, access_log)
