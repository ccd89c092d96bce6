"""gunicorn settings for the twinserve container (also what `make serve-container` and the
local benchmark run). Every value can be overridden by environment variables below, or by
GUNICORN_CMD_ARGS / the command line, in gunicorn's usual precedence.

The edge is gunicorn's own, configured rather than subclassed: docs/edge.md has the measurements
behind each choice (worker class, keep-alive, the side listener for probes and metrics).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

# One OpenMP thread per worker, set before anything loads OpenMP. The workers already fill the pod's
# CPUs, so more threads only contend under its CPU quota; and libgomp's thread pool does not survive
# fork: a model the master ran with threads (its self-test, e.g. a HistGradientBoosting) would hang
# in a sync worker's first prediction, made on the thread that inherited the pool.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The one reader of the CPU limit (cgroup v2 cpu.max or v1 CFS quota); it ships with the core.
from twinserve.cgroup_cpus import available_cpus  # noqa: E402


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# The edge (docs/edge.md has the measurements behind it): nginx, started by the master below, owns
# the public port and every client connection. It reads each request in full (header and body
# timeouts, bounded sizes), refuses ambiguous framing, keeps client connections alive, and takes
# each answer at once whatever the client's pace. Behind it, on a unix socket, gunicorn's stock sync
# workers see only whole requests from one well-behaved peer, one request per connection: a worker
# takes a request only when it is free, so the load spreads evenly and a worker only ever waits for
# the model (gunicorn's own advice for CPU-bound apps behind a buffering proxy). TWINSERVE_PROXY=off
# serves gunicorn directly on the public port (no nginx on the machine) with gthread workers, so
# clients keep their connections; the hardening does not hold then.
PROXY = os.environ.get("TWINSERVE_PROXY", "nginx")
if PROXY not in ("nginx", "off"):
    sys.exit(f"gunicorn.conf.py: TWINSERVE_PROXY must be 'nginx' or 'off', not {PROXY!r}")
PUBLIC_HOST = os.environ.get("HOST", "127.0.0.1")
PUBLIC_PORT = _int("PORT", 8080)
# Seconds an idle client connection stays open. Longer than the load balancer's idle timeout (ALB
# default 60 s), as AWS advises for targets: the balancer, not the pod, closes an idle connection,
# so it never sends a request on a connection the pod is closing. The Ingress's
# idle_timeout.timeout_seconds annotation must stay below it.
KEEPALIVE_S = _int("KEEPALIVE_S", 75)
# Private to this master: the unix socket, nginx's configuration and its temporary files (tmpfs).
_TMP_BASE = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
RUN_DIR = os.path.join(_TMP_BASE, f"twinserve-edge-{os.getpid()}")
bind = f"unix:{RUN_DIR}/gunicorn.sock" if PROXY == "nginx" else f"{PUBLIC_HOST}:{PUBLIC_PORT}"
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync" if PROXY == "nginx" else "gthread")
workers = _int("WEB_CONCURRENCY", max(2, 2 * available_cpus()))
threads = _int("GUNICORN_THREADS", 1)
# gthread's idle timeout for a kept-alive connection: the client's without nginx; behind nginx (if a
# keep-alive worker class is chosen) it outlasts nginx's upstream keep-alive (UPSTREAM_KEEPALIVE_S),
# so nginx closes an idle upstream connection first. Sync workers close after each answer.
keepalive = KEEPALIVE_S
# Load (and verify) the model once in the master, before fork.
preload_app = True
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM workers finish in-flight requests for up to this long (Kubernetes waits for
# preStop + this inside terminationGracePeriodSeconds).
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
# Header limits; the body limit is MAX_BODY_BYTES, enforced by the app (413).
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# Heartbeat files on tmpfs: a read-only root filesystem and no disk stalls.
worker_tmp_dir = _TMP_BASE
# The access log is twinserve's own: one JSON line per request on stdout, with its X-Request-Id
# (twinserve_flask/observability.py). gunicorn's text access log went through `logging` and its
# formatter at ~45 us a request; the JSON line costs a few.
# GUNICORN_ACCESS_LOG= (empty) turns it off; TWINSERVE_ACCESS_LOG=json|off decides if set.
accesslog = None
os.environ.setdefault("TWINSERVE_ACCESS_LOG", "json" if os.environ.get("GUNICORN_ACCESS_LOG", "-") else "off")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")

# gunicorn 27's control socket lives in $HOME, which is read-only in the pod; nothing uses it.
control_socket_disable = True


def _metrics_dir() -> str | None:
    """Prometheus metrics, aggregated over the workers by prometheus-client's multiprocess mode:
    each process writes its values to mmap'd files in PROMETHEUS_MULTIPROC_DIR, on tmpfs (no disk,
    read-only root filesystem), emptied here before the app loads (files of an earlier run would
    be summed in). Set before the app imports prometheus_client, which reads it then.
    TWINSERVE_METRICS=off turns the metrics off."""
    if os.environ.setdefault("TWINSERVE_METRICS", "prometheus") != "prometheus":
        return None
    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not chosen:
        # One directory per master: two servers on one host never sum each other's files.
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        chosen = tempfile.mkdtemp(prefix="twinserve-metrics-", dir=base)
        os.environ["TWINSERVE_METRICS_DIR_OWNED"] = chosen
    os.makedirs(chosen, exist_ok=True)
    for name in os.listdir(chosen):
        if name.endswith(".db"):
            os.remove(os.path.join(chosen, name))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = chosen
    return chosen


_METRICS_DIR = _metrics_dir()


# ------------------------------------------------------------------------------ nginx in front
# Upstream keep-alive: nginx closes an idle connection to gunicorn after this, before gunicorn would.
UPSTREAM_KEEPALIVE_S = max(1, KEEPALIVE_S - 15)
# Idle connections nginx keeps to gunicorn. 0 (the default with sync workers, which close after each
# answer): a new unix-socket connection per request, taken by whichever worker is free. With
# gthread workers kept-alive connections stay with the worker that accepted them, so one worker
# could serve most of them while the other idles (seen on this arrangement: 93 % of the CPU on one).
UPSTREAM_CONNECTIONS = _int("UPSTREAM_CONNECTIONS", 0 if worker_class == "sync" else 16)
# Timeouts between two reads or writes of a client (nginx's own meaning), and for a whole header.
CLIENT_TIMEOUT_S = _int("CLIENT_TIMEOUT_S", 10)
# nginx reads bodies up to twice the service's limit, so the service itself answers 413 (in its own
# JSON, with the real size) for everything but absurd bodies; those get nginx's 413 below.
_BODY_LIMIT = _int("MAX_BODY_BYTES", 1_048_576)
# nginx's own refusals, in the service's error shape {"error": {"code", "message"}}.
_EDGE_ERRORS = {
    400: ("bad_request", "the request is not valid HTTP/1.1"),
    408: ("request_timeout", "the request was not received in time"),
    413: ("payload_too_large", f"body exceeds the limit of {_BODY_LIMIT} bytes"),
    405: ("method_not_allowed", "nginx refuses this method (TRACE) before it reaches the service"),
    414: ("uri_too_long", "the request line is too long"),
    494: ("headers_too_large", "the request headers are too large"),
    501: ("not_implemented", "unsupported Transfer-Encoding"),
    502: ("unavailable", "the service is not answering; retry"),
    504: ("unavailable", "the service did not answer in time; retry"),
}


def nginx_config(run_dir: str = RUN_DIR) -> str:
    """nginx's configuration for this master: one worker process per usable CPU, logs on stderr
    (gunicorn writes the access log), every temporary file in ``run_dir`` (tmpfs)."""
    # Internal URIs, not named locations: a request whose request line nginx could not parse has no
    # URI of its own, and a redirect to a named location then ends in a 500 of nginx's own.
    # On the Open Inference Protocol's routes (/v2...) the protocol's own shape, {"error": "<message>"}.
    error_pages = "\n".join(
        f"        error_page {status} /_edge/{status}.json;\n"
        f"        location = /_edge/{status}.json {{ internal; default_type application/json; "
        f"if ($edge_v2) {{ return {400 if status == 494 else status} '{{\"error\":\"{message}\"}}'; }} "
        f"return {400 if status == 494 else status} '{{\"error\":{{\"code\":\"{code}\",\"message\":\"{message}\"}}}}'; }}"
        for status, (code, message) in _EDGE_ERRORS.items())
    # Run as root (a developer's machine), nginx would hand its workers to `nobody`, which cannot open
    # this master's private socket: they run as the same user as gunicorn, as in the pod.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    upstream_keepalive = (f"        keepalive {UPSTREAM_CONNECTIONS};\n        keepalive_timeout {UPSTREAM_KEEPALIVE_S}s;"
                          if UPSTREAM_CONNECTIONS else "")
    return f"""daemon off;
{user}worker_processes {max(1, available_cpus())};
pid {run_dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {run_dir}/client_body;
    proxy_temp_path {run_dir}/proxy;
    fastcgi_temp_path {run_dir}/fastcgi;
    uwsgi_temp_path {run_dir}/uwsgi;
    scgi_temp_path {run_dir}/scgi;
    keepalive_timeout {KEEPALIVE_S}s;
    keepalive_requests 100000;
    client_header_timeout {CLIENT_TIMEOUT_S}s;
    client_body_timeout {CLIENT_TIMEOUT_S}s;
    send_timeout {CLIENT_TIMEOUT_S}s;
    client_header_buffer_size 1k;
    large_client_header_buffers 4 8k;
    client_max_body_size {2 * _BODY_LIMIT};
    client_body_buffer_size 64k;
    map $request_uri $edge_v2 {{ ~^/v2(/|[?]|$) 1; default 0; }}
    upstream gunicorn {{
        # The same socket twice: a request that meets a connection whose worker just died (an idle
        # kept-alive one nginx reuses) is tried once more, on another connection, instead of a 502.
        server unix:{run_dir}/gunicorn.sock max_fails=0;
        server unix:{run_dir}/gunicorn.sock max_fails=0;
{upstream_keepalive}
    }}
    server {{
        listen {PUBLIC_HOST}:{PUBLIC_PORT} backlog=2048;
        location / {{
            proxy_pass http://gunicorn;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_request_buffering on;
            proxy_buffering on;
            proxy_buffers 16 8k;
            proxy_max_temp_file_size 16m;
            proxy_connect_timeout 5s;
            proxy_read_timeout {_int("GUNICORN_TIMEOUT", 30)}s;
            # Only when the connection failed before an answer began (never on a timeout, never after
            # bytes came back); a prediction is a pure function of its body, so a POST may be resent.
            proxy_next_upstream error non_idempotent;
            proxy_next_upstream_tries 2;
        }}
{error_pages}
    }}
}}
"""


class EdgeStartError(RuntimeError):
    """nginx is missing or did not start (its port taken, a bad configuration)."""


def _start_nginx() -> subprocess.Popen[bytes]:
    """Write the configuration and start nginx in the foreground; raises EdgeStartError."""
    binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None)
    if binary is None:
        raise EdgeStartError("nginx is not installed (apt-get install nginx-light), or set TWINSERVE_PROXY=off")
    config = os.path.join(RUN_DIR, "nginx.conf")
    with open(config, "w") as handle:
        handle.write(nginx_config())
    process = subprocess.Popen([binary, "-p", RUN_DIR, "-e", "stderr", "-c", config], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EdgeStartError(f"nginx exited with code {process.returncode} (its message is above)")
        try:
            socket.create_connection((PUBLIC_HOST if PUBLIC_HOST != "0.0.0.0" else "127.0.0.1", PUBLIC_PORT), 0.5).close()
            return process
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise EdgeStartError(f"nginx did not listen on {PUBLIC_HOST}:{PUBLIC_PORT} within 10 s")
# ------------------------------------------------------------------------------ hooks
# The side listener (METRICS_PORT, 9091 in the pod): /livez, /readyz and /metrics, answered by a
# small process of its own, so no traffic on the request port can starve a probe. And nginx.
_SIDE: list[Any] = []
_NGINX: list[subprocess.Popen[bytes]] = []


def on_starting(server: Any) -> None:
    """Make the private directory before gunicorn binds its unix socket in it."""
    os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)


def when_ready(server: Any) -> None:
    """The model is loaded (preload) and gunicorn's socket is bound: start nginx on the public port,
    start the side listener, tell it whether the service is ready, and make the master's stop
    signals turn readiness off and stop nginx taking new connections first."""
    from twinserve_flask.observability import SideListener, SideListenerError

    if PROXY == "nginx":
        try:
            _NGINX.append(_start_nginx())
        except EdgeStartError as exc:
            server.log.error("%s", exc)
            _cleanup()
            os._exit(1)  # workers are not forked yet; nothing else to stop
        server.log.info("nginx at: http://%s:%d (%d)", PUBLIC_HOST, PUBLIC_PORT, _NGINX[0].pid)
    try:
        side = SideListener.start()
    except SideListenerError as exc:
        # Traffic is still served; the probes on the side port fail, which the kubelet reports.
        server.log.error("no side listener (probes and /metrics): %s", exc)
        side = None
    if side is not None:
        _SIDE.append(side)
        server.log.info("Side listener (probes, metrics) at: http://%s:%d (%d)", PUBLIC_HOST, side.port, side.process.pid)
        for nginx in _NGINX:
            side.watch(nginx.pid)
        if _service_ready():
            side.ready()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        previous = signal.getsignal(signum)
        if callable(previous):
            signal.signal(signum, _draining_first(previous))


def _service_ready() -> bool:
    """What the service itself says; an app that is not twinserve's (the bench's no-op) is ready once loaded."""
    entry = sys.modules.get("twinserve_flask.wsgi")
    return entry is None or entry.service.ready().status == 200


def _draining_first(previous: Any) -> Any:
    def handler(signum: int, frame: Any) -> None:
        for side in _SIDE:
            side.draining()
        for nginx in _NGINX:  # nginx's graceful stop: no new connections, in-flight requests finish
            with contextlib.suppress(ProcessLookupError):
                os.kill(nginx.pid, signal.SIGQUIT)
        previous(signum, frame)

    return handler


def post_fork(server: Any, worker: Any) -> None:
    """A worker must not hold the master's pipe to the side listener (it would outlive the master)."""
    for side in _SIDE:
        side.forget()
    _NGINX.clear()  # the master's child, not the worker's


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges (in-flight requests) must stop counting."""
    if _METRICS_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """The workers are gone: stop nginx (already told to stop) and the side listener, remove the files."""
    _cleanup()


def _cleanup() -> None:
    for nginx in _NGINX:
        with contextlib.suppress(ProcessLookupError):
            os.kill(nginx.pid, signal.SIGQUIT)
        try:
            nginx.wait(5.0)
        except subprocess.TimeoutExpired:
            nginx.kill()
        except ChildProcessError:  # reaped by the arbiter's waitpid(-1) already
            pass
    for side in _SIDE:
        side.stop()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    owned = os.environ.get("TWINSERVE_METRICS_DIR_OWNED")
    if owned and owned == _METRICS_DIR:  # not a directory the operator named
        shutil.rmtree(owned, ignore_errors=True)


def worker_exit(server: Any, worker: Any) -> None:
    """Leave the worker without running ONNX Runtime's destructors.

    The inference session is created in the master (preload) and inherited by fork; tearing its
    thread state down in a forked child aborts or deadlocks (seen here on SIGTERM). This hook
    runs after the worker has finished its in-flight requests, so nothing is lost.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
