"""Lingering close: a client that writes its whole over-limit body before it reads (Python's
urllib does) still reads the JSON 413, because the buffered worker drains the connection after
the answer instead of closing under the client's feet. Real gunicorn, shipped gunicorn.conf.py."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from twinbench.targets.container_local import LocalContainer

pytestmark = pytest.mark.slow

LIMIT = 65_536


@pytest.fixture(scope="module")
def server(rf_dir: Path) -> Iterator[LocalContainer]:
    env = {"WEB_CONCURRENCY": "1", "GUNICORN_ACCESS_LOG": "", "MAX_BODY_BYTES": str(LIMIT)}
    with LocalContainer(model_path=rf_dir, env=env) as container:
        yield container


@pytest.mark.parametrize("size", [LIMIT + 1, 4 * 1024 * 1024, 24 * 1024 * 1024])
@pytest.mark.parametrize("path", ["/predict", "/v2/models/any/infer"])
def test_urllib_reads_its_413(server, size, path):
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=b"x" * size,
                                     headers={"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=20)
    assert caught.value.code == 413
    document = json.loads(caught.value.read())
    assert "limit" in json.dumps(document)


def test_chunked_body_over_the_limit_reads_its_413(server):
    chunk = b"y" * 65_536
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(64):  # 4 MiB, far past the limit, all written before reading
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
        answer = b""
        while part := sock.recv(65_536):
            answer += part
    assert answer.startswith(b"HTTP/1.1 413")


def test_the_worker_serves_others_while_a_refused_client_is_drained(server, rf_metadata):
    """The drain does not hold the only worker: a client that keeps sending slowly after its 413
    is drained in the background while other requests are answered."""
    good = json.dumps({"features": rf_metadata["example_row"]}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
        slow.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (LIMIT * 4) + b"z" * 1000)
        started = time.monotonic()
        statuses = []
        for _ in range(5):
            request = urllib.request.Request(f"http://127.0.0.1:{server.port}/predict", data=good,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                statuses.append(response.status)
            slow.sendall(b"z" * 1000)
        assert statuses == [200] * 5 and time.monotonic() - started < 2.0
        assert slow.recv(65_536).startswith(b"HTTP/1.1 413")
