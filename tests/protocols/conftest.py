"""The Lambda handlers behind a loopback HTTP front, so an HTTP client library we did not write
can call them: each HTTP request becomes a committed, real-shaped event (``event_for``), the
handler answers it as Lambda would, and the proxy response goes back on the wire."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from twinserve_support.sample_events import event_for

WSGI_PREFIX = "wsgi"  # as tests/conftest.py: serverless.yml serves the WSGI function under /wsgi


def _front(invoke: Callable[[dict[str, Any]], dict[str, Any]], template: str, prefix: str) -> ThreadingHTTPServer:
    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:  # API Gateway base64-encodes a body that is not text
                body.decode("utf-8")
                binary = False
            except UnicodeDecodeError:
                binary = True
            event = event_for(template, self.command, prefix + self.path.split("?", 1)[0], body,
                              self.headers.get("Content-Type"), base64_body=binary)
            result = invoke(event)
            raw = result.get("body") or ""
            payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
            self.send_response(result["statusCode"])
            for key, value in (result.get("headers") or {}).items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Front)


@pytest.fixture(scope="session")
def lambda_fronts(lambda_modules) -> Iterator[dict[str, str]]:
    """``{"native-lambda": url, "wsgi-lambda": url}``: HTTP API (payload 2.0) events to each handler."""
    native, wsgi = lambda_modules
    servers = {
        "native-lambda": _front(lambda event: native.handler(event, None), "http_api_v2.json", ""),
        "wsgi-lambda": _front(lambda event: wsgi.handler(event, None), "http_api_v2.json", f"/{WSGI_PREFIX}"),
    }
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
               for s in servers.values()]
    for thread in threads:
        thread.start()
    try:
        yield {name: f"127.0.0.1:{s.server_address[1]}" for name, s in servers.items()}
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()
