"""REPORT lines: printed exactly as Lambda prints them, parsed back exactly, in both log formats."""

from __future__ import annotations

import json

import pytest
from twinbench.aws.report_line import (
    billed_gb_s,
    format_report_line,
    parse_platform_report_json,
    parse_report_line,
    parse_report_message,
)

RID = "8f5a3e64-8e73-4b0a-9a1e-2c1d5e7f9b10"

# As they appear in CloudWatch Logs (message field), TAB separated, trailing TAB and newline.
WARM = f"REPORT RequestId: {RID}\tDuration: 2.07 ms\tBilled Duration: 3 ms\tMemory Size: 512 MB\tMax Memory Used: 81 MB\t\n"
COLD = (
    f"REPORT RequestId: {RID}\tDuration: 102.25 ms\tBilled Duration: 336 ms\tMemory Size: 512 MB\t"
    "Max Memory Used: 98 MB\tInit Duration: 233.60 ms\t\n"
)
SNAPSTART = (
    f"REPORT RequestId: {RID}\tDuration: 2.73 ms\tBilled Duration: 211 ms\tMemory Size: 512 MB\t"
    "Max Memory Used: 100 MB\tRestore Duration: 474.16 ms\tBilled Restore Duration: 208 ms\t\n"
)
TRACED_TIMEOUT = (
    f"REPORT RequestId: {RID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 51 MB\tInit Duration: 180.01 ms\tStatus: timeout\t\n"
    "XRAY TraceId: 1-65f1a2b3-0123456789abcdef01234567\tSegmentId: 0a1b2c3d4e5f6a7b\tSampled: true\t\n"
)


def test_warm_line():
    r = parse_report_line(WARM)
    assert (r.request_id, r.duration_ms, r.billed_duration_ms, r.memory_size_mb, r.max_memory_used_mb) == (
        RID, 2.07, 3, 512, 81,
    )
    assert r.init_duration_ms is None and r.restore_duration_ms is None and not r.cold_start


def test_cold_line_has_init_duration():
    r = parse_report_line(COLD)
    assert r.init_duration_ms == 233.60 and r.cold_start and r.billed_duration_ms == 336


def test_snapstart_line_has_restore_durations():
    r = parse_report_line(SNAPSTART)
    assert (r.restore_duration_ms, r.billed_restore_duration_ms) == (474.16, 208)
    assert r.cold_start and r.init_duration_ms is None


def test_timeout_with_xray_trace():
    r = parse_report_line(TRACED_TIMEOUT)
    assert r.status == "timeout" and r.xray_trace_id == "1-65f1a2b3-0123456789abcdef01234567"
    assert r.duration_ms == 3000.0 and r.init_duration_ms == 180.01


@pytest.mark.parametrize(
    "line",
    [
        "START RequestId: x Version: $LATEST",
        f"END RequestId: {RID}",
        "REPORT RequestId: x\tDuration: 1.00 ms",  # truncated: not something Lambda printed
        f"REPORT RequestId: {RID}\tDuration: abc ms\tBilled Duration: 1 ms\tMemory Size: 1 MB\tMax Memory Used: 1 MB\t",
        "",
        '{"level": "INFO", "message": "REPORT RequestId: fake"}',
    ],
)
def test_not_report_lines(line):
    assert parse_report_message(line) is None


@pytest.mark.parametrize("line", [WARM, COLD, SNAPSTART])
def test_format_reproduces_lambda_byte_for_byte(line):
    r = parse_report_line(line)
    again = format_report_line(
        r.request_id, r.duration_ms, r.billed_duration_ms, r.memory_size_mb, r.max_memory_used_mb,
        init_duration_ms=r.init_duration_ms, restore_duration_ms=r.restore_duration_ms,
        billed_restore_duration_ms=r.billed_restore_duration_ms,
    )
    assert again + "\n" == line


def test_format_rounds_to_two_decimals_and_roundtrips():
    line = format_report_line("abc", 1.23456, 2, 128, 40, init_duration_ms=99.999)
    assert line == "REPORT RequestId: abc\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t" \
                   "Max Memory Used: 40 MB\tInit Duration: 100.00 ms\t"
    assert parse_report_line(line).init_duration_ms == 100.0


def test_format_defaults_billed_restore_to_ceil():
    assert "Billed Restore Duration: 475 ms" in format_report_line("a", 1, 1, 128, 1, restore_duration_ms=474.16)


@pytest.mark.parametrize("kwargs", [{"request_id": ""}, {"duration_ms": -1.0}, {"init_duration_ms": -2.0}])
def test_format_rejects_nonsense(kwargs):
    base = {"request_id": "a", "duration_ms": 1.0, "billed_duration_ms": 1, "memory_size_mb": 128, "max_memory_used_mb": 1}
    with pytest.raises(ValueError):
        format_report_line(**{**base, **kwargs})


def test_json_log_format_platform_report():
    message = json.dumps({
        "time": "2026-01-31T10:00:00.000Z",
        "type": "platform.report",
        "record": {
            "requestId": RID,
            "metrics": {"durationMs": 102.25, "billedDurationMs": 336, "memorySizeMB": 512, "maxMemoryUsedMB": 98,
                        "initDurationMs": 233.6},
            "tracing": {"spanId": "0a1b2c3d", "type": "X-Amzn-Trace-Id", "value": "Root=1-65f1a2b3-0123"},
            "status": "success",
        },
    })
    r = parse_platform_report_json(message)
    assert r == parse_report_message(message)
    assert (r.duration_ms, r.billed_duration_ms, r.init_duration_ms, r.status) == (102.25, 336, 233.6, None)
    assert r.to_dict()["cold_start"] is True


def test_billed_gb_s_uses_1024_mb_per_gb():
    assert billed_gb_s(1000, 1024) == 1.0
    assert billed_gb_s(336, 512) == pytest.approx(0.168)
    assert parse_report_line(COLD).billed_gb_s == pytest.approx(0.168)
