"""Hand-written edge cases: bodies at and just over each size limit, deep nesting, huge numbers, unicode, duplicate keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from twinbench.reliability.fuzz.oracle import error_body_problem
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


def _sized_instances(row: list[float], size: int, max_rows: int) -> bytes:
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


def edge_cases(example_row: list[float], feature_names: list[str], max_body_bytes: int, max_rows: int,
               lambda_sizes: bool = False) -> list[EdgeCase]:
    """The hand-written hostile bodies; ``lambda_sizes`` adds the 6 MB and front-limit cases."""
    ok_or_client = frozenset({200, 400, 413, 415, 422})
    client = frozenset({400, 413, 415, 422})
    row = [float(v) for v in example_row]
    nested = b"[" * 100_000 + b"]" * 100_000
    named = dict(zip(feature_names, row, strict=True))
    cases = [
        EdgeCase("body exactly at MAX_BODY_BYTES (valid rows + whitespace)",
                 _sized_instances(row, max_body_bytes, max_rows), frozenset({200})),
        EdgeCase("body MAX_BODY_BYTES + 1", _sized_instances(row, max_body_bytes + 1, max_rows), frozenset({413})),
        EdgeCase("body MAX_BODY_BYTES + 1, chunked (no Content-Length)",
                 _sized_instances(row, max_body_bytes + 1, max_rows), frozenset({413}), chunked=True),
        EdgeCase("small valid body, chunked", json.dumps({"features": row}).encode(), frozenset({200}), chunked=True),
        EdgeCase("MAX_ROWS + 1 rows", json.dumps({"instances": [row] * (max_rows + 1)}).encode(), frozenset({413})),
        EdgeCase("100k nested arrays", nested, frozenset({400, 422})),
        EdgeCase("100k nested arrays inside features", b'{"features": ' + nested + b"}", frozenset({400, 422})),
        EdgeCase("100k nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, frozenset({400, 422})),
        EdgeCase("integer with 100k digits", ('{"features": [' + "9" * 100_000 + "]}").encode(), client),
        EdgeCase("1e400 (overflows float64)", json.dumps({"features": row}).replace(
            str(row[0]), "1e400", 1).encode(), client),
        EdgeCase("3.5e38 (overflows float32)", json.dumps({"features": [3.5e38] + row[1:]}).encode(), client),
        EdgeCase("-1e-400 (underflows)", json.dumps({"features": row}).replace(str(row[0]), "-1e-400", 1).encode(),
                 ok_or_client),
        EdgeCase("NaN / Infinity tokens", json.dumps({"features": [float("nan"), float("inf")] + row[2:]}).encode(),
                 client),
        EdgeCase("duplicate top-level keys", ('{"features": ' + json.dumps(row) + ', "features": "x"}').encode(),
                 ok_or_client),
        EdgeCase("duplicate feature names", ('{"features": {' + ", ".join(
            [f"{json.dumps(feature_names[0])}: 1.0"] + [f"{json.dumps(k)}: {v!r}" for k, v in named.items()])
            + "}}").encode(), ok_or_client),
        EdgeCase("unicode feature names", json.dumps({"features": {"名前\u202e\U0001F600": 1.0}}).encode(), client),
        EdgeCase("lone surrogate escape", b'{"features": "\\ud800"}', client),
        EdgeCase("invalid UTF-8", b'{"features": [\xff\xfe]}', client),
        EdgeCase("UTF-8 BOM", b"\xef\xbb\xbf" + json.dumps({"features": row}).encode(), ok_or_client),
        EdgeCase("NUL bytes", b'{"features": [\x00]}', client),
        EdgeCase("empty body", b"", client),
        EdgeCase("JSON null", b"null", client),
        EdgeCase("truncated JSON", json.dumps({"features": row}).encode()[:-3], client),
        EdgeCase("text/plain content type", json.dumps({"features": row}).encode(), client,
                 content_type="text/plain"),
        EdgeCase("no content type", json.dumps({"features": row}).encode(), ok_or_client, content_type=None),
        EdgeCase("big valid-JSON string just under the limit", _padded_invalid(max_body_bytes - 1), client),
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
    else:
        body_problem = error_body_problem(answer.status, answer.content_type, answer.body)
        if body_problem and not case.front:
            problem = body_problem
        elif answer.status not in case.expect:
            # A 4xx with the JSON body, but not the status the contract calls for: reported, not fatal.
            finding = f"status {answer.status}, expected one of {sorted(case.expect)}: {answer.body[:160]!r}"
    record = {"case": case.name, "bytes": len(case.body), "status": answer.status, "problem": problem,
              "finding": finding}
    if case.front and answer.status == 413 and error_body_problem(413, answer.content_type, answer.body):
        record["note"] = "refused by the HTTP front (API Gateway's role), not the app"
    return record
