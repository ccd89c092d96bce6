"""The container's edge against hostile and odd clients, on gunicorn exactly as the image runs it
(the shipped gunicorn.conf.py, the pod's worker count and CPU limit, loopback).

Each attack is held for HOLD_S while a normal client sends one prediction at a time on a new
connection: every answer must be a 200 within NORMAL_BOUND_S. An attacker whose connection the
server closes connects again at once, so the attack lasts the whole hold. The worst latency of each
attack is printed (``-s``) and recorded as a test property. Framing that two parsers could read
differently is refused, and nothing after it is answered (no smuggling); pipelined requests are all
answered; a kept-alive connection carries 100 requests. Every socket has a timeout and every wait
is on a condition with a deadline: the normal client starts once every attacker has sent its first
bytes on an open connection.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests
from twinserve_support.local_container import LocalContainer
from twinserve_support.process.net import free_port
from twinserve_support.process.wait import poll_until, wait_until

pytestmark = pytest.mark.slow

HOLD_S = 15.0
NORMAL_BOUND_S = 0.5
NORMAL_PAUSE_S = 0.05
BODY_LIMIT = 1_048_576  # the service's default MAX_BODY_BYTES
SOCKET_TIMEOUT_S = 5.0
TAKE_HOLD_S = 5.0  # every attacker has connected and sent its first bytes within this


@dataclass
class Edge:
    container: LocalContainer
    metrics_port: int

    @property
    def port(self) -> int:
        return self.container.port


@pytest.fixture(scope="module")
def edge(rf_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    metrics_port = free_port()
    log = tmp_path_factory.mktemp("edge") / "gunicorn.log"
    # The access log off only to keep the log file small under floods; the metrics stay on.
    env = {"METRICS_PORT": str(metrics_port), "GUNICORN_ACCESS_LOG": ""}
    with LocalContainer(model_path=rf_dir, env=env, log_path=log) as container:
        yield Edge(container, metrics_port)


# ------------------------------------------------------------------------------ clients


@dataclass
class NormalClient:
    """One prediction at a time, each on a new connection, until stopped; keeps every latency."""

    port: int
    body: bytes
    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=SOCKET_TIMEOUT_S)
            try:
                conn.request("POST", "/predict", body=self.body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    self.failures.append(f"status {response.status}")
            except OSError as exc:
                self.failures.append(repr(exc))
            finally:
                conn.close()
            self.latencies_s.append(time.perf_counter() - started)
            self.stop.wait(NORMAL_PAUSE_S)


def _connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(SOCKET_TIMEOUT_S)
    sock.connect(("127.0.0.1", port))
    return sock


def _wait_closed_or_stop(sock: socket.socket, stop: threading.Event, read: bool = True) -> None:
    """Hold the connection until the server closes it or the attack ends (reading what comes)."""
    sock.settimeout(0.2)
    while not stop.is_set():
        if not read:
            stop.wait(0.2)
            continue
        try:
            if not sock.recv(65536):
                return
        except TimeoutError:
            continue
        except OSError:
            return


# An attacker: (port, stop, held); it sets ``held`` once its first bytes are sent on an open connection.
Attack = Callable[[int, threading.Event, threading.Event], None]
# What an attacker does on one connection: (socket, stop, held).
Send = Callable[[socket.socket, threading.Event, threading.Event], None]


def _repeat(send: Send, read: bool = True) -> Attack:
    """An attacker that connects, does ``send``, holds the connection, and connects again when closed."""

    def attack(port: int, stop: threading.Event, held: threading.Event) -> None:
        while not stop.is_set():
            try:
                with _connect(port) as sock:
                    send(sock, stop, held)
                    _wait_closed_or_stop(sock, stop, read)
            except OSError:
                stop.wait(0.05)

    return attack


def _headers_then_silence(te_lines: str) -> Attack:
    head = f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{te_lines}\r\n".encode()

    def send(sock: socket.socket, stop: threading.Event, held: threading.Event) -> None:
        sock.sendall(head)
        held.set()

    return _repeat(send)


def _chunked_past_the_limit(sock: socket.socket, stop: threading.Event, held: threading.Event) -> None:
    """Chunks of one byte: the wire bytes pass the body limit long before the data does; then silence."""
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    held.set()
    chunk = b"1\r\na\r\n" * 8192
    sent = 0
    while sent <= BODY_LIMIT + len(chunk) and not stop.is_set():
        sock.sendall(chunk)
        sent += len(chunk)


def _huge_headers(sock: socket.socket, stop: threading.Event, held: threading.Event) -> None:
    """A 4,094-byte request line and ~410 kB of headers, without the blank line that ends them."""
    line = b"GET /" + b"a" * (4094 - len(b"GET / HTTP/1.1")) + b" HTTP/1.1\r\n"
    headers = b"".join(b"X-F%02d: " % i + b"v" * 8180 + b"\r\n" for i in range(49))
    # The line first: the server may refuse and close before the headers are all sent.
    sock.sendall(line)
    held.set()
    sock.sendall(b"Host: x\r\n" + headers)


def _slowloris(sock: socket.socket, stop: threading.Event, held: threading.Event) -> None:
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    held.set()
    while not stop.wait(1.0):
        sock.sendall(b"X")


def _slow_body(sock: socket.socket, stop: threading.Event, held: threading.Event) -> None:
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    held.set()
    while not stop.wait(1.0):
        sock.sendall(b" ")


def _never_reads(port: int, stop: threading.Event, held: threading.Event) -> None:
    """Asks for more than the socket buffers hold (pipelined answers, a small receive buffer) and never reads."""
    request = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
    while not stop.is_set():
        try:
            with _connect(port, rcvbuf=4096) as sock:
                sock.settimeout(0.5)
                with contextlib.suppress(TimeoutError):
                    sock.sendall(request)
                    held.set()
                    for _ in range(1999):
                        sock.sendall(request)
                _wait_closed_or_stop(sock, stop, read=False)
        except OSError:
            stop.wait(0.05)


ATTACKS: dict[str, tuple[Attack, int]] = {
    # name: (one attacker, how many at once)
    "te-gzip-chunked": (_headers_then_silence("Transfer-Encoding: gzip, chunked\r\n"), 8),
    "te-identity-chunked": (_headers_then_silence("Transfer-Encoding: identity, chunked\r\n"), 8),
    "te-twice": (_headers_then_silence("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 8),
    "chunked-past-limit": (_repeat(_chunked_past_the_limit), 4),
    "huge-headers": (_repeat(_huge_headers), 4),
    "slowloris": (_repeat(_slowloris), 64),
    "slow-body": (_repeat(_slow_body), 16),
    "never-reads": (_never_reads, 8),
}


def _take_hold(attackers: list[Callable[[threading.Event], None]]) -> None:
    """Start the attackers and return once each has sent its first bytes on an open connection;
    fails the test when some have not within TAKE_HOLD_S (the normal client would meet no attack)."""
    held = [threading.Event() for _ in attackers]
    for attacker, event in zip(attackers, held, strict=True):
        threading.Thread(target=attacker, args=(event,), daemon=True).start()
    deadline = time.monotonic() + TAKE_HOLD_S
    late = [event for event in held if not event.wait(max(0.0, deadline - time.monotonic()))]
    if late:
        pytest.fail(f"{len(late)} of {len(held)} attackers had not sent their first bytes within {TAKE_HOLD_S:g} s")


def _hold(edge: Edge, attackers: list[Callable[[threading.Event], None]], body: bytes,
          during: Callable[[], None] | None = None, hold_s: float = HOLD_S) -> NormalClient:
    """Run the attackers until they hold, then the normal client for ``hold_s`` (and ``during``
    meanwhile), then stop it; the caller stops the attackers."""
    normal = NormalClient(edge.port, body)
    _take_hold(attackers)
    client = threading.Thread(target=normal.run, daemon=True)
    client.start()
    try:
        if during is not None:
            during()
        normal.stop.wait(hold_s)
    finally:
        normal.stop.set()
        client.join(SOCKET_TIMEOUT_S + 1)
    return normal


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_leaves_normal_clients_answered(edge: Edge, good_body: bytes, name: str, record_property):
    attack, count = ATTACKS[name]
    stop = threading.Event()
    try:
        normal = _hold(edge, [functools.partial(attack, edge.port, stop) for _ in range(count)], good_body)
    finally:
        stop.set()
    worst = max(normal.latencies_s)
    record_property("worst_normal_latency_s", round(worst, 4))
    print(f"\n{name}: {len(normal.latencies_s)} normal requests, worst {worst * 1000:.0f} ms")
    assert not normal.failures, normal.failures[:5]
    assert len(normal.latencies_s) >= 10
    assert worst <= NORMAL_BOUND_S, f"{name}: worst {worst:.3f} s"


def test_a_large_upload_in_pieces_gets_through_idle_partial_connections(edge: Edge, good_body: bytes, record_property):
    """300 connections that sent part of a request and went quiet; meanwhile a 900 kB body arrives in
    64 KiB steps and is answered 200, and the normal client is served throughout."""
    partial = []
    for _ in range(300):
        sock = _connect(edge.port)
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        partial.append(sock)
    upload_status: list[int] = []
    padded = good_body[:-1] + b" " * (900_000 - len(good_body)) + good_body[-1:]

    def upload() -> None:
        with _connect(edge.port) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(padded))
            for start in range(0, len(padded), 65536):
                sock.sendall(padded[start:start + 65536])
                time.sleep(0.2)
            response = http.client.HTTPResponse(sock)
            response.begin()
            response.read()
            upload_status.append(response.status)

    try:
        normal = _hold(edge, [], good_body, during=upload, hold_s=2.0)
    finally:
        for sock in partial:
            sock.close()
    worst = max(normal.latencies_s)
    record_property("worst_normal_latency_s", round(worst, 4))
    print(f"\npartial-300 + upload: worst {worst * 1000:.0f} ms, upload {upload_status}")
    assert upload_status == [200]
    assert not normal.failures and worst <= NORMAL_BOUND_S


# ------------------------------------------------------------------------------ framing


def _exchange(port: int, raw: bytes, settle_s: float = 1.0) -> bytes:
    """Send ``raw`` and read until the server closes or stays quiet for ``settle_s``."""
    with _connect(port) as sock:
        sock.sendall(raw)
        sock.settimeout(settle_s)
        received = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    return received


def _statuses(received: bytes) -> list[int]:
    """Every status line's code (an answer's body ends without a line break, so search, not split)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", received)]


# Connection: close: the server closes after answering it, and after refusing what came before it
# anyway, so an exchange ends on the close rather than after a quiet period.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(("name", "raw"), [
    ("cl-and-te", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"0\r\n\r\n" + SMUGGLED),
    ("duplicate-cl", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\n"
                     b"hello" + SMUGGLED),
    ("cl-list", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 40\r\n\r\nhello" + SMUGGLED),
    ("te-not-chunked-last", b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
                            b"0\r\n\r\n" + SMUGGLED),
    ("obs-fold", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n" + SMUGGLED),
    ("space-before-colon", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello" + SMUGGLED),
])
def test_ambiguous_framing_is_refused_never_smuggled(edge: Edge, name: str, raw: bytes):
    received = _exchange(edge.port, raw)
    statuses = _statuses(received)
    assert statuses, f"{name}: no answer at all: {received[:200]!r}"
    assert 400 <= statuses[0] < 600, f"{name}: {received[:300]!r}"
    assert len(statuses) == 1, f"{name}: a second request was read from the same bytes: {statuses}"


@pytest.mark.parametrize(("raw", "status", "code"), [
    (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 400, "headers_too_large"),
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 * BODY_LIMIT + 1), 413, "payload_too_large"),
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "not_implemented"),
])
def test_the_edges_own_refusals_are_json_in_the_service_shape(edge: Edge, raw: bytes, status: int, code: str):
    received = _exchange(edge.port, raw)
    assert _statuses(received) == [status], received[:300]
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"application/json" in head
    assert json.loads(body)["error"]["code"] == code


@pytest.mark.parametrize(("path", "status"), [("/predict", 413), ("/v2/models/any/infer", 413), ("/health", 405)])
@pytest.mark.parametrize("size", [BODY_LIMIT + 1, BODY_LIMIT * 3 // 2])
def test_a_body_the_service_refuses_unread_still_gets_its_answer(edge: Edge, path: str, status: int, size: int):
    """nginx lets through up to twice the limit so the service answers (a 413 with the real size, or
    a 405 on a GET route). The service refuses such a body without reading it and the sync worker
    closes on the unread bytes; the answer must still reach the client, not a 502 from nginx."""
    body = b"{" + b" " * (size - 2) + b"}"
    response = requests.post(f"http://127.0.0.1:{edge.port}{path}", data=body, timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text[:300]
    if status == 413:
        assert str(size) in response.text, response.text[:300]


@pytest.mark.parametrize("raw", [b"GET /health HTTP/1.1\nHost: x\n\n" + SMUGGLED,
                                 b"GET /health HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n" + SMUGGLED])
def test_a_bare_lf_is_one_line_end_for_the_only_parser_facing_clients(edge: Edge, raw: bytes):
    """nginx reads a bare LF as a line end (RFC 9112 section 2.2 lets a recipient do so) and sends
    gunicorn a request it frames itself, with CRLF: gunicorn never parses the client's bytes, so
    the two cannot disagree. Both requests are the ones nginx saw, answered in order, nothing more.
    (nginx has no setting that refuses a bare LF; docs/edge.md says so.)"""
    assert _statuses(_exchange(edge.port, raw)) == [200, 404]


def test_pipelined_requests_are_all_answered(edge: Edge, good_body: bytes):
    one = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % len(good_body)) + good_body
    raw = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + one * 8 + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    statuses = _statuses(_exchange(edge.port, raw, settle_s=3.0))
    assert statuses == [200] * 10


def test_a_kept_alive_connection_carries_100_requests(edge: Edge, good_body: bytes):
    conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=SOCKET_TIMEOUT_S)
    local_ports = set()
    try:
        for _ in range(100):
            conn.request("POST", "/predict", body=good_body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            assert (response.getheader("Connection") or "").lower() != "close"
            local_ports.add(conn.sock.getsockname()[1])
    finally:
        conn.close()
    assert len(local_ports) == 1, f"{len(local_ports)} connections for 100 requests"


def test_the_idle_timeout_outlasts_the_load_balancers():
    """The server keeps an idle connection longer than an ALB does (60 s by default), so the
    balancer closes first and never sends on a connection the pod is closing."""
    import runpy

    from twinserve_support.paths import CONTAINER_SERVICE

    settings = runpy.run_path(str(CONTAINER_SERVICE / "gunicorn.conf.py"))
    # nginx holds the client connections; gunicorn's own keep-alive counts only without nginx.
    idle = re.search(r"^\s*keepalive_timeout (\d+)s;", settings["nginx_config"](), re.MULTILINE)
    assert idle and int(idle.group(1)) > 60
    assert settings["keepalive"] > 60


# ------------------------------------------------------------------------------ probes


def _probe(port: int, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


def test_probes_answer_while_both_workers_are_held(edge: Edge):
    """Both workers stopped (SIGSTOP) for 20 s: the traffic port answers nothing, the side listener
    answers every probe and the metrics; the workers carry on when resumed."""
    import os
    import signal

    master = psutil.Process(edge.container.process.pid)

    def gunicorn_workers() -> list[psutil.Process]:
        return [p for p in master.children() if "gunicorn" in " ".join(p.cmdline())]  # not nginx nor the side listener

    poll_until(lambda: len(gunicorn_workers()) == 2, 10.0)  # a fresh master may still be forking its second worker
    workers = gunicorn_workers()
    assert len(workers) == 2, [p.cmdline() for p in master.children()]
    worst = 0.0
    for worker in workers:
        os.kill(worker.pid, signal.SIGSTOP)
    try:
        with pytest.raises(OSError):  # the workers really are held
            conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=1.0)
            conn.request("GET", "/health")
            conn.getresponse()
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            for path in ("/livez", "/readyz", "/metrics"):
                status, seconds = _probe(edge.metrics_port, path)
                assert status == 200, path
                worst = max(worst, seconds)
            time.sleep(0.5)
    finally:
        for worker in workers:
            os.kill(worker.pid, signal.SIGCONT)
    print(f"\nprobes with both workers held: worst {worst * 1000:.0f} ms")
    assert worst < NORMAL_BOUND_S
    assert _probe(edge.port, "/health")[0] == 200


def test_metrics_are_served_on_the_side_port_only(edge: Edge, good_body: bytes):
    assert _probe(edge.port, "/metrics")[0] == 404
    conn = http.client.HTTPConnection("127.0.0.1", edge.metrics_port, timeout=2.0)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    assert "twinserve_requests_total" in text and "twinserve_model_info" in text
    assert _probe(edge.metrics_port, "/predict")[0] == 404


def _accepted(master_pid: int, sock: socket.socket) -> bool:
    """Some process of the server (nginx, or a gunicorn worker without it) holds the other end of
    ``sock``: the connection was accepted, not merely queued in the kernel's backlog."""
    ours = sock.getsockname()
    for process in psutil.Process(master_pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a process gone or not ours to inspect
            if any(c.raddr and tuple(c.raddr) == ours for c in process.net_connections("tcp")):
                return True
    return False


def test_readiness_fails_during_shutdown(rf_dir: Path):
    """SIGTERM: readiness turns 503 at once while liveness stays 200 and in-flight work finishes."""
    import os
    import signal

    metrics_port = free_port()
    with LocalContainer(model_path=rf_dir, env={"METRICS_PORT": str(metrics_port)}) as container:
        assert _probe(metrics_port, "/readyz")[0] == 200
        # A request still arriving (accepted, so the edge's graceful stop waits for it) keeps the master up.
        with _connect(container.port) as slow:
            slow.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            wait_until(lambda: _accepted(container.process.pid, slow), 5.0, what="the server accepted the slow request")
            os.kill(container.process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 2.0
            status = 200
            while status == 200 and time.monotonic() < deadline:
                status = _probe(metrics_port, "/readyz")[0]
            assert status == 503
            assert _probe(metrics_port, "/livez")[0] == 200


def test_no_side_listener_and_no_server_without_a_model(tmp_path: Path):
    """A model that cannot be loaded stops the master before anything listens: readiness cannot pass."""
    import os
    import subprocess
    import sys

    from twinserve_support.paths import CONTAINER_SERVICE

    metrics_port = free_port()
    env = {**os.environ, "MODEL_PATH": str(tmp_path / "missing"), "PORT": str(free_port()),
           "METRICS_PORT": str(metrics_port), "WEB_CONCURRENCY": "1"}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
                          cwd=CONTAINER_SERVICE, env=env, capture_output=True, timeout=60)
    assert done.returncode != 0
    with pytest.raises(OSError):
        _probe(metrics_port, "/readyz")


def test_no_private_names_of_gunicorn_or_prometheus_client():
    from twinserve_support.paths import CONTAINER_SERVICE

    forbidden = ("murder_workers", "_buckets", "._sum", "sched_yield", "PrefilledSocket", "._value", "WORKERS")
    for path in [CONTAINER_SERVICE / "gunicorn.conf.py", *sorted((CONTAINER_SERVICE / "twinserve_flask").glob("*.py"))]:
        text = path.read_text()
        for name in forbidden:
            assert name not in text, f"{path.name} uses {name}"


def test_the_side_listener_port_is_checked():
    from twinserve_flask.observability import ObservabilityConfigError, metrics_port

    assert metrics_port({}) == 9091
    assert metrics_port({"METRICS_PORT": "0"}) == 0
    with pytest.raises(ObservabilityConfigError):
        metrics_port({"METRICS_PORT": "ninety"})
