"""SnapStart restores in a function's logs: counted apart from init cold starts, and priced.

The lines are written as Lambda writes them for a SnapStart function (AWS docs, "Monitoring for
Lambda SnapStart"): the INIT_REPORT with the Init Duration when the version is published, then a
REPORT with ``Restore Duration`` and ``Billed Restore Duration`` on each restored environment's
first invocation, TAB separated with a trailing TAB. They go through moto's CloudWatch Logs and the
collector's own FilterLogEvents path.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from twinbench.collect import cloudwatch as cw
from twinbench.results import formats
from twinbench.results.document import validate
from twinserve_support.moto_env import use_fake_credentials

REGION = "eu-west-1"
FN = "twinserve-dev-predict"
GROUP = f"/aws/lambda/{FN}"
MEMORY_MB = 1024


@pytest.fixture
def logs(monkeypatch):
    use_fake_credentials(monkeypatch)
    with mock_aws():
        yield boto3.client("logs", region_name=REGION)


def _report(rid: str, duration: str, billed: int, used: int, extra: str = "") -> str:
    return (f"REPORT RequestId: {rid}\tDuration: {duration} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {MEMORY_MB} MB\tMax Memory Used: {used} MB\t{extra}\n")


def _put(logs, at: datetime) -> None:
    """Version 3 published with SnapStart: two restored environments (one with two more warm calls);
    and one environment of $LATEST (no SnapStart) started by INIT."""
    logs.create_log_group(logGroupName=GROUP)
    t0 = int(at.timestamp() * 1000)
    streams = [
        (f"2026/12/06/[3]{uuid.uuid4().hex}", [
            "INIT_REPORT Init Duration: 1187.42 ms\tPhase: init\tStatus: success\n",  # at publish time
            _report(str(uuid.uuid4()), "3.61", 215, 141,
                    "Restore Duration: 474.16 ms\tBilled Restore Duration: 208 ms\t"),
            _report(str(uuid.uuid4()), "2.07", 3, 141),
            _report(str(uuid.uuid4()), "1.98", 2, 141),
        ]),
        (f"2026/12/06/[3]{uuid.uuid4().hex}", [
            _report(str(uuid.uuid4()), "4.02", 322, 139,
                    "Restore Duration: 612.50 ms\tBilled Restore Duration: 318 ms\t"),
        ]),
        (f"2026/12/06/[$LATEST]{uuid.uuid4().hex}", [
            _report(str(uuid.uuid4()), "5.20", 342, 98, "Init Duration: 336.10 ms\t"),
        ]),
    ]
    for n, (stream, lines) in enumerate(streams):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        logs.put_log_events(logGroupName=GROUP, logStreamName=stream,
                            logEvents=[{"timestamp": t0 + n * 10_000 + i * 1000, "message": m}
                                       for i, m in enumerate(lines)])


def test_restores_are_counted_apart_from_init_cold_starts(logs):
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    _put(logs, at)
    events, _ = cw.fetch_report_events(logs, GROUP, at - timedelta(minutes=1), at + timedelta(minutes=1))
    reports = cw.summarize_reports(cw.parse_report_events(events))
    assert reports["count"] == 5  # the INIT_REPORT is not a REPORT line
    assert (reports["cold_start_count"], reports["snapstart_restore_count"], reports["init_cold_start_count"]) == (3, 2, 1)
    assert reports["restore_duration_ms"]["n"] == 2 and reports["restore_duration_ms"]["max"] == 612.50
    assert reports["billed_restore_duration_ms_total"] == 208 + 318
    assert reports["init_duration_ms"]["n"] == 1 and reports["init_duration_ms"]["max"] == 336.10
    # AWS: a SnapStart cold start lasts Restore Duration + Duration
    assert reports["restore_cold_start_ms"]["min"] == pytest.approx(474.16 + 3.61)
    assert reports["restore_cold_start_ms"]["max"] == pytest.approx(612.50 + 4.02)
    assert reports["init_cold_start_ms"]["n"] == 1 and reports["init_cold_start_ms"]["max"] == pytest.approx(336.10 + 5.20)
    assert reports["restore_memory_gb_total"] == pytest.approx(2 * MEMORY_MB / 1024)


def test_restores_are_priced_per_gb_restored_from_the_pinned_table(logs):
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    _put(logs, at)
    doc = cw.collect(cloudwatch=boto3.client("cloudwatch", region_name=REGION), logs=logs, lambda_client=None,
                     function_name=FN, region=REGION, start=at - timedelta(minutes=1), end=at + timedelta(minutes=1))
    prices, _ = cw.load_lambda_prices()
    cost = doc["cost"]
    assert cost["snapstart_restore_gb"] == pytest.approx(2.0)
    assert cost["snapstart_restore_usd"] == pytest.approx(2.0 * prices["snapstart_restore_usd_per_gb"])
    assert cost["total_usd"] == pytest.approx(cost["compute_usd"] + cost["requests_usd"] + cost["snapstart_restore_usd"])
    # Billed Duration already carries the billed restore: GB-s are not counted twice
    assert doc["reports"]["billed_gb_s_total"] == pytest.approx((215 + 3 + 2 + 322 + 342) / 1000 * MEMORY_MB / 1024)
    validate(doc, expected=formats.CLOUDWATCH)
