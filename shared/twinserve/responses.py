"""Bytes on the wire, built once here so every wrapper answers byte-for-byte the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from twinserve.errors import TwinserveError

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Reply:
    """A framework-free HTTP answer: status, JSON body bytes, extra headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_bytes(document: Any) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def error_reply(error: TwinserveError) -> Reply:
    """The one place an error becomes ``{"error": {"code", "message"}}``."""
    headers = {}
    allowed = getattr(error, "allowed", None)
    if allowed:
        headers["Allow"] = ", ".join(allowed)
    return Reply(error.status, json_bytes(error.to_dict()), headers)
