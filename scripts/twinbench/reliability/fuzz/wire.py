"""HTTP on the wire, standard library only: exact bytes sent, no client-side "fixing" of bodies.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int  # 0 = no HTTP answer
    content_type: str | None
    body: bytes
    error: str | None = None


def split_url(base_url: str) -> tuple[str, int, str]:
    """``http://host:port/prefix`` -> (host, port, "/prefix" or "")."""
    rest = base_url.split("://", 1)[1]
    hostport, _, prefix = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80), ("/" + prefix).rstrip("/") if prefix else ""


def http_request(base_url: str, method: str, path: str, body: bytes | None = None,
                 content_type: str | None = "application/json", timeout_s: float = 30.0,
                 chunked: bool = False) -> Answer:
    """One request on a fresh connection, exact bytes on the wire; ``status=0`` + ``error`` when no answer.

    A server may answer (413) and close before the whole body is sent, as gunicorn does for a too
    large Content-Length: the send error is ignored and the answer read anyway, as curl does.
    """
    host, port, prefix = split_url(base_url)
    head = [f"{method} {prefix}{path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    if content_type:
        head.append(f"Content-Type: {content_type}")
    data = body or b""
    if chunked:
        head.append("Transfer-Encoding: chunked")
        data = b"".join(f"{len(data[i:i + 65536]):x}\r\n".encode() + data[i:i + 65536] + b"\r\n"
                        for i in range(0, len(data), 65536)) + b"0\r\n\r\n"
    elif body is not None:
        head.append(f"Content-Length: {len(body)}")
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        return Answer(0, None, b"", f"{type(exc).__name__}: {exc}")
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return Answer(response.status, response.getheader("content-type"), response.read())
    except (OSError, http.client.HTTPException) as exc:
        return Answer(0, None, b"", f"{type(exc).__name__}: {exc}")
    finally:
        sock.close()
