"""Slow clients: a few sockets trickling a request byte by byte must not stop
other clients being served. Bounded: each check trickles for a few seconds, normal requests time
out after 5 s, every socket and server is closed at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from twinbench.local_lambda.settings import DEFAULT_PYTHON
from twinbench.reliability.fuzz.slow_clients import slow_clients
from twinbench.reliability.fuzz.wire import http_request
from twinserve_support.local_container import LocalContainer
from twinserve_support.paths import LAMBDA_BUILD

pytestmark = pytest.mark.slow

PACKAGE = LAMBDA_BUILD / "pkg"
SLOW_SOCKETS = 4
TRICKLE_S = 4.0


def test_gunicorn_keeps_serving_while_slow_clients_trickle(rf_dir: Path, rf_metadata: dict):
    body = json.dumps({"features": rf_metadata["example_row"]}).encode()
    with LocalContainer(model_path=rf_dir, env={"GUNICORN_ACCESS_LOG": ""}) as server:
        result = slow_clients(server.url, body, count=SLOW_SOCKETS, duration_s=TRICKLE_S)
        assert http_request(server.url, "GET", "/ready").status == 200
    assert result["normal_requests"] > 0
    assert result["problem"] is None, result


@pytest.mark.skipif(not (PACKAGE / "wsgi_handler.py").exists() or not DEFAULT_PYTHON.exists(),
                    reason="no Lambda package or .venv-lambda: make package-lambda lambda-runtime")
def test_lambda_front_keeps_serving_while_slow_clients_trickle(rf_metadata: dict):
    from twinbench.local_lambda import LocalLambda

    body = json.dumps({"features": rf_metadata["example_row"]}).encode()
    with LocalLambda(PACKAGE, handler="handler.handler") as fn:
        result = slow_clients(fn.url, body, count=SLOW_SOCKETS, duration_s=TRICKLE_S)
    assert result["normal_requests"] > 0
    assert result["problem"] is None, result
