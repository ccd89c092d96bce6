"""SIGTERM under load, the way Kubernetes delivers it: the pod leaves the Service endpoints,
the preStop pause lets requests already sent drain, then SIGTERM arrives while a long request
is still running. Every request completes with 200; the master exits 0.

(The pause is what makes this safe for any gunicorn worker class: connections still queued in
the kernel's accept backlog when the listener closes would be reset.)

Every wait is on a fact with a deadline: the server answers /ready; the long request's last byte
is written before the endpoint goes; a worker is serving it (the in-flight gauge on the side
listener) when SIGTERM is sent. Only the load period and the preStop pause are durations."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families
from twinserve_support.paths import REPO
from twinserve_support.process.logtail import log_tail
from twinserve_support.process.managed import http_probe
from twinserve_support.process.net import free_port
from twinserve_support.process.wait import poll_until, wait_until

STREAMS = 6
LOAD_S = 2.0
PRESTOP_S = 0.5  # k8s/base/deployment.yaml pauses 5 s; short requests drain in far less
LONG_ROWS = 150_000  # about 1 s of parsing + prediction: certain to be running at SIGTERM
READY_TIMEOUT_S = 60.0
FACT_TIMEOUT_S = 20.0  # for the long request to be written, and to reach a worker
IN_FLIGHT = "twinserve_requests_in_flight"


class _SentBody(io.BytesIO):
    """A request body that tells when the client has written its last byte to the socket
    (the HTTP client reads it to the end, sending each block before it reads the next)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sent = threading.Event()

    def read(self, size: int | None = -1) -> bytes:
        block = super().read(size)
        if not block:
            self.sent.set()
        return block


def _in_flight(metrics_port: int) -> float:
    """Requests inside the app now, all workers together (0 when the side listener does not answer)."""
    try:
        text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
    except requests.RequestException:
        return 0.0
    families = {family.name: family for family in text_string_to_metric_families(text)}
    return sum(sample.value for sample in families[IN_FLIGHT].samples) if IN_FLIGHT in families else 0.0


def _start(rf_dir, port: int, metrics_port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "MODEL_PATH": str(rf_dir), "PORT": str(port), "METRICS_PORT": str(metrics_port),
           "WEB_CONCURRENCY": "2", "GUNICORN_ACCESS_LOG": "",  # the shipped arrangement, access log off
           "MAX_ROWS": str(LONG_ROWS), "MAX_BODY_BYTES": str(64 * 1024 * 1024)}
    with log.open("wb") as sink:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
                                cwd=REPO / "services" / "predict-container", env=env,
                                stdout=subprocess.DEVNULL, stderr=sink)


def test_sigterm_after_prestop_completes_everything(rf_dir, rf_metadata, tmp_path):
    port, metrics_port = free_port(), free_port()
    log = tmp_path / "gunicorn.log"
    proc = _start(rf_dir, port, metrics_port, log)
    url = f"http://127.0.0.1:{port}"
    row = rf_metadata["example_row"]
    short_body = json.dumps({"features": row}).encode()
    long_body = _SentBody(json.dumps({"instances": [row] * LONG_ROWS}).encode())
    headers = {"Content-Type": "application/json"}
    outcomes: list[tuple[str, float, float, int | str]] = []
    lock = threading.Lock()

    def record(kind: str, started: float, status: int | str) -> None:
        with lock:
            outcomes.append((kind, started, time.monotonic(), status))

    in_service = threading.Event()
    in_service.set()
    try:
        ready = http_probe(port, "/ready")
        # True once ready or exited; it must be the former.
        decided = poll_until(lambda: proc.poll() is not None or ready(), READY_TIMEOUT_S, poll_s=0.1)
        assert decided and proc.poll() is None, (
            f"gunicorn exited or was not ready within {READY_TIMEOUT_S:g} s{log_tail(log, 'gunicorn')}")

        def stream() -> None:
            session = requests.Session()
            while in_service.is_set():
                started = time.monotonic()
                try:
                    status: int | str = session.post(url + "/predict", data=short_body, headers=headers, timeout=30).status_code
                except requests.RequestException as exc:
                    status = type(exc).__name__
                record("short", started, status)

        def long_request() -> None:
            started = time.monotonic()
            try:
                status: int | str = requests.post(url + "/predict", data=long_body, headers=headers, timeout=60).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            record("long", started, status)

        threads = [threading.Thread(target=stream) for _ in range(STREAMS)]
        for thread in threads:
            thread.start()
        time.sleep(LOAD_S)
        long_thread = threading.Thread(target=long_request)
        long_thread.start()
        # The long request is on its way before the endpoint goes.
        assert long_body.sent.wait(FACT_TIMEOUT_S), f"the long request was not written within {FACT_TIMEOUT_S:g} s: {outcomes}"
        in_service.clear()  # endpoint removed: clients send nothing new
        time.sleep(PRESTOP_S)  # preStop
        # A short request sent before the pause has long been answered, or waits behind the long one
        # on its worker, outside the app: a request in the app now is the long one.
        wait_until(lambda: _in_flight(metrics_port) >= 1, FACT_TIMEOUT_S, what=f"a worker serving the long request ({IN_FLIGHT} >= 1)")
        signalled_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for thread in [*threads, long_thread]:
            thread.join(timeout=60)
        assert proc.wait(timeout=60) == 0, log_tail(log, "gunicorn", lines=30)
    finally:
        in_service.clear()  # a failed wait must not leave the streams running
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    failures = [o for o in outcomes if o[3] != 200]
    in_flight = [o for o in outcomes if o[1] < signalled_at < o[2]]
    assert sum(1 for o in outcomes if o[0] == "short") > STREAMS * 2
    # A short request can be in flight too (taken by the worker that was reading the long body);
    # it must complete like the rest.
    assert "long" in [o[0] for o in in_flight], "the long request must be running at SIGTERM, or the test proves nothing"
    assert failures == []
