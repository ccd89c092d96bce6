"""CloudWatch collector against moto (decorator mode), botocore's Stubber for what moto lacks
(GetMetricData pagination, AccessDenied), and the CLI end to end over HTTP against a real
``moto_server`` subprocess through ``AWS_ENDPOINT_URL``. The handler's EMF metrics are put the
way CloudWatch extracts them from the log lines the handler's own telemetry module writes."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import telemetry  # services/predict-lambda (pytest's pythonpath): the handler's own log-line writer
from botocore.stub import Stubber
from moto import mock_aws
from stand_in_patches import PATCH_MOTO_PERCENTILES
from twinbench.aws.report_line import format_report_line
from twinbench.cli.collect import main_cloudwatch
from twinbench.collect import cloudwatch as cw
from twinbench.report.sections import render as render_provider_sections
from twinbench.results import formats
from twinbench.results.document import validate

REGION = "eu-west-1"
FN = "twinserve-dev-predict"
LOG_GROUP = f"/aws/lambda/{FN}"
API_ID = "a1b2c3d4e5"
from twinserve_support.moto_env import use_fake_credentials  # noqa: E402
from twinserve_support.paths import REPO  # noqa: E402

PINNED_PRICES = None  # the cost model's pinned prices.json, read by the one price loader

@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    use_fake_credentials(monkeypatch, REGION)


@pytest.fixture
def aws(moto_percentiles):
    with mock_aws():
        yield {s: boto3.client(s, region_name=REGION) for s in ("cloudwatch", "logs", "lambda")}


def create_function(lambda_client, **overrides) -> dict:
    """A real-shaped function in moto (its role must exist in moto's IAM)."""
    import io
    import zipfile

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return lambda_client.create_function(**{
        "FunctionName": FN, "Runtime": "python3.12", "Role": role, "Handler": "handler.handler",
        "Code": {"ZipFile": code.getvalue()}, "MemorySize": 512, "Architectures": ["x86_64"],
        "Environment": {"Variables": {"MODEL_PATH": "/var/task/model", "LOG_LEVEL": "INFO"}}, **overrides})


def now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def put_metrics(cloudwatch, at: datetime) -> None:
    fn = [{"Name": "FunctionName", "Value": FN}]
    api = [{"Name": "ApiId", "Value": API_ID}]
    data = [
        ("AWS/Lambda", "Invocations", fn, {"Values": [10, 5], "Counts": [1, 1]}),
        ("AWS/Lambda", "Errors", fn, {"Value": 1}),
        ("AWS/Lambda", "Throttles", fn, {"Value": 0}),
        ("AWS/Lambda", "ConcurrentExecutions", fn, {"Values": [1, 3, 2]}),
        ("AWS/Lambda", "Duration", fn, {"Values": [float(v) for v in range(1, 101)]}),
        ("AWS/ApiGateway", "Count", api, {"Value": 15}),
        ("AWS/ApiGateway", "4xx", api, {"Value": 2}),
        ("AWS/ApiGateway", "5xx", api, {"Value": 1}),
        ("AWS/ApiGateway", "Latency", api, {"Values": [10.0, 20.0, 30.0]}),
        ("AWS/ApiGateway", "IntegrationLatency", api, {"Values": [8.0, 18.0, 28.0]}),
    ]
    for ns, name, dims, value in data:
        cloudwatch.put_metric_data(
            Namespace=ns, MetricData=[{"MetricName": name, "Dimensions": dims, "Timestamp": at, **value}]
        )


def put_reports(logs, at: datetime, group: str = LOG_GROUP) -> list[str]:
    """Three execution environments (log streams): each one cold REPORT then warm ones, plus the
    START/END lines and application logs Lambda writes around them. Returns the request ids."""
    logs.create_log_group(logGroupName=group)
    base = int(at.timestamp() * 1000)
    ids: list[str] = []
    for env in range(3):
        stream = f"2026/01/31/[$LATEST]{uuid.uuid4().hex}"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events = []
        for i in range(4):
            rid = str(uuid.uuid4())
            ids.append(rid)
            t = base + env * 10_000 + i * 1000
            kwargs = {}
            if i == 0:
                kwargs = {"restore_duration_ms": 474.16, "billed_restore_duration_ms": 208} if env == 2 else {
                    "init_duration_ms": 200.0 + 50 * env}
            events += [
                {"timestamp": t, "message": f"START RequestId: {rid} Version: $LATEST\n"},
                {"timestamp": t + 1, "message": '{"level": "INFO", "msg": "predicted", "rows": 1}\n'},
                {"timestamp": t + 2, "message": f"END RequestId: {rid}\n"},
                {"timestamp": t + 3,
                 "message": format_report_line(rid, 1.5 + i, 2 + i, 512, 80 + env, **kwargs) + "\n"},
            ]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return ids


def handler_lines(invocations: list[tuple[str, str, int, float, bool]], at: datetime | None = None) -> list[dict]:
    """The native handler's log lines for ``(path, method, status, latency_ms, cold)`` invocations,
    written by telemetry.record/emit as the handler does and read back as JSON. ``at`` replaces the
    EMF timestamp (the time the line was written) for tests whose window lies in the past."""
    out = io.StringIO()
    for path, method, status, latency_ms, cold in invocations:
        telemetry.emit(telemetry.record(path, method, status, latency_ms, cold, str(uuid.uuid4()), FN), out)
    lines = [json.loads(text) for text in out.getvalue().splitlines()]
    if at is not None:
        for line in lines:
            line["_aws"]["Timestamp"] = int(at.timestamp() * 1000)
    return lines


def put_emf(cloudwatch, lines: list[dict]) -> int:
    """Do what CloudWatch's EMF extraction does with each log line, and nothing more.

    For every directive in ``_aws.CloudWatchMetrics``, every dimension set in its ``Dimensions``
    and every metric in its ``Metrics``: one datum under the directive's ``Namespace``, named as
    the metric, valued by the line's member of that name (a number or a list of numbers), with the
    metric's ``Unit``, the dimension values taken from the line's members and ``_aws.Timestamp``
    as its time. Nothing here knows the handler's metric names: the line says them. Returns the
    number of data put.
    """
    put = 0
    for line in lines:
        meta = line["_aws"]
        at = datetime.fromtimestamp(meta["Timestamp"] / 1000, UTC)
        for directive in meta["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = [{"Name": name, "Value": str(line[name])} for name in dimension_set]
                data = []
                for metric in directive["Metrics"]:
                    value = line[metric["Name"]]
                    data.append({"MetricName": metric["Name"], "Dimensions": dims, "Timestamp": at,
                                 "Values": [float(v) for v in (value if isinstance(value, list) else [value])],
                                 "Unit": metric.get("Unit", "None")})
                cloudwatch.put_metric_data(Namespace=directive["Namespace"], MetricData=data)
                put += len(data)
    return put


# /predict 1..10 ms (the first cold, the 7th a 500), /health twice, one V2 infer, one unknown path.
INVOCATIONS = [("/predict", "POST", 500 if i == 7 else 200, float(i), i == 1) for i in range(1, 11)] + [
    ("/health", "GET", 200, 0.2, False), ("/health", "GET", 200, 0.4, False),
    ("/v2/models/rf/infer", "POST", 200, 3.0, False), ("/wp-login.php", "GET", 404, 0.1, False),
]


def test_moto_still_lacks_percentiles():
    """Why the stand-in is patched: unpatched moto cannot answer a pNN statistic. Fails once it can."""
    when = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    with mock_aws():
        cw_client = boto3.client("cloudwatch", region_name=REGION)
        cw_client.put_metric_data(Namespace="N", MetricData=[{"MetricName": "M", "Value": v, "Timestamp": when}
                                                                for v in (1.0, 2.0, 3.0)])
        query = {"Id": "p", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "p50"}}
        try:
            answer = cw_client.get_metric_data(MetricDataQueries=[query], StartTime=when - timedelta(minutes=1),
                                               EndTime=when + timedelta(minutes=1))
        except Exception:  # noqa: BLE001 - moto fails to serialise the None it computes
            return
    assert not any(v is not None for r in answer["MetricDataResults"] for v in r["Values"]), (
        "moto now answers percentiles: drop PATCH_MOTO_PERCENTILES from tests/collect/stand_in_patches.py")


def test_collect_whole_document(aws):
    t = now_minute() - timedelta(minutes=5)
    put_metrics(aws["cloudwatch"], t)
    put_emf(aws["cloudwatch"], handler_lines(INVOCATIONS[:3], at=t))
    ids = put_reports(aws["logs"], t)
    create_function(aws["lambda"])
    doc = cw.collect(
        cloudwatch=aws["cloudwatch"], logs=aws["logs"], lambda_client=aws["lambda"], function_name=FN, region=REGION,
        start=t - timedelta(minutes=5), end=t + timedelta(minutes=5), api_id=API_ID, page_limit=5,
        prices_path=PINNED_PRICES,
    )
    assert (doc["format"], doc["version"]) == ("twinbench.cloudwatch", 2)
    m = doc["lambda_metrics"]
    assert (m["invocations_count"], m["errors_count"], m["throttles_count"], m["concurrent_executions_max"]) == (15, 1, 0, 3)
    assert (m["duration_p50_ms"], m["duration_p90_ms"], m["duration_p99_ms"]) == (50, 90, 99)
    assert m["duration_avg_ms"] == pytest.approx(50.5)
    assert m["series"]["invocations_count"][0]["value"] == 15
    a = doc["api_metrics"]
    assert (a["count"], a["errors_4xx_count"], a["errors_5xx_count"], a["latency_p50_ms"], a["integration_latency_p99_ms"]) == (
        15, 2, 1, 20, 28,
    )

    r = doc["reports"]
    assert r["count"] == 12 and [s["request_id"] for s in r["samples"]] == ids  # time order, nothing lost
    assert r["log_pages"] >= 3  # 12 events at 5 per page
    assert (r["cold_start_count"], r["warm_count"], r["snapstart_restore_count"]) == (3, 9, 1)
    assert r["init_duration_ms"]["n"] == 2 and r["init_duration_ms"]["min"] == 200.0 and r["init_duration_ms"]["max"] == 250.0
    assert r["restore_duration_ms"]["p50"] == 474.16 and r["billed_restore_duration_ms_total"] == 208
    assert r["billed_duration_ms_total"] == 3 * (2 + 3 + 4 + 5)
    assert r["billed_gb_s_total"] == pytest.approx(3 * 14 / 1000 * 0.5)
    assert r["warm_duration_ms"]["max"] == 4.5

    c = doc["cost"]
    assert c["architecture"] == "x86_64" and c["price_source"].endswith("cost/prices.json")
    assert c["compute_usd"] == pytest.approx(r["billed_gb_s_total"] * 0.0000166667)
    assert c["requests_usd"] == pytest.approx(12 * 0.20 / 1e6)
    assert doc["warnings"] == []
    assert (doc["target"]["memory_size_mb"], doc["target"]["runtime"]) == (512, "python3.12")
    assert list(doc["emf_metrics"]["routes"]) == ["/predict"] and doc["emf_metrics"]["requests_count"] == 3
    assert list(doc)[-2:] == ["emf_metrics", "warnings"]
    validate(doc, expected=formats.CLOUDWATCH)
    json.dumps(doc)


def test_the_handlers_emf_metrics_are_read_back_per_route(aws, tmp_path):
    """Log lines written by the handler's telemetry module, put as CloudWatch's EMF extraction
    would (see :func:`put_emf`), come back per route template with the figures the lines hold."""
    lines = handler_lines(INVOCATIONS)
    assert put_emf(aws["cloudwatch"], lines) == 4 * len(INVOCATIONS)
    aws["logs"].create_log_group(logGroupName=LOG_GROUP)
    written = datetime.fromtimestamp(lines[0]["_aws"]["Timestamp"] / 1000, UTC).replace(second=0, microsecond=0)
    start = written - timedelta(minutes=5)
    doc = cw.collect(cloudwatch=aws["cloudwatch"], logs=aws["logs"], lambda_client=None, function_name=FN,
                     region=REGION, start=start, end=start + timedelta(minutes=10), prices_path=PINNED_PRICES)
    emf = doc["emf_metrics"]
    assert (emf["namespace"], emf["dimensions"], emf["period_s"]) == ("twinserve", {"function": FN}, 60)
    assert (emf["requests_count"], emf["errors_5xx_count"], emf["cold_starts_count"]) == (14, 1, 1)
    assert sorted(emf["routes"]) == ["/health", "/predict", "/v2/models/{name}/infer", "unmatched"]
    predict = emf["routes"]["/predict"]
    assert (predict["requests_count"], predict["errors_5xx_count"], predict["cold_starts_count"]) == (10, 1, 1)
    assert (predict["latency_p50_ms"], predict["latency_p99_ms"], predict["latency_max_ms"]) == (5.0, 10.0, 10.0)
    assert predict["latency_avg_ms"] == pytest.approx(5.5)
    assert sum(p["value"] for p in predict["series"]["requests_count"]) == 10
    health = emf["routes"]["/health"]
    assert (health["requests_count"], health["errors_5xx_count"], health["latency_max_ms"]) == (2, 0, 0.4)
    assert health["latency_avg_ms"] == pytest.approx(0.3)
    assert emf["routes"]["/v2/models/{name}/infer"]["latency_p50_ms"] == 3.0
    assert not any("EMF" in w for w in doc["warnings"])
    validate(doc, expected=formats.CLOUDWATCH)

    # ... and the report's provider section shows them, busiest route first.
    (tmp_path / "cloudwatch.json").write_text(json.dumps(doc))
    report = "\n".join(render_provider_sections(tmp_path, {}))
    assert "the handler's EMF metrics per route" in report
    assert "| `/predict` | 10 | 1 | 1 | 5.00 | 10.00 | 10.00 |" in report
    assert report.index("`/predict`") < report.index("`/health`") < report.index("`unmatched`")


def test_emf_metrics_of_another_function_are_not_read(aws):
    """The ``function`` dimension selects: another function's lines in the same namespace are not counted."""
    lines = handler_lines(INVOCATIONS[:2])
    for line in lines:
        line["function"] = "someone-else"
    put_emf(aws["cloudwatch"], lines)
    aws["logs"].create_log_group(logGroupName=LOG_GROUP)
    start = now_minute() - timedelta(minutes=5)
    doc = cw.collect(cloudwatch=aws["cloudwatch"], logs=aws["logs"], lambda_client=None, function_name=FN,
                     region=REGION, start=start, end=start + timedelta(minutes=10), prices_path=PINNED_PRICES)
    assert doc["emf_metrics"] is None and cw.EMF_NOT_FOUND in doc["warnings"]


def test_empty_window_is_a_result_with_warnings(aws):
    t = now_minute() - timedelta(hours=2)
    put_reports(aws["logs"], t)
    doc = cw.collect(
        cloudwatch=aws["cloudwatch"], logs=aws["logs"], lambda_client=None, function_name=FN, region=REGION,
        start=t + timedelta(minutes=30), end=t + timedelta(minutes=40), prices_path=PINNED_PRICES,
    )
    assert doc["reports"]["count"] == 0 and doc["reports"]["init_duration_ms"]["p50"] is None
    assert doc["lambda_metrics"]["invocations_count"] == 0 and doc["lambda_metrics"]["duration_p99_ms"] is None
    assert doc["cost"]["total_usd"] == 0
    assert any("no REPORT lines" in w for w in doc["warnings"])
    assert any("no Invocations" in w for w in doc["warnings"])
    assert doc["emf_metrics"] is None
    assert any("EMF metrics were not found: is logFormat JSON" in w for w in doc["warnings"])
    validate(doc, expected=formats.CLOUDWATCH)


def test_emf_metrics_outside_the_window_give_the_warning_not_a_crash(aws):
    t = now_minute() - timedelta(hours=2)
    put_emf(aws["cloudwatch"], handler_lines(INVOCATIONS, at=t))
    aws["logs"].create_log_group(logGroupName=LOG_GROUP)
    doc = cw.collect(cloudwatch=aws["cloudwatch"], logs=aws["logs"], lambda_client=None, function_name=FN,
                     region=REGION, start=t + timedelta(minutes=30), end=t + timedelta(minutes=40),
                     prices_path=PINNED_PRICES)
    assert doc["emf_metrics"] is None and doc["warnings"].count(cw.EMF_NOT_FOUND) == 1
    validate(doc, expected=formats.CLOUDWATCH)


def test_missing_log_group_says_so(aws):
    t = now_minute()
    with pytest.raises(cw.CloudWatchCollectorError, match=f"log group {LOG_GROUP} not found.*--region"):
        cw.collect(cloudwatch=aws["cloudwatch"], logs=aws["logs"], lambda_client=aws["lambda"], function_name=FN,
                   region=REGION, start=t - timedelta(minutes=10), end=t)


def test_missing_function_configuration_only_warns(aws):
    t = now_minute() - timedelta(minutes=2)
    put_reports(aws["logs"], t)
    doc = cw.collect(cloudwatch=aws["cloudwatch"], logs=aws["logs"], lambda_client=aws["lambda"], function_name=FN,
                     region=REGION, start=t - timedelta(minutes=1), end=t + timedelta(minutes=1), prices_path=PINNED_PRICES)
    assert doc["reports"]["count"] == 12
    assert any("function configuration unavailable" in w for w in doc["warnings"])
    assert doc["target"]["memory_size_mb"] == 512  # from the REPORT lines


def test_missing_permission_names_the_iam_action():
    logs = boto3.client("logs", region_name=REGION)
    with Stubber(logs) as stub:
        stub.add_client_error("filter_log_events", "AccessDeniedException",
                              "User: arn:aws:iam::123456789012:user/bench is not authorized to perform: "
                              "logs:FilterLogEvents", http_status_code=400)
        with pytest.raises(cw.CloudWatchCollectorError, match="needs IAM permission logs:FilterLogEvents"):
            cw.fetch_report_events(logs, LOG_GROUP, now_minute() - timedelta(minutes=5), now_minute())


def test_get_metric_data_follows_next_token_and_merges_pages():
    client = boto3.client("cloudwatch", region_name=REGION)
    t0 = now_minute() - timedelta(minutes=3)
    specs = cw.lambda_metric_specs(FN)[:1]
    queries = cw.build_metric_queries(specs, 60, 180)
    start, end = t0, t0 + timedelta(minutes=3)
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "m_invocations_count", "Label": "Invocations", "StatusCode": "PartialData",
                                    "Timestamps": [t0 + timedelta(minutes=1)], "Values": [4.0]}],
             "NextToken": "page-2"},
            {"MetricDataQueries": queries, "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"},
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "m_invocations_count", "Label": "Invocations", "StatusCode": "Complete",
                                    "Timestamps": [t0, t0 + timedelta(minutes=2)], "Values": [1.0, 7.0]}]},
            {"MetricDataQueries": queries, "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending",
             "NextToken": "page-2"},
        )
        series = cw.fetch_metric_data(client, queries, start, end)
    assert [v for _, v in series["m_invocations_count"]] == [1.0, 4.0, 7.0]
    section, _ = cw.summarize_metrics(specs, series, 60)
    assert section["invocations_count"] == 12.0


def test_many_queries_are_sent_in_batches_of_500():
    calls = []

    class FakeCW:
        def get_metric_data(self, **kw):
            calls.append(len(kw["MetricDataQueries"]))
            return {"MetricDataResults": []}

    queries = [{"Id": f"q{i}"} for i in range(1203)]
    assert set(cw.fetch_metric_data(FakeCW(), queries, now_minute(), now_minute())) == {q["Id"] for q in queries}
    assert calls == [500, 500, 203]


def test_json_log_format_and_custom_log_group_from_function_config(aws):
    t = now_minute() - timedelta(minutes=2)
    aws["logs"].create_log_group(logGroupName="/custom/predict")
    aws["logs"].create_log_stream(logGroupName="/custom/predict", logStreamName="s")
    record = {"time": "x", "type": "platform.report", "record": {
        "requestId": "r1", "status": "success",
        "metrics": {"durationMs": 3.5, "billedDurationMs": 4, "memorySizeMB": 1024, "maxMemoryUsedMB": 90,
                    "initDurationMs": 301.2}}}
    aws["logs"].put_log_events(logGroupName="/custom/predict", logStreamName="s", logEvents=[
        {"timestamp": int(t.timestamp() * 1000), "message": json.dumps(record)},
        {"timestamp": int(t.timestamp() * 1000) + 1, "message": json.dumps({"type": "platform.start", "record": {}})},
    ])
    lam = boto3.client("lambda", region_name=REGION)
    with Stubber(lam) as stub:
        stub.add_response("get_function_configuration", {
            "FunctionName": FN, "MemorySize": 1024, "Runtime": "python3.12", "Architectures": ["arm64"],
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/custom/predict", "ApplicationLogLevel": "INFO",
                              "SystemLogLevel": "INFO"}}, {"FunctionName": FN})
        doc = cw.collect(cloudwatch=aws["cloudwatch"], logs=aws["logs"], lambda_client=lam, function_name=FN,
                         region=REGION, start=t - timedelta(minutes=1), end=t + timedelta(minutes=1),
                         prices_path=PINNED_PRICES)
    assert doc["target"]["log_group"] == "/custom/predict" and doc["target"]["log_format"] == "JSON"
    assert doc["reports"]["count"] == 1 and doc["reports"]["init_duration_ms"]["p50"] == 301.2
    assert doc["cost"]["architecture"] == "arm64"
    assert doc["cost"]["compute_usd"] == pytest.approx(0.004 * 1.0 * 0.0000133334)


def test_unreadable_price_table_is_a_user_error_not_a_silent_fallback(tmp_path):
    with pytest.raises(cw.CloudWatchCollectorError, match="cannot read price table"):
        cw.load_lambda_prices(tmp_path / "missing.json")


def test_pinned_prices_json_is_the_default():
    from twinbench.cost.prices import DEFAULT_PRICES_PATH

    found, source = cw.load_lambda_prices()
    assert source.endswith("prices.json")
    raw = json.loads(DEFAULT_PRICES_PATH.read_text())["prices"]
    assert found == {ours: raw[theirs]["usd"] for ours, theirs in cw.PRICE_KEYS.items()}
    assert set(found) >= {"x86_64_usd_per_gb_s", "arm64_usd_per_gb_s", "requests_usd_per_million",
                          "snapstart_restore_usd_per_gb"}


def test_prices_from_another_table(tmp_path):
    """A --prices table is read by the cost model's loader: the same table prices measured and predicted cost."""
    from twinbench.cost.prices import DEFAULT_PRICES_PATH

    path = tmp_path / "prices.json"
    raw = json.loads(DEFAULT_PRICES_PATH.read_text())
    raw["prices"]["lambda_x86_64_usd_per_gb_s"]["usd"] = 0.00002
    raw["prices"]["lambda_usd_per_million_requests"]["usd"] = 0.25
    path.write_text(json.dumps(raw))
    found, source = cw.load_lambda_prices(path)
    assert found["x86_64_usd_per_gb_s"] == 0.00002 and found["requests_usd_per_million"] == 0.25
    assert found["arm64_usd_per_gb_s"] == raw["prices"]["lambda_arm64_usd_per_gb_s"]["usd"] and source == str(path)


def test_table_without_lambda_prices_is_an_error_not_a_fallback(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text('{"prices": {"eks_cluster_usd_per_hour": {"usd": 0.1}}}')
    with pytest.raises(cw.CloudWatchCollectorError, match="malformed"):
        cw.load_lambda_prices(path)


@pytest.mark.parametrize(
    ("start", "end", "since", "message"),
    [(None, None, None, "give a window"), ("2026-01-31T10:00:00Z", "2026-01-31T09:00:00Z", None, "empty window"),
     ("yesterday", None, None, "not an ISO 8601"), ("2026-01-31T10:00:00Z", None, 5, "not both"),
     (None, None, -1, "> 0")],
)
def test_window_errors(start, end, since, message):
    with pytest.raises(cw.CloudWatchCollectorError, match=message):
        cw.resolve_window(start, end, since)


def test_window_forms():
    now = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    assert cw.resolve_window(None, None, 30, now) == (now - timedelta(minutes=30), now)
    assert cw.resolve_window("2026-01-31T11:00:00", "2026-01-31T13:00:00+01:00", None) == (
        datetime(2026, 1, 31, 11, tzinfo=UTC), now)


# -- CLI end to end over HTTP against moto_server ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server():
    pytest.importorskip("flask_cors", reason="moto[server] needs flask-cors (pin it in requirements/dev.lock)")
    port = _free_port()
    # The real moto server, with percentiles taught to moto's CloudWatch first (see PATCH_MOTO_PERCENTILES).
    code = PATCH_MOTO_PERCENTILES + "\nimport sys\nfrom moto.server import main\nsys.exit(main())\n"
    proc = subprocess.Popen([sys.executable, "-c", code, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.slow
def test_cli_end_to_end_against_moto_server(moto_server, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    session = boto3.session.Session(region_name=REGION)
    t = now_minute() - timedelta(minutes=3)
    put_metrics(session.client("cloudwatch"), t)
    put_emf(session.client("cloudwatch"), handler_lines(INVOCATIONS, at=t))
    put_reports(session.client("logs"), t)
    out = tmp_path / "results" / "cloudwatch.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "collect_cloudwatch.py"), "--function-name", FN, "--region", REGION,
         "--start", (t - timedelta(minutes=2)).isoformat(), "--end", (t + timedelta(minutes=2)).isoformat(),
         "--api-id", API_ID, "--page-limit", "4", "--output", str(out)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["environment"]["endpoint_url"] == moto_server
    assert doc["reports"]["count"] == 12 and doc["reports"]["log_pages"] >= 3
    assert doc["lambda_metrics"]["invocations_count"] == 15 and doc["api_metrics"]["count"] == 15
    assert doc["emf_metrics"]["requests_count"] == 14 and doc["emf_metrics"]["routes"]["/predict"]["latency_p99_ms"] == 10
    assert "12 REPORT lines (3 cold)" in proc.stderr
    # lambda:GetFunctionConfiguration: the function is not deployed in moto -> warning, still exit 0
    assert "function configuration unavailable" in proc.stderr


@pytest.mark.slow
def test_cli_missing_log_group_exits_2_with_message(moto_server, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    rc = main_cloudwatch(["--function-name", "no-such-function", "--region", REGION, "--since-minutes", "10"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "log group /aws/lambda/no-such-function not found" in err and "Traceback" not in err


def test_cli_without_region_exits_2(monkeypatch, capsys):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main_cloudwatch(["--function-name", FN, "--since-minutes", "5"]) == 2
    assert "no AWS region" in capsys.readouterr().err
