"""The importable client: one deployment URL, signed or not, retried, in batches.

    from twinserve.client import PredictClient

    with PredictClient("https://<id>.lambda-url.eu-west-1.on.aws", sigv4=True) as client:
        answer = client.predict([[17.99, 10.38, ...]])           # one request, the server's JSON
        result = client.predict_rows(rows, total=len(rows))      # any number, in batches, in order

Errors are :mod:`twinserve.client.errors` types; nothing else escapes (a transport failure is a
:class:`GaveUp`, a bad row a :class:`BadInput`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twinserve.client.batches import Batch, Row, Schema, batches, encode
from twinserve.client.errors import GaveUp, ModelChanged, ServerRefused, UnexpectedAnswer, UsageError
from twinserve.client.http import HttpAnswer, RetryPolicy, build_session, send

# The server's defaults (twinserve.settings): used when the server does not publish its limits.
DEFAULT_MAX_ROWS = 1_000
DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_TIMEOUT_S = 10.0
PREDICT_PATH = "/predict"
OPENAPI_PATH = "/openapi.json"


def base_url(url: str) -> str:
    """The deployment's base URL: ``.../predict`` and trailing slashes removed; query kept out.

    Raises :class:`UsageError` for anything that is not an absolute http(s) URL.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url must be an absolute http(s) URL such as https://<id>.lambda-url.<region>.on.aws, not {url!r}")
    if parts.query or parts.fragment:
        raise UsageError(f"--url must not carry a query or fragment: {url!r}")
    path = parts.path.rstrip("/")
    if path.endswith(PREDICT_PATH):
        path = path[: -len(PREDICT_PATH)]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def schema_from_openapi(doc: Any) -> Schema:
    """The row limit and feature names from the server's OpenAPI document (``None`` when absent)."""
    max_rows = names = None
    try:
        post = doc["paths"][PREDICT_PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
        for option in post["oneOf"]:
            instances = option.get("properties", {}).get("instances")
            if instances and isinstance(instances.get("maxItems"), int):
                max_rows = instances["maxItems"]
    except (KeyError, TypeError, AttributeError):
        pass
    try:
        required = doc["components"]["schemas"]["NamedRow"]["required"]
        if isinstance(required, list) and required and all(isinstance(n, str) for n in required):
            names = tuple(required)
    except (KeyError, TypeError):
        pass
    return Schema(max_rows=max_rows, feature_names=names)


@dataclass
class Predictions:
    """Answers of a run merged in input order, in the server's own shape, plus what it took."""

    predictions: list[Any] = field(default_factory=list)
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None
    model: dict[str, Any] | None = None
    requests: int = 0
    attempts: int = 0

    def document(self) -> dict[str, Any]:
        """The server's answer format (``predictions``, ``probabilities``, ``classes``, ``model``)."""
        doc: dict[str, Any] = {"predictions": self.predictions}
        if self.probabilities is not None:
            doc["probabilities"] = self.probabilities
            doc["classes"] = self.classes
        doc["model"] = self.model
        return doc


@dataclass(frozen=True)
class BatchDone:
    """BatchProgress after one batch: rows answered so far of ``total`` (``None`` when unknown)."""

    index: int
    rows_done: int
    total: int | None
    batch: Batch
    answer: HttpAnswer


class PredictClient:
    """Calls one deployment's ``POST /predict``.

    url: the deployment (HTTP API, Function URL, container); a trailing ``/predict`` is accepted.
    timeout_s: per attempt, for connecting and for each wait for bytes.
    policy: retries, backoff and jitter (:class:`RetryPolicy`).
    sigv4: sign every attempt of every request for IAM auth (Function URLs); ``region``/``profile``
        as for botocore, the region defaults to the one in a Function URL's host. ``signer`` (an
        object with the :meth:`~twinserve.client.sigv4.SigV4Signer.sign` shape) overrides all three.
        Signing needs an https URL, or http to 127.0.0.0/8, ::1 or localhost (else :class:`UsageError`).
    max_body_bytes: bodies are kept under this (the server's ``MAX_BODY_BYTES``).
    """

    def __init__(self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, policy: RetryPolicy | None = None,
                 sigv4: bool = False, region: str | None = None, profile: str | None = None,
                 signer: Any = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if timeout_s <= 0:
            raise UsageError(f"timeout must be > 0 s, not {timeout_s}")
        if max_body_bytes < 64:
            raise UsageError(f"body limit must be >= 64 bytes, not {max_body_bytes}")
        self.url = base_url(url)
        self.timeout_s = timeout_s
        self.policy = policy or RetryPolicy()
        self.max_body_bytes = max_body_bytes
        if signer is not None or sigv4:
            from twinserve.client.sigv4 import SigV4Signer, check_signable

            check_signable(self.url)  # before any credential is looked up
            if signer is None:
                signer = SigV4Signer(self.url, region=region, profile=profile)
        self.signer = signer
        self._session = build_session()

    def __enter__(self) -> PredictClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def _request(self, method: str, path: str, body: bytes | None) -> HttpAnswer:
        url = self.url + path
        base = {"Content-Type": "application/json"} if body is not None else {}
        signer = self.signer

        def headers() -> dict[str, str]:  # per attempt: each retry carries its own signature and date
            return signer.sign(method, url, base, body or b"") if signer is not None else dict(base)

        return send(self._session, self.policy, method, url, body, headers, self.timeout_s)

    def schema(self) -> Schema:
        """What the server publishes at ``/openapi.json``; an empty :class:`Schema` when it does not.

        A server that cannot be reached raises :class:`GaveUp`: the predictions would fail too.
        """
        try:
            doc = self._request("GET", OPENAPI_PATH, None).json()
        except (ServerRefused, ValueError, UnicodeDecodeError):
            return Schema()  # an HTTP API routes only /predict and /health: 404 here is normal
        except GaveUp as exc:
            if exc.status is not None:  # a 5xx on an optional document: use the defaults
                return Schema()
            raise
        return schema_from_openapi(doc)

    def predict_body(self, body: bytes, rows: int) -> tuple[dict[str, Any], HttpAnswer]:
        """Send one prepared body of ``rows`` rows; the checked answer and its transport facts."""
        answer = self._request("POST", PREDICT_PATH, body)
        try:
            doc = answer.json()
        except (ValueError, UnicodeDecodeError):
            raise UnexpectedAnswer(f"status {answer.status} but the body is not JSON: {answer.body[:120]!r}") from None
        _check_answer(doc, rows)
        return doc, answer

    def predict(self, rows: Sequence[Row]) -> dict[str, Any]:
        """One request for ``rows`` (at most the server's row limit); the server's JSON answer."""
        doc, _ = self.predict_body(encode(rows), len(rows))
        return doc

    def predict_rows(self, rows: Iterable[Row], *, total: int | None = None, batch_rows: int = DEFAULT_MAX_ROWS,
                     on_batch: Callable[[BatchDone], None] | None = None) -> Predictions:
        """Every row, in batches of ``batch_rows`` (and the body limit), answers merged in order.

        Raises :class:`ModelChanged` when two batches name different models (a deploy mid-run).
        """
        merged = Predictions()
        done = 0
        for index, batch in enumerate(batches(rows, batch_rows, self.max_body_bytes)):
            doc, answer = self.predict_body(batch.body, batch.rows)
            _merge(merged, doc, batch)
            merged.requests += 1
            merged.attempts += answer.attempts
            done += batch.rows
            if on_batch is not None:
                on_batch(BatchDone(index, done, total, batch, answer))
        return merged


def _check_answer(doc: Any, rows: int) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("predictions"), list):
        raise UnexpectedAnswer('the answer has no "predictions" list; is --url a twinserve deployment?')
    if len(doc["predictions"]) != rows:
        raise UnexpectedAnswer(f"sent {rows} rows, got {len(doc['predictions'])} predictions")
    probabilities = doc.get("probabilities")
    if probabilities is not None and (not isinstance(probabilities, list) or len(probabilities) != rows):
        raise UnexpectedAnswer(f"sent {rows} rows, got a probabilities list that does not match")


def _merge(merged: Predictions, doc: dict[str, Any], batch: Batch) -> None:
    model = doc.get("model")
    if merged.requests == 0:
        merged.model, merged.classes = model, doc.get("classes")
        merged.probabilities = [] if doc.get("probabilities") is not None else None
    elif model != merged.model or doc.get("classes") != merged.classes:
        raise ModelChanged(
            f"rows from {batch.start} on were answered by another model ({_model_label(model)}) than the rows "
            f"before ({_model_label(merged.model)}); a deploy happened during the run: run it again")
    merged.predictions.extend(doc["predictions"])
    if merged.probabilities is not None:
        merged.probabilities.extend(doc.get("probabilities") or [])


def _model_label(model: Any) -> str:
    if isinstance(model, dict):
        return f"{model.get('name')} {model.get('version')} sha256 {str(model.get('sha256'))[:12]}"
    return repr(model)
