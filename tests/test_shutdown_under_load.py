"""SIGTERM under a constant request stream, as Kubernetes sends it after the preStop pause:
every request in flight completes with 200, none fails, and the master exits cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import requests
from conftest import REPO, SERVICE_PYTHONPATH, free_port

STREAMS = 6
LOAD_S = 2.0


def test_sigterm_completes_in_flight_requests(rf_dir, rf_metadata):
    port = free_port()
    env = {**os.environ, "MODEL_PATH": str(rf_dir), "PORT": str(port), "PYTHONPATH": SERVICE_PYTHONPATH,
           "WEB_CONCURRENCY": "2", "GUNICORN_ACCESS_LOG": ""}  # the shipped worker class (sync)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
                            cwd=REPO / "services" / "predict-container", env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    # a 1,000-row batch keeps each request busy long enough to be caught in flight
    body = json.dumps({"instances": [rf_metadata["example_row"]] * 1000}).encode()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/ready", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()

        stop_sending = threading.Event()
        outcomes: list[tuple[float, float, int | str]] = []
        lock = threading.Lock()

        def stream() -> None:
            session = requests.Session()
            while not stop_sending.is_set():
                started = time.monotonic()
                try:
                    status: int | str = session.post(url + "/predict", data=body, timeout=30,
                                                     headers={"Content-Type": "application/json"}).status_code
                except requests.RequestException as exc:
                    status = type(exc).__name__
                with lock:
                    outcomes.append((started, time.monotonic(), status))

        threads = [threading.Thread(target=stream) for _ in range(STREAMS)]
        for thread in threads:
            thread.start()
        time.sleep(LOAD_S)
        # Kubernetes removes the pod from the Service endpoints during preStop: no new requests
        # after the signal, but everything already sent must be answered.
        stop_sending.set()
        signalled_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=60)
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    failures = [o for o in outcomes if o[2] != 200]
    in_flight = [o for o in outcomes if o[0] < signalled_at < o[1]]
    assert len(outcomes) > STREAMS * 2
    assert in_flight, "no request was in flight at SIGTERM; the test proved nothing"
    assert failures == []
