"""gunicorn settings for the twinserve container (also what `make serve-container` and the
local benchmark run). Every value can be overridden by environment variables below, or by
GUNICORN_CMD_ARGS / the command line, in gunicorn's usual precedence.
"""

import contextlib
import os
import shutil
import signal
import sys
import tempfile

# The one reader of the CPU limit (cgroup v2 cpu.max or v1 CFS quota); it ships with the core.
from twinserve.cgroup_cpus import available_cpus


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{_int('PORT', 8080)}"
# Sync workers, two per usable CPU, each behind its own request buffer. Measured with
# `make bench-peers`-style interleaved wrk runs (c=32, LogisticRegression, 2 cores): 4 sync
# workers ~4,400-5,500 req/s with p99 9-10 ms; gthread (2-4 workers x 2-8 threads, with or
# without keep-alive) ~3,300-6,200 req/s but p99 21-46 ms, because keep-alive connections and
# threads queue unevenly inside a worker. A prediction is CPU-bound and short, so nothing is
# gained from threads. A plain sync worker, though, is held by a slow client until `timeout`;
# BufferedSyncWorker (twinserve_flask/buffered_worker.py) reads each request in full with a
# selector before it takes the worker, and answers 408 to a client that has not finished
# within REQUEST_READ_TIMEOUT_S (default 10 s). GUNICORN_WORKER_CLASS=sync gives the stock worker.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "twinserve_flask.buffered_worker.BufferedSyncWorker")
# The buffered worker's own setting, checked here so a bad value stops the master with one line
# instead of every worker failing to boot with a traceback.
try:
    from twinserve_flask.buffered_worker import WorkerConfigError, yield_between_requests

    yield_between_requests()
except WorkerConfigError as _exc:
    sys.exit(f"gunicorn.conf.py: {_exc}")
workers = _int("WEB_CONCURRENCY", max(2, 2 * available_cpus()))
threads = _int("GUNICORN_THREADS", 1)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
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
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
# The access log is twinserve's own: one JSON line per request on stdout, with its X-Request-Id
# (twinserve_flask/observability.py). gunicorn's text access log went through `logging` and its
# formatter at ~45 us a request (a quarter of the HTTP limit here); the JSON line costs a few.
# GUNICORN_ACCESS_LOG= (empty) turns it off, as before; TWINSERVE_ACCESS_LOG=json|off decides if set.
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
    TWINSERVE_METRICS=off turns the metrics and GET /metrics off."""
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


def when_ready(server):
    """Make a timed-out worker that is *stopped* (SIGSTOP, or SIGTSTP from job control) die on
    the arbiter's first timeout check, as a running one does, instead of one loop (1 s) later.

    The arbiter's loop (``Arbiter.murder_workers``, about once a second) sends a worker whose
    heartbeat is older than ``timeout`` SIGABRT, and SIGKILL only on the next loop. A stopped
    process keeps SIGABRT pending, so it lived until that SIGKILL: the replacement came between
    timeout + 1 s and timeout + 2 s. gunicorn has no arbiter-side hook at that moment
    (``worker_abort`` runs in the worker, which is what cannot run), so this wraps the arbiter's
    own ``murder_workers``: right after it aborts a worker, the worker is sent SIGCONT. A stopped
    worker then takes its pending SIGABRT at once and leaves through gunicorn's own abort path
    (``worker_abort``, ``worker_exit``); for a running worker SIGCONT does nothing. Which workers
    time out, when, and the SIGKILL one loop later for one that still does not exit (stuck in C
    code, or stopped by a tracer) are gunicorn's, unchanged.
    """
    if getattr(server, "_twinserve_resumes_aborted", False):
        return  # already wrapped (a hook that runs again must not wrap twice)
    murder_workers = server.murder_workers

    def murder_and_resume() -> None:
        already_aborted = {pid for pid, worker in server.WORKERS.items() if worker.aborted}
        murder_workers()
        for pid, worker in list(server.WORKERS.items()):
            if worker.aborted and pid not in already_aborted:
                with contextlib.suppress(ProcessLookupError):  # exited meanwhile; reaped as usual
                    os.kill(pid, signal.SIGCONT)

    server.murder_workers = murder_and_resume
    server._twinserve_resumes_aborted = True


def child_exit(server, worker):
    """A worker is gone: its live gauges (in-flight requests) must stop counting."""
    if _METRICS_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this master made (not one the operator named)."""
    owned = os.environ.get("TWINSERVE_METRICS_DIR_OWNED")
    if owned and owned == _METRICS_DIR:
        shutil.rmtree(owned, ignore_errors=True)


def worker_exit(server, worker):
    """Leave the worker without running ONNX Runtime's destructors.

    The inference session is created in the master (preload) and inherited by fork; tearing its
    thread state down in a forked child aborts or deadlocks (seen here on SIGTERM). This hook
    runs after the worker has finished its in-flight requests, so nothing is lost.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
