"""The native Lambda handler called in-process with hypothesis-generated API Gateway / Function URL events,
built from the served model's input schema and rows (all-number or typed alike).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from twinserve_support.paths import REPO  # noqa: E402
from twinserve_support.sample_events import EVENT_FILES, event_for, load_template

from twinbench.measure.progress import Progress
from twinbench.reliability.fuzz.edge import check_edge, edge_cases
from twinbench.reliability.fuzz.model_inputs import FuzzFeature, FuzzModel, load_fuzz_model, model_dir
from twinbench.reliability.fuzz.oracle import answer_problem
from twinbench.reliability.fuzz.settings import FuzzSettings, WrapperReport
from twinbench.reliability.fuzz.wire import Answer

_V2_DATATYPE = {"number": "FP64", "integer": "INT64", "string": "BYTES", "boolean": "BOOL"}
_HOSTILE_STRINGS = ("", "x" * 10_000, "a\u202eb\U0001F600", "\ud800", "a\x00b", "NaN", "1e400")


def _value_strategy(feature: FuzzFeature, number: Any, json_value: Any) -> Any:
    """Values for one feature from its kind: right-kind values (hostile ones among them), null
    where it is nullable, and now and then any JSON value at all."""
    from hypothesis import strategies as st

    if feature.kind in ("number", "integer"):
        right = number
    elif feature.kind == "string":
        right = st.text(max_size=30) | st.sampled_from(_HOSTILE_STRINGS)
    else:
        right = st.booleans()
    if feature.nullable:
        right = right | st.none()
    return st.one_of(right, right, right, json_value)


def event_strategy(model: FuzzModel):
    """Hypothesis strategy of Lambda events: valid, subtly wrong and malformed (imports hypothesis),
    to twinserve's routes and the Open Inference Protocol V2 routes of the served model; rows are
    drawn per feature from its kind (``model_inputs``), or are the model's own rows with one value
    changed."""
    from hypothesis import strategies as st

    templates = {name: load_template(name) for name in EVENT_FILES}
    features = model.features
    n = len(features)
    example_row = model.row
    number = st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(10**40), max_value=10**40)
    json_value = st.recursive(
        st.none() | st.booleans() | number | st.text(max_size=20),
        lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
        max_leaves=25,
    )
    values = [_value_strategy(f, number, json_value) for f in features]
    named_row = st.fixed_dictionaries({f.name: v for f, v in zip(features, values, strict=True)})
    registered_named = [r if isinstance(r, dict) else dict(zip(model.names, r, strict=True)) for r in model.rows]

    names = model.names

    def changed(row_index: int, index: int, value: Any) -> dict[str, Any]:
        return {**registered_named[row_index], names[index]: value}

    one_changed = st.builds(changed, st.integers(0, len(registered_named) - 1), st.integers(0, n - 1),
                            st.one_of(*values))
    row = (st.tuples(*values).map(list) if model.positional else st.nothing()) | named_row | one_changed
    wrong_row = st.lists(json_value, min_size=0, max_size=n + 2)
    document = st.one_of(
        st.builds(lambda r: {"features": r}, row),
        st.builds(lambda rs: {"instances": rs}, st.lists(row, min_size=0, max_size=4)),
        st.builds(lambda r: {"features": r}, wrong_row),
        st.builds(lambda r: {"instances": r}, json_value),
        json_value,
        st.just({"features": example_row}),
    )
    datatype = st.sampled_from(["FP32", "FP64", "INT64", "INT8", "UINT8", "BYTES", "BOOL", "fp64", ""]) | json_value
    shape = st.just([1, n]) | st.lists(st.integers(-2, 2000) | json_value, max_size=3)
    if model.positional:  # one matrix tensor, as for any all-number model
        tensor = st.fixed_dictionaries(
            {"name": st.just("features") | json_value, "shape": shape, "datatype": datatype,
             "data": st.tuples(*values).map(list) | st.lists(row, max_size=3) | wrong_row | json_value},
            optional={"parameters": st.just({"binary_data_size": 8}) | json_value},
        )
        tensors = st.lists(tensor, max_size=2)
        valid_inputs = [{"name": "features", "shape": [1, n], "datatype": "FP64", "data": example_row}]
    else:  # one tensor per feature (MLServer's pandas codec)
        def column(feature: FuzzFeature, value: Any) -> Any:
            return st.fixed_dictionaries(
                {"name": st.just(feature.name) | json_value, "shape": st.just([1]) | shape,
                 "datatype": st.just(_V2_DATATYPE[feature.kind]) | datatype,
                 "data": st.lists(value, min_size=1, max_size=3) | wrong_row | json_value},
                optional={"parameters": st.just({"binary_data_size": 8}) | json_value})

        columns = st.tuples(*[column(f, v) for f, v in zip(features, values, strict=True)]).map(list)
        tensors = columns | columns.flatmap(lambda ts: st.permutations(ts)) | st.lists(st.sampled_from(
            [{"name": f.name, "shape": [1], "datatype": _V2_DATATYPE[f.kind], "data": [registered_named[0][f.name]]}
             for f in features]), max_size=n + 1)
        valid_inputs = [{"name": f.name, "shape": [1], "datatype": _V2_DATATYPE[f.kind],
                         "data": [registered_named[0][f.name]]} for f in features]
    v2_document = st.one_of(
        st.fixed_dictionaries({"inputs": tensors},
                              optional={"id": st.text(max_size=8) | json_value,
                                        "outputs": st.lists(st.fixed_dictionaries({"name": st.sampled_from(
                                            ["label", "probabilities", "nope"]) | json_value}), max_size=3) | json_value}),
        st.just({"inputs": valid_inputs}),
    )
    document = document | v2_document
    model_name, model_version = model.name, model.version
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

    handle, parse_event = _native_handler()
    model = load_fuzz_model()
    examples: list[str] = []

    @seed(settings.seed)
    @hsettings(max_examples=settings.n, deadline=None, database=None, derandomize=False,
               suppress_health_check=list(HealthCheck))
    @given(event_strategy(model))
    def one(event: Any) -> None:
        report.requests += 1
        if report.requests % 250 == 0:
            progress.update(f"{report.requests}/{settings.n} events")
        try:
            result = handle(event, None)
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
        problem = (answer_problem(status, headers.get("content-type"), raw, _routed_path(parse_event, event))
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
        report.problems.append(f"{report.bad_error_bodies} answers breaking the invariants (JSON one-line 4xx, no "
                               f"traceback, no NaN): {examples[:3]}")


def _native_handler() -> tuple[Callable[[Any, Any], Any], Callable[[Any], Any]]:
    """(handler, its event parser) for the model at ``MODEL_PATH``: ``handler.handler`` when this
    import of the module loaded that model (its init, as Lambda runs it), else the module's own
    ``make_handler`` around a service started on that model (the module is imported once per process)."""
    for sub in ("shared", "services/predict-lambda"):
        path = str(REPO / sub)
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("MODEL_PATH", str(REPO / "model"))
    import importlib

    wanted = str(model_dir())
    first = "handler" not in sys.modules
    module = importlib.import_module("handler")
    if first:
        _LOADED[wanted] = module.handler
    if wanted not in _LOADED:
        from twinserve.service import Service
        from twinserve.settings import Settings

        _LOADED[wanted] = module.make_handler(Service.start(Settings.from_env()), 0.0)
    return _LOADED[wanted], module.parse_event


_LOADED: dict[str, Callable[[Any, Any], Any]] = {}


def body_limits() -> tuple[int, int]:
    from twinserve.settings import Settings

    core = Settings.from_env()
    return core.max_body_bytes, core.max_rows


def native_edge_cases(report: WrapperReport) -> None:
    """The edge-case bodies as HTTP API v2 events (plain and base64) through the native handler."""
    handle, _ = _native_handler()
    max_body, max_rows = body_limits()
    template = load_template("http_api_v2.json")
    for case in edge_cases(load_fuzz_model(), max_body, max_rows, lambda_sizes=False):
        if case.chunked:
            continue  # a transport detail; the event carries the body whole
        for b64 in (False, True):
            event = event_for(template, "POST", "/predict", case.body, case.content_type, b64)
            try:
                result = handle(event, None)
                headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
                raw = result["body"].encode()
                answer = Answer(result["statusCode"], headers.get("content-type"), raw)
            except Exception as exc:  # noqa: BLE001
                answer = Answer(0, None, b"", f"handler raised {type(exc).__name__}: {exc}")
            record = check_edge(case, answer)
            record["case"] += " (base64)" if b64 else ""
            report.edge_cases.append(record)
