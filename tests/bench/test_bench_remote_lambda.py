"""Remote mode's cold-start scenario: forced cold starts on a "deployed" Lambda, config restored.

moto plays Lambda's control plane (decorator mode for the wiring; a real ``moto_server`` over
HTTP with ``AWS_ENDPOINT_URL`` for ``twinbench bench`` end to end). A small HTTP server on
127.0.0.1 plays the function URL: it answers like the handler, and calls itself cold exactly
when the function's configuration changed since its last request — what a new execution
environment after ``UpdateFunctionConfiguration`` looks like to the client.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws
from twinbench.aws.forced_cold import NONCE_ENV_VAR
from twinbench.measure.scenarios import cold_start
from twinbench.targets import RemoteLambdaTarget
from twinserve_support.moto_env import use_fake_credentials
from twinserve_support.process.wait import wait_until

REGION = "eu-west-1"
FN = "twinserve-dev-predict"
ORIGINAL_ENV = {"MODEL_PATH": "model", "SERVING_BACKEND": "onnx"}
BODY = json.dumps({"features": [1.0, 2.0]}).encode()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    use_fake_credentials(monkeypatch, REGION)


def _create_function(session: boto3.session.Session) -> None:
    iam = session.client("iam")
    role = iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    session.client("lambda").create_function(
        FunctionName=FN, Runtime="python3.12", Role=role, Handler="handler.handler",
        Code={"ZipFile": code.getvalue()}, MemorySize=1024, Environment={"Variables": dict(ORIGINAL_ENV)})


def _env_of(client, qualifier: str = "$LATEST") -> dict[str, str]:
    conf = client.get_function_configuration(FunctionName=FN, Qualifier=qualifier)
    return (conf.get("Environment") or {}).get("Variables") or {}


class FunctionUrl:
    """The stand-in function URL; ``mode`` 'lambda' (cold after a config change), 'always-warm' or 'no-header'."""

    def __init__(self, client, mode: str = "lambda", qualifier: str = "$LATEST") -> None:
        self.client, self.mode, self.qualifier = client, mode, qualifier
        self.requests = 0
        self._seen: str | None = None
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer._lock:
                    outer.requests += 1
                    nonce = _env_of(outer.client, outer.qualifier).get(NONCE_ENV_VAR)
                    cold = nonce != outer._seen
                    outer._seen = nonce
                body = b'{"predictions": [1]}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                if outer.mode != "no-header":
                    self.send_header("x-twinserve-cold", "true" if cold and outer.mode == "lambda" else "false")
                    if cold:
                        self.send_header("x-twinserve-init-ms", "321.5")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FunctionUrl:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def lam():
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        _create_function(session)
        yield session.client("lambda")


def _run(target: RemoteLambdaTarget, n: int) -> dict:
    return asyncio.run(cold_start([target], BODY, n, lambda _msg: None))["lambda"]


def test_forced_cold_starts_are_verified_counted_and_the_config_restored(lam):
    with FunctionUrl(lam) as url:
        target = RemoteLambdaTarget(url.url, function_name=FN, region=REGION, client_factory=lambda: lam)
        res = _run(target, 3)
    assert res["skipped"] is False
    assert (res["n_valid"], res["n_dropped_misclassified"], res["n_failed"]) == (3, 0, 0)
    assert res["init"]["n"] == 3 and res["init"]["median_ms"] == pytest.approx(321.5, rel=0.01)
    assert res["config_restored"] is True and res["config_update_wait_ms"]["n"] == 3
    assert res["function_name"] == FN and all(s["verified_cold"] for s in res["samples"])
    assert _env_of(lam) == ORIGINAL_ENV and url.requests == 3


def test_snapstart_cold_starts_go_through_a_new_version_behind_the_alias_which_is_put_back(lam):
    # moto keeps versions and aliases but not SnapStart itself: the target is told (snap_start=True).
    version = lam.publish_version(FunctionName=FN)["Version"]
    lam.create_alias(FunctionName=FN, Name="snapstart", FunctionVersion=version)
    with FunctionUrl(lam, qualifier="snapstart") as url:  # the HTTP API routes to the alias
        target = RemoteLambdaTarget(url.url, FN, REGION, client_factory=lambda: lam, snap_start=True)
        res = _run(target, 3)
    assert (res["n_valid"], res["n_dropped_misclassified"], res["n_failed"]) == (3, 0, 0)
    assert res["cold_kind"] == "restore" and len(res["published_versions"]) == 3
    assert lam.get_alias(FunctionName=FN, Name="snapstart")["FunctionVersion"] == version
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=FN)["Versions"]] == ["$LATEST", version]
    assert _env_of(lam) == ORIGINAL_ENV and res["config_restored"] is True


def test_samples_the_handler_calls_warm_are_dropped_and_counted(lam):
    with FunctionUrl(lam, mode="always-warm") as url:
        res = _run(RemoteLambdaTarget(url.url, FN, REGION, client_factory=lambda: lam), 2)
    assert (res["n_valid"], res["n_dropped_misclassified"]) == (0, 2)
    with FunctionUrl(lam, mode="no-header") as url:
        res = _run(RemoteLambdaTarget(url.url, FN, REGION, client_factory=lambda: lam), 2)
    assert (res["n_valid"], res["n_unknown_cold_flag"]) == (0, 2)
    assert _env_of(lam) == ORIGINAL_ENV


def test_unreachable_url_counts_failures_and_still_restores(lam):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, never listening: refused
        res = _run(RemoteLambdaTarget(dead, FN, REGION, client_factory=lambda: lam), 2)
    assert (res["n_valid"], res["n_failed"], res["failure_statuses"]) == (0, 2, [0, 0])
    assert _env_of(lam) == ORIGINAL_ENV


def test_cancel_stops_the_series_and_restores(lam):
    with FunctionUrl(lam) as url:
        target = RemoteLambdaTarget(url.url, FN, REGION, client_factory=lambda: lam)
        cancel = threading.Event()
        cancel.set()  # as after Ctrl-C: the series stops after the step in progress
        with pytest.raises(Exception, match="cancelled"):
            target.cold_batch(BODY, 5, lambda _msg: None, cancel)
        assert url.requests == 1
    assert _env_of(lam) == ORIGINAL_ENV


def test_unknown_function_is_recorded_as_a_failed_scenario_not_a_traceback(lam):
    res = _run(RemoteLambdaTarget("http://127.0.0.1:9", "no-such-fn", REGION, client_factory=lambda: lam), 2)
    assert res["skipped"] is True and "not found" in res["error"] and res["reason"].startswith("forced cold")


def test_without_function_name_or_region_the_scenario_is_skipped_with_the_reason():
    for kwargs in ({}, {"function_name": FN}, {"region": REGION}):
        target = RemoteLambdaTarget("http://127.0.0.1:9", **kwargs)
        res = _run(target, 2)
        assert res["skipped"] is True and "LAMBDA_FUNCTION" in res["reason"] and "AWS_REGION" in res["reason"]


# -- `twinbench bench` end to end against moto_server over HTTP --------------------------------------


@pytest.fixture(scope="module")
def moto_server():
    pytest.importorskip("flask_cors", reason="moto[server] needs flask-cors")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "import sys\nfrom moto.server import main\nsys.exit(main())",
                             "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def listening() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until(listening, 30.0, what=f"moto_server listening on 127.0.0.1:{port}", poll_s=0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.mark.slow
def test_bench_cli_remote_cold_start_end_to_end(moto_server, tmp_path, monkeypatch, capsys):
    from twinbench.__main__ import main
    from twinbench.results import document as results

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    session = boto3.session.Session(region_name=REGION)
    _create_function(session)
    client = session.client("lambda")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "metadata.json").write_text(json.dumps({"example_row": [1.0, 2.0], "n_features": 2}))
    with FunctionUrl(client) as url:
        rc = main(["bench", "--profile", "smoke", "--targets", "lambda", "--scenarios", "cold", "--quiet",
                   "--lambda-url", url.url, "--lambda-function", FN, "--aws-region", REGION,
                   "--model-dir", str(tmp_path / "model"), "--out", str(tmp_path / "results")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    folder = next((tmp_path / "results").iterdir())
    doc = results.load(folder)
    results.validate(doc)
    cold = doc["scenarios"]["cold_start"]["lambda"]
    assert cold["n_valid"] == 2 and cold["config_restored"] is True
    assert doc["run"]["settings"]["lambda_function"] == FN and doc["run"]["settings"]["aws_endpoint_url"] == moto_server
    assert doc["targets"]["lambda"]["mode"] == "remote"
    assert _env_of(client) == ORIGINAL_ENV and NONCE_ENV_VAR not in _env_of(client)
    report = (folder / "report.md").read_text()
    assert "forced by UpdateFunctionConfiguration" in report and "configuration restored" in report
    assert os.environ.get("AWS_ENDPOINT_URL") == moto_server
