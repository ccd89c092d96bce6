"""Loopback helpers every local runtime needs: a free port, and one probe request."""

from __future__ import annotations

import http.client
import socket


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(port: int, path: str, method: str = "GET", body: bytes | None = None, timeout_s: float = 1.0) -> int | None:
    """Status of one request to 127.0.0.1:``port``, or None when nothing answered (yet)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()
