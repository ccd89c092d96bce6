"""The Lambda Runtime API (version 2018-06-01) that ``awslambdaric`` talks to.

One aiohttp application; each execution environment gets its own listening socket, and a
request is routed to its environment by the local port it arrived on. Endpoints implemented:
``GET /runtime/invocation/next``, ``POST /runtime/invocation/{id}/response``,
``POST /runtime/invocation/{id}/error`` and ``POST /runtime/init/error`` (SnapStart's
restore endpoints are not needed: environments are never snapshotted).

Nagle is off on every socket: ``awslambdaric``'s libcurl sets ``TCP_NODELAY`` on its side, and the
server must too, or a response written in two segments waits for the client's delayed ACK
(tens of ms per warm call; docs/measurements.md). aiohttp sets it on each accepted connection; the listener gets it
as well, and the first connection's value is recorded in :attr:`RuntimeApiServer.tcp_nodelay`.
"""

from __future__ import annotations

import socket
from typing import Protocol

from aiohttp import web

API = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response payload limit


def trace_header(request_id: str) -> str:
    """The X-Ray header Lambda sends with every invocation, traced or not (``Sampled=0``).

    awslambdaric copies it into ``_X_AMZN_TRACE_ID`` on each invocation, and glibc keeps every
    value ever passed to ``setenv``: the environment's RSS grows by about a hundred bytes per
    invocation (``make soak`` measures and reports it).
    """
    return f"Root=1-{request_id[:8]}-{request_id.replace('-', '')[8:32]};Sampled=0"


class RuntimeEndpoint(Protocol):
    """What the Runtime API needs from an execution environment."""

    env_id: str
    settings: object

    async def on_next(self): ...
    def on_response(self, request_id: str, body: bytes) -> bool: ...
    def on_error(self, request_id: str, error_type: str, body: bytes) -> bool: ...
    def on_init_error(self, error_type: str, body: bytes) -> None: ...


class RuntimeApiServer:
    """Serves the Runtime API on one port per environment, all on ``host``."""

    def __init__(self, host: str = "127.0.0.1", function_arn: str = "") -> None:
        self.host = host
        self.function_arn = function_arn
        self.tcp_nodelay: bool | None = None
        self._by_port: dict[int, RuntimeEndpoint] = {}
        self._sites: dict[str, tuple[int, web.SockSite]] = {}
        app = web.Application(client_max_size=MAX_RESPONSE_BYTES + 1024)
        app.router.add_get(f"{API}/invocation/next", self._next)
        app.router.add_post(f"{API}/invocation/{{request_id}}/response", self._response)
        app.router.add_post(f"{API}/invocation/{{request_id}}/error", self._error)
        app.router.add_post(f"{API}/init/error", self._init_error)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)

    async def start(self) -> None:
        await self._runner.setup()

    async def stop(self) -> None:
        await self._runner.cleanup()
        self._by_port.clear()
        self._sites.clear()

    async def open(self, env: RuntimeEndpoint) -> str:
        """Open ``env``'s endpoint; returns its ``AWS_LAMBDA_RUNTIME_API`` value (``host:port``)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._by_port[port] = env
        self._sites[env.env_id] = (port, site)
        return f"{self.host}:{port}"

    async def close(self, env: RuntimeEndpoint) -> None:
        entry = self._sites.pop(env.env_id, None)
        if entry is not None:
            port, site = entry
            self._by_port.pop(port, None)
            await site.stop()

    def _env(self, request: web.Request) -> RuntimeEndpoint:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        env = self._by_port.get(sockname[1]) if sockname else None
        if env is None:
            raise web.HTTPGone(text='{"errorMessage":"environment is gone","errorType":"EnvironmentGone"}',
                               content_type="application/json")
        if self.tcp_nodelay is None and request.transport is not None:
            sock = request.transport.get_extra_info("socket")
            if sock is not None:
                self.tcp_nodelay = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return env

    async def _next(self, request: web.Request) -> web.Response:
        env = self._env(request)
        inv = await env.on_next()
        if inv is None:
            raise web.HTTPGone(text='{"errorMessage":"shutting down","errorType":"EnvironmentGone"}',
                               content_type="application/json")
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_epoch_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": trace_header(inv.request_id),
        }
        return web.Response(body=inv.payload, headers=headers, content_type="application/json")

    async def _response(self, request: web.Request) -> web.Response:
        env = self._env(request)
        body = await request.read()
        if not env.on_response(request.match_info["request_id"], body):
            return _invalid_request_id()
        return web.json_response({"status": "OK"}, status=202)

    async def _error(self, request: web.Request) -> web.Response:
        env = self._env(request)
        body = await request.read()
        error_type = request.headers.get(ERROR_TYPE_HEADER, "Unhandled")
        if not env.on_error(request.match_info["request_id"], error_type, body):
            return _invalid_request_id()
        return web.json_response({"status": "OK"}, status=202)

    async def _init_error(self, request: web.Request) -> web.Response:
        env = self._env(request)
        env.on_init_error(request.headers.get(ERROR_TYPE_HEADER, "Runtime.Unknown"), await request.read())
        return web.json_response({"status": "OK"}, status=202)


def _invalid_request_id() -> web.Response:
    return web.json_response({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}, status=400)
