"""One core, three wrappers: the same request gets byte-identical answers everywhere."""

from __future__ import annotations

import json

import pytest


def _bodies(rf_metadata: dict) -> list[bytes]:
    row = rf_metadata["example_row"]
    named = dict(zip(rf_metadata["feature_names"], row, strict=True))
    return [
        json.dumps({"features": row}).encode(),
        json.dumps({"features": named}).encode(),
        json.dumps({"instances": [row, [v * 1.1 for v in row], named]}).encode(),
    ]


@pytest.mark.parametrize("index", range(3), ids=["row", "named-row", "batch"])
def test_valid_input_gives_identical_bytes(callers, rf_metadata, index):
    body = _bodies(rf_metadata)[index]
    answers = {w: call("POST", "/predict", body, "application/json") for w, call in callers.items()}
    reference = answers["gunicorn"]
    assert reference.status == 200
    for wrapper, answer in answers.items():
        assert answer.status == 200, (wrapper, answer.body)
        assert answer.body == reference.body, wrapper


def test_prediction_document(callers, rf_metadata, good_body):
    document = callers["gunicorn"]("POST", "/predict", good_body, "application/json").json()
    assert document["predictions"] in ([0], [1])
    assert len(document["probabilities"]) == 1 and abs(sum(document["probabilities"][0]) - 1) < 1e-5
    assert document["classes"] == rf_metadata["classes"]
    assert document["model"] == {"name": rf_metadata["name"], "version": rf_metadata["version"], "sha256": rf_metadata["artefacts"]["serving"]["sha256"]}


@pytest.mark.parametrize("path", ["/health", "/ready", "/openapi.json"])
def test_health_and_ready_identical(callers, path):
    answers = {w: call("GET", path, b"", None) for w, call in callers.items()}
    assert {a.status for a in answers.values()} == {200}
    assert len({a.body for a in answers.values()}) == 1


def test_native_handler_reports_cold_then_warm(rf_dir, monkeypatch, good_body):
    import importlib
    import sys

    from twinserve_support.sample_events import event_for

    monkeypatch.setenv("MODEL_PATH", str(rf_dir))
    sys.modules.pop("handler", None)
    fresh = importlib.import_module("handler")
    event = event_for("http_api_v2.json", body=good_body)
    first, second = fresh.handler(event, None), fresh.handler(event, None)
    assert first["headers"]["x-twinserve-cold"] == "true"
    assert second["headers"]["x-twinserve-cold"] == "false"
    init_ms = float(first["headers"]["x-twinserve-init-ms"])
    assert init_ms > 0 and second["headers"]["x-twinserve-init-ms"] == first["headers"]["x-twinserve-init-ms"]
    sys.modules.pop("handler", None)


def test_native_handler_does_not_import_flask(rf_dir):
    import subprocess
    import sys

    from twinserve_support.paths import REPO

    code = "import sys, handler; print('flask' in sys.modules, 'sklearn' in sys.modules)"
    env = {"MODEL_PATH": str(rf_dir), "PYTHONPATH": f"{REPO}/services/predict-lambda"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_wsgi_handler_reports_cold_then_warm_on_both_event_kinds(rf_dir, monkeypatch, good_body):
    import importlib
    import sys

    from twinserve_support.sample_events import event_for

    monkeypatch.setenv("MODEL_PATH", str(rf_dir))
    monkeypatch.setenv("API_GATEWAY_BASE_PATH", "wsgi")
    sys.modules.pop("wsgi_handler", None)
    fresh = importlib.import_module("wsgi_handler")
    first = fresh.handler(event_for("http_api_v2.json", path="/wsgi/predict", body=good_body), None)
    second = fresh.handler(event_for("apigw_rest_v1.json", path="/wsgi/predict", body=good_body), None)
    assert first["statusCode"] == second["statusCode"] == 200
    assert first["headers"]["x-twinserve-cold"] == "true"
    headers = second.get("headers") or {k: v[0] for k, v in second["multiValueHeaders"].items()}
    assert headers["x-twinserve-cold"] == "false"
    assert float(first["headers"]["x-twinserve-init-ms"]) > 0
    sys.modules.pop("wsgi_handler", None)
