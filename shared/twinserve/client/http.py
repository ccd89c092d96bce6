"""One HTTP session, retries on urllib3's ``Retry`` schedule (a kept library), and one way to read answers.

429, 5xx, connection errors and timeouts are retried with backoff (``Retry-After`` obeyed,
capped); other 4xx and redirects are not. Every retried condition counts against one budget
(``retries``). The attempts are made here, one at a time, so each asks for its headers afresh
(a SigV4 signature carries its own date); urllib3's ``Retry`` decides, counts and waits.

Details (why POST is retried, why not inside urllib3): docs/deploy.md, 'The client's modules'.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from twinserve.client.errors import GaveUp, ServerRefused, UsageError

RETRIED_STATUSES = frozenset([429, *range(500, 600)])


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Seconds throughout.

    retries: extra attempts after the first (0 = one attempt).
    backoff_factor_s: the n-th consecutive retry waits ``factor * 2**(n-1)`` (urllib3's formula;
        the first retry is immediate) plus up to ``backoff_jitter_s``, at most ``backoff_max_s``.
    retry_after_max_s: a server's ``Retry-After`` is obeyed up to this long.
    """

    retries: int = 4
    backoff_factor_s: float = 0.5
    backoff_max_s: float = 20.0
    backoff_jitter_s: float = 0.5
    retry_after_max_s: int = 60

    def __post_init__(self) -> None:
        if self.retries < 0 or self.retries > 100:
            raise UsageError(f"retries must be between 0 and 100, not {self.retries}")
        if min(self.backoff_factor_s, self.backoff_max_s, self.backoff_jitter_s, self.retry_after_max_s) < 0:
            raise UsageError("backoff and Retry-After limits must be >= 0")

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def to_urllib3(self) -> Retry:
        return Retry(
            total=self.retries,
            connect=None, read=None, status=None, other=None,  # one budget for every condition
            redirect=False,
            allowed_methods=None,  # POST too: predictions are pure (see the module docstring)
            status_forcelist=RETRIED_STATUSES,
            backoff_factor=self.backoff_factor_s,
            backoff_max=self.backoff_max_s,
            backoff_jitter=self.backoff_jitter_s,
            respect_retry_after_header=True,
            retry_after_max=self.retry_after_max_s,
            raise_on_status=False,  # give back the last answer: its body says why
        )


def build_session(pool_size: int = 4) -> requests.Session:
    """A keep-alive session that makes one attempt per call (:func:`send` retries, re-preparing each)."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class HttpAnswer:
    """A 2xx answer: status, body bytes, how many attempts it took, seconds for all of them."""

    status: int
    headers: dict[str, str]
    body: bytes
    attempts: int
    elapsed_s: float

    def json(self) -> Any:
        return json.loads(self.body)


def _error_of(body: bytes) -> tuple[str | None, str]:
    """The server's ``{"error": {"code", "message"}}``, or a short excerpt of whatever it sent."""
    try:
        doc = json.loads(body)
        error = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            return (str(code) if code is not None else None), str(error.get("message", ""))
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):  # API Gateway / Lambda URL
            return None, doc["message"]
    except (ValueError, UnicodeDecodeError):
        pass
    text = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
    return None, text or "(empty body)"


def _describe(exc: requests.RequestException) -> str:
    """One line for a transport failure: the innermost reason, without urllib3's object reprs."""
    reason: Any = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # MaxRetryError -> the last underlying error
    text = str(reason)
    if "Errno" in text:
        text = text[text.index("[Errno"):].rstrip(")'\"")
    elif ": " in text and "(" in text.split(": ", 1)[0]:
        text = text.split(": ", 1)[1]
    return f"{type(reason).__name__}: {text}"[:300]


Headers = Callable[[], dict[str, str]]


def send(session: requests.Session, policy: RetryPolicy, method: str, url: str,
         body: bytes | None, headers: Headers, timeout_s: float) -> HttpAnswer:
    """One request, retried by ``policy``; a 2xx :class:`HttpAnswer` or a typed error.

    ``headers`` is called once per attempt for that attempt's headers (a signer signs each
    attempt afresh). ``timeout_s`` bounds connecting and each wait for bytes, per attempt.
    Raises :class:`ServerRefused` (a status that is not retried), :class:`GaveUp` (retries spent,
    with the last status or transport error) or :class:`UsageError` (a URL requests cannot send to).
    """
    t0 = time.perf_counter()
    retry = policy.to_urllib3()
    attempts = 0
    while True:
        attempts += 1
        try:
            response = session.request(method, url, data=body, headers=headers(),
                                       timeout=(timeout_s, timeout_s), allow_redirects=False)
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise UsageError(f"cannot send to {url}: {exc}") from None
        except requests.RequestException as exc:
            try:
                retry = retry.increment(method, url, error=exc)
            except MaxRetryError:
                raise GaveUp(attempts, _describe(exc)) from None
            retry.sleep()
            continue
        status = response.status_code
        if status in RETRIED_STATUSES and retry.is_retry(method, status, "Retry-After" in response.headers):
            try:
                retry = retry.increment(method, url, response=response.raw)
            except MaxRetryError:
                code, detail = _error_of(response.content)
                label = f"{status} {code}" if code else str(status)
                raise GaveUp(attempts, f"last answer {label}: {detail}", status) from None
            response.close()
            retry.sleep(response.raw)
            continue
        break
    elapsed_s = time.perf_counter() - t0
    if 200 <= status < 300:
        return HttpAnswer(status, dict(response.headers), response.content, attempts, elapsed_s)
    code, detail = _error_of(response.content)
    if 300 <= status < 400:
        detail = f"redirect to {response.headers.get('Location', '?')} (not followed; give the final URL)"
    raise ServerRefused(status, code, detail, attempts)
