"""Bytes on the wire, built once here so every wrapper answers byte-for-byte the same.

Numbers are printed as the model says them: a numpy array keeps its dtype up to here, and
orjson prints each value with the shortest digits that read back to the same value *in that
dtype* (float32 0.95 is printed ``0.95``, not its float64 widening ``0.949999988079071``;
a float64 keeps all the digits it needs). Nothing before this module may widen an array just to
print it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from twinserve.errors import TwinserveError
from twinserve.routes import is_v2_path

JSON_CONTENT_TYPE = "application/json"
# No error answer is longer than this, whatever the request: an error must not amplify a hostile
# body into a larger answer.
MAX_ERROR_BODY_BYTES = 1024


@dataclass(frozen=True)
class Reply:
    """A framework-free HTTP answer: status, JSON body bytes, extra headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_bytes(document: Any) -> bytes:
    """The one JSON encoder of answers (numpy arrays printed in their own dtype, see above)."""
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def error_reply(error: TwinserveError, path: str = "") -> Reply:
    """The one place an error becomes bytes.

    twinserve's own routes answer ``{"error": {"code", "message"}}``; the Open Inference
    Protocol's routes (``/v2...``) answer ``{"error": "<message>"}`` as its specification says,
    so V2 clients (tritonclient, KServe's) show the message. The status is the error type's.
    """
    headers = {}
    allowed = getattr(error, "allowed", None)
    if allowed:
        headers["Allow"] = ", ".join(allowed)
    message = error.message
    while True:
        body = json_bytes({"error": message} if is_v2_path(path) else {"error": {"code": error.code, "message": message}})
        if len(body) <= MAX_ERROR_BODY_BYTES:
            return Reply(error.status, body, headers)
        # Escaped characters (\u0000) take up to six bytes each: cut until the body fits.
        message = message[: max(0, len(message) - (len(body) - MAX_ERROR_BODY_BYTES) - 1)] + "…"
