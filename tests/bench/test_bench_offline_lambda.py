"""`--lambda-runtime offline`: serverless-offline 14.8.2 via osls, serving the shipped package.

The prerequisite checks and the log parsing are plain units; one test runs the real
`osls offline` (about 10 s) when `make package-lambda` and `make lambda-runtime` have been run.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request

import pytest
from twinbench.targets import OfflineLambdaTarget
from twinbench.targets.serverless_offline import (
    OFFLINE_LABEL,
    OfflineLambda,
    OfflineLambdaError,
    parse_offline_durations,
)
from twinserve_support.paths import REPO  # noqa: E402

SERVICE = REPO / "build" / "lambda" / "service"
PKG = REPO / "build" / "lambda" / "pkg"
VENV = REPO / ".venv-lambda"

# Two invocations exactly as serverless-offline 14.8.2 logs them (the first one cold).
LOG = """
POST /predict (λ: predict)
(λ: predict) RequestId: 96c45e5b-8fc6-4474-8d03-64792c2e182e  Duration: 660.96 ms  Billed Duration: 661 ms

GET /wsgi/health (λ: predict-wsgi)
(λ: predict-wsgi) RequestId: 1a8fc057-2552-4d5f-b5de-f05c0f0e3b2d  Duration: 10.44 ms  Billed Duration: 11 ms

POST /predict (λ: predict)
(λ: predict) RequestId: a3539785-4de4-433f-adb0-30afb4a1eadc  Duration: 4.96 ms  Billed Duration: 5 ms
"""


def test_duration_lines_parse_per_function():
    rows = parse_offline_durations(LOG)
    assert [(r["duration_ms"], r["billed_duration_ms"]) for r in rows] == [(660.96, 661), (4.96, 5)]
    assert rows[0]["request_id"] == "96c45e5b-8fc6-4474-8d03-64792c2e182e"
    assert len(parse_offline_durations(LOG, function=None)) == 3


def test_argv_uses_serverless_offline_options_and_loopback(tmp_path):
    lam = OfflineLambda(tmp_path / "service", tmp_path / "pkg", tmp_path / "venv", idle_s=30)
    argv = lam.argv()
    assert argv[1].endswith("node_modules/.bin/osls") and argv[2] == "offline"
    for flag, value in (("--host", "127.0.0.1"), ("--httpPort", str(lam.http_port)),
                        ("--lambdaPort", str(lam.lambda_port)), ("--terminateIdleLambdaTime", "30")):
        assert argv[argv.index(flag) + 1] == value
    assert "--noPrependStageInUrl" in argv and lam.http_port != lam.lambda_port
    env = lam.env()
    # serverless-offline runs `python3` from $VIRTUAL_ENV/bin; the package must come first on sys.path.
    assert env["VIRTUAL_ENV"] == str(tmp_path / "venv") and env["PYTHONPATH"] == str(tmp_path / "pkg")


@pytest.mark.parametrize("missing, expected", [
    ("service", "make package-lambda"),
    ("osls", "npm ci"),
    ("pkg", "make package-lambda"),
    ("venv", "make lambda-runtime"),
])
def test_preflight_names_the_missing_piece_and_its_fix(tmp_path, missing, expected):
    if shutil.which("node") is None:
        pytest.skip("node not installed")
    service, pkg, venv = tmp_path / "service", tmp_path / "pkg", tmp_path / "venv"
    if missing != "service":
        service.mkdir()
        (service / "serverless.yml").write_text("service: x\n")
        if missing != "osls":
            bin_dir = service / "node_modules" / ".bin"
            bin_dir.mkdir(parents=True)
            (bin_dir / "osls").write_text("")
            plugin = service / "node_modules" / "serverless-offline"
            plugin.mkdir()
            (plugin / "package.json").write_text(json.dumps({"version": "14.8.2"}))
    if missing != "pkg":
        pkg.mkdir()
        (pkg / "handler.py").write_text("")
    with pytest.raises(OfflineLambdaError, match=expected):
        OfflineLambda(service, pkg, venv).preflight()


def test_target_start_failure_is_a_clear_error_and_leaves_nothing(tmp_path):
    target = OfflineLambdaTarget(package_dir=tmp_path / "pkg", service_dir=tmp_path / "service",
                                 venv=tmp_path / "venv", log_dir=tmp_path)
    with pytest.raises(OfflineLambdaError):
        target.__enter__()
    assert target._server is None
    assert target.describe()["notes"][0] == OFFLINE_LABEL and target.runtime == "offline"


def _ready_to_run() -> str | None:
    if shutil.which("node") is None:
        return "node not installed"
    if not (SERVICE / "node_modules" / ".bin" / "osls").exists() or not (PKG / "handler.py").exists():
        return "no staged Lambda service/package: run `make package-lambda`"
    if not (VENV / "bin" / "python3").exists():
        return "no .venv-lambda: run `make lambda-runtime`"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_ready_to_run() is not None, reason=str(_ready_to_run()))
def test_real_serverless_offline_cold_then_warm_and_nothing_left(tmp_path):
    from twinbench.targets import request_body

    body = request_body(REPO / "model")
    log = tmp_path / "offline.log"
    with OfflineLambda(SERVICE, PKG, VENV, log_path=log, start_timeout_s=60) as lam:
        pgid = lam.pgid
        answers = []
        for _ in range(2):
            req = urllib.request.Request(lam.url + "/predict", data=body, headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                answers.append((resp.status, resp.headers.get("x-twinserve-cold"), json.loads(resp.read())))
        durations = lam.durations()
    assert [a[:2] for a in answers] == [(200, "true"), (200, "false")]
    assert "predictions" in answers[0][2]
    assert len(durations) == 2 and durations[0]["duration_ms"] > durations[1]["duration_ms"]
    with pytest.raises(ProcessLookupError):  # node, npm shims and every python3 handler are gone
        os.killpg(pgid, 0)
