"""A deployment on 127.0.0.1 for the client's tests: scripted answers, the real core, or AWS's SigV4 check.

:class:`StandIn` is a threaded ``http.server`` (HTTP/1.1, keep-alive, as API Gateway and Lambda
URLs are) that records every request it receives and answers through a function of it. The
answer functions here are:

* :func:`scripted` - a fixed sequence of answers (429 then 200, five 503s, ...);
* :func:`serving` - the real :class:`twinserve.service.Service` (the same dispatch the native
  Lambda handler uses), so batches are answered by the real contract and model;
* :func:`sigv4_checked` - what a Function URL with IAM auth does before invoking: recompute the
  signature from the received method, path, headers and body with botocore and the expected
  credentials, and answer 403 when it differs (AWS's message), else pass the request on.
  :func:`spec_signature` recomputes it a second time from the SigV4 specification alone (hashlib
  and hmac), so the check does not only trust botocore to agree with itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from twinserve.service import Service

MAX_BODY_BYTES = 16 * 1024 * 1024

# Fake credentials (AWS's documented example shapes): the signer and the verifier share them.
FAKE_KEY_ID = "AKIDEXAMPLESTANDIN01"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FAKE_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN//+="
# Everything botocore could read credentials or a region from besides the two variables set below.
_AWS_SOURCES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


def fake_aws_environment(tmp_dir: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    """(variables to unset, variables to set): the fake credentials, and no profile, config file or
    metadata service (the files named under ``tmp_dir`` do not exist)."""
    return _AWS_SOURCES, {
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_CONFIG_FILE": str(tmp_dir / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_dir / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    at_s: float = field(default=0.0, compare=False)
    """``time.perf_counter()`` when the request's head had been read: gaps between retries."""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


Respond = Callable[[Received], Reply]


class StandIn:
    """``with StandIn(respond) as server: server.url ...``; ``server.received`` lists every request."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.received: list[Received] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                at_s = time.perf_counter()
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
                body = self.rfile.read(length) if length else b""
                got = Received(self.command, self.path, tuple(self.headers.items()), body, at_s)
                with stand_in._lock:
                    stand_in.received.append(got)
                try:
                    reply = stand_in.respond(got)
                except Exception as exc:  # a bug in a test's answer function: a visible 500, not a hang
                    reply = Reply(500, json.dumps({"message": f"stand-in failed: {exc!r}"}).encode())
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    self.close_connection = True

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def posts(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST"]


def scripted(replies: Iterable[Reply], then: Reply | None = None) -> Respond:
    """HttpAnswer POSTs with ``replies`` in order, then ``then`` (default: repeat the last); GETs 404."""
    queue = list(replies)
    lock = threading.Lock()

    def respond(got: Received) -> Reply:
        if got.method != "POST":
            return Reply(404, b'{"message":"Not Found"}')
        with lock:
            if queue:
                reply = queue.pop(0)
                respond.last = reply  # type: ignore[attr-defined]
                return reply
        return then or respond.last  # type: ignore[attr-defined]

    return respond


def prediction(rows: int) -> Reply:
    """A well-formed answer for ``rows`` rows (class 1, p = 0.25/0.75)."""
    doc = {"predictions": [1] * rows, "probabilities": [[0.25, 0.75]] * rows, "classes": [0, 1],
           "model": {"name": "stand-in", "version": "1", "sha256": "0" * 64}}
    return Reply(200, json.dumps(doc).encode())


def serving(service: Service) -> Respond:
    """The real core: routes, contract, model (``Service.dispatch``, as the native handler uses it)."""

    def respond(got: Received) -> Reply:
        answer = service.dispatch(got.method, urlsplit(got.path).path, got.header("Content-Type"), got.body)
        return Reply(answer.status, answer.body, dict(answer.headers))

    return respond


_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$")
SIGNATURE_MISMATCH = (b'{"message":"The request signature we calculated does not match the signature you provided. '
                      b'Check your AWS Secret Access Key and signing method."}')


@dataclass
class Verdict:
    ok: bool
    reason: str
    signed_headers: tuple[str, ...] = ()


def verify(got: Received, access_key: str, secret_key: str, token: str | None, region: str,
           service: str = "lambda", now: dt.datetime | None = None) -> Verdict:
    """Check a request's SigV4 as AWS would; ``reason`` says what failed."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    match = _AUTH.match(got.header("Authorization") or "")
    if not match:
        return Verdict(False, f"no SigV4 Authorization header: {got.header('Authorization')!r}")
    credential, signed_list, signature = match.groups()
    signed = tuple(signed_list.split(";"))
    amz_date = got.header("X-Amz-Date") or ""
    key_id, date, scope_region, scope_service, terminator = (credential.split("/") + ["", "", "", ""])[:5]
    expected_scope = (access_key, amz_date[:8], region, service, "aws4_request")
    if (key_id, date, scope_region, scope_service, terminator) != expected_scope:
        return Verdict(False, f"credential scope {credential} != {'/'.join(expected_scope)}", signed)
    try:
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return Verdict(False, f"X-Amz-Date {amz_date!r} is not ISO 8601 basic", signed)
    if abs(((now or dt.datetime.now(dt.UTC)) - when).total_seconds()) > 300:
        return Verdict(False, f"X-Amz-Date {amz_date} is more than 5 minutes off", signed)
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return Verdict(False, f"{required} is not signed", signed)
    payload_hash = got.header("X-Amz-Content-SHA256")
    if payload_hash is not None and payload_hash != hashlib.sha256(got.body).hexdigest():
        return Verdict(False, "X-Amz-Content-SHA256 is not the body's SHA-256", signed)
    if token is not None and (got.header("X-Amz-Security-Token") != token or "x-amz-security-token" not in signed):
        return Verdict(False, "the session token is missing or not signed", signed)
    if token is None and got.header("X-Amz-Security-Token") is not None:
        return Verdict(False, "a session token was sent with long-term credentials", signed)
    missing = [h for h in signed if got.header(h) is None]
    if missing:
        return Verdict(False, f"signed header(s) {missing} were not received", signed)

    headers = {h: got.header(h) for h in signed}
    request = AWSRequest(method=got.method, url=f"http://{got.header('Host')}{got.path}", data=got.body, headers=headers)
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(access_key, secret_key, token), service, region)
    by_botocore = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    by_spec = spec_signature(got, signed, secret_key, amz_date, region, service)
    if by_botocore != by_spec:
        return Verdict(False, f"botocore and the specification disagree ({by_botocore} / {by_spec})", signed)
    if not hmac.compare_digest(by_botocore, signature):
        return Verdict(False, "signature mismatch", signed)
    return Verdict(True, "ok", signed)


def spec_signature(got: Received, signed: tuple[str, ...], secret_key: str, amz_date: str, region: str,
                   service: str) -> str:
    """SigV4 from the specification (no query string here; paths are encoded twice outside S3)."""
    path, _, query = got.path.partition("?")
    assert not query, "the stand-in checks query-less requests only"
    canonical_path = quote(quote(path or "/", safe="/~"), safe="/~")
    canonical_headers = "".join(f"{h}:{' '.join((got.header(h) or '').split())}\n" for h in signed)
    payload_hash = got.header("X-Amz-Content-SHA256") or hashlib.sha256(got.body).hexdigest()
    canonical = "\n".join([got.method, canonical_path, "", canonical_headers, ";".join(signed), payload_hash])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def sigv4_checked(inner: Respond, access_key: str, secret_key: str, token: str | None, region: str,
                  verdicts: list[Verdict], now: Callable[[], dt.datetime] | None = None) -> Respond:
    """What an IAM-authenticated Function URL does: 403 unless the signature checks out, then ``inner``.

    ``now``: AWS's clock for the 5-minute window (default: the real one).
    """

    def respond(got: Received) -> Reply:
        verdict = verify(got, access_key, secret_key, token, region, now=now() if now is not None else None)
        verdicts.append(verdict)
        if not verdict.ok:
            return Reply(403, SIGNATURE_MISMATCH)
        return inner(got)

    return respond
