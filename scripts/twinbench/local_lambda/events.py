"""HTTP request -> API Gateway HTTP API (payload format 2.0) event, and function result -> HTTP response.

Pure functions (no aiohttp): the front parses its request into :class:`FrontRequest`, calls
:func:`build_event`, and renders the :class:`HttpResponse` from :func:`parse_result`.
Shapes follow AWS's "Working with AWS Lambda proxy integrations for HTTP APIs" (format 2.0):
duplicate headers and query parameters joined with commas, ``Cookie`` moved into ``cookies``,
a binary body base64-encoded with ``isBase64Encoded: true``.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from .errors import BadFunctionResponse

# Not sent by API Gateway: the local front's answer carries the invocation's request id, so a
# benchmark can join a response to its REPORT record and to its environment's busy time.
LOCAL_REQUEST_ID_HEADER = "x-local-lambda-request-id"
ACCOUNT_ID = "123456789012"
API_ID = "local"
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "+json", "+xml")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


@dataclass(frozen=True, slots=True)
class FrontRequest:
    method: str
    path: str
    raw_query_string: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    server_port: int | None = None
    scheme: str = "http"


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def new_apigw_request_id() -> str:
    """An id shaped like API Gateway's (16 characters of base64, e.g. ``JJbxmiQ9IAMEJEA=``)."""
    return base64.b64encode(os.urandom(11)).decode("ascii")


def _is_text(content_type: str) -> bool:
    content_type = content_type.lower()
    return any(marker in content_type for marker in _TEXT_TYPES)


HOP_BY_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}
)


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def build_event(request: FrontRequest, *, request_id: str | None = None, now_s: float | None = None) -> dict:
    """The HTTP API payload 2.0 event for ``request`` (route ``$default``, stage ``$default``)."""
    now_s = time.time() if now_s is None else now_s
    # Hop-by-hop headers end at API Gateway (RFC 9110 §7.6.1): the function gets the whole body.
    headers = _joined((k.lower(), v) for k, v in request.headers if k.lower() not in HOP_BY_HOP_HEADERS)
    if request.body:
        headers["content-length"] = str(len(request.body))
    # What API Gateway adds in front of the function.
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now_s):08x}-{uuid.uuid4().hex[:24]}")
    headers["x-forwarded-for"] = (f"{headers['x-forwarded-for']}, {request.source_ip}"
                                  if "x-forwarded-for" in headers else request.source_ip)
    headers.setdefault("x-forwarded-proto", request.scheme)
    if request.server_port is not None:
        headers.setdefault("x-forwarded-port", str(request.server_port))
    cookies = [c.strip() for c in headers.pop("cookie", "").replace(",", ";").split(";") if c.strip()]
    host = headers.get("host", "localhost")
    domain = host.split(":", 1)[0]
    event: dict = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.raw_query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if request.raw_query_string:
        event["queryStringParameters"] = _joined(parse_qsl(request.raw_query_string, keep_blank_values=True))
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id or new_apigw_request_id(),
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_s)),
        "timeEpoch": int(now_s * 1000),
    }
    if request.body:
        if _is_text(headers.get("content-type", "")):
            try:
                event["body"] = request.body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                pass
        if "body" not in event:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def parse_result(payload: bytes) -> HttpResponse:
    """Map the function's JSON result to HTTP the way HTTP API (format 2.0) does.

    A dict with ``statusCode`` is a full response (``headers``, ``cookies``, ``body``,
    ``isBase64Encoded``); any other valid JSON is the body of a 200 ``application/json`` answer.
    Raises :class:`BadFunctionResponse` when the payload is not JSON or the fields are malformed.
    """
    try:
        result = json.loads(payload) if payload else None
    except ValueError as exc:
        raise BadFunctionResponse(f"function result is not JSON: {exc}") from exc
    if not (isinstance(result, dict) and "statusCode" in result):
        return HttpResponse(200, [("content-type", "application/json")], payload)
    try:
        status = int(result["statusCode"])
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()
                   if str(k).lower() not in _HOP_BY_HOP]
        headers += [("set-cookie", str(c)) for c in (result.get("cookies") or [])]
        body = result.get("body")
        if body is None:
            raw = b""
        elif result.get("isBase64Encoded"):
            raw = base64.b64decode(body)
        else:
            raw = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
    except (TypeError, ValueError, AttributeError) as exc:
        raise BadFunctionResponse(f"malformed function response: {exc}") from exc
    if not 100 <= status <= 599:
        raise BadFunctionResponse(f"statusCode {status} out of range")
    if raw and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))
    return HttpResponse(status, headers, raw)
