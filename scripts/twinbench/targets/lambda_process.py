"""The local Lambda in its own process (``python -m twinbench serve-lambda``), driven over HTTP.

:class:`~twinbench.local_lambda.LocalLambda` can run in-process, but then its event loop shares
the benchmark's GIL and the load generator would slow the emulator down (and vice versa). So the
benchmark starts ``serve-lambda`` as a child in its own process group and uses the emulator's
admin routes: ``GET /_local_lambda/stats``, ``GET /_local_lambda/reports``, ``POST /_local_lambda/reap``.
Leaving the ``with`` block stops it (:class:`~twinserve_support.process.managed.ManagedProcess`: SIGTERM,
on which the emulator stops every execution environment; SIGKILL to the group and to any runtime
left after a timeout), on success, failure and Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.request
from pathlib import Path

from twinserve_support.paths import REPO
from twinserve_support.process.managed import ManagedProcess, ManagedServer, ProcessNotReady
from twinserve_support.process.net import free_port

__all__ = ["LambdaProcess", "LambdaStartError"]

ADMIN = "/_local_lambda"


class LambdaStartError(ProcessNotReady):
    """serve-lambda exited or its front did not answer in time; the message has its last log lines."""


class LambdaProcess(ManagedServer):
    """``serve-lambda`` on ``127.0.0.1:port``; same observation/control surface as ``LocalLambda``."""

    abort_grace_s = 5.0  # SIGTERM first: the emulator stops its environments

    def __init__(self, package_dir: Path, handler: str = "handler.handler", memory_mb: int | None = None,
                 reserved_concurrency: int | None = None, idle_s: float | None = None,
                 timeout_s: float | None = None, port: int = 0, log_path: Path | None = None,
                 start_timeout_s: float = 60.0, env: dict[str, str] | None = None,
                 function_env: dict[str, str] | None = None) -> None:
        self.extra_env = dict(env or {})
        self.package_dir = Path(package_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.argv = [sys.executable, "-m", "twinbench", "serve-lambda", "--package", str(self.package_dir),
                     "--handler", handler, "--host", "127.0.0.1", "--port", str(self.port), "--quiet"]
        for flag, value in (("--memory-mb", memory_mb), ("--reserved-concurrency", reserved_concurrency),
                            ("--idle-s", idle_s), ("--timeout-s", timeout_s)):
            if value is not None:
                self.argv += [flag, str(value)]
        # The function's own environment variables (serverless.yml `environment:`), not the emulator's.
        for key, value in (function_env or {}).items():
            self.argv += ["--env", f"{key}={value}"]
        self.process = ManagedProcess(self.argv, name="serve-lambda", env={**os.environ, **self.extra_env},
                                      cwd=REPO, log_path=log_path, ready=self._answers,
                                      ready_timeout_s=start_timeout_s, grace_s=30.0, error=LambdaStartError)

    def _answers(self) -> bool:
        """GET /_local_lambda/stats answers."""
        with contextlib.suppress(OSError, ValueError):
            self.stats()
            return True
        return False

    # -- admin routes
    def _admin(self, method: str, path: str, timeout_s: float = 30.0) -> object:
        req = urllib.request.Request(self.url + ADMIN + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict:
        return self._admin("GET", "/stats")  # type: ignore[return-value]

    @property
    def reports(self) -> list[dict]:
        """Every REPORT record so far as dicts (``init_duration_ms`` set on cold starts)."""
        return self._admin("GET", "/reports", timeout_s=120.0)  # type: ignore[return-value]

    @property
    def occupancy(self) -> list[dict]:
        """Every finished invocation: request_id, cold, busy_ms (its environment's hold; None when
        throttled), arrived_s (``time.monotonic()`` when it reached the pool); in the order they ended."""
        return self._admin("GET", "/occupancy", timeout_s=120.0)  # type: ignore[return-value]

    def reap_all(self) -> int:
        """Stop every idle environment now, so the next request starts cold; returns how many."""
        return int(self._admin("POST", "/reap")["reaped"])  # type: ignore[index]

    @property
    def cpu_quota_applied(self) -> bool:
        with contextlib.suppress(OSError, KeyError, ValueError):
            return bool(self.stats()["cpu_quota"]["cpu_quota_applied"])
        return False

    def describe(self) -> dict:
        with contextlib.suppress(OSError, ValueError):
            return self.stats()
        return {}

    # -- lifecycle
    def start(self) -> None:
        """Spawn serve-lambda and wait until its admin route answers. Raises :class:`LambdaStartError`."""
        self.process.start()
        self.process.wait_ready()

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (the emulator stops its environments), SIGKILL the whole group after ``timeout_s``."""
        self.process.stop(grace_s=timeout_s)
