"""The HTTP front's translation: request -> HTTP API payload 2.0 event, function result -> HTTP (pure)."""

from __future__ import annotations

import base64
import json

import pytest
from twinbench.local_lambda.errors import BadFunctionResponse, FunctionTimeout, Throttled
from twinbench.local_lambda.events import FrontRequest, build_event, parse_result
from twinserve_support.sample_events import load_template

REAL_V2_EVENT = load_template("http_api_v2.json")


def _request(**overrides) -> FrontRequest:
    values = dict(method="post", path="/predict", raw_query_string="", body=b'{"x": 1}',
                  headers=[("Host", "127.0.0.1:9000"), ("Content-Type", "application/json"),
                           ("User-Agent", "pytest")], source_ip="127.0.0.9", server_port=9000)
    values.update(overrides)
    return FrontRequest(**values)


def test_event_has_every_key_of_a_real_http_api_event():
    event = build_event(_request())
    assert set(REAL_V2_EVENT) <= set(event)
    assert set(REAL_V2_EVENT["requestContext"]) <= set(event["requestContext"])
    assert set(REAL_V2_EVENT["requestContext"]["http"]) == set(event["requestContext"]["http"])
    assert set(REAL_V2_EVENT["headers"]) - {"accept", "content-length"} <= set(event["headers"])


def test_event_fields():
    event = build_event(_request(), now_s=1_795_839_135.25)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/predict" and event["rawQueryString"] == ""
    assert "queryStringParameters" not in event
    http = event["requestContext"]["http"]
    assert http == {"method": "POST", "path": "/predict", "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.9", "userAgent": "pytest"}
    assert event["requestContext"]["timeEpoch"] == 1_795_839_135_250
    assert event["requestContext"]["time"] == "28/Nov/2026:04:12:15 +0000"
    assert event["requestContext"]["stage"] == "$default"
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    assert event["headers"]["x-forwarded-for"] == "127.0.0.9"
    assert event["headers"]["x-forwarded-port"] == "9000"
    assert len(event["requestContext"]["requestId"]) == 16


def test_headers_lower_cased_and_duplicates_joined_cookies_split():
    event = build_event(_request(headers=[("X-Multi", "a"), ("x-multi", "b"), ("Cookie", "c1=v1; c2=v2")],
                                 raw_query_string="x=1&x=2&empty="))
    assert event["headers"]["x-multi"] == "a,b"
    assert "cookie" not in event["headers"] and event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["rawQueryString"] == "x=1&x=2&empty="
    assert event["queryStringParameters"] == {"x": "1,2", "empty": ""}


def test_binary_body_is_base64():
    event = build_event(_request(body=b"\x00\xff\x10", headers=[("content-type", "application/octet-stream")]))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff\x10"


def test_no_body_means_no_body_key():
    event = build_event(_request(method="GET", body=b""))
    assert "body" not in event and event["isBase64Encoded"] is False


def test_full_response_with_cookies_and_base64_body():
    result = {"statusCode": 201, "headers": {"Content-Type": "image/png", "X-N": 3, "Content-Length": "999"},
              "cookies": ["a=1; Path=/", "b=2"], "body": base64.b64encode(b"\x89PNG").decode(),
              "isBase64Encoded": True}
    http = parse_result(json.dumps(result).encode())
    assert http.status == 201 and http.body == b"\x89PNG"
    assert ("Content-Type", "image/png") in http.headers and ("X-N", "3") in http.headers
    assert [v for k, v in http.headers if k == "set-cookie"] == ["a=1; Path=/", "b=2"]
    assert not any(k.lower() == "content-length" for k, _ in http.headers)


def test_result_without_status_code_is_a_200_json_body():
    http = parse_result(b'{"plain": "json"}')
    assert http.status == 200 and http.body == b'{"plain": "json"}'
    assert ("content-type", "application/json") in http.headers


@pytest.mark.parametrize("payload", [b"not json", b'{"statusCode": "abc"}', b'{"statusCode": 700}'])
def test_malformed_results_raise(payload):
    with pytest.raises(BadFunctionResponse):
        parse_result(payload)


def test_throttle_body_is_lambdas():
    exc = Throttled()
    assert exc.status == 429
    assert exc.to_dict() == {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                             "Type": "User", "message": "Rate Exceeded."}
    assert exc.headers()["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert FunctionTimeout().status == 504
