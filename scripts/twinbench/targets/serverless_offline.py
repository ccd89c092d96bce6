"""``--lambda-runtime offline``: the Lambda served by serverless-offline 14.8.2 through osls.

Why: users who know serverless-offline can compare it with the default emulator
(:mod:`twinbench.local_lambda`). It runs ``osls offline`` in the staged service with
``VIRTUAL_ENV`` set to a Python 3.12 venv and ``PYTHONPATH`` to the unzipped package, so what is
measured is what ships. It has no init split, no throttling, no vCPU share and no on-demand reap,
so every output carries :data:`OFFLINE_LABEL`. Everything runs in one process group
(:class:`~twinserve_support.process.managed.ManagedProcess`), stopped on every exit path.
How serverless-offline runs a Python handler: docs/benchmark.md, "serverless-offline".
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from twinserve_support.paths import REPO
from twinserve_support.process.managed import ManagedProcess, ManagedServer, ProcessNotReady, http_probe
from twinserve_support.process.net import free_port, http_status

__all__ = ["OFFLINE_LABEL", "OfflineLambda", "OfflineLambdaError", "parse_offline_durations"]

OFFLINE_LABEL = "serverless-offline: no init split, no throttling"
SERVERLESS_OFFLINE_VERSION = "14.8.2"
DEFAULT_SERVICE_DIR = REPO / "build" / "lambda" / "service"
DEFAULT_PACKAGE_DIR = REPO / "build" / "lambda" / "pkg"
DEFAULT_VENV = REPO / ".venv-lambda"
# A path hapi has no route for: a 404 from it means "listening" without invoking the handler
# (a GET /health would start a Python process and spoil the first cold start).
PROBE_PATH = "/_twinbench_offline_probe"
# serverless-offline's per-invocation log line (src/lambda/LambdaFunction.js).
_DURATION = re.compile(r"\(λ: (?P<fn>[\w-]+)\) RequestId: (?P<rid>\S+)\s+Duration: (?P<d>[\d.]+) ms\s+"
                       r"Billed Duration: (?P<b>\d+) ms")


class OfflineLambdaError(ProcessNotReady):
    """serverless-offline cannot run here, exited, or did not listen in time; the message says why."""


def parse_offline_durations(text: str, function: str | None = "predict") -> list[dict]:
    """serverless-offline's ``(λ: fn) RequestId: … Duration: X ms  Billed Duration: Y ms`` lines as dicts.

    Keys ``request_id``, ``function``, ``duration_ms``, ``billed_duration_ms``. Cold starts are
    inside Duration here (there is no Init Duration), so these are not Lambda REPORT lines.
    """
    rows = []
    for m in _DURATION.finditer(text):
        if function is None or m["fn"] == function:
            rows.append({"request_id": m["rid"], "function": m["fn"], "duration_ms": float(m["d"]),
                         "billed_duration_ms": int(m["b"])})
    return rows


class OfflineLambda(ManagedServer):
    """``osls offline`` on ``127.0.0.1:http_port`` serving the staged service, handlers from ``package_dir``.

    ``venv`` must be a Python 3.12 virtualenv (its ``bin/python3`` runs the handler). ``idle_s``
    becomes ``--terminateIdleLambdaTime`` (seconds; serverless-offline's default is 60).
    ``start_timeout_s`` bounds the wait until the HTTP server listens. Raises
    :class:`OfflineLambdaError` with the exact reason when a prerequisite is missing or it fails.
    """

    def __init__(self, service_dir: Path = DEFAULT_SERVICE_DIR, package_dir: Path = DEFAULT_PACKAGE_DIR,
                 venv: Path = DEFAULT_VENV, *, stage: str = "dev", region: str = "eu-west-1",
                 http_port: int = 0, lambda_port: int = 0, idle_s: float | None = None,
                 log_path: Path | None = None, start_timeout_s: float = 90.0) -> None:
        self.service_dir = Path(service_dir)
        self.package_dir = Path(package_dir)
        self.venv = Path(venv)
        self.stage = stage
        self.region = region
        self.http_port = http_port or free_port()
        self.lambda_port = lambda_port or free_port()
        while self.lambda_port == self.http_port:
            self.lambda_port = free_port()
        self.idle_s = idle_s
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.timings: dict[str, float] = {}
        self.process: ManagedProcess | None = None
        self.abort_grace_s = 5.0

    # -- what it runs
    @property
    def osls_bin(self) -> Path:
        return self.service_dir / "node_modules" / ".bin" / "osls"

    def argv(self) -> list[str]:
        node = shutil.which("node") or "node"
        argv = [node, str(self.osls_bin), "offline", "--stage", self.stage, "--region", self.region,
                "--host", "127.0.0.1", "--httpPort", str(self.http_port), "--lambdaPort", str(self.lambda_port),
                "--noPrependStageInUrl", "--noSponsor"]
        if self.idle_s is not None:
            argv += ["--terminateIdleLambdaTime", str(max(1, round(self.idle_s)))]
        return argv

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH"}}
        env.update({
            # PythonRunner.js puts $VIRTUAL_ENV/bin first on PATH, then spawns `python3`.
            "VIRTUAL_ENV": str(self.venv),
            # Before '.' (the service folder) on sys.path: the shipped package wins.
            "PYTHONPATH": str(self.package_dir),
            "PYTHONDONTWRITEBYTECODE": "1",  # never add .pyc to the package the next run measures
            "SLS_TELEMETRY_DISABLED": "1",
            "SLS_TRACKING_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off",
        })
        return env

    def preflight(self) -> None:
        """Raise :class:`OfflineLambdaError` naming the first missing prerequisite and its fix."""
        if shutil.which("node") is None:
            raise OfflineLambdaError("--lambda-runtime offline needs Node.js (`node` on PATH, >= 20.19); none found")
        if not (self.service_dir / "serverless.yml").is_file():
            raise OfflineLambdaError(f"no staged service at {self.service_dir} (serverless.yml missing): "
                                     "run `make package-lambda`")
        if not self.osls_bin.exists():
            raise OfflineLambdaError(f"{self.osls_bin} missing: the pinned osls is not installed; run `npm ci` "
                                     "(or `make package-lambda`, which does)")
        plugin = self.service_dir / "node_modules" / "serverless-offline" / "package.json"
        if not plugin.is_file():
            raise OfflineLambdaError(f"serverless-offline is not installed under {plugin.parent.parent}: run `npm ci`")
        version = _json_field(plugin, "version")
        if version != SERVERLESS_OFFLINE_VERSION:
            raise OfflineLambdaError(f"serverless-offline {version} installed, {SERVERLESS_OFFLINE_VERSION} pinned: "
                                     "run `npm ci`")
        if not (self.package_dir / "handler.py").is_file():
            raise OfflineLambdaError(f"no unzipped Lambda package at {self.package_dir}: run `make package-lambda`")
        python3 = self.venv / "bin" / "python3"
        if not python3.exists():
            raise OfflineLambdaError(f"no Python venv at {self.venv} (VIRTUAL_ENV for serverless-offline): "
                                     "run `make lambda-runtime`")
        try:
            out = subprocess.run([str(python3), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            raise OfflineLambdaError(f"{python3} does not run: {exc}") from exc
        if out != "3.12":
            raise OfflineLambdaError(f"{python3} is Python {out}; the package holds cp312 wheels, so serverless-"
                                     "offline needs a Python 3.12 venv (make lambda-runtime)")

    # -- lifecycle
    def start(self) -> None:
        """Spawn ``osls offline`` and wait until its HTTP server listens (no handler is invoked)."""
        self.preflight()
        for port in (self.http_port, self.lambda_port):
            if http_status(port, "/", timeout_s=0.2) is not None:
                raise OfflineLambdaError(f"something already answers on 127.0.0.1:{port}")
        self.process = ManagedProcess(self.argv(), name="osls offline", env=self.env(), cwd=self.service_dir,
                                      log_path=self.log_path, ready=http_probe(self.http_port, PROBE_PATH, status=None),
                                      ready_timeout_s=self.start_timeout_s, grace_s=10.0, error=OfflineLambdaError,
                                      log_lines=20)
        self.process.start()
        self.timings["spawn_to_listening_ms"] = self.process.wait_ready()

    @property
    def spawned_at(self) -> float | None:
        return self.process.spawned_at if self.process is not None else None

    @property
    def pgid(self) -> int | None:
        """The process group of node and its python3 children while running."""
        return self.process.pgid if self.process is not None else None

    def log_text(self) -> str:
        return self.process.log_text() if self.process is not None else ""

    def durations(self) -> list[dict]:
        """The ``predict`` function's Duration lines logged so far (see :func:`parse_offline_durations`)."""
        return parse_offline_durations(self.log_text())

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM to the process group (node and its python3 children), SIGKILL after ``timeout_s``."""
        if self.process is not None:
            self.process.stop(grace_s=timeout_s)

    def describe(self) -> dict[str, object]:
        return {
            "runtime": f"serverless-offline {SERVERLESS_OFFLINE_VERSION} via osls", "label": OFFLINE_LABEL,
            "service_dir": str(self.service_dir), "package_dir": str(self.package_dir),
            "virtual_env": str(self.venv), "argv": self.argv()[1:], "timings": dict(self.timings),
        }


def _json_field(path: Path, key: str) -> object:
    import json

    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text()).get(key)
    return None
