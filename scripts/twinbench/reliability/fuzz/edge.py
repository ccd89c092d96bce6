"""Hand-written edge cases: bodies at and just over each size limit, deep nesting, unicode, duplicate
keys, and each feature's hostile values (numbers, strings, null) from the model's input schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from twinbench.reliability.fuzz.model_inputs import (
    CLIENT,
    OK,
    OK_OR_CLIENT,
    FuzzModel,
    fuzzed_features,
    hostile_values,
)
from twinbench.reliability.fuzz.oracle import answer_problem, error_body_problem
from twinbench.reliability.fuzz.settings import FRONT_MAX_REQUEST_BYTES, LAMBDA_SYNC_PAYLOAD_BYTES
from twinbench.reliability.fuzz.wire import Answer


@dataclass(frozen=True)
class EdgeCase:
    """A hand-made body. ``expect``: statuses that are correct; ``front``: may be refused by the
    Lambda HTTP front itself (API Gateway's own error, not the app's JSON body)."""

    name: str
    body: bytes
    expect: frozenset[int]
    content_type: str | None = "application/json"
    chunked: bool = False
    front: bool = False


def _sized_instances(row: Any, size: int, max_rows: int) -> bytes:
    """A valid ``{"instances": [...]}`` of exactly ``size`` bytes (rows <= max_rows, whitespace padding).

    Raises ``ValueError`` when even one row does not fit.
    """
    row_json = json.dumps(row)
    rows = max(1, min(max_rows, (size - 20) // (len(row_json) + 2)))
    core = '{"instances": [' + ", ".join([row_json] * rows) + "]"
    if len(core) + 1 > size:
        raise ValueError(f"{size} bytes cannot hold one row")
    return (core + " " * (size - len(core) - 1) + "}").encode()


def _padded_invalid(size: int) -> bytes:
    """``size`` bytes of syntactically valid JSON that is not a valid request (a big string)."""
    return ('{"features": "' + "x" * (size - 16) + '"}').encode()


def _duplicate_feature(model: FuzzModel) -> bytes:
    """The first row by name with its first feature given twice (first a wrong value)."""
    named = dict(zip(model.names, model.row, strict=True)) if model.positional else dict(model.row)
    items = [f"{json.dumps(model.names[0])}: 1.0"] + [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in named.items()]
    return ('{"features": {' + ", ".join(items) + "}}").encode()


def feature_cases(model: FuzzModel) -> list[EdgeCase]:
    """One case per hostile value of each fuzzed feature, derived from its kind and nullability."""
    return [EdgeCase(f"{feature.name!r} ({feature.kind}): {label}", model.with_value(feature, raw), expect)
            for feature in fuzzed_features(model) for label, raw, expect in hostile_values(feature)]


def edge_cases(model: FuzzModel, max_body_bytes: int, max_rows: int, lambda_sizes: bool = False) -> list[EdgeCase]:
    """The hand-written hostile bodies, on the model's own first row, and the per-feature values of
    :func:`feature_cases`; ``lambda_sizes`` adds the 6 MB and front-limit cases."""
    client = CLIENT
    row = model.row
    one = json.dumps({"features": row}).encode()
    nested = b"[" * 100_000 + b"]" * 100_000
    cases = [
        EdgeCase("body exactly at MAX_BODY_BYTES (valid rows + whitespace)",
                 _sized_instances(row, max_body_bytes, max_rows), OK),
        EdgeCase("body MAX_BODY_BYTES + 1", _sized_instances(row, max_body_bytes + 1, max_rows), frozenset({413})),
        EdgeCase("body MAX_BODY_BYTES + 1, chunked (no Content-Length)",
                 _sized_instances(row, max_body_bytes + 1, max_rows), frozenset({413}), chunked=True),
        EdgeCase("small valid body, chunked", one, OK, chunked=True),
        EdgeCase("every registered row in one body", json.dumps({"instances": list(model.rows[:max_rows])}).encode(),
                 OK),
        EdgeCase("MAX_ROWS + 1 rows", json.dumps({"instances": [row] * (max_rows + 1)}).encode(), frozenset({413})),
        EdgeCase("100k nested arrays", nested, frozenset({400, 422})),
        EdgeCase("100k nested arrays inside features", b'{"features": ' + nested + b"}", frozenset({400, 422})),
        EdgeCase("100k nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, frozenset({400, 422})),
        EdgeCase("integer with 100k digits as the features", ('{"features": [' + "9" * 100_000 + "]}").encode(),
                 client),
        EdgeCase("duplicate top-level keys", b'{"features": ' + json.dumps(row).encode() + b', "features": "x"}',
                 OK_OR_CLIENT),
        EdgeCase("duplicate feature names", _duplicate_feature(model), OK_OR_CLIENT),
        EdgeCase("unicode feature names", json.dumps({"features": {"名前\u202e\U0001F600": 1.0}}).encode(), client),
        EdgeCase("lone surrogate escape", b'{"features": "\\ud800"}', client),
        EdgeCase("invalid UTF-8", b'{"features": [\xff\xfe]}', client),
        EdgeCase("UTF-8 BOM", b"\xef\xbb\xbf" + one, OK_OR_CLIENT),
        EdgeCase("NUL bytes", b'{"features": [\x00]}', client),
        EdgeCase("empty body", b"", client),
        EdgeCase("JSON null", b"null", client),
        EdgeCase("truncated JSON", one[:-3], client),
        EdgeCase("text/plain content type", one, client, content_type="text/plain"),
        EdgeCase("no content type", one, OK_OR_CLIENT, content_type=None),
        EdgeCase("big valid-JSON string just under the limit", _padded_invalid(max_body_bytes - 1), client),
        *feature_cases(model),
    ]
    if lambda_sizes:
        cases += [
            EdgeCase("body just under Lambda's 6 MB sync payload", _padded_invalid(LAMBDA_SYNC_PAYLOAD_BYTES - 8192),
                     frozenset({413})),
            EdgeCase("body just over Lambda's 6 MB sync payload", _padded_invalid(LAMBDA_SYNC_PAYLOAD_BYTES + 1),
                     frozenset({413}), front=True),
            EdgeCase("body just over the HTTP front's 10 MB", _padded_invalid(FRONT_MAX_REQUEST_BYTES + 1),
                     frozenset({413}), front=True),
        ]
    return cases


def check_edge(case: EdgeCase, answer: Answer) -> dict:
    """The outcome of one edge case as a result record (``problem`` is ``None`` when it passed)."""
    problem = finding = None
    if answer.status == 0:
        problem = f"no answer ({answer.error})"
    elif answer.status >= 500:
        problem = f"server error {answer.status}: {answer.body[:160]!r}"
    # A body the HTTP front may refuse itself (API Gateway's role) need not get the app's error body.
    elif not case.front and (body_problem := answer_problem(answer.status, answer.content_type, answer.body)):
        problem = body_problem
    elif answer.status not in case.expect:
        # An answer that keeps the invariants, but not the status the contract calls for: reported, not fatal.
        finding = f"status {answer.status}, expected one of {sorted(case.expect)}: {answer.body[:160]!r}"
    record = {"case": case.name, "bytes": len(case.body), "status": answer.status, "problem": problem,
              "finding": finding}
    if case.front and answer.status == 413 and error_body_problem(413, answer.content_type, answer.body):
        record["note"] = "refused by the HTTP front (API Gateway's role), not the app"
    return record
