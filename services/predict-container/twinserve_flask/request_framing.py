"""When are the bytes read so far a whole HTTP/1.1 request?

The buffered worker (:mod:`twinserve_flask.buffered_worker`) collects a client's bytes until a
:class:`RequestFramer` says the request can be handed to gunicorn without gunicorn ever waiting on
the client. That is the case when the request is complete, and also when gunicorn or the app will
reject it from what is already there (headers too long, a malformed or too-large Content-Length):
the handover then costs no waiting either. Framing follows RFC 9112 section 6; gunicorn's own
parser still parses and validates everything afterwards, this module only decides *when*.

The framer remembers where it stopped, so a body that arrives in a thousand pieces is scanned
once, not a thousand times.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER_END = b"\r\n\r\n"
CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"
_HEX_DIGITS = b"0123456789abcdefABCDEF"


@dataclass(frozen=True)
class Framing:
    """What the buffered bytes say. ``ready``: hand over now. ``expects_continue``: the client
    waits for ``100 Continue`` before it sends the body. ``wanted``: bytes still missing, when known."""

    ready: bool
    expects_continue: bool = False
    wanted: int = 0
    # Handed over before the request arrived in full, because it will be refused from what is
    # here (a 413 body, headers over the limit, malformed framing): the client may still be
    # sending, so its connection must be drained after the answer (a lingering close).
    early: bool = False


_WAIT = Framing(ready=False)
_READY = Framing(ready=True)
_EARLY = Framing(ready=True, early=True)


def header_limit(limit_request_line: int, limit_request_fields: int, limit_request_field_size: int) -> int:
    """The most header bytes gunicorn's limits allow; past it, gunicorn answers 400 from what it has."""
    return limit_request_line + 2 + limit_request_fields * (limit_request_field_size + 2) + 2


class RequestFramer:
    """Follows one request's bytes as they arrive; :meth:`feed` gets the whole buffer each time."""

    def __init__(self, body_limit: int, max_header_bytes: int) -> None:
        self.body_limit = body_limit
        self.max_header_bytes = max_header_bytes
        self._searched = 0  # bytes already searched for the end of the headers
        self._body_start: int | None = None
        self._content_length: int | None = None
        self._chunked = False
        self._expects_continue = False
        self._chunk_position = 0  # where the next chunk-size line starts

    def feed(self, buffer: bytes | bytearray) -> Framing:
        if self._body_start is None:
            end = buffer.find(HEADER_END, max(0, self._searched - len(HEADER_END) + 1))
            if end < 0:
                self._searched = len(buffer)
                return _EARLY if len(buffer) > self.max_header_bytes else _WAIT
            self._body_start = self._chunk_position = end + len(HEADER_END)
            if not self._read_headers(bytes(buffer[:end])):
                return _EARLY
        body_bytes = len(buffer) - self._body_start
        if self._chunked:
            if body_bytes > self.body_limit:
                return _EARLY  # the app reads one byte past the limit and answers 413
            done = self._chunked_body_complete(buffer)
            return Framing(ready=done, expects_continue=self._expects_continue and not done)
        if self._content_length is None:
            return _READY  # no body
        if self._content_length > self.body_limit:
            return _EARLY if body_bytes < self._content_length else _READY  # a 413 from the header alone
        wanted = self._content_length - body_bytes
        if wanted <= 0:
            return _READY
        return Framing(ready=False, expects_continue=self._expects_continue, wanted=wanted)

    def _read_headers(self, head: bytes) -> bool:
        """Note the framing headers; False when gunicorn will reject them anyway."""
        transfer_encoding: bytes | None = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip().lower()
            if name == b"content-length":
                if not value.isdigit() or (self._content_length is not None and int(value) != self._content_length):
                    return False  # malformed or conflicting
                self._content_length = int(value)
            elif name == b"transfer-encoding":
                if transfer_encoding is not None:
                    return False  # several TE headers: leave the judgement to gunicorn
                transfer_encoding = value
            elif name == b"expect" and value == b"100-continue":
                self._expects_continue = True
        if transfer_encoding is not None:
            if transfer_encoding != b"chunked" or self._content_length is not None:
                return False  # gunicorn rejects other codings and TE with Content-Length
            self._chunked = True
        return True

    def _chunked_body_complete(self, buffer: bytes | bytearray) -> bool:
        """True once the last chunk and the trailer section have arrived. A size line that is
        not hex counts as complete: gunicorn answers it with 400."""
        while True:
            position = self._chunk_position
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return False
            size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
            if not size_text or size_text.strip(_HEX_DIGITS):
                return True
            size = int(size_text, 16)
            if size == 0:
                trailers = line_end + 2
                if buffer[trailers:trailers + 2] == b"\r\n":
                    return True
                return buffer.find(HEADER_END, trailers) >= 0
            following = line_end + 2 + size + 2
            if following > len(buffer):
                return False
            self._chunk_position = following
