"""One JSON line per invocation: a structured log record and CloudWatch Embedded Metric Format.

With ``logFormat: JSON`` (Lambda's advanced logging controls) the function's log is JSON; this
line is a JSON object too, and its ``_aws`` member makes CloudWatch extract the metrics from it
(EMF), so one ``write`` per invocation is both the access log and the metrics: request id, cold
flag, route template, status, latency.

Written by hand, not with aws-embedded-metrics: that library imports aiohttp, which would nearly
double this function's cold start (figures in docs/measurements.md).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

import orjson
from twinserve.routes import route_of

NAMESPACE = "twinserve"
DIMENSIONS = [["function", "route"]]
METRICS = [
    {"Name": "latency_ms", "Unit": "Milliseconds"},
    {"Name": "requests", "Unit": "Count"},
    {"Name": "errors_5xx", "Unit": "Count"},
    {"Name": "cold_starts", "Unit": "Count"},
]


def record(path: str, method: str, status: int, latency_ms: float, cold: bool, request_id: str | None,
           function: str) -> dict[str, Any]:
    """The invocation's log record with its EMF metadata (CloudWatch EMF specification)."""
    return {
        "_aws": {"Timestamp": int(time.time() * 1000),
                 "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": DIMENSIONS, "Metrics": METRICS}]},
        "level": "INFO" if status < 500 else "ERROR",
        "message": "request",
        "requestId": request_id,
        "function": function,
        "route": route_of(path),
        "method": method,
        "status": status,
        "cold": cold,
        "latency_ms": round(latency_ms, 3),
        "requests": 1,
        "errors_5xx": 1 if status >= 500 else 0,
        "cold_starts": 1 if cold else 0,
    }


def emit(line: dict[str, Any], stream: TextIO | None = None) -> None:
    """One line on stdout (the Lambda runtime forwards it to CloudWatch Logs as it is)."""
    (stream or sys.stdout).write(orjson.dumps(line).decode() + "\n")


def function_name() -> str:
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
