"""serverless-offline as a bench target: a new ``osls offline`` server per cold sample."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from twinserve.headers import parse_cold_flag
from twinserve_support.paths import REPO

from twinbench.targets.base import (
    ColdSample,
    Target,
    _init_header_ms,
    timed_post,
)
from twinbench.targets.serverless_offline import OFFLINE_LABEL, OfflineLambda


class OfflineLambdaTarget(Target):
    """The Lambda under serverless-offline 14.8.2 (osls), serving the shipped package; see :mod:`twinbench.targets.serverless_offline`.

    Labelled :data:`OFFLINE_LABEL` everywhere: no Init Duration (cold start inside Duration), no
    throttling (``reservedConcurrency`` ignored), no per-environment CPU share, no reaping on demand.
    """

    kind = "lambda"
    mode = "local"
    runtime = "offline"

    def __init__(self, package_dir: Path | None = None, service_dir: Path | None = None, venv: Path | None = None,
                 memory_mb: int | None = None, idle_s: float | None = None, log_dir: Path | None = None) -> None:
        self.name = "lambda"
        self.package_dir = Path(package_dir or REPO / "build" / "lambda" / "pkg")
        self.service_dir = Path(service_dir or self.package_dir.parent / "service")
        self.venv = Path(venv or os.environ.get("LAMBDA_VENV") or REPO / ".venv-lambda")
        self.idle_s = idle_s
        self.log_dir = log_dir
        self.notes = [OFFLINE_LABEL]
        self._memory_mb = memory_mb
        self._server: OfflineLambda | None = None
        self._config: dict[str, object] = {}
        self._cold_count = 0

    def _new(self, tag: str) -> OfflineLambda:
        log = self.log_dir / f"lambda-offline-{tag}.log" if self.log_dir else None
        return OfflineLambda(self.service_dir, self.package_dir, self.venv, idle_s=self.idle_s, log_path=log)

    def _memory(self) -> int:
        from twinbench.local_lambda.settings import deployed_function

        return self._memory_mb or deployed_function().memory_mb

    def __enter__(self) -> OfflineLambdaTarget:
        server = self._new("serving")
        server.__enter__()  # raises OfflineLambdaError with the reason (and leaves nothing running)
        self._server = server
        self.url = server.url
        self.cpus_effective = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                    else os.cpu_count() or 1)
        self.notes.append("Lambda CPU share (memory/1769 vCPU) NOT applied: serverless-offline runs each handler "
                          "process unconstrained on this machine's cores")
        self.notes.append("reservedConcurrency is ignored (never a 429: each concurrent request may start another "
                          "Python process, a cold start); idle environments are kept until terminateIdleLambdaTime")
        self._config = self._describe_config()
        return self

    def _describe_config(self) -> dict[str, object]:
        from twinbench.measure.stats import summarize

        server = self._server
        config: dict[str, object] = dict(server.describe()) if server else dict(self._config)
        config.update({"memory_mb": self._memory(), "memory_applied": False, "vcpu": None,
                       "cpu_quota_applied": False, "concurrency_limit": None, "reserved_concurrency": None,
                       "idle_s": self.idle_s if self.idle_s is not None else 60})
        if server is not None:
            durations = server.durations()
            config["offline_durations"] = {
                "what": "serverless-offline's own Duration lines for predict; cold starts are inside Duration",
                "duration": summarize([d["duration_ms"] for d in durations]),
                "billed_duration": summarize([float(d["billed_duration_ms"]) for d in durations]),
            }
        return config

    def describe(self) -> dict[str, object]:
        if self._server is not None:
            self._config = self._describe_config()
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "runtime": self.runtime,
                "url": self.url, "notes": self.notes, "config": self._config}

    def __exit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                self._config = {**self._config, **server.describe()}
            server.__exit__(None, None, None)

    def cold_sample(self, body: bytes) -> ColdSample:
        """A new ``osls offline`` (its start is not timed: Node's, not Lambda's), then the first request.

        That request contains the Python process start, the imports and the handler's init —
        serverless-offline's cold start, with no init split; ``init_ms`` is the handler's own
        measurement of its init (the init header), not a platform Init Duration.
        """
        self._cold_count += 1
        server = self._new(f"cold-{self._cold_count}")
        try:
            server.start()
            status, headers, request_ms = timed_post(server.url + "/predict", body)
        finally:
            server.stop()
        return ColdSample(first_response_ms=request_ms, init_ms=_init_header_ms(headers), request_ms=request_ms,
                          verified_cold=parse_cold_flag(headers), status=status,
                          extra={"server_start_ms": server.timings.get("spawn_to_listening_ms")})

    def before_burst(self) -> str | None:
        return ("none possible: serverless-offline cannot reap environments on demand, so the burst starts with "
                "the environments the earlier scenarios left warm")
