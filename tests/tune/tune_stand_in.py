"""The AWS stand-in of the remote tuner's tests: moto for the configuration, canned Invoke answers.

moto 5.2.5 without Docker (``mock_aws(config={"lambda": {"use_docker": False}})``) keeps a
function's configuration (UpdateFunctionConfiguration, GetFunctionConfiguration, the
``function_updated`` waiter all behave) but never runs the code: its Invoke echoes the payload and
returns no ``LogResult`` at all (``test_moto_invoke_has_no_log_tail`` pins that). So Invoke is
answered through botocore's ``Stubber`` with responses in the shape Lambda documents for
``Invoke(LogType=Tail)``: ``StatusCode``, ``ExecutedVersion``, ``LogResult`` (base64 of the last
4 KB of the log: START, the function's lines, END, REPORT) and ``Payload`` (the handler's API
Gateway proxy result). They are written from AWS's documented formats, not captured from an
account (this machine has none).
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from botocore.response import StreamingBody

COLD_HEADER = "x-twinserve-cold"
REGION = "eu-west-1"
FUNCTION = "twinserve-dev-predict"
ORIGINAL_MEMORY = 1024
ORIGINAL_ENV = {"MODEL_PATH": "/var/task/model", "LOG_LEVEL": "INFO"}

# Lambda's text log format, TAB-separated, trailing TAB (AWS Lambda Developer Guide, "Lambda logs").
REPORT_TEXT = ("REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: {billed} ms\t"
               "Memory Size: {memory} MB\tMax Memory Used: {used} MB\t{init}")


def log_tail(rid: str, memory: int, duration_ms: float, init_ms: float | None, *, json_format: bool = False) -> str:
    """The base64 LogResult of one invocation (the billed duration includes INIT, as Lambda bills it now)."""
    billed = -int(-(duration_ms + (init_ms or 0.0)) // 1)
    if json_format:
        metrics = {"durationMs": duration_ms, "billedDurationMs": billed, "memorySizeMB": memory, "maxMemoryUsedMB": 90}
        if init_ms is not None:
            metrics["initDurationMs"] = init_ms
        lines = [json.dumps({"time": "2026-12-01T10:00:00.000Z", "type": "platform.start",
                             "record": {"requestId": rid, "version": "$LATEST"}}),
                 json.dumps({"time": "2026-12-01T10:00:00.010Z", "type": "platform.report",
                             "record": {"requestId": rid, "status": "success", "metrics": metrics}})]
    else:
        init = f"Init Duration: {init_ms:.2f} ms\t" if init_ms is not None else ""
        lines = [f"START RequestId: {rid} Version: $LATEST",
                 f'{{"level":"INFO","message":"predict","request_id":"{rid}"}}',
                 f"END RequestId: {rid}",
                 REPORT_TEXT.format(rid=rid, duration=duration_ms, billed=billed, memory=memory, used=90, init=init)]
    return base64.b64encode(("\n".join(lines) + "\n").encode()).decode()


def invoke_response(rid: str, memory: int, duration_ms: float, init_ms: float | None = None, *,
                    status: int = 200, json_format: bool = False, function_error: str | None = None) -> dict[str, Any]:
    cold = "true" if init_ms is not None else "false"
    if function_error:
        body = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError", "stackTrace": []}).encode()
    else:
        body = json.dumps({"statusCode": status, "headers": {"content-type": "application/json", COLD_HEADER: cold},
                           "body": json.dumps({"prediction": 1}), "isBase64Encoded": False}).encode()
    response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST",
                                "LogResult": log_tail(rid, memory, duration_ms, init_ms, json_format=json_format),
                                "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        response["FunctionError"] = function_error
    return response


class SplitClient:
    """A lambda client whose Invoke goes to ``invoke`` (a Stubber'd client, or a callable) and
    every other call to ``config`` (moto)."""

    def __init__(self, config: Any, invoke: Any) -> None:
        self._config = config
        self._invoke = invoke
        self.invocations = 0

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations += 1
        if callable(self._invoke):
            return self._invoke(**kwargs)
        return self._invoke.invoke(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)


def memory_of(client: Any) -> int:
    return int(client.get_function_configuration(FunctionName=FUNCTION)["MemorySize"])


def env_of(client: Any) -> dict[str, str]:
    return (client.get_function_configuration(FunctionName=FUNCTION).get("Environment") or {}).get("Variables") or {}
