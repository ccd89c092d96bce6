"""CloudWatch collector: what AWS itself measured for one Lambda function (and its HTTP API) in a window.

Read-only: Lambda and HTTP API metrics (``GetMetricData``), every ``REPORT`` line of the function's
log group (``FilterLogEvents``, parsed by :mod:`twinbench.aws.report_line`: cold starts, Init
Duration, billed GB-s and their cost) and the handler's own EMF metrics (namespace ``twinserve``).
The output is the ``twinbench.cloudwatch`` document (schema ``results/schemas/cloudwatch.schema.json``),
so provider-side figures sit beside the bench's client-side ones.

boto3 is never imported here: callers pass clients (:func:`collect`), so tests use moto or a
botocore Stubber and the CLI builds clients from the normal credential chain.

Details (the document's layout, how to read its counts and costs): docs/benchmark.md, 'CloudWatch collector'.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from twinbench.aws.report_line import MB_PER_GB, LambdaReport, parse_report_message
from twinbench.cost.prices import load_prices
from twinbench.cost.traffic import CostModelError
from twinbench.measure.stats import distribution
from twinbench.results.documents import CloudwatchResults, RunDocument

MAX_QUERIES_PER_CALL = 500  # GetMetricData limit
TEXT_REPORT_FILTER = '"REPORT RequestId"'
JSON_REPORT_FILTER = '{ $.type = "platform.report" }'



class CloudWatchCollectorError(Exception):
    """A failure the user can fix (permissions, names, region); ``str()`` says how. Not a bug."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric query: ``key`` is the output name (units included), ``id`` the GetMetricData Id."""

    key: str
    namespace: str
    metric_name: str
    stat: str  # Sum | Maximum | Average | pNN
    dimensions: tuple[tuple[str, str], ...]
    group: str = ""
    """Prefix that keeps Ids unique when several groups (one per route) share ``key``s."""

    @property
    def id(self) -> str:
        return "m_" + self.group + self.key  # Ids must start with a lower-case letter

    @property
    def aggregate(self) -> str:
        """How per-period points combine into one window figure."""
        if self.stat == "Sum":
            return "sum"
        if self.stat == "Maximum":
            return "max"
        return "window"  # percentiles and averages cannot be combined: asked for the window itself


# ----------------------------------------------------------------------------------------------
# Window


def resolve_window(
    start: str | None, end: str | None, since_minutes: float | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """Return the ``(start, end)`` window as aware UTC datetimes.

    Either ``since_minutes`` (ending ``end`` or now), or ``start`` (ISO 8601, naive = UTC) with an
    optional ``end``. Raises :class:`CloudWatchCollectorError` for an empty/inverted window.
    """
    now = now or datetime.now(UTC)
    end_dt = _parse_iso(end) if end else now
    if since_minutes is not None:
        if start:
            raise CloudWatchCollectorError("give either --start or --since-minutes, not both")
        if since_minutes <= 0:
            raise CloudWatchCollectorError("--since-minutes must be > 0")
        start_dt = end_dt - timedelta(minutes=since_minutes)
    elif start:
        start_dt = _parse_iso(start)
    else:
        raise CloudWatchCollectorError("give a window: --start [--end] or --since-minutes")
    if start_dt >= end_dt:
        raise CloudWatchCollectorError(f"empty window: start {_iso(start_dt)} is not before end {_iso(end_dt)}")
    return start_dt, end_dt


def _parse_iso(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise CloudWatchCollectorError(f"not an ISO 8601 time: {text!r} (e.g. 2026-01-31T14:05:00Z)") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


# ----------------------------------------------------------------------------------------------
# Metrics


def lambda_metric_specs(function_name: str) -> list[MetricSpec]:
    dims = (("FunctionName", function_name),)
    ns = "AWS/Lambda"
    specs = [
        MetricSpec("invocations_count", ns, "Invocations", "Sum", dims),
        MetricSpec("errors_count", ns, "Errors", "Sum", dims),
        MetricSpec("throttles_count", ns, "Throttles", "Sum", dims),
        MetricSpec("concurrent_executions_max", ns, "ConcurrentExecutions", "Maximum", dims),
        MetricSpec("duration_avg_ms", ns, "Duration", "Average", dims),
    ]
    specs += [MetricSpec(f"duration_{p}_ms", ns, "Duration", p, dims) for p in ("p50", "p90", "p99")]
    return specs


def api_metric_specs(api_id: str, stage: str | None) -> list[MetricSpec]:
    """HTTP API (API Gateway v2) metrics; ``stage`` adds the Stage dimension (e.g. ``$default``)."""
    dims: tuple[tuple[str, str], ...] = (("ApiId", api_id),)
    if stage:
        dims += (("Stage", stage),)
    ns = "AWS/ApiGateway"
    specs = [
        MetricSpec("count", ns, "Count", "Sum", dims),
        MetricSpec("errors_4xx_count", ns, "4xx", "Sum", dims),
        MetricSpec("errors_5xx_count", ns, "5xx", "Sum", dims),
    ]
    for name, key in (("Latency", "latency"), ("IntegrationLatency", "integration_latency")):
        specs += [MetricSpec(f"{key}_{p}_ms", ns, name, p, dims) for p in ("p50", "p90", "p99")]
    return specs


EMF_NAMESPACE = "twinserve"  # services/predict-lambda/telemetry.py: NAMESPACE
EMF_NOT_FOUND = ("the handler's EMF metrics were not found: is logFormat JSON / "
                 "the handler version that writes them deployed?")


def emf_routes() -> list[str]:
    """Every ``route`` dimension value the handler can write, from the code that labels them.

    :func:`twinserve.routes.route_of` maps any path onto a fixed set of templates (so the metric
    set stays bounded); asking each one by name needs no ``cloudwatch:ListMetrics`` permission.
    """
    from twinserve.routes import METRICS_PATH, route_of
    from twinserve.service import ROUTES

    probes = [*ROUTES, METRICS_PATH, "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/m",
              "/v2/models/m/ready", "/v2/models/m/infer", "/not-a-route"]
    return sorted({route_of(p) for p in probes})


def emf_metric_specs(function_name: str, routes: Sequence[str]) -> dict[str, list[MetricSpec]]:
    """Per route: the handler's counts (Sum) and latency (Average, Maximum, p50, p99)."""
    ns = EMF_NAMESPACE
    by_route: dict[str, list[MetricSpec]] = {}
    for i, route in enumerate(routes):
        dims = (("function", function_name), ("route", route))
        group = f"emf{i}_"
        specs = [
            MetricSpec("requests_count", ns, "requests", "Sum", dims, group),
            MetricSpec("errors_5xx_count", ns, "errors_5xx", "Sum", dims, group),
            MetricSpec("cold_starts_count", ns, "cold_starts", "Sum", dims, group),
            MetricSpec("latency_avg_ms", ns, "latency_ms", "Average", dims, group),
            MetricSpec("latency_max_ms", ns, "latency_ms", "Maximum", dims, group),
        ]
        specs += [MetricSpec(f"latency_{p}_ms", ns, "latency_ms", p, dims, group) for p in ("p50", "p99")]
        by_route[route] = specs
    return by_route


def summarize_emf(
    function_name: str, by_route: Mapping[str, Sequence[MetricSpec]],
    series: Mapping[str, list[tuple[datetime, float]]], period_s: int,
) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``emf_metrics`` section (routes with no data left out); ``None`` when no route has any."""
    routes: dict[str, Any] = {}
    warnings: list[str] = []
    for route, specs in by_route.items():
        if not any(series.get(s.id) or series.get(s.id + "_w") for s in specs):
            continue
        section, w = summarize_metrics(specs, series, period_s)
        del section["period_s"]
        routes[route] = section
        warnings += [f"EMF {route}: {text}" for text in w]
    if not routes:
        return None, [EMF_NOT_FOUND]
    totals = {key: sum(r[key] for r in routes.values())
              for key in ("requests_count", "errors_5xx_count", "cold_starts_count")}
    return {"namespace": EMF_NAMESPACE, "dimensions": {"function": function_name}, "period_s": period_s,
            **totals, "routes": routes}, warnings


def build_metric_queries(specs: Sequence[MetricSpec], period_s: int, window_period_s: int) -> list[dict]:
    """GetMetricData queries: a ``period_s`` series for every spec, plus one whole-window point
    (Id suffix ``_w``) for the specs that cannot be summed (percentiles, averages)."""
    queries = []
    for spec in specs:
        metric = {
            "Namespace": spec.namespace,
            "MetricName": spec.metric_name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in spec.dimensions],
        }
        queries.append({"Id": spec.id, "MetricStat": {"Metric": metric, "Period": period_s, "Stat": spec.stat}})
        if spec.aggregate == "window":
            queries.append(
                {"Id": spec.id + "_w", "MetricStat": {"Metric": metric, "Period": window_period_s, "Stat": spec.stat}}
            )
    return queries


def fetch_metric_data(
    cloudwatch: Any, queries: Sequence[dict], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    """Run the queries (<= 500 per call, following NextToken) and merge pages by Id.

    Returns ``{query_id: [(timestamp, value), ...]}`` in ascending time order; a query with no data
    maps to ``[]``. Raises :class:`CloudWatchCollectorError` for permission/validation failures.
    """
    series: dict[str, list[tuple[datetime, float]]] = {q["Id"]: [] for q in queries}
    for i in range(0, len(queries), MAX_QUERIES_PER_CALL):
        batch = list(queries[i : i + MAX_QUERIES_PER_CALL])
        kwargs: dict[str, Any] = {
            "MetricDataQueries": batch,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            try:
                page = cloudwatch.get_metric_data(**kwargs)
            except Exception as exc:  # botocore ClientError and friends, mapped in one place
                raise map_aws_error(exc, "cloudwatch:GetMetricData", "CloudWatch metrics") from exc
            for result in page.get("MetricDataResults", []):
                points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                series.setdefault(result["Id"], []).extend(
                    (ts, float(v)) for ts, v in points if v is not None and not math.isnan(float(v))
                )
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    for points in series.values():
        points.sort(key=lambda p: p[0])
    return series


def summarize_metrics(
    specs: Sequence[MetricSpec], series: Mapping[str, list[tuple[datetime, float]]], period_s: int
) -> tuple[dict[str, Any], list[str]]:
    """Window figures + per-period series for one group of specs; returns ``(section, warnings)``."""
    section: dict[str, Any] = {"period_s": period_s}
    out_series: dict[str, list[dict[str, Any]]] = {}
    warnings: list[str] = []
    for spec in specs:
        points = series.get(spec.id, [])
        out_series[spec.key] = [{"timestamp": _iso(ts), "value": v} for ts, v in points]
        if spec.aggregate == "sum":
            section[spec.key] = sum(v for _, v in points) if points else 0.0
        elif spec.aggregate == "max":
            section[spec.key] = max((v for _, v in points), default=None)
        else:
            window_points = series.get(spec.id + "_w", [])
            if len(window_points) > 1:
                # CloudWatch aligned the window period on its own boundaries and split it in two:
                # the larger value is the conservative figure for a latency percentile.
                warnings.append(
                    f"{spec.metric_name} {spec.stat}: window split into {len(window_points)} periods "
                    f"by CloudWatch; reporting the largest"
                )
            section[spec.key] = max((v for _, v in window_points), default=None)
    section["series"] = out_series
    return section, warnings


# ----------------------------------------------------------------------------------------------
# Logs


def fetch_report_events(
    logs: Any,
    log_group: str,
    start: datetime,
    end: datetime,
    filter_pattern: str = TEXT_REPORT_FILTER,
    page_limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """All events of ``log_group`` in the window matching ``filter_pattern``, following nextToken.

    ``page_limit`` sets FilterLogEvents' ``limit`` (events per page; None = service default).
    Returns ``(events, pages)``. Raises :class:`CloudWatchCollectorError` for a missing log group
    or missing ``logs:FilterLogEvents`` permission.
    """
    kwargs: dict[str, Any] = {
        "logGroupName": log_group,
        "startTime": _ms(start),
        "endTime": _ms(end),
        "filterPattern": filter_pattern,
    }
    if page_limit:
        kwargs["limit"] = page_limit
    events: list[dict[str, Any]] = []
    pages = 0
    while True:
        try:
            page = logs.filter_log_events(**kwargs)
        except Exception as exc:
            raise map_aws_error(exc, "logs:FilterLogEvents", f"log group {log_group}") from exc
        pages += 1
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        # The service may hand back the same token when there is nothing more: stop there too.
        if not token or token == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = token
    events.sort(key=lambda e: (e.get("timestamp", 0), e.get("eventId", "")))
    return events, pages


def parse_report_events(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One sample dict per REPORT event (see the module docstring), duplicates by request id dropped."""
    samples: list[dict[str, Any]] = []
    seen: set[str] = set()
    for event in events:
        report = parse_report_message(str(event.get("message", "")))
        if report is None or report.request_id in seen:
            continue
        seen.add(report.request_id)
        ts = datetime.fromtimestamp(event.get("timestamp", 0) / 1000, UTC)
        samples.append({"timestamp": _iso(ts), "log_stream": event.get("logStreamName"), **report.to_dict()})
    return samples


def summarize_reports(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``reports`` section from parsed samples (raw samples included)."""
    cold = [s for s in samples if s["cold_start"]]
    warm = [s for s in samples if not s["cold_start"]]
    restored = [s for s in cold if s.get("restore_duration_ms") is not None]
    initialised = [s for s in cold if s.get("restore_duration_ms") is None]

    def values(rows: Iterable[Mapping[str, Any]], key: str) -> list[float]:
        return [r[key] for r in rows if r.get(key) is not None]

    def start_latency(rows: Iterable[Mapping[str, Any]], phase: str) -> list[float]:
        # AWS: a cold start lasts Init Duration + Duration; a SnapStart one Restore Duration + Duration.
        return [r[phase] + r["duration_ms"] for r in rows if r.get(phase) is not None]

    return {
        "count": len(samples),
        "cold_start_count": len(cold),
        "warm_count": len(warm),
        "snapstart_restore_count": len(restored),
        "init_cold_start_count": len(initialised),
        "init_cold_start_ms": distribution(start_latency(initialised, "init_duration_ms")),
        "restore_cold_start_ms": distribution(start_latency(restored, "restore_duration_ms")),
        "restore_memory_gb_total": sum(r["memory_size_mb"] for r in restored) / MB_PER_GB,
        "timeout_count": sum(1 for s in samples if s["status"] == "timeout"),
        "error_count": sum(1 for s in samples if s["status"] not in (None, "timeout")),
        "duration_ms": distribution(values(samples, "duration_ms")),
        "warm_duration_ms": distribution(values(warm, "duration_ms")),
        "cold_duration_ms": distribution(values(cold, "duration_ms")),
        "init_duration_ms": distribution(values(samples, "init_duration_ms")),
        "restore_duration_ms": distribution(values(samples, "restore_duration_ms")),
        "max_memory_used_mb": distribution(values(samples, "max_memory_used_mb")),
        "billed_duration_ms_total": sum(s["billed_duration_ms"] for s in samples),
        "billed_restore_duration_ms_total": sum(values(samples, "billed_restore_duration_ms")),
        "billed_gb_s_total": sum(s["billed_gb_s"] for s in samples),
        "samples": list(samples),
    }


# ----------------------------------------------------------------------------------------------
# Cost


PRICE_KEYS = {  # our key -> key under "prices" in prices.json (the cost model's pinned table)
    "x86_64_usd_per_gb_s": "lambda_x86_64_usd_per_gb_s",
    "arm64_usd_per_gb_s": "lambda_arm64_usd_per_gb_s",
    "requests_usd_per_million": "lambda_usd_per_million_requests",
    "snapstart_restore_usd_per_gb": "lambda_snapstart_restore_usd_per_gb",
}


def load_lambda_prices(path: Path | None = None) -> tuple[dict[str, float], str]:
    """Lambda list prices from the cost model's pinned table, and the file they came from.

    One loader (:func:`twinbench.cost.prices.load_prices`) reads prices for the cost model,
    the simulation and this collector, so measured and predicted cost use the same figures.
    Raises :class:`CloudWatchCollectorError` when the table cannot be read.
    """
    try:
        table = load_prices(path)
        found = {ours: table.usd(theirs) for ours, theirs in PRICE_KEYS.items()}
    except CostModelError as exc:
        raise CloudWatchCollectorError(str(exc)) from exc
    return found, table.path


def compute_cost(
    billed_gb_s_total: float, requests_count: int, architecture: str, prices: Mapping[str, float], source: str,
    restore_gb_total: float = 0.0,
) -> dict[str, Any]:
    """Cost of the window at list price (free tier ignored).

    ``restore_gb_total``: memory restored from SnapStart snapshots (GB, one function's memory per
    REPORT line with a Restore Duration), priced per GB restored; the restore's billed time is
    already inside Billed Duration. The snapshot cache (per GB-s a version exists) is not in the logs.
    """
    arch = "arm64" if architecture == "arm64" else "x86_64"
    per_gb_s = prices[f"{arch}_usd_per_gb_s"]
    per_million = prices["requests_usd_per_million"]
    compute = billed_gb_s_total * per_gb_s
    requests = requests_count * per_million / 1_000_000
    restores = restore_gb_total * prices["snapstart_restore_usd_per_gb"]
    return {
        "architecture": arch,
        "price_source": source,
        "compute_usd_per_gb_s": per_gb_s,
        "requests_usd_per_million": per_million,
        "requests_count": requests_count,
        "billed_gb_s": billed_gb_s_total,
        "compute_usd": compute,
        "requests_usd": requests,
        "snapstart_restore_gb": restore_gb_total,
        "snapstart_restore_usd": restores,
        "total_usd": compute + requests + restores,
        "notes": [
            "list price, free tier ignored",
            "requests_count = REPORT lines in the window",
            "SnapStart restores priced per GB restored; the snapshot cache charge is not in the logs and not priced",
        ],
    }


# ----------------------------------------------------------------------------------------------
# Errors


_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}
_BAD_CREDENTIALS = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"}


def map_aws_error(exc: Exception, action: str, resource: str) -> Exception:
    """Turn a botocore exception into a :class:`CloudWatchCollectorError` with a fix-it message.

    Unknown exceptions are returned unchanged (callers ``raise`` the result): a bug stays a bug.
    """
    name = type(exc).__name__
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""
    if code in _ACCESS_DENIED:
        return CloudWatchCollectorError(
            f"permission denied reading {resource}: the caller needs IAM permission {action} ({exc})"
        )
    if code == "ResourceNotFoundException":
        return CloudWatchCollectorError(
            f"{resource} not found: check --function-name and --region; a log group exists only "
            f"after the function has been invoked at least once ({exc})"
        )
    if code in _BAD_CREDENTIALS:
        return CloudWatchCollectorError(f"AWS rejected the credentials ({code}): refresh them / check AWS_PROFILE")
    if code in {"InvalidParameterValue", "InvalidParameterCombination", "ValidationError", "InvalidParameterException"}:
        return CloudWatchCollectorError(f"AWS rejected the request for {resource}: {exc}")
    if name == "ParamValidationError":  # botocore refused the request before sending it
        return CloudWatchCollectorError(f"invalid request for {resource}: {' '.join(str(exc).split())}")
    if name in {"NoCredentialsError", "PartialCredentialsError"}:
        return CloudWatchCollectorError(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if name == "NoRegionError":
        return CloudWatchCollectorError("no AWS region: pass --region or set AWS_REGION")
    if name in {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"}:
        return CloudWatchCollectorError(f"cannot reach AWS for {resource}: {exc}")
    return exc


# ----------------------------------------------------------------------------------------------
# Orchestration


def describe_function(lambda_client: Any, function_name: str) -> tuple[dict[str, Any], list[str]]:
    """Memory, architecture, runtime and logging config of the function, best effort.

    Missing ``lambda:GetFunctionConfiguration`` permission or a deleted function only produce a
    warning: the logs and metrics are still worth collecting.
    """
    info: dict[str, Any] = {}
    try:
        conf = lambda_client.get_function_configuration(FunctionName=function_name)
    except Exception as exc:
        mapped = map_aws_error(exc, "lambda:GetFunctionConfiguration", f"function {function_name}")
        if not isinstance(mapped, CloudWatchCollectorError):
            raise mapped from exc
        return info, [f"function configuration unavailable, using defaults: {mapped}"]
    logging_config = conf.get("LoggingConfig") or {}
    info["memory_size_mb"] = conf.get("MemorySize")
    info["runtime"] = conf.get("Runtime")
    archs = conf.get("Architectures") or ["x86_64"]
    info["architecture"] = archs[0]
    if logging_config.get("LogGroup"):
        info["log_group"] = logging_config["LogGroup"]
    if logging_config.get("LogFormat"):
        info["log_format"] = logging_config["LogFormat"]
    return info, []


def collect(
    *,
    cloudwatch: Any,
    logs: Any,
    lambda_client: Any | None,
    function_name: str,
    region: str,
    start: datetime,
    end: datetime,
    api_id: str | None = None,
    api_stage: str | None = None,
    architecture: str | None = None,
    log_group: str | None = None,
    period_s: int = 60,
    page_limit: int | None = None,
    prices_path: Path | None = None,
    endpoint_url: str | None = None,
    boto3_version: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Collect the whole document (see the module docstring).

    Explicit ``architecture`` / ``log_group`` override what the function configuration says.
    Raises :class:`CloudWatchCollectorError` for anything the user must fix (missing log group,
    permissions, credentials); an empty window is a result, reported in ``warnings``.
    """
    if period_s < 60 and period_s not in (1, 5, 10, 30) or period_s >= 60 and period_s % 60:
        raise CloudWatchCollectorError("--period-s must be 1, 5, 10, 30 or a multiple of 60")
    warnings: list[str] = []
    info: dict[str, Any] = {}
    if lambda_client is not None:
        info, w = describe_function(lambda_client, function_name)
        warnings += w
    log_group = log_group or info.get("log_group") or f"/aws/lambda/{function_name}"
    log_format = info.get("log_format", "Text")
    architecture = architecture or info.get("architecture") or "x86_64"

    window_s = (end - start).total_seconds()
    window_period_s = max(60, math.ceil(window_s / 60) * 60)

    lambda_specs = lambda_metric_specs(function_name)
    api_specs = api_metric_specs(api_id, api_stage) if api_id else []
    emf_specs = emf_metric_specs(function_name, emf_routes())
    all_specs = [*lambda_specs, *api_specs, *(s for specs in emf_specs.values() for s in specs)]
    series = fetch_metric_data(cloudwatch, build_metric_queries(all_specs, period_s, window_period_s), start, end)
    lambda_section, w = summarize_metrics(lambda_specs, series, period_s)
    warnings += w
    api_section = None
    if api_specs:
        api_section, w = summarize_metrics(api_specs, series, period_s)
        warnings += w
        if api_section["count"] == 0:
            warnings.append(f"no HTTP API requests for ApiId {api_id} in the window: check --api-id/--api-stage")
    emf_section, w = summarize_emf(function_name, emf_specs, series, period_s)
    warnings += w

    pattern = JSON_REPORT_FILTER if log_format.upper() == "JSON" else TEXT_REPORT_FILTER
    events, pages = fetch_report_events(logs, log_group, start, end, pattern, page_limit)
    samples = parse_report_events(events)
    reports = summarize_reports(samples)
    reports["log_events_scanned"] = len(events)
    reports["log_pages"] = pages
    if not samples:
        warnings.append(
            f"no REPORT lines in {log_group} between {_iso(start)} and {_iso(end)}: "
            "was the function invoked in this window? (log delivery can lag by a few seconds)"
        )
    if lambda_section["invocations_count"] == 0:
        warnings.append(f"CloudWatch has no Invocations for {function_name} in the window")

    prices, source = load_lambda_prices(prices_path)
    memory_sizes = {s["memory_size_mb"] for s in samples}
    if len(memory_sizes) > 1:
        warnings.append(f"memory size changed during the window: {sorted(memory_sizes)} MB")

    payload = CloudwatchResults(
        target={
            "function_name": function_name,
            "region": region,
            "log_group": log_group,
            "log_format": log_format,
            "architecture": architecture,
            "memory_size_mb": info.get("memory_size_mb") or (max(memory_sizes) if memory_sizes else None),
            "runtime": info.get("runtime"),
            "api_id": api_id,
            "api_stage": api_stage,
        },
        window={"start": _iso(start), "end": _iso(end), "duration_s": window_s},
        lambda_metrics=lambda_section,
        api_metrics=api_section,
        reports=reports,
        cost=compute_cost(reports["billed_gb_s_total"], reports["count"], architecture, prices, source,
                          reports["restore_memory_gb_total"]),
        emf_metrics=emf_section,
        warnings=warnings,
    )
    environment = {"python": platform.python_version(), "boto3": boto3_version, "endpoint_url": endpoint_url}
    return RunDocument(payload, created=_iso(now or datetime.now(UTC)), environment=environment).to_dict()


def report_from_sample(sample: Mapping[str, Any]) -> LambdaReport:
    """Rebuild a :class:`LambdaReport` from one ``reports.samples`` entry (for report writers)."""
    fields = LambdaReport.__dataclass_fields__
    return LambdaReport(**{k: sample[k] for k in fields if k in sample})
