"""What ``make fuzz`` runs (:class:`FuzzSettings`) and what it found per wrapper (:class:`WrapperReport`).
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from pathlib import Path

from twinserve_support.paths import REPO  # noqa: E402

FUZZ_BIN = REPO / ".venv-fuzz" / "bin"
DEFAULT_PACKAGE = REPO / "build" / "lambda" / "pkg"
WSGI_PREFIX = "/wsgi"  # serverless.yml: API_GATEWAY_BASE_PATH=wsgi for the WSGI function
# Lambda's synchronous invocation payload limit (the "6 MB" of the docs: 6,291,456 bytes).
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
# The local front's own request limit (HTTP API's 10 MB), enforced before the function runs.
FRONT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
WRAPPERS = ("container", "wsgi-lambda", "native-lambda")
# A gunicorn log line any of these match means a worker died or was killed.
GUNICORN_CRASH = re.compile(r"WORKER TIMEOUT|was sent SIG|exited with code|Worker failed to boot|"
                            r"Traceback|unhandled error|Shutting down: Master|Handling signal: (term|int|quit)",
                            re.IGNORECASE)
GUNICORN_BOOT = re.compile(r"Booting worker with pid: (\d+)")



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
