"""schemathesis hooks for ``make fuzz``; loaded *inside the schemathesis process* (``.venv-fuzz``).

``twinbench.reliability.fuzz`` starts ``schemathesis run`` with ``SCHEMATHESIS_HOOKS=twinbench.reliability.fuzz_st_hooks``
and ``TWINBENCH_FUZZ_COUNTS=<file>``. This module then

* counts every request schemathesis really sent, by response status (``after_call``) and every
  network-level failure (``after_network_error``: a reset or refused connection is how a crashed
  worker shows from outside), and writes the tally to that file as JSON every
  :data:`FLUSH_EVERY` requests (the driver shows progress from it) and at exit;
* registers the check ``json_error_body``: every 4xx answer is ``application/json`` holding exactly
  ``{"error": {"code": str, "message": str}}`` (on the Open Inference Protocol V2 routes, the
  protocol's ``{"error": str}``).

It runs in ``.venv-fuzz``, not ``.venv``: it imports only schemathesis and :mod:`twinbench.reliability.fuzz.oracle`, whose
module level needs nothing but the standard library.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import threading

import schemathesis

from twinbench.reliability.fuzz.oracle import COUNTS_ENV, error_body_problem

FLUSH_EVERY = 200

_lock = threading.Lock()
_statuses: collections.Counter[str] = collections.Counter()
_state: dict[str, object] = {"requests": 0, "network_errors": 0, "bad_error_bodies": 0, "examples": []}


def _content_type(response) -> str | None:
    # schemathesis' Response keeps headers as {lower-case name: [values]}
    value = response.headers.get("content-type")
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _flush() -> None:
    path = os.environ.get(COUNTS_ENV)
    if not path:
        return
    with _lock:
        document = {**_state, "statuses": dict(_statuses)}
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    os.replace(tmp, path)  # the driver never reads a half-written file


@schemathesis.hook
def after_call(context, case, response) -> None:  # noqa: ARG001 (schemathesis' signature)
    with _lock:
        _statuses[str(response.status_code)] += 1
        _state["requests"] += 1
        flush = _state["requests"] % FLUSH_EVERY == 0
        problem = error_body_problem(response.status_code, _content_type(response), response.content, case.path)
        if problem:
            _state["bad_error_bodies"] += 1
            examples = _state["examples"]
            if len(examples) < 5:  # what the report shows: enough to find the route that answered it
                examples.append(f"{case.method} {case.path} -> {response.status_code}: {problem}; "
                                f"{response.content[:120]!r}")
    if flush:
        _flush()


@schemathesis.hook
def after_network_error(context, case, request) -> None:  # noqa: ARG001
    with _lock:
        _state["network_errors"] += 1
        _state["requests"] += 1


@schemathesis.check
def json_error_body(ctx, response, case) -> None:  # noqa: ARG001
    """Every 4xx carries the service's JSON error body (one renderer per wrapper)."""
    problem = error_body_problem(response.status_code, _content_type(response), response.content, case.path)
    if problem is not None:
        raise AssertionError(problem)


atexit.register(_flush)
