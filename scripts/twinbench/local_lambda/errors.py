"""Why an invocation did not produce a function result, each with the HTTP answer API Gateway gives.

The HTTP front renders these in exactly one place (:func:`twinbench.local_lambda.front.error_response`).
"""

from __future__ import annotations


class InvokeError(Exception):
    """Base: an invocation that ended without a function result."""

    status = 500
    error_type = "ServiceException"
    # HTTP API's body for integration failures.
    message = "Internal Server Error"
    # The invocation's id (Lambda gives a throttled or failed invoke one too); set by the service.
    request_id: str | None = None

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.message)
        self.detail = detail

    def to_dict(self) -> dict[str, object]:
        return {"message": self.message}

    def headers(self) -> dict[str, str]:
        """Extra response headers; ``x-local-lambda-error`` lets a benchmark count causes."""
        return {"x-local-lambda-error": self.error_type}


class Throttled(InvokeError):
    """No idle environment and the concurrency cap is reached: Lambda's TooManyRequestsException."""

    status = 429
    error_type = "TooManyRequestsException"
    message = "Rate Exceeded."

    def __init__(self, reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded") -> None:
        super().__init__(reason)
        self.reason = reason

    def to_dict(self) -> dict[str, object]:
        return {"Reason": self.reason, "Type": "User", "message": self.message}

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "x-amzn-ErrorType": self.error_type}


class RouteThrottled(InvokeError):
    """The route's throttling bucket is empty: API Gateway answers 429 and never invokes the function."""

    status = 429
    error_type = "RouteThrottled"
    message = "Too Many Requests"


class FunctionTimeout(InvokeError):
    """The function ran past its timeout; its environment was destroyed."""

    status = 504
    error_type = "Sandbox.Timedout"
    message = "Endpoint request timed out"


class FunctionError(InvokeError):
    """The handler raised (Runtime API ``/error``) or init failed; the payload is Lambda's error JSON."""

    status = 502
    error_type = "Unhandled"

    def __init__(self, error_type: str, payload: bytes = b"") -> None:
        super().__init__(error_type)
        self.error_type = error_type or "Unhandled"
        self.payload = payload


class RuntimeExited(InvokeError):
    """The runtime process died during the invocation (crash, OOM kill, ``sys.exit``)."""

    status = 502
    error_type = "Runtime.ExitError"


class BadFunctionResponse(InvokeError):
    """The function's result is not something API Gateway can turn into an HTTP response."""

    status = 500
    error_type = "InvalidLambdaResponse"
