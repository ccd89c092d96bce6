"""The local Lambda in its own process (``python -m twinbench serve-lambda``), driven over HTTP.

:class:`~twinbench.local_lambda.LocalLambda` can run in-process, but then its event loop shares
the benchmark's GIL and the load generator would slow the emulator down (and vice versa). So the
benchmark starts ``serve-lambda`` as a child in its own process group and uses the emulator's
admin routes: ``GET /_local_lambda/stats``, ``GET /_local_lambda/reports``, ``POST /_local_lambda/reap``.
Leaving the ``with`` block stops it (SIGTERM: the emulator stops every execution environment;
SIGKILL to the group after a timeout), on success, failure and Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from twinbench.process.logtail import log_tail
from twinbench.process.net import free_port
from twinbench.targets.container_local import REPO

__all__ = ["LambdaProcess", "LambdaStartError"]

ADMIN = "/_local_lambda"


class LambdaStartError(RuntimeError):
    """serve-lambda exited or its front did not answer in time; the message has its last log lines."""


class LambdaProcess:
    """``serve-lambda`` on ``127.0.0.1:port``; same observation/control surface as ``LocalLambda``."""

    def __init__(self, package_dir: Path, handler: str = "handler.handler", memory_mb: int | None = None,
                 reserved_concurrency: int | None = None, idle_s: float | None = None,
                 timeout_s: float | None = None, port: int = 0, log_path: Path | None = None,
                 start_timeout_s: float = 60.0, env: dict[str, str] | None = None) -> None:
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
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None

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
        env = {**os.environ, **self.extra_env, "PYTHONPATH": os.pathsep.join(
            [str(REPO / "shared"), str(REPO / "services" / "predict-container"), str(REPO / "scripts")])}
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(self.argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=self._log, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self._proc.poll() is not None:
                raise LambdaStartError(f"serve-lambda exited with {self._proc.returncode}{self._tail()}")
            with contextlib.suppress(OSError, ValueError):
                self.stats()
                return
            if time.monotonic() > deadline:
                raise LambdaStartError(f"serve-lambda not answering after {self.start_timeout_s:.0f} s{self._tail()}")
            time.sleep(0.05)

    def _tail(self, lines: int = 15) -> str:
        return log_tail(self.log_path, "serve-lambda log", lines)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (the emulator stops its environments), SIGKILL the whole group after ``timeout_s``."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=timeout_s)
            # Runtime processes are started in the emulator's session: nothing may outlive it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()  # type: ignore[union-attr]
            self._log = None

    def __enter__(self) -> LambdaProcess:
        try:
            self.start()
        except BaseException:
            self.stop(timeout_s=5.0)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
