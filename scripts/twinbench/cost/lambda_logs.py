"""Bytes of CloudWatch Logs one Lambda invocation writes: the platform's lines plus our own.

CloudWatch Logs bills ingestion per GB ($0.50 in the pinned table), a cost only the Lambda side
pays by default (the container's access log stays on the node unless a log shipper is added).
What one invocation writes:

* The platform's lines. With ``logFormat: JSON`` (serverless.yml) Lambda writes a
  ``platform.start`` and a ``platform.report`` record per invocation (AWS docs, "Configuring
  advanced logging controls for Lambda functions", examples of the JSON system log format;
  read 2026-12-06); with the text format, ``START``/``END``/``REPORT`` lines. The samples below
  are the documented shapes with a real request id; a cold one adds the init duration.
* Our line: the native handler writes one JSON/EMF record per invocation
  (``services/predict-lambda/telemetry.py``). Its size is *measured* by building the record
  with the handler's own code when it is importable, else a fallback measured that way
  (docs/measurements.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from twinserve_support.paths import REPO

__all__ = ["LogBytes", "PLATFORM_LINES_JSON", "PLATFORM_LINES_TEXT", "lambda_log_bytes"]

_REQUEST_ID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
PLATFORM_LINES_JSON = (
    '{"time":"2026-12-06T18:40:00.000Z","type":"platform.start","record":{"requestId":"' + _REQUEST_ID
    + '","version":"$LATEST"}}\n',
    '{"time":"2026-12-06T18:40:00.006Z","type":"platform.report","record":{"requestId":"' + _REQUEST_ID
    + '","metrics":{"durationMs":5.123,"billedDurationMs":6,"memorySizeMB":1024,"maxMemoryUsedMB":98},'
    '"status":"success"}}\n',
)
PLATFORM_LINES_TEXT = (
    f"START RequestId: {_REQUEST_ID} Version: $LATEST\n",
    f"END RequestId: {_REQUEST_ID}\n",
    f"REPORT RequestId: {_REQUEST_ID}\tDuration: 5.12 ms\tBilled Duration: 6 ms\tMemory Size: 1024 MB\t"
    "Max Memory Used: 98 MB\t\n",
)
_COLD_EXTRA_JSON = ',"initDurationMs":182.345'
_COLD_EXTRA_TEXT = "Init Duration: 182.35 ms\t"
OWN_LINE_FALLBACK_BYTES = 532
"""The handler's JSON/EMF line as measured on 2026-12-06 (see module docstring)."""


@dataclass(frozen=True)
class LogBytes:
    """Bytes per warm invocation and the extra bytes of a cold one, and where they came from."""

    per_invocation: int
    per_cold_start: int
    source: str


def _own_line_bytes() -> tuple[int, str]:
    """Build the handler's record with its own code; the fallback when it cannot be imported."""
    paths = [str(REPO / "services" / "predict-lambda"), str(REPO / "shared")]
    added = [p for p in paths if p not in sys.path]
    sys.path[:0] = added
    try:
        import orjson
        import telemetry  # type: ignore[import-not-found]

        line = telemetry.record("/predict", "POST", 200, 5.123, False, _REQUEST_ID, "twinserve-dev-predict")
        return len(orjson.dumps(line)) + 1, "measured: services/predict-lambda/telemetry.py record()"
    except Exception:  # noqa: BLE001 - any import problem: use the figure measured the same way
        return OWN_LINE_FALLBACK_BYTES, "measured 2026-12-06 from telemetry.record() (fallback)"
    finally:
        for p in added:
            if p in sys.path:
                sys.path.remove(p)


def lambda_log_bytes(log_format: str = "JSON", handler_line: bool = True) -> LogBytes:
    """Bytes one invocation ingests into CloudWatch Logs (``log_format`` JSON or Text)."""
    if log_format not in ("JSON", "Text"):
        raise ValueError(f"log format must be JSON or Text, got {log_format!r}")
    lines = PLATFORM_LINES_JSON if log_format == "JSON" else PLATFORM_LINES_TEXT
    platform = sum(len(s.encode()) for s in lines)
    own, source = _own_line_bytes() if handler_line else (0, "no handler line")
    cold = len(_COLD_EXTRA_JSON if log_format == "JSON" else _COLD_EXTRA_TEXT)
    return LogBytes(platform + own, cold, f"platform lines ({log_format}, AWS docs' shapes) {platform} B + {source} "
                    f"{own} B")
