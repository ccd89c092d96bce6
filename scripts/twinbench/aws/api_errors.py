"""What a failed Lambda API call means for the user, said once for every caller.

The forced cold starts and the memory tuner both change a deployed function's configuration;
their callers raise their own error types, but the reading of botocore's errors (which IAM
action is missing, a wrong name or region, no credentials) lives here.
"""

from __future__ import annotations

__all__ = ["error_code", "user_fix"]


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, or ``""``."""
    response = getattr(exc, "response", None)
    return (response or {}).get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def user_fix(exc: BaseException, action: str, function_name: str) -> str | None:
    """One line saying what to fix, when the failure is the user's to fix; ``None`` otherwise."""
    code = error_code(exc)
    if code in {"AccessDeniedException", "AccessDenied"}:
        return f"permission denied: the caller needs lambda:{action} on {function_name}"
    if code == "ResourceNotFoundException":
        return f"function {function_name} not found: check the name and the region"
    kind = type(exc).__name__
    if kind in {"NoCredentialsError", "PartialCredentialsError"}:
        return "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if kind == "NoRegionError":
        return "no AWS region: set AWS_REGION (or --aws-region)"
    return None
