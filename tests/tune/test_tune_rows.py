"""``bench-tune`` sends the model's registered rows round-robin, locally and remotely, not the first
row alone: a recording function (the real emulator, a stand-in handler) and a scripted Invoke see
every row in order."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from tune_stand_in import FUNCTION, REGION, SplitClient, invoke_response
from twinbench.local_lambda.settings import DEFAULT_PYTHON
from twinbench.tune.local import LocalTuneConfig, run_local
from twinbench.tune.observations import SizeRun
from twinbench.tune.profiles import TuneProfile
from twinbench.tune.runner import TuneRequest, run_tune
from twinserve.samples import request_bodies
from twinserve_support.paths import REPO
from twinserve_support.prerequisites import require

MODEL = REPO / "model"
PROFILE = TuneProfile("smoke", (128, 1769), cold=2, warmup=1, warm=5)

# A function that records every body it is sent beside itself, one JSON line each.
RECORDING_HANDLER = '''\
import json, pathlib

RECEIVED = pathlib.Path(__file__).with_name("received.jsonl")


def handler(event, context):
    with RECEIVED.open("a") as out:
        out.write(json.dumps(event.get("body")) + "\\n")
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}
'''


@pytest.mark.slow
def test_local_tuning_sends_the_bodies_round_robin_through_the_emulator(tmp_path: Path):
    require(DEFAULT_PYTHON, "make lambda-runtime")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "handler.py").write_text(RECORDING_HANDLER)
    bodies = [json.dumps({"features": [float(i), 1.0]}).encode() for i in range(3)]
    runs: list[SizeRun] = []
    run_local(LocalTuneConfig(package_dir=package, bodies=bodies, profile=PROFILE, memory_mb=(512,)), runs)
    received = [json.loads(line) for line in (package / "received.jsonl").read_text().splitlines()]
    sent = PROFILE.cold + PROFILE.warmup + PROFILE.warm
    assert received == [bodies[i % 3].decode() for i in range(sent)]
    assert runs[0].warm_billed_ms and not runs[0].failures


def test_remote_tuning_wraps_each_registered_row_in_its_own_event(moto_lambda, tmp_path: Path, monkeypatch):
    require(MODEL / "samples.json", "make model")
    monkeypatch.setenv("MODEL_PATH", str(MODEL))
    sent: list[bytes] = []

    def invoke(**kwargs):
        sent.append(kwargs["Payload"])
        n = len(sent)
        return invoke_response(f"00000000-0000-4000-8000-{n:012d}", 128, 2.0, 300.0 if n == 1 else None)

    request = TuneRequest(profile=PROFILE, memory_mb=(128,), rps=10, balanced_weight=0.5, discard_top_bottom=0.2,
                          function_name=FUNCTION, region=REGION, out_root=tmp_path,
                          client_factory=lambda: SplitClient(moto_lambda, invoke))
    doc, _ = run_tune(request)
    events = [json.loads(p) for p in sent]
    bodies = [base64.b64decode(e["body"]) if e.get("isBase64Encoded") else e["body"].encode() for e in events]
    rows = request_bodies(MODEL)
    assert len(rows) > 1
    assert bodies == [rows[i % len(rows)] for i in range(len(sent))]
    assert doc["run"]["settings"]["target"]["payloads"] == f"{len(rows)} registered rows of {MODEL}, round-robin"
