"""The buffered sync worker under real gunicorn (the shipped gunicorn.conf.py), one worker so that
a held worker would show: slow requests are read without holding it, stalled ones get a 408 JSON
error, Expect: 100-continue and chunked bodies work, a flood of idle connections sheds the oldest.
Every socket is closed at the end; each check is bounded by a few seconds."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from twinbench.targets.container_local import LocalContainer

pytestmark = pytest.mark.slow

READ_TIMEOUT_S = 1.5


@pytest.fixture(scope="module")
def server(rf_dir: Path) -> Iterator[LocalContainer]:
    env = {"WEB_CONCURRENCY": "1", "GUNICORN_ACCESS_LOG": "", "REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S)}
    with LocalContainer(model_path=rf_dir, env=env) as container:
        yield container


@pytest.fixture(scope="module")
def body(rf_metadata: dict) -> bytes:
    return json.dumps({"features": rf_metadata["example_row"]}).encode()


def _connect(server: LocalContainer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _split(answer: bytes) -> tuple[int, dict]:
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(payload)


def _request(body: bytes, extra: str = "") -> bytes:
    return (f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def _predict(server: LocalContainer, body: bytes) -> tuple[int, dict]:
    with _connect(server) as sock:
        sock.sendall(_request(body))
        return _split(_read_all(sock))


def test_a_request_sent_in_slow_pieces_does_not_hold_the_only_worker(server, body):
    whole = _request(body)
    with _connect(server) as slow:
        served_meanwhile = []
        for start in range(0, len(whole), len(whole) // 4 + 1):
            slow.sendall(whole[start:start + len(whole) // 4 + 1])
            status, answer = _predict(server, body)  # the one worker is free for others
            served_meanwhile.append(status)
            time.sleep(0.1)
        status, answer = _split(_read_all(slow))
    assert served_meanwhile == [200] * len(served_meanwhile)
    assert status == 200 and "predictions" in answer


def test_a_stalled_request_gets_a_json_408_after_the_read_timeout(server, body):
    with _connect(server) as stalled:
        stalled.sendall(_request(body)[:-5])
        started = time.monotonic()
        assert _predict(server, body)[0] == 200
        status, answer = _split(_read_all(stalled))
        waited = time.monotonic() - started
    assert status == 408
    assert answer["error"]["code"] == "request_timeout" and "not complete" in answer["error"]["message"]
    assert READ_TIMEOUT_S - 0.5 < waited < READ_TIMEOUT_S + 3


def test_expect_continue_gets_one_100_then_the_answer(server, body):
    with _connect(server) as sock:
        sock.sendall(_request(b"", "Expect: 100-continue\r\n").replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode()))
        interim = sock.recv(100)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = _read_all(sock)
    assert b"100 Continue" not in answer  # gunicorn's own 100 is not sent a second time
    assert _split(answer)[0] == 200


def test_a_chunked_body_in_pieces_is_answered(server, body):
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    half = len(body) // 2
    with _connect(server) as sock:
        for piece in (head, b"%x\r\n%s\r\n" % (half, body[:half]), b"%x\r\n%s\r\n" % (len(body) - half, body[half:]), b"0\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.05)
        status, answer = _split(_read_all(sock))
    assert status == 200 and "predictions" in answer


def test_a_client_that_leaves_mid_request_costs_nothing(server, body):
    for _ in range(20):
        with _connect(server) as sock:
            sock.sendall(_request(body)[:30])
    assert _predict(server, body)[0] == 200


def test_a_flood_of_idle_connections_sheds_the_oldest_and_keeps_serving(server, body):
    from twinserve_flask.buffered_worker import MAX_PENDING

    sockets = []
    try:
        for _ in range(MAX_PENDING + 5):
            sock = _connect(server)
            sock.sendall(b"POST /predict HTTP/1.1\r\n")
            sockets.append(sock)
        time.sleep(0.3)
        sockets[0].settimeout(2)
        status, answer = _split(_read_all(sockets[0]))  # the oldest was dropped with a 408 at once
        assert status == 408 and answer["error"]["code"] == "request_timeout"
        assert _predict(server, body)[0] == 200
    finally:
        for sock in sockets:
            sock.close()


def _read_answer(sock: socket.socket) -> bytes:
    """Read one answer by its Content-Length, leaving the connection as the server left it."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, payload = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(payload) < length:
        payload += sock.recv(65536)
    return head + b"\r\n\r\n" + payload


def test_a_client_that_keeps_its_connection_open_does_not_hold_the_worker(server, body):
    """gunicorn's own close waits for the client's FIN (up to 2 s) with the worker held; here the
    worker closes at once, and the client still reads an orderly end of stream."""
    with _connect(server) as lingering:
        lingering.sendall(_request(body))
        assert _split(_read_answer(lingering))[0] == 200
        started = time.monotonic()
        statuses = [_predict(server, body)[0] for _ in range(3)]  # the only worker, while the first stays open
        waited = time.monotonic() - started
        lingering.settimeout(5)
        assert lingering.recv(100) == b""  # FIN, not a reset
    assert statuses == [200] * 3 and waited < 1.5  # gunicorn's own close would hold the worker 2 s


def test_bytes_sent_after_a_request_are_drained_so_the_answer_arrives_whole(server, body):
    """Unread bytes at close make the kernel reset the connection: a client still writing gets a
    broken pipe and never reads its answer. A client with bytes still queued is drained instead."""
    with _connect(server) as sock:
        sock.sendall(_request(body) + b"x" * (4 * 1024 * 1024))  # more than the socket buffers hold
        status, answer = _split(_read_all_or_raise(sock))
    assert status == 200 and "predictions" in answer


def _read_all_or_raise(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):  # a reset raises here: the test must see it
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_bad_yield_setting_stops_the_server_with_one_line(rf_dir: Path):
    import subprocess
    import sys

    from twinbench.project.paths import CONTAINER_SERVICE

    env = {**os.environ, "MODEL_PATH": str(rf_dir), "PORT": "0", "YIELD_BETWEEN_REQUESTS": "sometimes"}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
                          cwd=CONTAINER_SERVICE, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "YIELD_BETWEEN_REQUESTS must be 0 or 1, not 'sometimes'" in done.stderr
    assert "Traceback" not in done.stderr
