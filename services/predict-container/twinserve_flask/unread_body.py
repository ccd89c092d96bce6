"""A WSGI layer that reads what the app left of a request body before the answer goes out.

Why: gunicorn's sync workers close the connection after each answer, and the kernel resets a
connection closed with request bytes still unread. nginx, still sending a body the app refused
without reading it (a 413 for a body over the limit), may then see the reset and answer 502
instead of the app's answer (seen in the fuzz tests, chunked or not). Reading the rest, up to a
bound, lets the app's answer through; nginx never passes more than twice the body limit, so the
bound only matters without nginx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import IO, Any

from twinserve_flask.fastpath import WSGIApp

_CHUNK = 65536


class ReadUnreadBody:
    def __init__(self, app: WSGIApp, bound_bytes: int) -> None:
        self.app = app
        self.bound_bytes = bound_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        result = self.app(environ, start_response)
        stream: IO[bytes] | None = environ.get("wsgi.input")
        if stream is not None:
            left = self.bound_bytes
            while left > 0:
                chunk = stream.read(min(_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
        return result


def read_unread_body(app: WSGIApp, body_limit: int) -> ReadUnreadBody:
    """``app`` behind the layer, reading at most what nginx lets through (twice ``body_limit``)."""
    return ReadUnreadBody(app, 2 * body_limit + _CHUNK)
