"""The things the benchmark measures: the Lambda and the container, each local or remote.

Why one interface: every scenario runs the same way on every target, except the forced cold
start, whose mechanics differ. A target is a context manager that serves on ``url`` while open
and produces one cold-start sample (:meth:`Target.cold_sample`), or a whole series at once
(:meth:`Target.cold_batch`, the remote Lambda: configuration changed once, restored at the end).
How each target makes a cold start: docs/benchmark.md, "Cold starts per target".
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from twinbench.measure.loadgen import INIT_HEADER

__all__ = ["ColdBatch", "ColdSample", "Target", "request_body", "request_payloads"]


def request_body(model_dir: Path) -> bytes:
    """A real row for ``POST /predict``: the first of the rows registered with the model (the
    user's SAMPLE, or the default model's held-out rows), as a client of that model sends it."""
    from twinserve.errors import ModelError
    from twinserve.samples import request_bodies

    try:
        return request_bodies(model_dir)[0]
    except ModelError as exc:
        problem = exc.message
    # A metadata file the core does not read (a remote deployment's model described by hand):
    # its example row, if it has one.
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        row = json.loads((model_dir / "metadata.json").read_text())["example_row"]
        return json.dumps({"features": row}).encode()
    raise FileNotFoundError(f"no usable model at {model_dir}: {problem}; run `make model`")


def request_payloads(model_dir: Path) -> list[bytes]:
    """Every registered row as a ``POST /predict`` body, for a load generator to send round-robin."""
    from twinserve.errors import ModelError
    from twinserve.samples import request_bodies

    try:
        return request_bodies(model_dir)
    except ModelError:
        return []


@dataclass
class ColdSample:
    """One forced cold start. Times in ms; ``None`` when that phase does not exist for the target."""

    first_response_ms: float  # process/environment start (container) or request (Lambda) -> answer
    init_ms: float | None  # container: spawn -> ready; Lambda: REPORT Init Duration
    request_ms: float | None  # the first request alone
    verified_cold: bool | None  # Lambda: the handler's cold header; container: True by construction
    status: int
    extra: dict = field(default_factory=dict)


@dataclass
class ColdBatch:
    """A whole series of cold starts run by the target itself (:meth:`Target.cold_batch`).

    ``samples`` are the confirmed-cold ones; ``misclassified`` the samples the handler called warm,
    ``unknown`` those without a cold flag (e.g. an error response), ``failure_statuses`` the
    non-2xx statuses among them; ``extra`` is stored next to the summaries in results.json.
    """

    samples: list[ColdSample]
    misclassified: int
    unknown: int
    failure_statuses: list[int]
    extra: dict = field(default_factory=dict)




def _init_header_ms(headers: dict[str, str]) -> float | None:
    with contextlib.suppress(KeyError, ValueError):
        return float(headers[INIT_HEADER])
    return None


# Signs one request: (method, url, headers, body) -> the headers to send. For IAM-authenticated
# Function URLs: twinserve.client.sigv4.SigV4Signer.sign, the signing `twinserve predict --sigv4` uses.
Sign = Callable[[str, str, dict[str, str], bytes], dict[str, str]]


def timed_post(url: str, body: bytes, timeout_s: float = 60.0, sign: Sign | None = None) -> tuple[int, dict[str, str], float]:
    """POST with a fresh connection; returns (status, headers, ms). HTTP errors are statuses."""
    headers = {"content-type": "application/json"}
    if sign is not None:
        headers = sign("POST", url, headers, body)
    req = urllib.request.Request(url, data=body, headers=headers)
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            resp.read()
            status, headers = resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, {k.lower(): v for k, v in exc.headers.items()}
    except OSError:
        status, headers = 0, {}
    return status, headers, (time.perf_counter() - t0) * 1000.0


class Target:
    name: str
    kind: str
    mode: str
    runtime: str
    url: str = ""
    notes: list[str]
    cold_supported: bool = True
    cold_unsupported_reason: str | None = None
    cpus_effective: float | None = None
    sign: Sign | None = None  # set on a remote target whose URL needs SigV4; None sends unsigned

    def describe(self) -> dict[str, object]:
        raise NotImplementedError

    def cold_sample(self, body: bytes) -> ColdSample:
        raise NotImplementedError

    # Targets that run their cold starts as one series override this (and set it True).
    has_cold_batch: bool = False

    def cold_batch(self, body: bytes, n: int, on_sample: Callable[[str], None],
                   cancel: threading.Event) -> ColdBatch:
        """Run ``n`` cold starts as one series; stop early (cleaning up) once ``cancel`` is set."""
        raise NotImplementedError

    def before_burst(self) -> str | None:
        """Bring the target to its idle state; returns what was done (for the results)."""
        return None

    def lambda_reports(self) -> list[dict]:
        return []

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
