"""The calibration replays the model's registered rows round-robin on both targets, not the first
row alone: a recording function in the real local Lambda, and a recording HTTP server standing in
for the pod under the container's probes, see every row in turn."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from twinbench.local_lambda import settings as lambda_settings
from twinbench.simulate.calibrate.measure import _bodies, _probe, measure_lambda
from twinbench.simulate.calibrate.schedule import bursty_schedule
from twinserve.samples import request_bodies
from twinserve_support.paths import REPO
from twinserve_support.prerequisites import require

MODEL = REPO / "model"


@pytest.fixture(autouse=True)
def _registered_rows() -> None:
    require(MODEL / "samples.json", "make model")


# A function that records every body it is sent beside itself and says whether it was cold.
RECORDING_HANDLER = '''\
import json, pathlib

RECEIVED = pathlib.Path(__file__).with_name("received.jsonl")
COLD = [True]


def handler(event, context):
    with RECEIVED.open("a") as out:
        out.write(json.dumps(event.get("body")) + "\\n")
    cold, COLD[0] = COLD[0], False
    return {"statusCode": 200, "headers": {"content-type": "application/json",
                                           "x-twinserve-cold": "true" if cold else "false"}, "body": "{}"}
'''


def _several_registered_rows(received: list[bytes], rows: list[bytes]) -> None:
    assert len(set(received)) > 1, "one row sent over and over"
    assert set(received) <= set(rows)


@pytest.mark.slow
def test_the_lambda_replay_sends_the_registered_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    require(lambda_settings.DEFAULT_PYTHON, "make lambda-runtime")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "handler.py").write_text(RECORDING_HANDLER)
    monkeypatch.setattr(lambda_settings, "DEFAULT_PACKAGE_DIR", package)
    monkeypatch.setenv("MODEL_PATH", str(MODEL))
    schedule = bursty_schedule(keep_alive_s=3.0, bursts=1, onset_rps=4.0, onset_s=1.0, burst_rps=8.0, burst_s=1.0,
                               spike_rps=8.0, spike_s=0.5)
    run = measure_lambda(schedule, concurrency=2)
    received = [json.loads(line).encode() for line in (package / "received.jsonl").read_text().splitlines()]
    rows = request_bodies(MODEL)
    assert len(received) == int(run.ok.sum())  # a throttled request never reached the function
    _several_registered_rows(received, rows)
    assert run.info["payloads"] == f"{len(rows)} registered rows of {MODEL}, round-robin"


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.received.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_the_pod_probes_send_the_registered_rows(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODEL_PATH", str(MODEL))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        bodies, source = _bodies()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        service, capacity = asyncio.run(_probe(url, bodies, 20, 2, 0.2))
    finally:
        server.shutdown()
        server.server_close()
    rows = request_bodies(MODEL)
    assert len(service) == 20 and capacity > 0
    assert source == f"{len(rows)} registered rows of {MODEL}, round-robin"
    _several_registered_rows(_Recorder.received, rows)
