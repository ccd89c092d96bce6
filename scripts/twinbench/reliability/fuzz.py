"""Hostile input against every wrapper: ``python -m twinbench fuzz`` / ``make fuzz``.

Three wrappers, each fed at least ``n`` generated requests:

* **container** — the real gunicorn (:class:`~twinserve_support.local_container.LocalContainer`, the pod's
  config and limits), driven by ``schemathesis`` from the service's own ``/openapi.json``;
* **wsgi-lambda** — the Flask app through serverless-wsgi, run by the local Lambda emulator
  (:class:`~twinbench.local_lambda.LocalLambda`: real ``awslambdaric`` processes from the unzipped
  package ``build/lambda/pkg``, behind the HTTP API payload 2.0 front), driven by schemathesis
  over real HTTP under the ``/wsgi`` prefix as deployed;
* **native-lambda** — ``handler.handler`` called in-process with hypothesis-generated events:
  API Gateway REST v1, HTTP API v2 and Function URL shapes, base64 bodies, and malformed events.

Passing means: no response >= 500, no network-level failure, no crashed worker (gunicorn worker
PIDs unchanged and no timeout/kill in its log; no Lambda function error, runtime exit or timeout),
and every 4xx carrying ``{"error": {"code", "message"}}``. Then hand-written edge cases (bodies at
and just over each size limit, 100k-deep nesting, huge numbers, unicode, duplicate keys) and slow
clients (sockets trickling bytes must not stop other clients being served).

schemathesis runs as a separate process from ``.venv-fuzz`` (its pins stay out of ``.venv``);
:mod:`twinbench.reliability.fuzz_st_hooks` counts its requests and adds the ``json_error_body`` check.
Every server started here is stopped on success, failure and Ctrl-C; all traffic is on 127.0.0.1.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import copy
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinserve_support.paths import REPO  # noqa: E402
from twinserve_support.sample_events import EVENT_FILES, event_for, load_template

from twinbench.measure.progress import Progress

FUZZ_BIN = REPO / ".venv-fuzz" / "bin"
DEFAULT_PACKAGE = REPO / "build" / "lambda" / "pkg"
WSGI_PREFIX = "/wsgi"  # serverless.yml: API_GATEWAY_BASE_PATH=wsgi for the WSGI function
# Lambda's synchronous invocation payload limit (the "6 MB" of the docs: 6,291,456 bytes).
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
# The local front's own request limit (HTTP API's 10 MB), enforced before the function runs.
FRONT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
WRAPPERS = ("container", "wsgi-lambda", "native-lambda")
# The file twinbench.reliability.fuzz_st_hooks (inside schemathesis) writes its request tally to.
COUNTS_ENV = "TWINBENCH_FUZZ_COUNTS"
# A gunicorn log line any of these match means a worker died or was killed.
GUNICORN_CRASH = re.compile(r"WORKER TIMEOUT|was sent SIG|exited with code|Worker failed to boot|"
                            r"Traceback|unhandled error|Shutting down: Master|Handling signal: (term|int|quit)",
                            re.IGNORECASE)
GUNICORN_BOOT = re.compile(r"Booting worker with pid: (\d+)")

__all__ = ["FuzzSettings", "WrapperReport", "edge_cases", "run", "slow_clients", "fuzz_native"]


@dataclass(frozen=True)
class FuzzSettings:
    """What ``make fuzz`` runs. Counts are per wrapper; durations in seconds."""

    n: int = 10_000
    """Generated requests per wrapper (at least; schemathesis rounds may overshoot a little)."""
    seed: int = 20261128
    wrappers: tuple[str, ...] = WRAPPERS
    max_s_per_wrapper: float = 900.0
    """Time cap on the generated requests of one wrapper; reaching it without ``n`` fails the run."""
    slow_clients: int = 4
    """Sockets trickling one byte per ``slow_interval_s`` while a normal client keeps asking."""
    slow_s: float = 40.0
    """How long the slow clients trickle (default beyond gunicorn's 30 s worker timeout)."""
    slow_interval_s: float = 1.0
    edge: bool = True
    package_dir: Path = DEFAULT_PACKAGE
    out_dir: Path | None = None
    schemathesis: Path = FUZZ_BIN / "schemathesis"


@dataclass
class WrapperReport:
    """Every figure for one wrapper; ``problems`` lists what made it fail (empty = pass)."""

    name: str
    requests: int = 0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    network_errors: int = 0
    bad_error_bodies: int = 0
    crashed_workers: int = 0
    duration_s: float = 0.0
    edge_cases: list[dict] = field(default_factory=list)
    slow_clients: dict | None = None
    problems: list[str] = field(default_factory=list)
    """What fails the run: 5xx, no answer, crashed worker, 4xx without the JSON error body, slow clients."""
    findings: list[str] = field(default_factory=list)
    """4xx with the right body but another status than the contract's (e.g. 400 where 413 is due)."""
    notes: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status.isdigit() and int(status) >= 500)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"name": self.name, "requests": self.requests, "statuses": dict(sorted(self.statuses.items())),
                "server_errors_5xx": self.server_errors, "network_errors": self.network_errors,
                "bad_error_bodies": self.bad_error_bodies, "crashed_workers": self.crashed_workers,
                "duration_s": round(self.duration_s, 1), "edge_cases": self.edge_cases,
                "slow_clients": self.slow_clients, "problems": self.problems, "findings": self.findings,
                "notes": self.notes, "ok": self.ok}


# Module level imports only the standard library (and twinbench.measure.progress): twinbench.reliability.fuzz_st_hooks
# imports this module inside .venv-fuzz.
def is_v2_route(path: str) -> bool:
    """Whether ``path`` is an Open Inference Protocol V2 route, whose errors are ``{"error": "<message>"}``.

    Written out here, not imported from the service: this module runs inside schemathesis' venv,
    and an oracle that reads the wire independently of the code it checks is the point."""
    return path == "/v2" or path.startswith("/v2/")


def error_body_problem(status: int, content_type: str | None, body: bytes, path: str = "") -> str | None:
    """Why a 4xx answer is not the service's JSON error body, or ``None`` when it is. The body is
    ``{"error": {"code", "message"}}``, or on the V2 routes the protocol's ``{"error": "<message>"}``."""
    if not 400 <= status < 500:
        return None
    if not (content_type or "").lower().startswith("application/json"):
        return f"{status} with content-type {content_type!r}, not application/json"
    try:
        data = json.loads(body)
    except ValueError:
        return f"{status} body is not JSON: {body[:120]!r}"
    if not isinstance(data, dict) or set(data) != {"error"}:
        return f'{status} body is not {{"error": ...}}: {body[:120]!r}'
    error = data["error"]
    if is_v2_route(path):
        if not isinstance(error, str) or not error:
            return f'{status} body on a V2 route is not {{"error": "<message>"}}: {body[:120]!r}'
        return None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        return f'{status} body is not {{"error": {{"code", "message"}}}}: {body[:120]!r}'
    return None


# --------------------------------------------------------------------------------------------
# HTTP helpers (stdlib only: exact bytes on the wire, no client-side "fixing" of bodies)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    status: int  # 0 = no HTTP answer
    content_type: str | None
    body: bytes
    error: str | None = None


def _split_url(base_url: str) -> tuple[str, int, str]:
    """``http://host:port/prefix`` -> (host, port, "/prefix" or "")."""
    rest = base_url.split("://", 1)[1]
    hostport, _, prefix = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80), ("/" + prefix).rstrip("/") if prefix else ""


def http_request(base_url: str, method: str, path: str, body: bytes | None = None,
                 content_type: str | None = "application/json", timeout_s: float = 30.0,
                 chunked: bool = False) -> Answer:
    """One request on a fresh connection, exact bytes on the wire; ``status=0`` + ``error`` when no answer.

    A server may answer (413) and close before the whole body is sent, as gunicorn does for a too
    large Content-Length: the send error is ignored and the answer read anyway, as curl does.
    """
    host, port, prefix = _split_url(base_url)
    head = [f"{method} {prefix}{path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    if content_type:
        head.append(f"Content-Type: {content_type}")
    data = body or b""
    if chunked:
        head.append("Transfer-Encoding: chunked")
        data = b"".join(f"{len(data[i:i + 65536]):x}\r\n".encode() + data[i:i + 65536] + b"\r\n"
                        for i in range(0, len(data), 65536)) + b"0\r\n\r\n"
    elif body is not None:
        head.append(f"Content-Length: {len(body)}")
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        return Answer(0, None, b"", f"{type(exc).__name__}: {exc}")
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return Answer(response.status, response.getheader("content-type"), response.read())
    except (OSError, http.client.HTTPException) as exc:
        return Answer(0, None, b"", f"{type(exc).__name__}: {exc}")
    finally:
        sock.close()


# --------------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EdgeCase:
    """A hand-made body. ``expect``: statuses that are correct; ``front``: may be refused by the
    Lambda HTTP front itself (API Gateway's own error, not the app's JSON body)."""

    name: str
    body: bytes
    expect: frozenset[int]
    content_type: str | None = "application/json"
    chunked: bool = False
    front: bool = False


def _sized_instances(row: list[float], size: int, max_rows: int) -> bytes:
    """A valid ``{"instances": [...]}`` of exactly ``size`` bytes (rows <= max_rows, whitespace padding).

    Raises ``ValueError`` when even one row does not fit.
    """
    row_json = json.dumps(row)
    rows = max(1, min(max_rows, (size - 20) // (len(row_json) + 2)))
    core = '{"instances": [' + ", ".join([row_json] * rows) + "]"
    if len(core) + 1 > size:
        raise ValueError(f"{size} bytes cannot hold one row")
    return (core + " " * (size - len(core) - 1) + "}").encode()


def _padded_invalid(size: int) -> bytes:
    """``size`` bytes of syntactically valid JSON that is not a valid request (a big string)."""
    return ('{"features": "' + "x" * (size - 16) + '"}').encode()


def edge_cases(example_row: list[float], feature_names: list[str], max_body_bytes: int, max_rows: int,
               lambda_sizes: bool = False) -> list[EdgeCase]:
    """The hand-written hostile bodies; ``lambda_sizes`` adds the 6 MB and front-limit cases."""
    ok_or_client = frozenset({200, 400, 413, 415, 422})
    client = frozenset({400, 413, 415, 422})
    row = [float(v) for v in example_row]
    nested = b"[" * 100_000 + b"]" * 100_000
    named = dict(zip(feature_names, row, strict=True))
    cases = [
        EdgeCase("body exactly at MAX_BODY_BYTES (valid rows + whitespace)",
                 _sized_instances(row, max_body_bytes, max_rows), frozenset({200})),
        EdgeCase("body MAX_BODY_BYTES + 1", _sized_instances(row, max_body_bytes + 1, max_rows), frozenset({413})),
        EdgeCase("body MAX_BODY_BYTES + 1, chunked (no Content-Length)",
                 _sized_instances(row, max_body_bytes + 1, max_rows), frozenset({413}), chunked=True),
        EdgeCase("small valid body, chunked", json.dumps({"features": row}).encode(), frozenset({200}), chunked=True),
        EdgeCase("MAX_ROWS + 1 rows", json.dumps({"instances": [row] * (max_rows + 1)}).encode(), frozenset({413})),
        EdgeCase("100k nested arrays", nested, frozenset({400, 422})),
        EdgeCase("100k nested arrays inside features", b'{"features": ' + nested + b"}", frozenset({400, 422})),
        EdgeCase("100k nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, frozenset({400, 422})),
        EdgeCase("integer with 100k digits", ('{"features": [' + "9" * 100_000 + "]}").encode(), client),
        EdgeCase("1e400 (overflows float64)", json.dumps({"features": row}).replace(
            str(row[0]), "1e400", 1).encode(), client),
        EdgeCase("3.5e38 (overflows float32)", json.dumps({"features": [3.5e38] + row[1:]}).encode(), client),
        EdgeCase("-1e-400 (underflows)", json.dumps({"features": row}).replace(str(row[0]), "-1e-400", 1).encode(),
                 ok_or_client),
        EdgeCase("NaN / Infinity tokens", json.dumps({"features": [float("nan"), float("inf")] + row[2:]}).encode(),
                 client),
        EdgeCase("duplicate top-level keys", ('{"features": ' + json.dumps(row) + ', "features": "x"}').encode(),
                 ok_or_client),
        EdgeCase("duplicate feature names", ('{"features": {' + ", ".join(
            [f"{json.dumps(feature_names[0])}: 1.0"] + [f"{json.dumps(k)}: {v!r}" for k, v in named.items()])
            + "}}").encode(), ok_or_client),
        EdgeCase("unicode feature names", json.dumps({"features": {"名前\u202e\U0001F600": 1.0}}).encode(), client),
        EdgeCase("lone surrogate escape", b'{"features": "\\ud800"}', client),
        EdgeCase("invalid UTF-8", b'{"features": [\xff\xfe]}', client),
        EdgeCase("UTF-8 BOM", b"\xef\xbb\xbf" + json.dumps({"features": row}).encode(), ok_or_client),
        EdgeCase("NUL bytes", b'{"features": [\x00]}', client),
        EdgeCase("empty body", b"", client),
        EdgeCase("JSON null", b"null", client),
        EdgeCase("truncated JSON", json.dumps({"features": row}).encode()[:-3], client),
        EdgeCase("text/plain content type", json.dumps({"features": row}).encode(), client,
                 content_type="text/plain"),
        EdgeCase("no content type", json.dumps({"features": row}).encode(), ok_or_client, content_type=None),
        EdgeCase("big valid-JSON string just under the limit", _padded_invalid(max_body_bytes - 1), client),
    ]
    if lambda_sizes:
        cases += [
            EdgeCase("body just under Lambda's 6 MB sync payload", _padded_invalid(LAMBDA_SYNC_PAYLOAD_BYTES - 8192),
                     frozenset({413})),
            EdgeCase("body just over Lambda's 6 MB sync payload", _padded_invalid(LAMBDA_SYNC_PAYLOAD_BYTES + 1),
                     frozenset({413}), front=True),
            EdgeCase("body just over the HTTP front's 10 MB", _padded_invalid(FRONT_MAX_REQUEST_BYTES + 1),
                     frozenset({413}), front=True),
        ]
    return cases


def check_edge(case: EdgeCase, answer: Answer) -> dict:
    """The outcome of one edge case as a result record (``problem`` is ``None`` when it passed)."""
    problem = finding = None
    if answer.status == 0:
        problem = f"no answer ({answer.error})"
    elif answer.status >= 500:
        problem = f"server error {answer.status}: {answer.body[:160]!r}"
    else:
        body_problem = error_body_problem(answer.status, answer.content_type, answer.body)
        if body_problem and not case.front:
            problem = body_problem
        elif answer.status not in case.expect:
            # A 4xx with the JSON body, but not the status the contract calls for: reported, not fatal.
            finding = f"status {answer.status}, expected one of {sorted(case.expect)}: {answer.body[:160]!r}"
    record = {"case": case.name, "bytes": len(case.body), "status": answer.status, "problem": problem,
              "finding": finding}
    if case.front and answer.status == 413 and error_body_problem(413, answer.content_type, answer.body):
        record["note"] = "refused by the HTTP front (API Gateway's role), not the app"
    return record


# --------------------------------------------------------------------------------------------
# Slow clients
# --------------------------------------------------------------------------------------------

def slow_clients(base_url: str, body: bytes, count: int = 4, duration_s: float = 10.0,
                 interval_s: float = 1.0, request_timeout_s: float = 5.0) -> dict:
    """``count`` sockets trickle a request one byte per ``interval_s`` (half in the headers, half in
    a body announced far larger than sent) for ``duration_s``, while one normal client keeps sending
    ``POST /predict`` on fresh connections. Bounded: ends after ``duration_s`` (+ one request timeout).

    Returns counts and latencies of the normal client; ``problem`` is set when any of its
    requests failed or waited longer than ``request_timeout_s``.
    """
    host, port, prefix = _split_url(base_url)
    stop = threading.Event()
    trickled = collections.Counter()
    sockets: list[socket.socket] = []

    def trickler(index: int) -> None:
        # Even sockets stall in the headers (slowloris); odd ones in the body (slow POST / RUDY).
        head = f"POST {prefix}/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        if index % 2:
            head += "Content-Length: 100000\r\n\r\n"
        payload = head.encode() if index % 2 else b""
        drip = (b'{"features": [' + b"1" * 200_000) if index % 2 else (head.encode() + b"X-Slow: " + b"a" * 8000)
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            trickled["connect_failed"] += 1
            return
        sockets.append(sock)
        try:
            if payload:
                sock.sendall(payload)
            for byte in drip:
                if stop.wait(interval_s):
                    break
                sock.sendall(bytes([byte]))
                trickled["bytes"] += 1
        except OSError:
            trickled["closed_by_server"] += 1

    threads = [threading.Thread(target=trickler, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(min(1.0, duration_s / 4))  # let the slow sockets occupy their threads first
    latencies_ms: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + duration_s
    try:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            answer = http_request(base_url, "POST", "/predict", body, timeout_s=request_timeout_s)
            latencies_ms.append((time.perf_counter() - t0) * 1000.0)
            if answer.status != 200:
                failures.append(f"{answer.status} {answer.error or answer.body[:80]!r}")
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=interval_s + 5)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
    latencies_ms.sort()
    worst = latencies_ms[-1] if latencies_ms else None
    problem = None
    if not latencies_ms:
        problem = "the normal client sent nothing"
    elif failures:
        problem = f"{len(failures)} of {len(latencies_ms)} normal requests failed while slow clients trickled: {failures[:3]}"
    elif worst is not None and worst > request_timeout_s * 1000.0:
        problem = f"a normal request waited {worst:.0f} ms"
    return {
        "slow_sockets": count, "duration_s": duration_s, "interval_s": interval_s,
        "bytes_trickled": trickled["bytes"], "slow_sockets_closed_by_server": trickled["closed_by_server"],
        "normal_requests": len(latencies_ms), "normal_failures": len(failures),
        "normal_p50_ms": round(latencies_ms[len(latencies_ms) // 2], 2) if latencies_ms else None,
        "normal_max_ms": round(worst, 2) if worst is not None else None,
        "problem": problem,
    }


# --------------------------------------------------------------------------------------------
# schemathesis (container and WSGI Lambda)
# --------------------------------------------------------------------------------------------

def _read_counts(path: Path) -> dict:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text())
    return {}


def run_schemathesis(report: WrapperReport, schema_url: str, base_url: str, settings: FuzzSettings,
                     out_dir: Path, progress: Progress, max_rounds: int = 6) -> None:
    """Run ``schemathesis run`` (separate process, own venv) until ``settings.n`` requests were sent.

    Each round uses another seed; the tally comes from :mod:`twinbench.reliability.fuzz_st_hooks`. A round that
    fails its checks (5xx, non-JSON 4xx) is a problem; its log stays in ``out_dir``.
    """
    if not settings.schemathesis.exists():
        raise FileNotFoundError(f"{settings.schemathesis} not found: run `make fuzz` (it creates .venv-fuzz)")
    started = time.monotonic()
    for round_no in range(max_rounds):
        remaining = settings.n - report.requests
        budget_s = settings.max_s_per_wrapper - (time.monotonic() - started)
        if remaining <= 0 or budget_s < 5:
            break
        counts_path = out_dir / f"schemathesis-{report.name}-{round_no}.counts.json"
        log_path = out_dir / f"schemathesis-{report.name}-{round_no}.log"
        argv = [str(settings.schemathesis), "run", schema_url, "--url", base_url,
                "--max-examples", str(remaining), "--seed", str(settings.seed + round_no),
                "--checks", "not_a_server_error,json_error_body", "--continue-on-failure",
                "--phases", "examples,coverage,fuzzing", "--mode", "all",
                # Not --max-time: with it schemathesis keeps fuzzing until the time is spent, whatever -n.
                "--request-timeout", "30",
                "--generation-database", "none", "--suppress-health-check", "all",
                "--no-color", "--report", "junit", "--report-junit-path",
                str(out_dir / f"schemathesis-{report.name}-{round_no}.junit.xml")]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "twinbench.reliability.fuzz_st_hooks", COUNTS_ENV: str(counts_path),
               "PYTHONPATH": str(REPO / "scripts")}
        before = report.requests
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out_dir,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                while proc.poll() is None:
                    if time.monotonic() - started > settings.max_s_per_wrapper:
                        raise TimeoutError(f"schemathesis ran past {settings.max_s_per_wrapper:.0f} s")
                    sent = before + int(_read_counts(counts_path).get("requests", 0))
                    progress.update(f"{sent}/{settings.n} requests (round {round_no + 1})")
                    time.sleep(1.0)
            finally:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
        counts = _read_counts(counts_path)
        report.requests += int(counts.get("requests", 0))
        report.statuses.update(counts.get("statuses", {}))
        report.network_errors += int(counts.get("network_errors", 0))
        report.bad_error_bodies += int(counts.get("bad_error_bodies", 0))
        if proc.returncode != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-25:]
            report.problems.append(f"schemathesis round {round_no} exited {proc.returncode} (log: {log_path}): "
                                   + " | ".join(line for line in tail if line.strip())[:1500])
            break
        if report.requests == before:
            report.problems.append(f"schemathesis round {round_no} sent no request (log: {log_path})")
            break
    if report.requests < settings.n and not report.problems:
        report.problems.append(f"only {report.requests} of {settings.n} requests within "
                               f"{settings.max_s_per_wrapper:.0f} s")
    if report.network_errors:
        report.problems.append(f"{report.network_errors} requests got no HTTP answer")
    if report.server_errors:
        report.problems.append(f"{report.server_errors} responses >= 500")
    if report.bad_error_bodies:
        report.problems.append(f"{report.bad_error_bodies} 4xx answers without the JSON error body")


# --------------------------------------------------------------------------------------------
# Native handler, in-process, hypothesis-generated events
# --------------------------------------------------------------------------------------------

def event_strategy(example_row: list[float], feature_names: list[str], model_name: str = "model",
                   model_version: str = "1"):
    """Hypothesis strategy of Lambda events: valid, subtly wrong and malformed (imports hypothesis),
    to twinserve's routes and the Open Inference Protocol V2 routes of the served model."""
    from hypothesis import strategies as st

    templates = {name: load_template(name) for name in EVENT_FILES}
    n = len(example_row)
    number = st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(10**40), max_value=10**40)
    json_value = st.recursive(
        st.none() | st.booleans() | number | st.text(max_size=20),
        lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
        max_leaves=25,
    )
    row = st.lists(number, min_size=n, max_size=n)
    wrong_row = st.lists(json_value, min_size=0, max_size=n + 2)
    named_row = st.fixed_dictionaries({name: number for name in feature_names})
    document = st.one_of(
        st.builds(lambda r: {"features": r}, row | named_row),
        st.builds(lambda rs: {"instances": rs}, st.lists(row | named_row, min_size=0, max_size=4)),
        st.builds(lambda r: {"features": r}, wrong_row),
        st.builds(lambda r: {"instances": r}, json_value),
        json_value,
        st.just({"features": example_row}),
    )
    datatype = st.sampled_from(["FP32", "FP64", "INT64", "INT8", "UINT8", "BYTES", "fp64", ""]) | json_value
    shape = st.just([1, n]) | st.lists(st.integers(-2, 2000) | json_value, max_size=3)
    tensor = st.fixed_dictionaries(
        {"name": st.just("features") | json_value, "shape": shape, "datatype": datatype,
         "data": row | st.lists(row, max_size=3) | wrong_row | json_value},
        optional={"parameters": st.just({"binary_data_size": 8}) | json_value},
    )
    v2_document = st.one_of(
        st.fixed_dictionaries({"inputs": st.lists(tensor, max_size=2)},
                              optional={"id": st.text(max_size=8) | json_value,
                                        "outputs": st.lists(st.fixed_dictionaries({"name": st.sampled_from(
                                            ["label", "probabilities", "nope"]) | json_value}), max_size=3) | json_value}),
        st.just({"inputs": [{"name": "features", "shape": [1, n], "datatype": "FP64", "data": example_row}]}),
    )
    document = document | v2_document
    model = f"/v2/models/{model_name}"
    v2_paths = [model + "/infer", f"{model}/versions/{model_version}/infer", model, model + "/ready",
                f"{model}/versions/{model_version}", "/v2", "/v2/health/live", "/v2/health/ready",
                "/v2/models/nope/infer", f"{model}/versions/0/infer", "/v2/", "/v2/models"]

    def dumps(doc: Any) -> bytes:
        return json.dumps(doc, allow_nan=True).encode()

    body = st.one_of(
        document.map(dumps),
        document.map(dumps).flatmap(lambda b: st.integers(0, max(0, len(b) - 1)).map(lambda i: b[:i])),  # truncated
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.none(),
    )
    method = st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "post"]) | st.text(max_size=8)
    path = st.sampled_from(["/predict", "/health", "/ready", "/openapi.json", "/", "/predict/", "/PREDICT",
                            "/dev/predict", "/predict?x=1", "//predict", *v2_paths]) | st.text(max_size=30)
    content_type = st.sampled_from(["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                    "text/plain", "application/x-www-form-urlencoded", "", None]) | st.text(max_size=30)
    well_formed = st.builds(
        event_for, st.sampled_from(list(templates.values())), method, path, body, content_type, st.booleans())

    def corrupt(event: dict, key_choice: int, value: Any, mode: int) -> Any:
        event = copy.deepcopy(event)
        keys = sorted(event)
        key = keys[key_choice % len(keys)]
        if mode == 0:
            event.pop(key)
        elif mode == 1:
            event[key] = value
        elif mode == 2:
            event["isBase64Encoded"], event["body"] = True, "!!not base64!!"
        elif mode == 3 and isinstance(event.get("requestContext"), dict):
            event["requestContext"]["http"] = value
        elif mode == 4:
            event["headers"] = value
        return event

    malformed = st.one_of(
        st.builds(corrupt, well_formed, st.integers(0, 50), json_value, st.integers(0, 4)),
        json_value,  # not an event at all: list, string, number, null, random object
        document,  # direct invocation with a bare document
    )
    return st.one_of(well_formed, well_formed, malformed)


def _routed_path(parse_event: Callable[[Any], Any], event: Any) -> str:
    """The path the native handler routes ``event`` to (its own parser: stage prefixes and event
    kinds are not what this oracle checks); "" for an event it refuses before any route (not an
    HTTP request of its declared kind, or a body marked base64 that is not), which it answers in
    the service's own error shape whatever path the event names. API Gateway sends neither."""
    from twinserve.errors import ClientError

    try:
        return parse_event(event).path
    except ClientError:
        return ""


def fuzz_native(report: WrapperReport, settings: FuzzSettings, progress: Progress) -> None:
    """``settings.n`` hypothesis events through the native handler, in this process."""
    from hypothesis import HealthCheck, given, seed
    from hypothesis import settings as hsettings

    handler_module = _import_native_handler()
    metadata = _metadata()
    examples: list[str] = []

    @seed(settings.seed)
    @hsettings(max_examples=settings.n, deadline=None, database=None, derandomize=False,
               suppress_health_check=list(HealthCheck))
    @given(event_strategy(metadata["example_row"], metadata["feature_names"], metadata["name"], metadata["version"]))
    def one(event: Any) -> None:
        report.requests += 1
        if report.requests % 250 == 0:
            progress.update(f"{report.requests}/{settings.n} events")
        try:
            result = handler_module.handler(event, None)
        except Exception as exc:  # noqa: BLE001 (a raise is the crash being counted)
            report.statuses["raised"] += 1
            if len(examples) < 5:
                examples.append(f"{type(exc).__name__}: {exc} for event {json.dumps(event, default=repr)[:300]}")
            return
        status = result.get("statusCode") if isinstance(result, dict) else None
        report.statuses[str(status)] += 1
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        problem = (error_body_problem(status, headers.get("content-type"), raw,
                                      _routed_path(handler_module.parse_event, event))
                   if isinstance(status, int) else "no status")
        if problem:
            report.bad_error_bodies += 1
            if len(examples) < 5:
                examples.append(f"{problem} for event {json.dumps(event, default=repr)[:300]}")

    one()
    if report.requests < settings.n:
        report.problems.append(f"hypothesis generated only {report.requests} of {settings.n} events")
    raised = report.statuses.get("raised", 0)
    if raised:
        report.crashed_workers = raised
        report.problems.append(f"the handler raised on {raised} events (Lambda: function error -> 502): {examples[:3]}")
    if report.server_errors:
        report.problems.append(f"{report.server_errors} responses >= 500")
    if report.bad_error_bodies:
        report.problems.append(f"{report.bad_error_bodies} 4xx answers without the JSON error body: {examples[:3]}")


def _import_native_handler():
    """Import ``handler`` (its init loads the model from ``MODEL_PATH``), as Lambda imports it."""
    for sub in ("shared", "services/predict-lambda"):
        path = str(REPO / sub)
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("MODEL_PATH", str(REPO / "model"))
    import importlib

    return importlib.import_module("handler")


def _metadata() -> dict:
    model_dir = Path(os.environ.get("MODEL_PATH") or REPO / "model")
    return json.loads((model_dir / "metadata.json").read_text())


def _limits() -> tuple[int, int]:
    from twinserve.settings import Settings

    core = Settings.from_env()
    return core.max_body_bytes, core.max_rows


def native_edge_cases(report: WrapperReport) -> None:
    """The edge-case bodies as HTTP API v2 events (plain and base64) through the native handler."""
    handler_module = _import_native_handler()
    metadata = _metadata()
    max_body, max_rows = _limits()
    template = load_template("http_api_v2.json")
    for case in edge_cases(metadata["example_row"], metadata["feature_names"], max_body, max_rows, lambda_sizes=False):
        if case.chunked:
            continue  # a transport detail; the event carries the body whole
        for b64 in (False, True):
            event = event_for(template, "POST", "/predict", case.body, case.content_type, b64)
            try:
                result = handler_module.handler(event, None)
                headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
                raw = result["body"].encode()
                answer = Answer(result["statusCode"], headers.get("content-type"), raw)
            except Exception as exc:  # noqa: BLE001
                answer = Answer(0, None, b"", f"handler raised {type(exc).__name__}: {exc}")
            record = check_edge(case, answer)
            record["case"] += " (base64)" if b64 else ""
            report.edge_cases.append(record)


# --------------------------------------------------------------------------------------------
# Servers: crash accounting
# --------------------------------------------------------------------------------------------

def gunicorn_workers(log_path: Path) -> list[int]:
    """Worker PIDs gunicorn booted so far, from its log."""
    with contextlib.suppress(OSError):
        return [int(pid) for pid in GUNICORN_BOOT.findall(log_path.read_text(errors="replace"))]
    return []


def _stable_workers(log_path: Path, settle_s: float = 1.0, max_s: float = 15.0) -> list[int]:
    """Worker PIDs once no new worker booted for ``settle_s`` (ready != every worker booted)."""
    deadline = time.monotonic() + max_s
    workers = gunicorn_workers(log_path)
    while time.monotonic() < deadline:
        time.sleep(settle_s)
        now = gunicorn_workers(log_path)
        if now == workers:
            break
        workers = now
    return workers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return True


def gunicorn_crashes(log_path: Path, booted: list[int]) -> tuple[int, list[str]]:
    """(workers that died or were replaced since ``booted``, log lines telling of a crash)."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    lines = [line for line in text.splitlines() if GUNICORN_CRASH.search(line)]
    replaced = max(0, len(gunicorn_workers(log_path)) - len(booted))
    dead = sum(1 for pid in booted if not _alive(pid))
    return max(replaced, dead), lines[:5]


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------

def _http_suite(report: WrapperReport, base_url: str, schema_url: str, settings: FuzzSettings, out_dir: Path,
                progress: Progress, lambda_sizes: bool) -> None:
    progress.phase(f"{report.name}: schemathesis from {schema_url}")
    t0 = time.perf_counter()
    run_schemathesis(report, schema_url, base_url, settings, out_dir, progress)
    report.duration_s = time.perf_counter() - t0
    progress.done(f"{report.requests} requests in {report.duration_s:.0f} s, 5xx {report.server_errors}, "
                  f"no answer {report.network_errors}")
    metadata = _metadata()
    max_body, max_rows = _limits()
    if settings.edge:
        progress.phase(f"{report.name}: edge cases")
        for case in edge_cases(metadata["example_row"], metadata["feature_names"], max_body, max_rows, lambda_sizes):
            answer = http_request(base_url, "POST", "/predict", case.body, case.content_type, chunked=case.chunked)
            report.edge_cases.append(check_edge(case, answer))
        bad = [c for c in report.edge_cases if c["problem"] or c.get("finding")]
        progress.done(f"{len(report.edge_cases) - len(bad)}/{len(report.edge_cases)} as expected")
    if settings.slow_s > 0 and settings.slow_clients > 0:
        progress.phase(f"{report.name}: {settings.slow_clients} slow clients for {settings.slow_s:.0f} s")
        body = json.dumps({"features": metadata["example_row"]}).encode()
        report.slow_clients = slow_clients(base_url, body, settings.slow_clients, settings.slow_s,
                                           settings.slow_interval_s)
        progress.done(f"{report.slow_clients['normal_requests']} normal requests, "
                      f"{report.slow_clients['normal_failures']} failed, max {report.slow_clients['normal_max_ms']} ms")
    _collect_edge_problems(report)


def _collect_edge_problems(report: WrapperReport) -> None:
    for case in report.edge_cases:
        if case["problem"]:
            report.problems.append(f"edge case {case['case']!r}: {case['problem']}")
        elif case.get("finding"):
            report.findings.append(f"edge case {case['case']!r}: {case['finding']}")
    if report.slow_clients and report.slow_clients["problem"]:
        report.problems.append(f"slow clients: {report.slow_clients['problem']}")


def fuzz_container(settings: FuzzSettings, out_dir: Path, progress: Progress) -> WrapperReport:
    from twinserve_support.local_container import LocalContainer

    report = WrapperReport("container")
    log_path = out_dir / "gunicorn.log"
    progress.phase("container: starting gunicorn (pod config and limits)")
    with LocalContainer(log_path=log_path, env={"GUNICORN_ACCESS_LOG": ""}) as server:
        booted = _stable_workers(log_path)
        progress.done(f"{server.url}, workers {booted}")
        report.notes.append(f"gunicorn {server.describe().get('cpus')} CPU limit, workers {booted}")
        _http_suite(report, server.url, server.url + "/openapi.json", settings, out_dir, progress, lambda_sizes=True)
        crashed, lines = gunicorn_crashes(log_path, booted)
        report.crashed_workers = crashed
        if crashed or lines:
            report.problems.append(f"{crashed} gunicorn workers crashed or were replaced; log: {lines}")
    return report


def fuzz_wsgi_lambda(settings: FuzzSettings, out_dir: Path, progress: Progress) -> WrapperReport:
    from twinbench.local_lambda import LocalLambda

    report = WrapperReport("wsgi-lambda")
    package = settings.package_dir
    if not (package / "wsgi_handler.py").exists():
        raise FileNotFoundError(f"no Lambda package at {package}: run `make package-lambda` first")
    progress.phase("wsgi-lambda: starting the local Lambda (awslambdaric, wsgi_handler.handler)")
    log_path = out_dir / "lambda.log"
    with open(log_path, "w", encoding="utf-8") as log, LocalLambda(
            package, handler="wsgi_handler.handler", env={"API_GATEWAY_BASE_PATH": WSGI_PREFIX.strip("/")},
            idle_s=3600.0, timeout_s=30.0, log_stream=log) as fn:
        base = fn.url + WSGI_PREFIX
        progress.done(f"{base} (package {package.relative_to(REPO) if package.is_relative_to(REPO) else package})")
        report.notes.append("over real HTTP: local HTTP API (payload 2.0) front -> awslambdaric -> serverless-wsgi -> Flask")
        report.notes.append("the local front enforces HTTP API's 10 MB request limit but not Lambda's 6 MB "
                            "invoke payload limit; bodies between them reach the app, which refuses them (413)")
        _http_suite(report, base, base + "/openapi.json", settings, out_dir, progress, lambda_sizes=True)
        stats = fn.stats()
        crashed = sum(int(stats.get(key, 0)) for key in ("function_errors", "runtime_exits", "timeouts"))
        report.crashed_workers = crashed
        report.notes.append(f"emulator counters: invocations {stats.get('invocations')}, cold starts "
                            f"{stats.get('cold_starts')}, function errors {stats.get('function_errors', 0)}, "
                            f"runtime exits {stats.get('runtime_exits', 0)}, timeouts {stats.get('timeouts', 0)}")
        if crashed:
            report.problems.append(f"{crashed} function errors / runtime exits / timeouts in the emulator")
    return report


def fuzz_native_lambda(settings: FuzzSettings, progress: Progress) -> WrapperReport:
    report = WrapperReport("native-lambda")
    progress.phase("native-lambda: hypothesis events through handler.handler (in-process)")
    t0 = time.perf_counter()
    fuzz_native(report, settings, progress)
    report.duration_s = time.perf_counter() - t0
    progress.done(f"{report.requests} events in {report.duration_s:.0f} s, raised {report.statuses.get('raised', 0)}")
    if settings.edge:
        native_edge_cases(report)
        _collect_edge_problems(report)
    return report


def run(settings: FuzzSettings, progress: Progress | None = None) -> list[WrapperReport]:
    """Every selected wrapper in turn; returns their reports (also written to ``out_dir/fuzz.json``).

    Interrupted (Ctrl-C, SIGTERM), it writes the wrappers finished so far, marked
    ``"interrupted": true``, then re-raises the ``KeyboardInterrupt``.
    """
    # Imported here, not at module level: twinbench.reliability.fuzz_st_hooks imports this module
    # inside .venv-fuzz, where only the standard library is promised.
    from twinbench.results import formats
    from twinbench.results.documents import FuzzResults
    from twinbench.results.run_folder import RunFolder

    progress = progress or Progress()
    folder = (RunFolder(formats.FUZZ, path=settings.out_dir) if settings.out_dir
              else RunFolder(formats.FUZZ, root=REPO / "results", prefix="fuzz"))
    with folder:
        out_dir = folder.path
        reports: list[WrapperReport] = []
        runners: dict[str, Callable[[], WrapperReport]] = {
            "container": lambda: fuzz_container(settings, out_dir, progress),
            "wsgi-lambda": lambda: fuzz_wsgi_lambda(settings, out_dir, progress),
            "native-lambda": lambda: fuzz_native_lambda(settings, progress),
        }
        started = time.perf_counter()

        def write() -> None:
            payload = FuzzResults(
                settings={"n": settings.n, "seed": settings.seed, "slow_clients": settings.slow_clients,
                          "slow_s": settings.slow_s, "wrappers": list(settings.wrappers)},
                duration_s=round(time.perf_counter() - started, 1),
                wrappers=[r.to_dict() for r in reports],
                ok=not folder.interrupted and len(reports) == len(settings.wrappers) and all(r.ok for r in reports))
            folder.write(folder.document(payload), indent=2)

        try:
            for name in settings.wrappers:
                try:
                    reports.append(runners[name]())
                except (OSError, RuntimeError, ValueError) as exc:
                    failed = WrapperReport(name)
                    failed.problems.append(f"could not run: {type(exc).__name__}: {exc}")
                    reports.append(failed)
                    progress.note(f"{name}: {exc}")
        except KeyboardInterrupt:
            folder.mark_interrupted()
            write()
            progress.note(f"interrupted: partial results in {folder.path / formats.FUZZ.file_name}")
            raise
        write()
    return reports


def summary_lines(reports: list[WrapperReport], duration_s: float) -> Iterator[str]:
    """The figures printed at the end of ``make fuzz``."""
    yield f"{'wrapper':14s} {'requests':>9s} {'5xx':>5s} {'no-ans':>6s} {'bad-4xx':>7s} {'crashed':>7s} {'edge':>7s} " \
          f"{'slow':>5s} {'time':>6s}  statuses"
    for r in reports:
        edge_ok = sum(1 for c in r.edge_cases if not c["problem"] and not c.get("finding"))
        slow = "-" if r.slow_clients is None else ("ok" if not r.slow_clients["problem"] else "FAIL")
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items()))
        yield (f"{r.name:14s} {r.requests:9d} {r.server_errors:5d} {r.network_errors:6d} {r.bad_error_bodies:7d} "
               f"{r.crashed_workers:7d} {edge_ok:>3d}/{len(r.edge_cases):<3d} {slow:>5s} {r.duration_s:5.0f}s  {statuses}")
    for r in reports:
        for finding in r.findings:
            yield f"FINDING {r.name}: {finding}"
        for note in r.notes:
            yield f"note {r.name}: {note}"
    for r in reports:
        for problem in r.problems:
            yield f"FAIL {r.name}: {problem}"
    yield f"fuzz: {'PASS' if all(r.ok for r in reports) else 'FAIL'} in {duration_s:.0f} s"
