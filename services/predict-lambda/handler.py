"""The native Lambda handler: no web framework, model loaded once per execution environment.

Every response says whether this invocation was its environment's first (``x-twinserve-cold``)
and how long the environment's init took (``x-twinserve-init-ms``), so a benchmark can
verify cold and warm samples instead of guessing from latency.
"""

from __future__ import annotations

import time

_INIT_STARTED = time.perf_counter()

from collections.abc import Callable  # noqa: E402  (the clock starts before the imports it measures)
from typing import Any  # noqa: E402

import telemetry  # noqa: E402
from lambda_events import parse_event  # noqa: E402
from twinserve.errors import ClientError  # noqa: E402
from twinserve.headers import COLD_HEADER, INIT_HEADER  # noqa: E402
from twinserve.responses import JSON_CONTENT_TYPE, Reply, error_reply  # noqa: E402
from twinserve.service import Service  # noqa: E402

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(service: Service, init_ms: float) -> LambdaHandler:
    """Bind a started Service into a handler; ``init_ms`` is reported on every response."""
    state = {"cold": True}
    init_header = f"{init_ms:.1f}"
    function = telemetry.function_name()

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        cold, state["cold"] = state["cold"], False
        method, path = "", ""
        try:
            request = parse_event(event)
            method, path = request.method, request.path
            reply = service.dispatch(request.method, request.path, request.content_type, request.body)
        except ClientError as exc:
            reply = error_reply(exc)
        response = to_proxy_response(reply, cold, init_header)
        telemetry.emit(telemetry.record(path, method, reply.status, (time.perf_counter() - started) * 1000.0, cold,
                                        getattr(context, "aws_request_id", None), function))
        return response

    return handle


def to_proxy_response(reply: Reply, cold: bool, init_header: str) -> dict[str, Any]:
    headers = {
        "content-type": JSON_CONTENT_TYPE,
        COLD_HEADER: "true" if cold else "false",
        INIT_HEADER: init_header,
    }
    headers.update(reply.headers)
    return {"statusCode": reply.status, "headers": headers, "body": reply.body.decode(), "isBase64Encoded": False}


def before_snapshot(service: Service) -> None:
    """SnapStart, before the snapshot is taken: the model is loaded (Service.start) and one more
    prediction runs through the whole path, so restored environments start with warm code paths."""
    service.predictor.self_test()


def after_restore() -> None:
    """SnapStart, after each restore: restored environments share the snapshot's memory, so whatever
    must differ between them is made fresh here. Random generators are re-seeded from the OS (the
    handler keeps no other ids: request ids come from each invocation's context)."""
    import random

    import numpy as np

    random.seed()  # from os.urandom
    np.random.seed()  # the legacy global generator, in case a model's code draws from it


def register_snapstart_hooks(service: Service) -> bool:
    """Register the runtime hooks with the Lambda runtime's snapshot-restore-py (shipped in Python
    managed runtimes, pinned beside awslambdaric locally); False where it is absent. The hooks run
    only on a function with SnapStart on; registering them costs nothing otherwise."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, service)
    register_after_restore(after_restore)
    return True


# Init phase: load + verify + self-test the model. A failure here is a Lambda init error:
# the environment never serves.
_service = Service.start()
register_snapstart_hooks(_service)
handler: LambdaHandler = make_handler(_service, (time.perf_counter() - _INIT_STARTED) * 1000.0)
