"""The native Lambda handler called in-process with hypothesis-generated API Gateway / Function URL events.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinserve_support.paths import REPO  # noqa: E402
from twinserve_support.sample_events import EVENT_FILES, event_for, load_template

from twinbench.measure.progress import Progress
from twinbench.reliability.fuzz.edge import check_edge, edge_cases
from twinbench.reliability.fuzz.oracle import error_body_problem
from twinbench.reliability.fuzz.settings import FuzzSettings, WrapperReport
from twinbench.reliability.fuzz.wire import Answer


def event_strategy(example_row: list[float], feature_names: list[str], model_name: str = "model",
                   model_version: str = "1"):
    """Hypothesis strategy of Lambda events: valid, subtly wrong and malformed (imports hypothesis),
    to twinserve's routes and the Open Inference Protocol V2 routes of the served model."""
    from hypothesis import strategies as st

    templates = {name: load_template(name) for name in EVENT_FILES}
    n = len(example_row)
    number = st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(10**40), max_value=10**40)
    json_value = st.recursive(
        st.none() | st.booleans() | number | st.text(max_size=20),
        lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
        max_leaves=25,
    )
    row = st.lists(number, min_size=n, max_size=n)
    wrong_row = st.lists(json_value, min_size=0, max_size=n + 2)
    named_row = st.fixed_dictionaries({name: number for name in feature_names})
    document = st.one_of(
        st.builds(lambda r: {"features": r}, row | named_row),
        st.builds(lambda rs: {"instances": rs}, st.lists(row | named_row, min_size=0, max_size=4)),
        st.builds(lambda r: {"features": r}, wrong_row),
        st.builds(lambda r: {"instances": r}, json_value),
        json_value,
        st.just({"features": example_row}),
    )
    datatype = st.sampled_from(["FP32", "FP64", "INT64", "INT8", "UINT8", "BYTES", "fp64", ""]) | json_value
    shape = st.just([1, n]) | st.lists(st.integers(-2, 2000) | json_value, max_size=3)
    tensor = st.fixed_dictionaries(
        {"name": st.just("features") | json_value, "shape": shape, "datatype": datatype,
         "data": row | st.lists(row, max_size=3) | wrong_row | json_value},
        optional={"parameters": st.just({"binary_data_size": 8}) | json_value},
    )
    v2_document = st.one_of(
        st.fixed_dictionaries({"inputs": st.lists(tensor, max_size=2)},
                              optional={"id": st.text(max_size=8) | json_value,
                                        "outputs": st.lists(st.fixed_dictionaries({"name": st.sampled_from(
                                            ["label", "probabilities", "nope"]) | json_value}), max_size=3) | json_value}),
        st.just({"inputs": [{"name": "features", "shape": [1, n], "datatype": "FP64", "data": example_row}]}),
    )
    document = document | v2_document
    model = f"/v2/models/{model_name}"
    v2_paths = [model + "/infer", f"{model}/versions/{model_version}/infer", model, model + "/ready",
                f"{model}/versions/{model_version}", "/v2", "/v2/health/live", "/v2/health/ready",
                "/v2/models/nope/infer", f"{model}/versions/0/infer", "/v2/", "/v2/models"]

    def dumps(doc: Any) -> bytes:
        return json.dumps(doc, allow_nan=True).encode()

    body = st.one_of(
        document.map(dumps),
        document.map(dumps).flatmap(lambda b: st.integers(0, max(0, len(b) - 1)).map(lambda i: b[:i])),  # truncated
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.none(),
    )
    method = st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "post"]) | st.text(max_size=8)
    path = st.sampled_from(["/predict", "/health", "/ready", "/openapi.json", "/", "/predict/", "/PREDICT",
                            "/dev/predict", "/predict?x=1", "//predict", *v2_paths]) | st.text(max_size=30)
    content_type = st.sampled_from(["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                    "text/plain", "application/x-www-form-urlencoded", "", None]) | st.text(max_size=30)
    well_formed = st.builds(
        event_for, st.sampled_from(list(templates.values())), method, path, body, content_type, st.booleans())

    def corrupt(event: dict, key_choice: int, value: Any, mode: int) -> Any:
        event = copy.deepcopy(event)
        keys = sorted(event)
        key = keys[key_choice % len(keys)]
        if mode == 0:
            event.pop(key)
        elif mode == 1:
            event[key] = value
        elif mode == 2:
            event["isBase64Encoded"], event["body"] = True, "!!not base64!!"
        elif mode == 3 and isinstance(event.get("requestContext"), dict):
            event["requestContext"]["http"] = value
        elif mode == 4:
            event["headers"] = value
        return event

    malformed = st.one_of(
        st.builds(corrupt, well_formed, st.integers(0, 50), json_value, st.integers(0, 4)),
        json_value,  # not an event at all: list, string, number, null, random object
        document,  # direct invocation with a bare document
    )
    return st.one_of(well_formed, well_formed, malformed)


def _routed_path(parse_event: Callable[[Any], Any], event: Any) -> str:
    """The path the native handler routes ``event`` to (its own parser: stage prefixes and event
    kinds are not what this oracle checks); "" for an event it refuses before any route (not an
    HTTP request of its declared kind, or a body marked base64 that is not), which it answers in
    the service's own error shape whatever path the event names. API Gateway sends neither."""
    from twinserve.errors import ClientError

    try:
        return parse_event(event).path
    except ClientError:
        return ""


def fuzz_native(report: WrapperReport, settings: FuzzSettings, progress: Progress) -> None:
    """``settings.n`` hypothesis events through the native handler, in this process."""
    from hypothesis import HealthCheck, given, seed
    from hypothesis import settings as hsettings

    handler_module = _import_native_handler()
    metadata = model_metadata()
    examples: list[str] = []
    if numeric_example(metadata) is None:
        report.notes.append(TYPED_NOTE)
        return

    @seed(settings.seed)
    @hsettings(max_examples=settings.n, deadline=None, database=None, derandomize=False,
               suppress_health_check=list(HealthCheck))
    @given(event_strategy(metadata["example_row"], metadata["feature_names"], metadata["name"], metadata["version"]))
    def one(event: Any) -> None:
        report.requests += 1
        if report.requests % 250 == 0:
            progress.update(f"{report.requests}/{settings.n} events")
        try:
            result = handler_module.handler(event, None)
        except Exception as exc:  # noqa: BLE001 (a raise is the crash being counted)
            report.statuses["raised"] += 1
            if len(examples) < 5:
                examples.append(f"{type(exc).__name__}: {exc} for event {json.dumps(event, default=repr)[:300]}")
            return
        status = result.get("statusCode") if isinstance(result, dict) else None
        report.statuses[str(status)] += 1
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        problem = (error_body_problem(status, headers.get("content-type"), raw,
                                      _routed_path(handler_module.parse_event, event))
                   if isinstance(status, int) else "no status")
        if problem:
            report.bad_error_bodies += 1
            if len(examples) < 5:
                examples.append(f"{problem} for event {json.dumps(event, default=repr)[:300]}")

    one()
    if report.requests < settings.n:
        report.problems.append(f"hypothesis generated only {report.requests} of {settings.n} events")
    raised = report.statuses.get("raised", 0)
    if raised:
        report.crashed_workers = raised
        report.problems.append(f"the handler raised on {raised} events (Lambda: function error -> 502): {examples[:3]}")
    if report.server_errors:
        report.problems.append(f"{report.server_errors} responses >= 500")
    if report.bad_error_bodies:
        report.problems.append(f"{report.bad_error_bodies} 4xx answers without the JSON error body: {examples[:3]}")


def _import_native_handler():
    """Import ``handler`` (its init loads the model from ``MODEL_PATH``), as Lambda imports it."""
    for sub in ("shared", "services/predict-lambda"):
        path = str(REPO / sub)
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("MODEL_PATH", str(REPO / "model"))
    import importlib

    return importlib.import_module("handler")


def model_metadata() -> dict:
    model_dir = Path(os.environ.get("MODEL_PATH") or REPO / "model")
    return json.loads((model_dir / "metadata.json").read_text())


TYPED_NOTE = ("a model with typed inputs (strings, nulls): its contract is fuzzed by schemathesis from "
              "/openapi.json; the numeric edge cases and the native handler's numeric events need an all-number model")


def numeric_example(metadata: dict) -> list[float] | None:
    """The all-number example row the numeric edge cases and events are built from, or None for a
    model with typed inputs (no such row)."""
    row = metadata.get("example_row")
    return [float(v) for v in row] if row else None


def body_limits() -> tuple[int, int]:
    from twinserve.settings import Settings

    core = Settings.from_env()
    return core.max_body_bytes, core.max_rows


def native_edge_cases(report: WrapperReport) -> None:
    """The edge-case bodies as HTTP API v2 events (plain and base64) through the native handler."""
    handler_module = _import_native_handler()
    metadata = model_metadata()
    if numeric_example(metadata) is None:
        report.notes.append(TYPED_NOTE)
        return
    max_body, max_rows = body_limits()
    template = load_template("http_api_v2.json")
    for case in edge_cases(metadata["example_row"], metadata["feature_names"], max_body, max_rows, lambda_sizes=False):
        if case.chunked:
            continue  # a transport detail; the event carries the body whole
        for b64 in (False, True):
            event = event_for(template, "POST", "/predict", case.body, case.content_type, b64)
            try:
                result = handler_module.handler(event, None)
                headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
                raw = result["body"].encode()
                answer = Answer(result["statusCode"], headers.get("content-type"), raw)
            except Exception as exc:  # noqa: BLE001
                answer = Answer(0, None, b"", f"handler raised {type(exc).__name__}: {exc}")
            record = check_edge(case, answer)
            record["case"] += " (base64)" if b64 else ""
            report.edge_cases.append(record)
