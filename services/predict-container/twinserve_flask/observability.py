"""What the container tells its operators: a JSON access log line per request (with a request id),
Prometheus metrics aggregated across gunicorn's workers, and the probes, on a side listener.

The log and the metrics are one WSGI layer in front of the app, switched by the environment when
the app is built (``gunicorn.conf.py`` turns them on; the Lambda WSGI handler leaves them off).
The side listener (:class:`SideListener`, ``python -m twinserve_flask.observability``) answers
``/livez``, ``/readyz`` and ``/metrics`` on its own port, so traffic can neither starve a probe nor
reach the metrics; it imports no part of the service.

Details (settings, metric names, what keeps it cheap): docs/edge.md, 'The observability layer (observability.py)'.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the side listener must not import the service (numpy, the model)
    from twinserve.service import Service

ENV_ACCESS_LOG = "TWINSERVE_ACCESS_LOG"
ENV_METRICS = "TWINSERVE_METRICS"
ENV_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
ENV_METRICS_PORT = "METRICS_PORT"
DEFAULT_METRICS_PORT = 9091
REQUEST_ID_HEADER = "X-Request-Id"
LIVE_PATH = "/livez"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
# Latency buckets in seconds: the service answers in well under a millisecond in-process, and a
# client-visible problem starts at tens of milliseconds.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# A probe or scrape connection that has not sent its request by then is closed: the side listener
# has a thread per connection, and a client that never finishes must not keep one.
SIDE_READ_TIMEOUT_S = 5.0
# The master's word to the side listener, one line each on its stdin; end of file: the master is gone.
READY, DRAINING, WATCH = b"ready\n", b"draining\n", b"watch "

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
__all__ = ["METRICS_PATH", "Metrics", "Observed", "SideListener", "observe"]
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}").fullmatch


class ObservabilityConfigError(ValueError):
    """An observability setting with a value this module does not know."""


class SideListenerError(RuntimeError):
    """The side listener could not be started (its port taken, its program missing)."""


class Metrics:
    """The container's Prometheus metrics (multiprocess mode when the directory is set)."""

    def __init__(self, service: Service) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self._multiprocess = bool(os.environ.get(ENV_MULTIPROC_DIR))
        # Our own registry: nothing else registered in this process leaks into the exposition.
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

    def started(self) -> None:
        self.in_flight.inc()

    def finished(self) -> None:
        self.in_flight.dec()

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
        if self._multiprocess:
            return multiprocess_exposition()
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self._registry), CONTENT_TYPE_LATEST


def multiprocess_exposition() -> tuple[bytes, str]:
    """All processes' metrics from PROMETHEUS_MULTIPROC_DIR, and the content type (what the side
    listener serves: it counts nothing itself)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


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
    """The WSGI layer: request id in and out, one access log line, the metrics."""

    def __init__(self, app: WSGIApp, metrics: Metrics | None, access_log: bool, log_fd: int = 1) -> None:
        import orjson
        from twinserve.routes import route_of

        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.log_fd = log_fd
        self.ids = RequestIds()
        self.clock = _Clock()
        self._dumps = orjson.dumps
        self._newline = orjson.OPT_APPEND_NEWLINE
        self._route_of = route_of

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
            metrics.started()
            try:
                result = self.app(environ, start)
            finally:
                metrics.finished()
        else:
            result = self.app(environ, start)
        seconds = time.perf_counter() - started
        status = int(seen[-2][:3]) if seen else 500
        route = self._route_of(path)
        if metrics is not None:
            metrics.observe(route, method, status, seconds)
        if self.access_log:
            size = None
            if seen:
                for name, value in seen[-1]:
                    if name.lower() == "content-length":
                        size = int(value)
            line = self._dumps({
                "time": self.clock.now(), "level": "info", "logger": "twinserve.access",
                "request_id": request_id, "method": method, "path": path, "route": route, "status": status,
                "bytes": size, "latency_ms": round(seconds * 1000.0, 3),
                # Behind nginx the peer is a unix socket (no address) only nginx can reach, so its
                # X-Real-IP is the client's; on a TCP port REMOTE_ADDR is, and X-Real-IP is not trusted.
                "remote_addr": environ.get("REMOTE_ADDR") or environ.get("HTTP_X_REAL_IP"),
            }, option=self._newline)
            with contextlib.suppress(OSError):  # a closed or full log pipe must never fail the request
                os.write(self.log_fd, line)
        return result


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


def metrics_port(environ: Mapping[str, str] | None = None) -> int:
    """The side listener's port (0: any free one, for tests). Raises ObservabilityConfigError."""
    value = (os.environ if environ is None else environ).get(ENV_METRICS_PORT, str(DEFAULT_METRICS_PORT))
    if not value.isdigit() or int(value) > 65535:
        raise ObservabilityConfigError(f"{ENV_METRICS_PORT} must be a port number, not {value!r}")
    return int(value)


# ------------------------------------------------------------------------------ the side listener


class _ProbeState:
    """What the side listener knows: the master said the model is loaded and the workers start
    (ready), or that it is stopping (draining); and which processes must be alive (nginx)."""

    def __init__(self) -> None:
        self.ready = False
        self.draining = False
        self.watched: list[int] = []

    def live(self) -> bool:
        """The processes the master asked it to watch (nginx) are all running."""
        for pid in self.watched:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                continue
        return True


class _SideHandler(BaseHTTPRequestHandler):
    """GET /livez, /readyz, /metrics; anything else 404. One request per connection."""

    server: _SideServer
    timeout = SIDE_READ_TIMEOUT_S
    server_version = "twinserve-side"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state = self.server.state
        if self.path == LIVE_PATH:
            if state.live():
                self._answer(200, b'{"status":"live"}')
            else:
                self._answer(503, b'{"status":"the edge process (nginx) is gone"}')
        elif self.path == READY_PATH:
            if state.draining:
                self._answer(503, b'{"status":"draining"}')
            elif not state.ready:
                self._answer(503, b'{"status":"starting"}')
            else:
                self._answer(200, b'{"status":"ready"}')
        elif self.path == METRICS_PATH and self.server.metrics:
            body, content_type = multiprocess_exposition()
            self._answer(200, body, content_type)
        else:
            self._answer(404, b'{"error":{"code":"not_found","message":"no such route on this port"}}')

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Probes every few seconds are not worth a log line each."""


class _SideServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: _ProbeState, metrics: bool) -> None:
        super().__init__(address, _SideHandler)
        self.state = state
        self.metrics = metrics


def _follow_master(state: _ProbeState, server: _SideServer) -> None:
    """Read the master's word from stdin until it closes (the master is gone), then stop, and stop
    the watched processes too: a master killed outright (SIGKILL) cannot stop nginx, which would
    keep the public port."""
    for line in sys.stdin.buffer:
        if line == READY:
            state.ready = True
        elif line == DRAINING:
            state.draining = True
        elif line.startswith(WATCH) and line[len(WATCH):].strip().isdigit():
            state.watched.append(int(line[len(WATCH):]))
    for pid in state.watched:
        with contextlib.suppress(OSError):  # gone already: the master stopped it, as it should
            os.kill(pid, signal.SIGTERM)
    server.shutdown()


def main() -> int:
    """The side listener's process: bind, say the port on stdout, serve until the master goes."""
    host = os.environ.get("HOST", "127.0.0.1")
    state = _ProbeState()
    try:
        server = _SideServer((host, metrics_port()), state, os.environ.get(ENV_METRICS, "off") == "prometheus")
    except (OSError, ObservabilityConfigError) as exc:
        print(f"side listener: cannot listen on {host}:{os.environ.get(ENV_METRICS_PORT)}: {exc}", file=sys.stderr)
        return 1
    print(server.server_address[1], flush=True)
    threading.Thread(target=_follow_master, args=(state, server), daemon=True).start()
    server.serve_forever(poll_interval=0.5)
    return 0


class SideListener:
    """The master's handle on the side listener process: start it, tell it ready or draining, stop it.

    A separate process rather than a thread in the master: the master forks workers, and a thread
    serving requests at a fork can leave a lock held in the child. The process is a fresh interpreter
    (not a fork), reads only the multiprocess files, and ends when its stdin (the master) closes.
    """

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port

    @classmethod
    def start(cls, environ: Mapping[str, str] | None = None, timeout_s: float = 10.0) -> SideListener:
        """Start it and wait until it listens. Raises SideListenerError (port taken, no answer)."""
        env = dict(os.environ if environ is None else environ)
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        process = subprocess.Popen([sys.executable, "-m", "twinserve_flask.observability"], env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        assert process.stdout is not None
        line = _readline_within(process.stdout, timeout_s)
        if not line.strip().isdigit():
            process.kill()
            process.wait()
            raise SideListenerError(f"the side listener did not start (exit code {process.returncode})")
        process.stdout.close()
        return cls(process, int(line))

    def _say(self, word: bytes) -> None:
        with contextlib.suppress(OSError, ValueError):  # it is gone: the probes fail, as they should
            assert self.process.stdin is not None
            self.process.stdin.write(word)
            self.process.stdin.flush()

    def ready(self) -> None:
        self._say(READY)

    def draining(self) -> None:
        self._say(DRAINING)

    def watch(self, pid: int) -> None:
        """Liveness fails once process ``pid`` is gone (nginx: without it nothing reaches the workers)."""
        self._say(WATCH + b"%d\n" % pid)

    def forget(self) -> None:
        """In a forked worker: close the inherited pipe end, or the listener outlives the master."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def stop(self, timeout_s: float = 5.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
        except ChildProcessError:  # already reaped by the arbiter's waitpid(-1)
            pass


def _readline_within(stream: IO[bytes], timeout_s: float) -> bytes:
    """One line from a pipe, or b"" once ``timeout_s`` passes."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return b""
    return stream.readline()


if __name__ == "__main__":
    sys.exit(main())
