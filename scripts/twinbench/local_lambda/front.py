"""The HTTP front: what API Gateway (HTTP API, payload 2.0) does in front of the local Lambda.

Any method on any path becomes a 2.0 event, one synchronous invocation, and the function's
result becomes the HTTP response, unless the route's throttling bucket is empty (429, never
invoked). Errors are rendered in one place, :func:`error_response`.
A few admin routes under ``/_local_lambda/`` let a benchmark running the emulator in another
process read stats and REPORT records and force the next call cold.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from .errors import InvokeError
from .events import LOCAL_REQUEST_ID_HEADER, FrontRequest, build_event, new_apigw_request_id, parse_result
from .service import LambdaService

ADMIN = "/_local_lambda"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit
# Lambda's synchronous invocation payload limit: 6 MB for the whole event. API Gateway answers
# a larger one with 413 without running the function.
MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024


def error_response(exc: InvokeError, apigw_request_id: str) -> web.Response:
    headers = {**exc.headers(), "apigw-requestid": apigw_request_id}
    if exc.request_id is not None:  # a throttled invoke has an id too: its arrival is in the occupancy rows
        headers[LOCAL_REQUEST_ID_HEADER] = exc.request_id
    return web.Response(
        status=exc.status,
        body=json.dumps(exc.to_dict()).encode(),
        content_type="application/json",
        headers=headers,
    )


def create_front(service: LambdaService, on_reap: Callable[[], Awaitable[int]] | None = None) -> web.Application:
    """The aiohttp application of the front (the admin routes come before the catch-all)."""
    reap = on_reap or service.reap_all

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(service.stats())

    async def reports(_: web.Request) -> web.Response:
        return web.json_response([r.to_dict() for r in service.reports])

    async def occupancy(_: web.Request) -> web.Response:
        return web.json_response(service.occupancy)

    async def reap_all(_: web.Request) -> web.Response:
        return web.json_response({"reaped": await reap()})

    async def invoke(request: web.Request) -> web.Response:
        apigw_request_id = new_apigw_request_id()
        try:
            service.admit(f"{request.method} {request.path}")
        except InvokeError as exc:
            return error_response(exc, apigw_request_id)
        try:
            body = await request.read()
        except ConnectionResetError:  # the client left mid-body (a slow client giving up): no one to answer
            return web.Response(status=400, body=b'{"message":"Bad Request"}', content_type="application/json")
        peer = request.transport.get_extra_info("peername") if request.transport else None
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        http_request = FrontRequest(
            method=request.method,
            path=request.path,
            raw_query_string=request.query_string,
            headers=list(request.headers.items()),
            body=body,
            source_ip=peer[0] if peer else "127.0.0.1",
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
            server_port=sockname[1] if sockname else None,
        )
        event = build_event(http_request, request_id=apigw_request_id)
        payload = json.dumps(event).encode()
        if len(payload) > MAX_INVOKE_PAYLOAD_BYTES:
            return web.Response(status=413, body=b'{"message":"Request Entity Too Large"}', content_type="application/json",
                                headers={"apigw-requestid": apigw_request_id})
        try:
            result = await service.invoke(payload)
            http = parse_result(result.payload)
        except InvokeError as exc:
            return error_response(exc, apigw_request_id)
        response = web.Response(status=http.status, body=http.body)
        for key, value in http.headers:
            response.headers.add(key, value)
        response.headers["apigw-requestid"] = apigw_request_id
        response.headers[LOCAL_REQUEST_ID_HEADER] = result.request_id
        return response

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_get(f"{ADMIN}/stats", stats)
    app.router.add_get(f"{ADMIN}/reports", reports)
    app.router.add_get(f"{ADMIN}/occupancy", occupancy)
    app.router.add_post(f"{ADMIN}/reap", reap_all)
    # Every path goes to the function, control characters included: with ``.*`` a decoded newline
    # stopped the match, and aiohttp answered a plain-text 404 the function never saw.
    app.router.add_route("*", r"/{tail:[\s\S]*}", invoke)
    return app
