"""The buffered worker's framing decision: hand a request to gunicorn exactly when it is whole,
or when gunicorn or the app will reject it from what is already there."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twinserve_flask.request_framing import RequestFramer, header_limit

BODY_LIMIT = 1000
HEADER_LIMIT = header_limit(4094, 50, 8190)


def _feed_in_pieces(request: bytes, cuts: list[int]) -> list[bool]:
    """``ready`` after each prefix ending at a cut (and at the end), fed to one framer."""
    framer = RequestFramer(BODY_LIMIT, HEADER_LIMIT)
    return [framer.feed(request[:cut]).ready for cut in [*sorted(set(cuts)), len(request)]]


def _ready(request: bytes) -> bool:
    return RequestFramer(BODY_LIMIT, HEADER_LIMIT).feed(request).ready


def test_headers_not_finished_wait():
    assert not _ready(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Len")


def test_request_without_body_is_ready_at_the_blank_line():
    assert _ready(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")


def test_content_length_body_waits_for_its_last_byte():
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: 10\r\n\r\n"
    framer = RequestFramer(BODY_LIMIT, HEADER_LIMIT)
    assert not framer.feed(head + b"123456789").ready
    assert framer.feed(head + b"123456789").wanted == 1
    assert framer.feed(head + b"1234567890").ready


def test_announced_body_over_the_limit_is_handed_over_at_once():
    # The app answers 413 from the header; waiting for 5,000 bytes would only hold the client.
    assert _ready(b"POST /predict HTTP/1.1\r\nContent-Length: 5000\r\n\r\n")


def test_headers_past_gunicorn_limits_are_handed_over():
    assert _ready(b"POST /predict HTTP/1.1\r\nX-Big: " + b"a" * (HEADER_LIMIT + 1))
    assert not _ready(b"POST /predict HTTP/1.1\r\nX-Big: " + b"a" * 1000)


def test_malformed_or_conflicting_framing_is_left_to_gunicorn():
    assert _ready(b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n")
    assert _ready(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
    assert _ready(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n")
    assert _ready(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
    assert _ready(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert _ready(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n")


def test_chunked_body_waits_for_the_last_chunk_and_trailers():
    head = b"POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert not _ready(head + b"5\r\nhello\r\n")
    assert not _ready(head + b"5\r\nhello\r\n0\r\n")
    assert _ready(head + b"5\r\nhello\r\n0\r\n\r\n")
    assert not _ready(head + b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n")
    assert _ready(head + b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n")


def test_chunk_data_that_looks_like_the_end_is_not_the_end():
    head = b"POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert not _ready(head + b"7\r\n0\r\n\r\n\r\n")  # seven data bytes; still no last chunk
    assert _ready(head + b"7\r\n0\r\n\r\n\r\n0\r\n\r\n")


def test_chunked_body_over_the_limit_is_handed_over():
    head = b"POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert _ready(head + b"%x\r\n" % (BODY_LIMIT + 10) + b"a" * (BODY_LIMIT + 1))


def test_expect_continue_is_reported_until_the_body_is_whole():
    head = b"POST /predict HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    framer = RequestFramer(BODY_LIMIT, HEADER_LIMIT)
    first = framer.feed(head)
    assert not first.ready and first.expects_continue
    last = framer.feed(head + b"abc")
    assert last.ready and not last.expects_continue


_BODIES = st.binary(min_size=0, max_size=300)


@st.composite
def _requests(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    body = draw(_BODIES)
    if draw(st.booleans()):
        pieces = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=8))
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        request = b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + framed
    else:
        request = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    cuts = draw(st.lists(st.integers(min_value=0, max_value=len(request) - 1), max_size=12))
    return request, cuts


@given(_requests())
def test_any_split_is_ready_only_once_the_whole_request_is_there(case: tuple[bytes, list[int]]):
    request, cuts = case
    readiness = _feed_in_pieces(request, cuts)
    assert readiness[-1] is True
    assert not any(readiness[:-1]), "handed over before the request was whole"
