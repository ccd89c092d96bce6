"""AWS Lambda ``REPORT`` log lines: print them exactly as Lambda does, and parse them back.

Why one module: the local emulator prints them (:func:`format_report_line`) and the CloudWatch
collector reads them (:func:`parse_report_line`), so a local and a deployed run are parsed by the
same code. Fields are ``Key: value unit`` pairs separated by TABs, with a trailing TAB::

    REPORT RequestId: 6f8c...\\tDuration: 102.25 ms\\tBilled Duration: 103 ms\\tMemory Size: 512 MB\\tMax Memory Used: 81 MB\\tInit Duration: 233.60 ms\\t

``Init Duration`` only on a cold start, ``Restore Duration`` only on a SnapStart restore;
unknown fields are kept or ignored, never an error. :func:`parse_report_message` also reads the
``platform.report`` JSON record (``LogFormat = JSON``). Pure: no boto3. The other variants
(SnapStart, X-Ray, timeout/error status): docs/benchmark.md, "REPORT lines".
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

__all__ = [
    "LambdaReport",
    "billed_gb_s",
    "format_report_line",
    "parse_platform_report_json",
    "parse_report_line",
    "parse_report_message",
]

_NUMBER_UNIT = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(ms|MB)?$")

MB_PER_GB = 1024  # Lambda prices GB-s with memory in MiB / 1024 (128 MB = 0.125 GB).


@dataclass(frozen=True, slots=True)
class LambdaReport:
    """One parsed REPORT line. Units are in the field names; ``None`` means the field was absent."""

    request_id: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None
    restore_duration_ms: float | None = None
    billed_restore_duration_ms: int | None = None
    status: str | None = None  # "timeout" / "error" when Lambda reports one
    error_type: str | None = None
    xray_trace_id: str | None = None

    @property
    def cold_start(self) -> bool:
        """True for the first invocation of a new execution environment (Init or Restore present)."""
        return self.init_duration_ms is not None or self.restore_duration_ms is not None

    @property
    def cold_kind(self) -> str | None:
        """``"restore"`` (SnapStart: Restore Duration), ``"init"`` (Init Duration), ``None`` when warm."""
        if self.restore_duration_ms is not None:
            return "restore"
        return "init" if self.init_duration_ms is not None else None

    @property
    def billed_gb_s(self) -> float:
        """GB-seconds billed for the invocation (billed duration x memory); restore billed apart."""
        return billed_gb_s(self.billed_duration_ms, self.memory_size_mb)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["cold_start"] = self.cold_start
        d["billed_gb_s"] = self.billed_gb_s
        return d


def billed_gb_s(billed_duration_ms: int | float, memory_size_mb: int) -> float:
    """GB-seconds for ``billed_duration_ms`` at ``memory_size_mb`` (Lambda's GB = 1024 MB)."""
    return (billed_duration_ms / 1000.0) * (memory_size_mb / MB_PER_GB)


def format_report_line(
    request_id: str,
    duration_ms: float,
    billed_duration_ms: int,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None = None,
    restore_duration_ms: float | None = None,
    billed_restore_duration_ms: int | None = None,
) -> str:
    """Return the REPORT line Lambda would print, without a trailing newline (but with its trailing TAB).

    ``init_duration_ms`` is given only for a cold start; ``restore_duration_ms`` (and optionally
    ``billed_restore_duration_ms``, default: ``restore_duration_ms`` rounded up) only for a
    SnapStart restore. Raises ``ValueError`` for negative numbers or an empty request id.
    """
    if not request_id:
        raise ValueError("request_id must not be empty")
    numbers = (duration_ms, billed_duration_ms, memory_size_mb, max_memory_used_mb)
    optional = (init_duration_ms, restore_duration_ms, billed_restore_duration_ms)
    if any(v < 0 for v in numbers) or any(v is not None and v < 0 for v in optional):
        raise ValueError("durations and memory sizes must be >= 0")
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {int(billed_duration_ms)} ms",
        f"Memory Size: {int(memory_size_mb)} MB",
        f"Max Memory Used: {int(max_memory_used_mb)} MB",
    ]
    if init_duration_ms is not None:
        parts.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if restore_duration_ms is not None:
        if billed_restore_duration_ms is None:
            billed_restore_duration_ms = -int(-restore_duration_ms // 1)  # ceil
        parts.append(f"Restore Duration: {restore_duration_ms:.2f} ms")
        parts.append(f"Billed Restore Duration: {int(billed_restore_duration_ms)} ms")
    return "\t".join(parts) + "\t"


def _number(raw: str) -> float | None:
    m = _NUMBER_UNIT.match(raw.strip())
    return float(m.group(1)) if m else None


def parse_report_line(line: str) -> LambdaReport | None:
    """Parse one REPORT log message; ``None`` if it is not a complete REPORT line.

    Accepts the message with or without its trailing TAB / newline. A line that starts with
    ``REPORT`` but lacks one of the five always-present fields (RequestId, Duration, Billed
    Duration, Memory Size, Max Memory Used) also yields ``None``: it is not something Lambda printed.
    """
    text = line.strip("\r\n ")
    if not text.startswith("REPORT "):
        return None
    fields: dict[str, str] = {}
    # With tracing, Lambda appends "\nXRAY TraceId: ...\tSegmentId: ...\tSampled: true\t".
    for segment in re.split(r"[\t\n]", text[len("REPORT ") :]):
        segment = segment.strip()
        if not segment:
            continue
        key, sep, value = segment.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    try:
        request_id = fields["RequestId"]
        duration = _number(fields["Duration"])
        billed = _number(fields["Billed Duration"])
        memory = _number(fields["Memory Size"])
        max_used = _number(fields["Max Memory Used"])
    except KeyError:
        return None
    if not request_id or None in (duration, billed, memory, max_used):
        return None

    def opt(key: str) -> float | None:
        return _number(fields[key]) if key in fields else None

    billed_restore = opt("Billed Restore Duration")
    return LambdaReport(
        request_id=request_id,
        duration_ms=duration,  # type: ignore[arg-type]
        billed_duration_ms=int(billed),  # type: ignore[arg-type]
        memory_size_mb=int(memory),  # type: ignore[arg-type]
        max_memory_used_mb=int(max_used),  # type: ignore[arg-type]
        init_duration_ms=opt("Init Duration"),
        restore_duration_ms=opt("Restore Duration"),
        billed_restore_duration_ms=int(billed_restore) if billed_restore is not None else None,
        status=fields.get("Status"),
        error_type=fields.get("Error Type"),
        xray_trace_id=fields.get("XRAY TraceId"),
    )


def parse_platform_report_json(message: str) -> LambdaReport | None:
    """Parse a JSON-format ``platform.report`` record; ``None`` if the message is not one.

    Shape (Lambda's JSON log format)::

        {"time": "...", "type": "platform.report",
         "record": {"requestId": "...", "status": "success",
                    "metrics": {"durationMs": 2.07, "billedDurationMs": 3, "memorySizeMB": 128,
                                "maxMemoryUsedMB": 39, "initDurationMs": 126.33}}}
    """
    text = message.strip()
    if not text.startswith("{") or "platform.report" not in text:
        return None
    try:
        doc = json.loads(text)
        if doc.get("type") != "platform.report":
            return None
        record = doc["record"]
        metrics = record["metrics"]
        status = record.get("status")
        billed_restore = metrics.get("billedRestoreDurationMs")
        return LambdaReport(
            request_id=str(record["requestId"]),
            duration_ms=float(metrics["durationMs"]),
            billed_duration_ms=int(metrics["billedDurationMs"]),
            memory_size_mb=int(metrics["memorySizeMB"]),
            max_memory_used_mb=int(metrics["maxMemoryUsedMB"]),
            init_duration_ms=_opt_float(metrics.get("initDurationMs")),
            restore_duration_ms=_opt_float(metrics.get("restoreDurationMs")),
            billed_restore_duration_ms=int(billed_restore) if billed_restore is not None else None,
            status=None if status in (None, "success") else str(status),
            error_type=record.get("errorType"),
            xray_trace_id=(record.get("tracing") or {}).get("value"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def parse_report_message(message: str) -> LambdaReport | None:
    """Parse a log message in either the text (``REPORT ...``) or the JSON (``platform.report``) format."""
    return parse_report_line(message) or parse_platform_report_json(message)


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
