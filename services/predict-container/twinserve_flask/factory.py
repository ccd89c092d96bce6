"""Application factory: routes map straight onto the core's Service; errors render in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, request
from twinserve.errors import (
    ClientError,
    InternalError,
    MalformedBody,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    TwinserveError,
)
from twinserve.responses import JSON_CONTENT_TYPE, Reply, error_reply
from twinserve.routes import PREDICT, ROUTES, V2_PREFIX, allowed_methods
from twinserve.service import Service
from twinserve.settings import Settings
from werkzeug.exceptions import HTTPException

log = logging.getLogger("twinserve")
_V2_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _to_response(reply: Reply) -> Response:
    return Response(reply.body, status=reply.status, headers=reply.headers, content_type=JSON_CONTENT_TYPE)


def _http_error(exc: HTTPException) -> TwinserveError:
    """Werkzeug's own refusals, as the core's error types (same codes and messages as Lambda)."""
    code = exc.code or 500
    if code == 404:
        return RouteNotFound(request.method, request.path)
    if code == 405:
        return MethodNotAllowed(request.method, request.path, allowed_methods(request.path))
    if code == 413:
        size = request.content_length
        limit = request.max_content_length
        return PayloadTooLarge(f"body is {size} bytes; the limit is {limit}" if size else f"body exceeds the limit of {limit} bytes")
    if code == 400:
        return MalformedBody(exc.description or "bad request")
    if 400 < code < 500:
        error = ClientError(exc.description or "request refused")
        error.status = code  # keep werkzeug's status (e.g. 431) with our body shape
        return error
    return InternalError("request failed; see the service log")


def create_app(service: Service | None = None, settings: Settings | None = None) -> Flask:
    """Build the app. Loads and self-tests the model unless a started ``service`` is given;
    raises ModelError (the process must not start) when the model cannot be served."""
    service = service or Service.start(settings or Settings.from_env())
    app = Flask("twinserve")
    app.config["MAX_CONTENT_LENGTH"] = service.predictor.spec.max_body_bytes
    app.extensions["twinserve"] = service

    body_limit = service.predictor.spec.max_body_bytes

    def predict() -> Response:
        if request.content_length is None:
            # Chunked upload: werkzeug would silently cut it at the limit (a confusing 400). Read one
            # byte past the limit instead, so the core answers 413 with the real reason.
            # The server's own stream (it de-chunks and terminates it), not werkzeug's capped wrapper.
            environ = request.environ
            body = environ["wsgi.input"].read(body_limit + 1) if environ.get("wsgi.input_terminated") else b""
        else:
            body = request.get_data(cache=False)
        return _to_response(service.predict(request.content_type, body))

    # The Open Inference Protocol V2 routes: the core routes them and answers its own 404/405.
    def v2(_rest: str = "") -> Response:
        body = request.get_data(cache=False) if request.method in ("POST", "PUT", "PATCH") else b""
        return _to_response(service.v2_dispatch(request.method, request.path, request.content_type, body))

    app.add_url_rule(V2_PREFIX, "v2", v2, methods=_V2_METHODS)
    app.add_url_rule(V2_PREFIX + "/<path:_rest>", "v2", v2, methods=_V2_METHODS)

    # twinserve's own routes, from the one table the core dispatches by.
    def answer(operation: str) -> Callable[[], Response]:
        def view() -> Response:
            return _to_response(getattr(service, operation)())

        return view

    for route in ROUTES.values():
        view = predict if route is PREDICT else answer(route.operation)
        app.add_url_rule(route.path, route.operation, view, methods=list(route.methods))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _to_response(error_reply(_http_error(exc), request.path))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _to_response(error_reply(InternalError("request failed; see the service log"), request.path))

    return app
