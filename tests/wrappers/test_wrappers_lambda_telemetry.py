"""The native Lambda handler writes one JSON line per invocation: a structured log record that is
also CloudWatch Embedded Metric Format (namespace, dimensions, metrics with units)."""

from __future__ import annotations

import json
import types

from twinserve_support.sample_events import event_for


def test_one_emf_line_per_invocation(lambda_modules, good_body, capsys):
    native, _ = lambda_modules
    capsys.readouterr()
    context = types.SimpleNamespace(aws_request_id="req-123")
    native.handler(event_for("http_api_v2.json", body=good_body), context)
    native.handler(event_for("http_api_v2.json", "GET", "/v2/models/nope", b"", None), context)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 2
    first, second = lines
    directive = first["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "twinserve"
    for dimension_set in directive["Dimensions"]:
        assert all(name in first for name in dimension_set)  # EMF: every dimension is a member
    for metric in directive["Metrics"]:
        assert isinstance(first[metric["Name"]], (int, float)) and metric["Unit"] in ("Milliseconds", "Count")
    assert isinstance(first["_aws"]["Timestamp"], int)
    assert first["requestId"] == "req-123" and first["route"] == "/predict" and first["status"] == 200
    assert first["latency_ms"] >= 0 and first["cold"] in (True, False)
    assert second["route"] == "/v2/models/{name}" and second["status"] == 404 and second["cold"] is False
