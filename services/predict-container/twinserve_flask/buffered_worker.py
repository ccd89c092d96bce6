"""A gunicorn sync worker that takes a request only once the client has sent all of it.

gunicorn's sync worker reads a request with blocking ``recv()`` calls, so a client that trickles
its headers or body holds the whole worker until gunicorn's ``timeout`` kills it; gunicorn's docs
ask for a buffering proxy in front. With two workers in a pod, two slow sockets stopped the
service. gthread workers avoid that but measured 2-4x the p99 latency
(``gunicorn.conf.py``), because requests then queue unevenly inside each worker.

This worker keeps the sync model for the part that costs CPU (one request at a time, taken in
the order it became complete) and does itself what a buffering proxy does for the part that
costs only waiting: it accepts connections, collects their bytes with a selector until
:class:`twinserve_flask.request_framing.RequestFramer` says the request is whole, and only then runs the
stock :meth:`SyncWorker.handle` on it, with the bytes already read served first. Waiting
clients cost a file descriptor and their buffer, never the worker:

* a request not complete ``REQUEST_READ_TIMEOUT_S`` (default 10 s) after its connection was
  accepted gets a 408 JSON error and is closed;
* a worker holds at most ``MAX_PENDING`` unfinished requests and ``MAX_PENDING_BYTES`` (or two
  largest allowed requests, if more); beyond that the oldest gets the 408;
* on SIGTERM it stops accepting, serves what completes within the graceful window, then exits;
* a request refused before its body arrived (a 413 over ``MAX_BODY_BYTES``) is answered, then its
  connection lingers (nginx's "lingering close"): the worker half-closes it and discards what the
  client still sends, without blocking, for up to ``LINGER_S`` and ``LINGER_MAX_BYTES``, so a client
  that writes its whole body before reading (Python's urllib, for one) reads its 413 instead of a
  broken pipe. gunicorn's own graceful close drains only 64 KiB, blocking the worker meanwhile;
* every other answered connection is closed without waiting for the client: gunicorn's graceful
  close blocks the worker until the client's FIN arrives (up to 2 s), which on a loaded machine
  is most of a sync worker's time. With the request read in full and nothing else queued, closing
  at once sends a FIN and loses nothing (nginx closes the same way); a client with bytes still
  queued is drained like the early answers above;
* between two answers, once it has run ``YIELD_AFTER_S`` (1 ms) without giving up the CPU, the
  worker yields it (``sched_yield``) before it takes the next connection. gunicorn's sync worker
  gave the CPU up there anyway, blocked on the client's FIN; a worker that never blocks instead
  runs into its next request with its time slice spent and is preempted in the middle of it
  whenever anything else on the machine wants a CPU (other workers, a sidecar, the node's other
  pods). Measured with wrk c=32 on 2 shared cores: p99 10.4 ms without the yield, 6.6 ms with it
  after every answer (but 18 % more worker CPU per request: a context switch each time), 6.2-6.7 ms and the
  throughput of no yield at all with it at most once a millisecond. With nothing else runnable the
  yield returns at once. ``YIELD_BETWEEN_REQUESTS=0`` turns it off.

Most requests arrive whole in the first read after ``accept()``; they are handled at once, and
the worker takes the next queued connection before it looks at its selector, exactly as the stock
sync worker does, so the common path costs one non-blocking ``recv`` and a header scan more.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from gunicorn.workers.sync import SyncWorker
from twinserve.errors import RequestTimeout
from twinserve.responses import JSON_CONTENT_TYPE, error_reply

from twinserve_flask.request_framing import CONTINUE_RESPONSE, RequestFramer, header_limit

READ_CHUNK = 65536
LARGE_RESPONSE = 65536  # responses past this are sent with a timeout (a client that never reads)
HOLD_BYTES = 65536  # an answer's writes are held and sent together up to this size
HEARTBEAT_S = 1.0  # the worker's liveness heartbeat, at most this often
YIELD_AFTER_S = 0.001  # between answers, yield the CPU once the worker has held it this long
MAX_READ_CHUNK = 1024 * 1024  # a large body of known length is read in bigger pieces
MAX_PENDING = 128
MAX_PENDING_BYTES = 16 * 1024 * 1024
LINGER_S = 5.0  # how long a refused request's connection is drained after its answer
LINGER_MAX_BYTES = 64 * 1024 * 1024  # ... and how much of the rest of its body, at most
MAX_LINGERING = 64  # connections drained at once per worker; past it the oldest is closed
_LISTENER = "listener"
_WAKEUP = "wakeup"


def read_timeout_s() -> float:
    return float(os.environ.get("REQUEST_READ_TIMEOUT_S", "10"))


class WorkerConfigError(ValueError):
    """A buffered-worker setting with a value it does not know."""


def yield_between_requests() -> bool:
    value = os.environ.get("YIELD_BETWEEN_REQUESTS", "1").strip()
    if value not in ("0", "1"):
        raise WorkerConfigError(f"YIELD_BETWEEN_REQUESTS must be 0 or 1, not {value!r}")
    return value == "1"


@dataclass
class PendingRequest:
    """A connection whose request has not fully arrived yet."""

    sock: socket.socket
    addr: Any
    listener: socket.socket
    deadline: float
    framer: RequestFramer
    buffer: bytearray = field(default_factory=bytearray)
    wanted: int = 0
    continue_sent: bool = False


@dataclass
class LingeringClose:
    """A connection whose answer is sent and whose client may still be sending: drain, then close."""

    sock: socket.socket
    deadline: float
    drained: int = 0


class PrefilledSocket:
    """The client socket as gunicorn's parser sees it: the bytes already read come first.

    Anything gunicorn still reads from the real socket is bounded by the request's deadline
    (normally nothing is left to read); a large response is sent with a timeout; a
    ``100 Continue`` this worker already sent is not sent twice.

    gunicorn writes an answer's status line and headers, then its body, in two ``sendall`` calls:
    two syscalls, two TCP segments, two wake-ups of the client. Writes are held here until
    ``HOLD_BYTES`` accumulate or the connection is shut, and then sent in one call (what
    ``TCP_CORK`` does in the kernel, without its two extra syscalls). Every answer twinserve gives
    is complete when it is written; nothing streams.
    """

    def __init__(self, sock: socket.socket, data: bytes, deadline: float, send_timeout_s: float,
                 continue_sent: bool = False, *, linger: Callable[[socket.socket], None], early: bool = False) -> None:
        self._sock = sock
        self._linger = linger  # the worker's non-blocking drain, for a client that may still be sending
        self._early = early  # handed over before the request arrived in full: always drained
        self._handed_off = False
        self._closing = False  # the answer is sent and nothing is left to read: close at once
        self._data = data
        self._offset = 0
        self._deadline = deadline
        self._send_timeout_s = send_timeout_s
        self._continue_sent = continue_sent
        self._caller_sets_timeout = False
        self._held: list[bytes] = []
        self._held_bytes = 0

    def recv(self, size: int, *flags: int) -> bytes:
        if self._handed_off or self._closing:
            return b""  # gunicorn's graceful close stops here: closed now, or drained by the worker
        if self._offset < len(self._data):
            chunk = self._data[self._offset:self._offset + size]
            self._offset += len(chunk)
            return chunk
        if not self._caller_sets_timeout:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the client did not finish its request before the read deadline")
            self._sock.settimeout(remaining)
        return self._sock.recv(size, *flags)

    def send(self, data: bytes, *flags: int) -> int:
        if self._continue_sent and bytes(data) == CONTINUE_RESPONSE:
            self._continue_sent = False
            return len(data)
        self._flush()
        return self._sock.send(data, *flags)

    def sendall(self, data: bytes) -> None:
        self._held.append(bytes(data))
        self._held_bytes += len(data)
        if self._held_bytes >= HOLD_BYTES:
            self._flush()

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        self._flush()  # what was written before the file goes first
        return self._sock.sendfile(file, offset, count)

    def _flush(self) -> None:
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held.clear()
        self._held_bytes = 0
        if len(data) > LARGE_RESPONSE and not self._caller_sets_timeout:
            self._sock.settimeout(self._send_timeout_s)
        self._sock.sendall(data)

    def settimeout(self, value: float | None) -> None:
        # gunicorn's close_graceful() lingers with its own timeout; let it.
        self._caller_sets_timeout = True
        if not self._handed_off:
            self._sock.settimeout(value)

    def shutdown(self, how: int) -> None:
        """gunicorn's close starts with ``shutdown(SHUT_WR)`` and then waits, blocking the worker, for
        the client's FIN (up to 2 s). Here the worker decides as nginx does: a client with nothing
        more in flight (the whole request was read, nothing else queued) is closed at once, which
        sends a FIN, not an RST, and loses nothing; one that may still be sending (an early answer,
        unread bytes) goes to the worker's non-blocking drain. The worker never waits on a client."""
        self._flush()  # the held answer goes out before the FIN
        self._sock.shutdown(how)
        if how != socket.SHUT_WR:
            return
        if not self._early and self._nothing_left_to_read():
            self._closing = True
            return
        self._handed_off = True
        self._linger(self._sock)

    def _nothing_left_to_read(self) -> bool:
        try:
            return not self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # b"": the client closed
        except OSError:  # nothing queued (EAGAIN), or reset meanwhile: nothing to drain either way
            return True

    def close(self) -> None:
        with contextlib.suppress(OSError):  # closing anyway: a client that left cannot take the rest
            self._flush()
        if not self._handed_off:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _timeout_response(message: str) -> bytes:
    reply = error_reply(RequestTimeout(message))
    status = HTTPStatus(reply.status)  # the status is the error type's, as on every other path
    head = (f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: {JSON_CONTENT_TYPE}\r\n"
            f"Content-Length: {len(reply.body)}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + reply.body


class BufferedSyncWorker(SyncWorker):
    """gunicorn's sync worker behind a built-in request buffer (see the module docstring)."""

    def init_process(self) -> None:
        from twinserve.settings import Settings

        self.body_limit = Settings.from_env().max_body_bytes
        self.max_header_bytes = header_limit(self.cfg.limit_request_line, self.cfg.limit_request_fields,
                                             self.cfg.limit_request_field_size)
        self.read_timeout_s = read_timeout_s()
        self.yield_between_requests = yield_between_requests() and hasattr(os, "sched_yield")
        # The arbiter's liveness check reads a heartbeat file's mtime; the stock worker touches it on
        # every loop (a syscall per request). Once per HEARTBEAT_S, and never less than ten times
        # within gunicorn's timeout, is as safe and costs nothing under load.
        self.heartbeat_every_s = min(HEARTBEAT_S, self.cfg.timeout / 10)
        self.ran_since = 0.0  # when the worker last gave up the CPU (yielded or waited)
        self.beaten_at = -math.inf
        self.max_pending_bytes = max(MAX_PENDING_BYTES, 2 * (self.body_limit + self.max_header_bytes))
        self.pending: dict[int, PendingRequest] = {}  # insertion order = oldest first
        self.pending_bytes = 0
        self.lingering: dict[int, LingeringClose] = {}  # insertion order = oldest first
        self.selector = selectors.DefaultSelector()
        super().init_process()  # ends in run()

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        for listener in self.sockets:
            listener.setblocking(False)
            self._defer_accept(listener)
            self.selector.register(listener, selectors.EVENT_READ, _LISTENER)
        self.selector.register(self.PIPE[0], selectors.EVENT_READ, _WAKEUP)
        idle = self._idle_hook()
        accepting = True
        drain_until = 0.0
        try:
            while True:
                self.notify()
                if not self.alive:
                    if accepting:
                        accepting = False
                        for listener in self.sockets:
                            self.selector.unregister(listener)
                        drain_until = time.monotonic() + min(self.cfg.graceful_timeout, self.read_timeout_s)
                    if not self.pending or time.monotonic() >= drain_until:
                        return
                if self.pending or self.lingering:  # clients already waiting come before new connections
                    self._expire(time.monotonic())
                    self._serve_readable(0.0)
                if accepting and self._take_connections():
                    continue  # more may be queued: take them before waiting, as SyncWorker does
                if not self.is_parent_alive():
                    return
                if idle is not None:
                    idle()
                self._serve_readable(self._select_timeout())
                self.ran_since = time.monotonic()  # it waited: a fresh start
        finally:
            if idle is not None:
                with contextlib.suppress(Exception):  # exiting anyway; never mask the reason
                    idle()
            for pending in list(self.pending.values()):
                self._reject(pending, "the server is shutting down and this request had not fully arrived")
            for lingering in list(self.lingering.values()):
                self._end_linger(lingering)
            self.selector.close()

    def notify(self) -> None:
        now = time.monotonic()
        if now - self.beaten_at >= self.heartbeat_every_s:
            self.beaten_at = now
            super().notify()

    def handle(self, listener: socket.socket, client: Any, addr: Any) -> None:
        super().handle(listener, client, addr)
        if self.yield_between_requests and time.monotonic() - self.ran_since >= YIELD_AFTER_S:
            os.sched_yield()  # see the module docstring: start the next request on a fresh time slice
            self.ran_since = time.monotonic()

    def _idle_hook(self) -> Callable[[], None] | None:
        """The app's "about to wait" hook, if it offers one (the container's metrics write their
        counts in batches then, see twinserve_flask.observability)."""
        offer = getattr(self.wsgi, "write_when_idle", None)
        return offer() if callable(offer) else None

    def _serve_readable(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a connection, a pending client's bytes or a signal; read what came."""
        for key, _ in self.selector.select(timeout):
            if key.data is _WAKEUP:
                with contextlib.suppress(OSError):
                    os.read(self.PIPE[0], 64)
            elif isinstance(key.data, LingeringClose):
                self._drain(key.data)
            elif key.data is not _LISTENER:  # listeners are served by _take_connections
                self._on_readable(key.data)

    def _defer_accept(self, listener: socket.socket) -> None:
        """Linux TCP_DEFER_ACCEPT: accept() returns a connection once its first bytes are there
        (nginx's ``deferred``). Without it, a client that is slow to write after connecting (a
        loaded client machine, say) lands in the pending set instead of the fast path."""
        if listener.family in (socket.AF_INET, socket.AF_INET6) and hasattr(socket, "TCP_DEFER_ACCEPT"):
            with contextlib.suppress(OSError):
                listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, max(1, round(self.read_timeout_s)))

    def _select_timeout(self) -> float:
        timeout = self.timeout or 0.5
        for waiting in (self.pending, self.lingering):
            if waiting:
                oldest = next(iter(waiting.values()))
                timeout = min(timeout, max(0.0, oldest.deadline - time.monotonic()))
        return timeout

    # -- connections -----------------------------------------------------------------------

    def _take_connections(self) -> bool:
        """Accept at most one connection per listener; True if any was accepted."""
        took = False
        for listener in self.sockets:
            try:
                client, addr = listener.accept()
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                    continue
                raise
            took = True
            self._first_read(listener, client, addr)
        return took

    def _first_read(self, listener: socket.socket, client: socket.socket, addr: Any) -> None:
        """The common path: the whole request is already here, handle it now."""
        deadline = time.monotonic() + self.read_timeout_s
        framer = RequestFramer(self.body_limit, self.max_header_bytes)
        try:
            data = client.recv(READ_CHUNK, socket.MSG_DONTWAIT)  # accepted sockets are blocking
        except BlockingIOError:
            data = b""
        except OSError:
            self._close(client)
            return
        else:
            if not data:  # closed before sending anything
                self._close(client)
                return
            framing = framer.feed(data)
            if framing.ready:
                self.handle(listener, PrefilledSocket(client, data, deadline, self.read_timeout_s,
                                                      linger=self._start_linger, early=framing.early), addr)
                return
        client.setblocking(False)
        pending = PendingRequest(client, addr, listener, deadline, framer)
        self.pending[client.fileno()] = pending
        self.selector.register(client, selectors.EVENT_READ, pending)
        if data:
            self._add(pending, data)
        else:
            self._shed_if_full()

    def _on_readable(self, pending: PendingRequest) -> None:
        try:
            data = pending.sock.recv(min(max(pending.wanted, READ_CHUNK), MAX_READ_CHUNK))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client gave up before finishing
            self._forget(pending)
            self._close(pending.sock)
            return
        self._add(pending, data)

    def _add(self, pending: PendingRequest, data: bytes) -> None:
        pending.buffer += data
        self.pending_bytes += len(data)
        framing = pending.framer.feed(pending.buffer)
        pending.wanted = framing.wanted
        if framing.ready:
            self._forget(pending)
            pending.sock.setblocking(True)
            self.handle(pending.listener, PrefilledSocket(pending.sock, bytes(pending.buffer), pending.deadline,
                                                          self.read_timeout_s, pending.continue_sent,
                                                          linger=self._start_linger, early=framing.early),
                        pending.addr)
            return
        if framing.expects_continue and not pending.continue_sent:
            with contextlib.suppress(OSError):
                pending.sock.send(CONTINUE_RESPONSE)
            pending.continue_sent = True
        self._shed_if_full()

    def _forget(self, pending: PendingRequest) -> None:
        self.pending.pop(pending.sock.fileno(), None)
        self.pending_bytes -= len(pending.buffer)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(pending.sock)

    # -- lingering close -------------------------------------------------------------------

    def _start_linger(self, sock: socket.socket) -> None:
        """Called once the answer is sent and the write side is shut: drain the rest in the loop."""
        try:
            sock.setblocking(False)
            lingering = LingeringClose(sock, time.monotonic() + LINGER_S)
            self.selector.register(sock, selectors.EVENT_READ, lingering)
        except (OSError, ValueError):
            self._close(sock)
            return
        self.lingering[sock.fileno()] = lingering
        while len(self.lingering) > MAX_LINGERING:
            self._end_linger(next(iter(self.lingering.values())))

    def _drain(self, lingering: LingeringClose) -> None:
        try:
            while lingering.drained < LINGER_MAX_BYTES:
                data = lingering.sock.recv(READ_CHUNK)
                if not data:  # the client closed: done
                    break
                lingering.drained += len(data)
            self._end_linger(lingering)
        except (BlockingIOError, InterruptedError):
            return  # more later
        except OSError:
            self._end_linger(lingering)

    def _end_linger(self, lingering: LingeringClose) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.lingering.pop(lingering.sock.fileno(), None)
            self.selector.unregister(lingering.sock)
        with contextlib.suppress(OSError):
            lingering.sock.close()

    def _expire(self, now: float) -> None:
        while self.lingering:
            oldest = next(iter(self.lingering.values()))
            if oldest.deadline > now:
                break
            self._end_linger(oldest)
        while self.pending:
            oldest = next(iter(self.pending.values()))
            if oldest.deadline > now:
                return
            self._forget(oldest)
            self._reject(oldest, f"the request was not complete {self.read_timeout_s:g} s after the connection opened")

    def _shed_if_full(self) -> None:
        while len(self.pending) > MAX_PENDING or self.pending_bytes > self.max_pending_bytes:
            oldest = next(iter(self.pending.values()))
            self._forget(oldest)
            self._reject(oldest, "the server holds too many unfinished requests; the oldest is dropped")

    def _reject(self, pending: PendingRequest, message: str) -> None:
        """408 and close, without blocking: a stalled client is not worth waiting for."""
        self.log.info("408 %s from %s (%d bytes received)", message, pending.addr, len(pending.buffer))
        with contextlib.suppress(OSError):
            pending.sock.send(_timeout_response(message))
        self._close(pending.sock)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            for _ in range(16):  # drain what is queued (bounded), so close() sends FIN, not RST
                if not sock.recv(READ_CHUNK, socket.MSG_DONTWAIT):
                    break
        with contextlib.suppress(OSError):
            sock.close()
