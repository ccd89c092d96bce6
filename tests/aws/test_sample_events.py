"""The one event builder: committed real events with the request swapped in, shaped as each front sends it."""

from __future__ import annotations

import base64

from twinserve_support.sample_events import EVENT_FILES, event_for, load_template


def test_http_api_get_has_no_body_and_no_content_headers():
    template = load_template("http_api_v2.json")
    get = event_for(template, "GET", "/wsgi/health", None, None)
    assert get["rawPath"] == get["requestContext"]["http"]["path"] == "/wsgi/health"
    assert get["routeKey"] == get["requestContext"]["routeKey"] == "GET /wsgi/health"
    assert "body" not in get and "content-type" not in get["headers"] and "content-length" not in get["headers"]
    assert template["rawPath"] == "/predict" and template["body"] == "{}"  # the template is not mutated


def test_http_api_post_carries_body_type_and_length():
    template = load_template("http_api_v2.json")
    post = event_for(template, "POST", "/predict", b'{"features": [1]}')
    assert post["body"] == '{"features": [1]}' and post["isBase64Encoded"] is False
    assert post["headers"]["content-length"] == "17" and post["headers"]["content-type"] == "application/json"
    assert set(post) == set(template)


def test_rest_v1_uses_its_own_fields_and_header_case():
    event = event_for("apigw_rest_v1.json", "PUT", "/x", b"abc", "text/plain")
    assert event["httpMethod"] == event["requestContext"]["httpMethod"] == "PUT"
    assert event["path"] == event["resource"] == "/x"
    assert event["headers"]["Content-Type"] == "text/plain" and "multiValueHeaders" not in event


def test_base64_body_round_trips_and_function_url_keeps_its_default_route():
    raw = b"\xff\x00binary"
    event = event_for("function_url.json", "POST", "/predict", raw, base64_body=True)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw
    assert event["routeKey"] == "$default"


def test_every_committed_event_loads():
    assert all(load_template(name).get("requestContext") for name in EVENT_FILES)
