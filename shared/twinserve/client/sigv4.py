"""SigV4 signing for IAM-authenticated Lambda Function URLs, with botocore's own signer.

One function shape for every HTTP library: ``signer.sign(method, url, headers, body)`` returns the
headers to send. The prediction client (requests) and the bench's load generator (aiohttp) call
it per request, so both sign the same way. Credentials come from botocore's default chain, read
again at every signature; nothing is signed for plain ``http://`` unless the host is this machine.

Details (headers, region, the plain-HTTP rule): docs/deploy.md, 'The client's modules'.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from twinserve.client.errors import UsageError

_FUNCTION_URL_HOST = re.compile(r"^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$")
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")

LAMBDA_SERVICE = "lambda"
EXECUTE_API_SERVICE = "execute-api"


def region_from_url(url: str) -> str | None:
    """The region in a Function URL or API Gateway host, or ``None`` for any other host."""
    host = (urlsplit(url).hostname or "").lower()
    for pattern in (_FUNCTION_URL_HOST, _EXECUTE_API_HOST):
        match = pattern.match(host)
        if match:
            return match.group(1)
    return None


def service_for_url(url: str) -> str:
    """``execute-api`` for an API Gateway host, ``lambda`` otherwise (Function URLs, stand-ins)."""
    host = (urlsplit(url).hostname or "").lower()
    return EXECUTE_API_SERVICE if _EXECUTE_API_HOST.match(host) else LAMBDA_SERVICE


def is_loopback_host(host: str) -> bool:
    """``localhost``, an address in 127.0.0.0/8 or ``::1``; names are not resolved (``localhost.`` is not)."""
    host = host.lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_signable(url: str) -> None:
    """Raise :class:`UsageError` unless ``url`` is https, or http to this machine's loopback."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https":
        return
    if scheme == "http" and is_loopback_host(parts.hostname or ""):
        return
    raise UsageError(f"SigV4 needs an https:// URL (plain http only to 127.0.0.1, ::1 or localhost): a signed "
                     f"request sent in clear can be captured and replayed, with its session token; not signing "
                     f"for {parts.scheme}://{parts.hostname or ''}")


def _botocore() -> Any:
    try:
        import botocore.auth
        import botocore.awsrequest
        import botocore.exceptions
        import botocore.session
    except ImportError:
        raise UsageError("SigV4 signing needs botocore: pip install botocore==1.44.8") from None
    return botocore


class SigV4Signer:
    """Signs requests for one AWS service and region with the default credential chain.

    ``credentials``: a botocore ``Credentials`` (tests pass fixed ones); default: the chain of a
    botocore session for ``profile`` (default: ``AWS_PROFILE`` or ``default``).
    Raises :class:`UsageError` when ``url`` is plain http to another machine (:func:`check_signable`),
    botocore is missing, the profile is unknown, no credentials are found or no region can be
    determined.
    Thread-safe: the load generator may sign from several threads.
    """

    def __init__(self, url: str, region: str | None = None, service: str | None = None,
                 profile: str | None = None, credentials: Any = None, reuse_s: float = 0.0) -> None:
        if not 0.0 <= reuse_s <= 60.0:
            raise UsageError(f"signature reuse must be between 0 and 60 s, not {reuse_s}")
        check_signable(url)
        botocore = _botocore()
        self._auth_cls = botocore.auth.SigV4Auth
        self._request_cls = botocore.awsrequest.AWSRequest
        session = None
        if credentials is None or region is None:
            try:
                session = botocore.session.Session(profile=profile)
                session.get_scoped_config()  # raises ProfileNotFound for an unknown profile
            except botocore.exceptions.BotoCoreError as exc:
                raise UsageError(f"AWS configuration: {exc}") from None
        # AWS_REGION is what the AWS CLI v2 and Lambda set; botocore itself reads AWS_DEFAULT_REGION.
        self.region = (region or region_from_url(url) or os.environ.get("AWS_REGION")
                       or (session.get_config_variable("region") if session else None))
        if not self.region:
            raise UsageError("SigV4 needs a region: give --region, or use a Function URL "
                             "(<id>.lambda-url.<region>.on.aws), or set AWS_REGION or the profile's region")
        self.service = service or service_for_url(url)
        if credentials is None:
            try:
                credentials = session.get_credentials() if session else None
            except Exception as exc:  # any provider of the chain may fail its own way (ValueError, ...)
                raise UsageError(f"AWS credentials: {type(exc).__name__}: {exc}") from None
            if credentials is None:
                raise UsageError("SigV4 needs AWS credentials: none found in the environment "
                                 "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), the profile (AWS_PROFILE, "
                                 "~/.aws) or an instance/container role")
        self._credentials = credentials
        self._lock = threading.Lock()
        self.reuse_s = reuse_s
        self._reused: dict[tuple[str, str, tuple[tuple[str, str], ...], bytes], tuple[float, dict[str, str]]] = {}

    def sign(self, method: str, url: str, headers: Mapping[str, str] | None = None,
             body: bytes = b"") -> dict[str, str]:
        """The headers to send with this exact request: ``headers`` plus the SigV4 ones.

        Sign last: any header added or changed afterwards that was signed (all of ``headers``)
        invalidates the signature. The URL must be the one sent (scheme, host, port, path, query).
        Each call signs with the current time: sign every attempt of a retried request again.
        Raises :class:`UsageError` for a plain-http URL to another machine (:func:`check_signable`)
        or credentials that cannot be refreshed.

        With ``reuse_s > 0`` an identical request (method, URL, headers, body) signed less than
        ``reuse_s`` ago gets the same headers back: for a load generator sending one body
        thousands of times a second, signing is ~100 us of CPU and the reused signature is one
        AWS accepts for 5 minutes (botocore would produce the very same bytes within one second).
        """
        check_signable(url)
        given = dict(headers or {})
        key = (method.upper(), url, tuple(sorted(given.items())), body) if self.reuse_s else None
        now = time.monotonic()
        with self._lock:
            if key is not None:
                hit = self._reused.get(key)
                if hit is not None and now - hit[0] < self.reuse_s:
                    return dict(hit[1])
            try:  # refreshable credentials (roles, SSO) may refresh here, and fail their own way
                frozen = self._credentials.get_frozen_credentials()
            except Exception as exc:
                raise UsageError(f"AWS credentials: {type(exc).__name__}: {exc}") from None
        request = self._request_cls(method=method.upper(), url=url, data=body, headers=given)
        request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        self._auth_cls(frozen, self.service, self.region).add_auth(request)
        signed = dict(request.headers.items())
        if key is not None:
            with self._lock:
                if len(self._reused) > 64:  # a handful of distinct requests in practice; stay bounded
                    self._reused.clear()
                self._reused[key] = (now, signed)
        return dict(signed)
