"""Real-shaped Lambda events (REST v1, HTTP API v2, Function URL) with the request swapped in.

The committed events in ``events/`` were captured from API Gateway and a Function URL; every
test, the fuzzer and the package smoke test build their events from them through
:func:`event_for`, so a change in how an event is shaped is made once.
"""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from pathlib import Path

EVENTS_DIR = Path(__file__).with_name("events")
EVENT_FILES = ("apigw_rest_v1.json", "http_api_v2.json", "function_url.json")


@cache
def _template(name: str) -> str:
    return (EVENTS_DIR / name).read_text(encoding="utf-8")


def load_template(name: str) -> dict:
    """A fresh copy of the committed event ``name`` (a file name in ``events/``)."""
    return json.loads(_template(name))


def event_for(template: dict | str, method: str = "POST", path: str = "/predict", body: bytes | None = b"",
              content_type: str | None = "application/json", base64_body: bool = False) -> dict:
    """``template`` (an event or a file name in ``events/``) with method, path, body and content type swapped.

    ``body=None`` drops the body as API Gateway does for a request without one; ``b""`` keeps an
    empty body. ``content_type=None`` sends no Content-Type header. Content-Length follows the body.
    """
    event = load_template(template) if isinstance(template, str) else copy.deepcopy(template)
    v2 = event.get("version") == "2.0"
    headers = {k: v for k, v in event.get("headers", {}).items() if k.lower() not in ("content-type", "content-length")}
    if content_type is not None:
        headers["content-type" if v2 else "Content-Type"] = content_type
    if body:
        headers["content-length" if v2 else "Content-Length"] = str(len(body))
    event["headers"] = headers
    event.pop("multiValueHeaders", None)
    if v2:
        event["rawPath"] = path
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["path"] = path
        if event.get("routeKey", "$default") != "$default":
            event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    else:
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["path"] = event["resource"] = path
    if body is None:
        event.pop("body", None)
        event["isBase64Encoded"] = False
    elif base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = (body.decode("utf-8", "surrogateescape") if body else None), False
    return event
