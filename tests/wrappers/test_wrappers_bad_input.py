"""The bad-input table, against every wrapper: native handler (REST v1, HTTP API v2, Function
URL, base64 bodies), the WSGI handler, and the container over real HTTP (gunicorn)."""

from __future__ import annotations

import json

import pytest

ROW_30 = [1.0] * 30


def _features(values: list) -> bytes:
    return json.dumps({"features": values}).encode()


# (case id, method, path, body, content type, expected status, expected error code)
CASES = [
    ("malformed-json", "POST", "/predict", b'{"features": [1, 2', "application/json", 400, "malformed_json"),
    ("empty-body", "POST", "/predict", b"", "application/json", 400, "malformed_json"),
    ("not-an-object", "POST", "/predict", b"[1, 2, 3]", "application/json", 422, "invalid_shape"),
    ("no-features-key", "POST", "/predict", b'{"rows": [1]}', "application/json", 422, "invalid_shape"),
    ("both-keys", "POST", "/predict", json.dumps({"features": ROW_30, "instances": [ROW_30]}).encode(), "application/json", 422, "invalid_shape"),
    ("wrong-length", "POST", "/predict", _features([1.0, 2.0]), "application/json", 422, "invalid_shape"),
    ("nested-too-deep", "POST", "/predict", _features([ROW_30]), "application/json", 422, "invalid_shape"),
    ("string-value", "POST", "/predict", _features(["1.0"] + ROW_30[1:]), "application/json", 422, "invalid_value"),
    ("null-value", "POST", "/predict", _features([None] + ROW_30[1:]), "application/json", 422, "invalid_value"),
    ("bool-value", "POST", "/predict", _features([True] + ROW_30[1:]), "application/json", 422, "invalid_value"),
    ("nan-literal", "POST", "/predict", b'{"features": [NaN' + b", 1.0" * 29 + b"]}", "application/json", 422, "invalid_value"),
    ("inf-literal", "POST", "/predict", b'{"features": [-Infinity' + b", 1.0" * 29 + b"]}", "application/json", 422, "invalid_value"),
    ("overflow-number", "POST", "/predict", b'{"features": [1e400' + b", 1.0" * 29 + b"]}", "application/json", 422, "invalid_value"),
    ("empty-instances", "POST", "/predict", b'{"instances": []}', "application/json", 422, "invalid_shape"),
    ("empty-features", "POST", "/predict", b'{"features": []}', "application/json", 422, "invalid_shape"),
    ("unknown-feature-name", "POST", "/predict", json.dumps({"features": {"radius": 1.0}}).encode(), "application/json", 422, "unknown_feature"),
    ("too-many-rows", "POST", "/predict", json.dumps({"instances": [ROW_30] * 1001}).encode(), "application/json", 413, "too_many_rows"),
    ("body-too-large", "POST", "/predict", b'{"features": [' + b" " * 1_100_000 + b"]}", "application/json", 413, "payload_too_large"),
    ("wrong-content-type", "POST", "/predict", _features(ROW_30), "text/plain", 415, "unsupported_media_type"),
    ("form-content-type", "POST", "/predict", b"a=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("unknown-route", "GET", "/nope", b"", None, 404, "not_found"),
    ("wrong-method", "GET", "/predict", b"", None, 405, "method_not_allowed"),
    ("wrong-method-health", "POST", "/health", b"{}", "application/json", 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("case", "method", "path", "body", "content_type", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_4xx_json_error(callers, wrapper, case, method, path, body, content_type, status, code):
    answer = callers[wrapper](method, path, body, content_type)
    assert answer.status == status, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"] and "Traceback" not in error["message"]


def test_native_handler_rejects_bad_base64_and_unknown_events(lambda_modules):
    native, _ = lambda_modules
    result = native.handler({"version": "2.0", "requestContext": {"http": {"method": "POST"}}, "rawPath": "/predict",
                             "body": "%%%not-base64", "isBase64Encoded": True}, None)
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "malformed_body"
    result = native.handler({"Records": []}, None)
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "unsupported_event"


def test_method_not_allowed_names_allowed_methods(callers):
    for wrapper in callers:
        answer = callers[wrapper]("GET", "/predict", b"", None)
        assert answer.headers.get("allow") == "POST", wrapper


def test_error_messages_say_what_is_wrong(callers):
    answer = callers["native-http-v2"]("POST", "/predict", _features(ROW_30[:29] + ["x"]), "application/json")
    message = answer.json()["error"]["message"]
    assert "features[29]" in message and "worst fractal dimension" in message and "string" in message


def test_native_handler_survives_misshapen_events(lambda_modules):
    native, _ = lambda_modules
    for event in (
        {"version": "2.0", "requestContext": {"http": "POST"}, "rawPath": "/predict"},
        {"version": "2.0", "requestContext": "x"},
        {"httpMethod": 5, "path": "/predict"},
        {"httpMethod": "POST", "path": "/predict", "headers": ["content-type"], "body": "{}"},
        {"httpMethod": "POST", "path": "/predict", "body": 12},
        [1, 2],
        None,
    ):
        result = native.handler(event, None)
        assert result["statusCode"] == 400, event
        assert json.loads(result["body"])["error"]["code"] in {"unsupported_event", "malformed_body"}


def test_native_handler_rejects_non_string_paths(lambda_modules):
    native, _ = lambda_modules
    for event in (
        {"version": "2.0", "requestContext": {"http": {"method": "POST"}}, "rawPath": {"a": 1}},
        {"httpMethod": "POST", "path": ["/predict"]},
        {"httpMethod": "POST", "path": "/predict", "headers": {"content-type": 5}, "body": "{}"},
    ):
        result = native.handler(event, None)
        assert result["statusCode"] == 400, event
        assert json.loads(result["body"])["error"]["code"] == "unsupported_event"


def test_chunked_upload_over_the_limit_is_413(gunicorn_url):
    import requests

    def chunks():
        for _ in range(20):
            yield b" " * 65_536
        yield b'{"features": [1]}'

    response = requests.post(gunicorn_url + "/predict", data=chunks(), headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_small_chunked_upload_is_read_whole(gunicorn_url, good_body):
    import requests

    response = requests.post(gunicorn_url + "/predict", data=iter([good_body[:10], good_body[10:]]),
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 200, response.text


_HOSTILE = {
    "long unknown feature": ("POST", "/predict", lambda: json.dumps({"features": {"x" * 50_000: 1}}).encode()),
    "long string value": ("POST", "/predict", lambda: json.dumps({"features": ["\u0001" * 50_000]}).encode()),
    "long V2 input name": ("POST", "/v2/models/m/infer", lambda: json.dumps(
        {"inputs": [{"name": "y" * 200_000, "shape": [1, 1], "datatype": "FP64", "data": [1]}]}).encode()),
    "long V2 model name": ("POST", "/v2/models/" + "n" * 3_000 + "/infer", lambda: b"{}"),
    "long unknown path": ("GET", "/" + "p" * 3_000, lambda: b""),
}


@pytest.mark.parametrize("case", sorted(_HOSTILE))
def test_error_answers_stay_small_and_identical_whatever_the_request(callers, case):
    """Echoed values are clipped and no error answer exceeds 1 KiB, on every wrapper, byte for byte."""
    method, path, make_body = _HOSTILE[case]
    body = make_body()
    answers = {w: call(method, path, body, "application/json" if body else None) for w, call in callers.items()}
    reference = answers["gunicorn"]
    assert 400 <= reference.status < 500, reference.body[:200]
    assert len(reference.body) <= 1024, len(reference.body)
    for wrapper, answer in answers.items():
        assert (answer.status, answer.body) == (reference.status, reference.body), wrapper
