"""The oracle for error answers: is a 4xx the service's JSON error body?

Standard library only: :mod:`twinbench.reliability.fuzz_st_hooks` imports it inside schemathesis'
venv, and an oracle that reads the wire independently of the code it checks is the point.
"""

from __future__ import annotations

import json

# The file twinbench.reliability.fuzz_st_hooks (inside schemathesis) writes its request tally to.
COUNTS_ENV = "TWINBENCH_FUZZ_COUNTS"

def is_v2_route(path: str) -> bool:
    """Whether ``path`` is an Open Inference Protocol V2 route, whose errors are ``{"error": "<message>"}``.

    Written out here, not imported from the service: this module runs inside schemathesis' venv,
    and an oracle that reads the wire independently of the code it checks is the point."""
    return path == "/v2" or path.startswith("/v2/")


def error_body_problem(status: int, content_type: str | None, body: bytes, path: str = "") -> str | None:
    """Why a 4xx answer is not the service's JSON error body, or ``None`` when it is. The body is
    ``{"error": {"code", "message"}}``, or on the V2 routes the protocol's ``{"error": "<message>"}``."""
    if not 400 <= status < 500:
        return None
    if not (content_type or "").lower().startswith("application/json"):
        return f"{status} with content-type {content_type!r}, not application/json"
    try:
        data = json.loads(body)
    except ValueError:
        return f"{status} body is not JSON: {body[:120]!r}"
    if not isinstance(data, dict) or set(data) != {"error"}:
        return f'{status} body is not {{"error": ...}}: {body[:120]!r}'
    error = data["error"]
    if is_v2_route(path):
        if not isinstance(error, str) or not error:
            return f'{status} body on a V2 route is not {{"error": "<message>"}}: {body[:120]!r}'
        return None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        return f'{status} body is not {{"error": {{"code", "message"}}}}: {body[:120]!r}'
    return None


def _refuse_constant(token: str) -> None:
    raise ValueError(f"{token} in the answer")


def answer_problem(status: int, content_type: str | None, body: bytes, path: str = "") -> str | None:
    """Why an answer breaks what every answer keeps, or ``None``: no traceback anywhere; a 4xx is
    the JSON error body (:func:`error_body_problem`) on one line; a JSON 2xx holds no NaN or
    Infinity (not JSON, and no number a client can use)."""
    if b"Traceback (most recent call last)" in body:
        return f"{status} answer carries a traceback: {body[:120]!r}"
    if 400 <= status < 500:
        problem = error_body_problem(status, content_type, body, path)
        if problem:
            return problem
        if b"\n" in body.strip():
            return f"{status} error body is not one line: {body[:120]!r}"
        return None
    if 200 <= status < 300 and (content_type or "").lower().startswith("application/json"):
        try:
            json.loads(body, parse_constant=_refuse_constant)
        except ValueError as exc:
            return f"{status} answer is not strict JSON ({exc}): {body[:120]!r}"
    return None
