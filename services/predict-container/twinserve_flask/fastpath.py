"""A WSGI layer that sends ``POST /predict`` (and ``POST /v2/...infer``) straight to the core and
everything else to Flask.

Why: Flask's routing, request and response objects cost several times what the core takes for
one row (figures in docs/measurements.md), and on the hot route Flask adds nothing the core does
not already do (content type, size limit, validation, error rendering), so this layer skips it;
the answers are byte-identical (tested). The Open Inference Protocol's POSTs take the same way
(the core routes ``/v2``). Every other route, and every error Flask itself raises, still goes
through the Flask app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import IO, Any

from twinserve.errors import PayloadTooLarge
from twinserve.responses import JSON_CONTENT_TYPE, Reply, error_reply
from twinserve.routes import PREDICT, V2_PREFIX
from twinserve.service import Service

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_V2_SLASH = V2_PREFIX + "/"
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class PredictFastPath:
    def __init__(self, flask_app: WSGIApp, service: Service) -> None:
        self.flask_app = flask_app
        self.service = service
        self.body_limit = service.predictor.spec.max_body_bytes

    def _read_body(self, environ: dict[str, Any], path: str) -> bytes | Reply:
        length = environ.get("CONTENT_LENGTH")
        stream: IO[bytes] = environ["wsgi.input"]
        if not length:
            # Chunked (or no) body: read one byte past the limit so the core can answer 413.
            return stream.read(self.body_limit + 1) if environ.get("wsgi.input_terminated") else b""
        size = int(length)
        if size > self.body_limit:
            return error_reply(PayloadTooLarge(f"body is {size} bytes; the limit is {self.body_limit}"), path)
        return stream.read(size)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or (path != PREDICT.path and not path.startswith(_V2_SLASH)):
            return self.flask_app(environ, start_response)
        try:
            body = self._read_body(environ, path)
        except ValueError:  # a Content-Length that is not a number: let werkzeug answer it
            return self.flask_app(environ, start_response)
        if isinstance(body, Reply):
            reply = body
        elif path == PREDICT.path:
            reply = self.service.predict(environ.get("CONTENT_TYPE"), body)
        else:
            reply = self.service.v2_dispatch("POST", path, environ.get("CONTENT_TYPE"), body)
        headers = [("Content-Type", JSON_CONTENT_TYPE), ("Content-Length", str(len(reply.body)))]
        headers.extend(reply.headers.items())
        start_response(_STATUS_LINES[reply.status], headers)
        return [reply.body]


def create_wsgi_app(service: Service | None = None) -> PredictFastPath:
    """The WSGI entry both gunicorn and serverless-wsgi serve: the Flask app behind the fast path."""
    from twinserve.settings import Settings

    from twinserve_flask.factory import create_app

    service = service or Service.start(Settings.from_env())
    return PredictFastPath(create_app(service), service)
