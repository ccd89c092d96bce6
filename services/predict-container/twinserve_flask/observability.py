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
once per label set and cached; request ids are a per-process random prefix and a counter.

Metrics: ``twinserve_requests_total{route,method,status}``,
``twinserve_request_duration_seconds{route}`` (histogram), ``twinserve_requests_in_flight``,
``twinserve_model_info{name,version,sha256,backend}``. ``route`` is the route's template
(``/v2/models/{name}/infer``), never the raw path, so a scan cannot explode the label set.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
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

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
__all__ = ["METRICS_PATH", "Metrics", "Observed", "observe", "route_of"]
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}").fullmatch


class ObservabilityConfigError(ValueError):
    """An observability setting with a value this module does not know."""


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
        self.in_flight = Gauge("twinserve_requests_in_flight", "Requests being answered now, all workers together.",
                               registry=registry, multiprocess_mode="livesum")
        info = Gauge("twinserve_model_info", "The served model (always 1): name, version, SHA-256, backend.",
                     ("name", "version", "sha256", "backend"), registry=registry, multiprocess_mode="max")
        meta = service.predictor.model.metadata
        info.labels(meta.name, meta.version, meta.sha256, service.predictor.model.backend.name).set(1)
        self._registry = registry
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(route, method, str(status))
        counter.inc()
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.latency.labels(route)
        histogram.observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every worker's metrics together, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self._multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self._registry), CONTENT_TYPE_LATEST


class RequestIds:
    """Ids for requests that came without one: unique across workers and restarts, cheap."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._count = 0

    def new(self) -> str:
        pid = os.getpid()
        if pid != self._pid:  # a forked worker must not repeat its parent's ids
            self._pid, self._prefix, self._count = pid, secrets.token_hex(6), 0
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
                metrics.in_flight.inc()
                try:
                    result = self.app(environ, start)
                finally:
                    metrics.in_flight.dec()
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
            with contextlib.suppress(OSError):  # a closed or full log pipe must never fail the request
                os.write(self.log_fd, line)
        return result

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
