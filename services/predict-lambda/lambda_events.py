"""Lambda event shapes -> one plain request, and a Reply -> the proxy response dict.

Supports API Gateway REST (payload 1.0), HTTP API (payload 2.0) and Function URL events
(which use the 2.0 shape), base64 bodies included, plus direct invocation with a bare
``{"features": ...}`` / ``{"instances": ...}`` document (``aws lambda invoke``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from twinserve.errors import MalformedBody


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    content_type: str | None
    body: bytes


class UnsupportedEvent(MalformedBody):
    code = "unsupported_event"


def _header(headers: dict[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _body(event: dict[str, Any]) -> bytes:
    raw = event.get("body")
    if raw is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedBody("body is marked isBase64Encoded but is not valid base64") from None
    if not isinstance(raw, str):
        raise UnsupportedEvent(f"event body must be a string, not {type(raw).__name__}")
    return raw.encode("utf-8", "surrogatepass")


def _strip_stage(path: str, context: dict[str, Any]) -> str:
    stage = context.get("stage")
    if stage and stage != "$default" and path.startswith(f"/{stage}/"):
        return path[len(stage) + 1 :]
    return path


def parse_event(event: Any) -> HttpRequest:
    """Raises UnsupportedEvent / MalformedBody (400) for events we cannot read."""
    try:
        return _parse(event)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # API Gateway never sends these; a hand-made event might. Say what broke, not a 502.
        raise UnsupportedEvent(f"event does not have the shape of its declared kind: {type(exc).__name__}: {exc}") from None


def _checked(request: HttpRequest) -> HttpRequest:
    if not isinstance(request.method, str) or not isinstance(request.path, str):
        raise UnsupportedEvent("event method and path must be strings")
    if request.content_type is not None and not isinstance(request.content_type, str):
        raise UnsupportedEvent("event content-type header must be a string")
    return request


def _parse(event: Any) -> HttpRequest:
    return _checked(_parse_shape(event))


def _parse_shape(event: Any) -> HttpRequest:
    if not isinstance(event, dict):
        raise UnsupportedEvent("event must be a JSON object")
    if event.get("version") == "2.0" and "requestContext" in event:
        context = event["requestContext"]
        http = context.get("http") or {}
        path = _strip_stage(event.get("rawPath") or http.get("path") or "/", context)
        return HttpRequest(http.get("method", "GET").upper(), path, _header(event.get("headers"), "content-type"), _body(event))
    if "httpMethod" in event:
        return HttpRequest(
            event["httpMethod"].upper(),
            event.get("path") or "/",
            _header(event.get("headers"), "content-type"),
            _body(event),
        )
    if "features" in event or "instances" in event:
        return HttpRequest("POST", "/predict", "application/json", json.dumps(event).encode())
    raise UnsupportedEvent(
        "unsupported event: expected API Gateway REST (1.0), HTTP API (2.0), Function URL, "
        'or a direct {"features": ...} / {"instances": ...} invocation'
    )
