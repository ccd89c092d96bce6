"""The things the benchmark measures: the Lambda and the container, each local or remote.

A target is a context manager that serves on ``url`` while open and knows how to produce one
forced cold-start sample (:meth:`cold_sample`) — the one scenario whose mechanics differ:

* local container: a *new* gunicorn process under the pod's limits; process start -> ``/ready``
  200 -> first prediction answered (a pod start without image pull);
* local Lambda: reap every execution environment of the running emulator, invoke, and take the
  handler's cold header plus the ``REPORT`` line's Init Duration;
* remote: not supported here (forcing a cold start on real Lambda needs the cloud-metrics work;
  a remote pod restart needs kubectl) -> the scenario is skipped with that reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from twinbench.load import COLD_HEADER, INIT_HEADER
from twinbench.local_container import REPO, LocalContainer, pod_settings

__all__ = ["ColdSample", "ContainerTarget", "LambdaTarget", "RemoteTarget", "Target", "request_body"]

OFFLINE_LABEL = "serverless-offline: no init split, no throttling"


def request_body(model_dir: Path) -> bytes:
    """A real feature row for ``POST /predict``: metadata's ``example_row``, else breast_cancer row 0."""
    row: list[float] | None = None
    with contextlib.suppress(OSError, ValueError, KeyError):
        meta = json.loads((model_dir / "metadata.json").read_text())
        row = meta.get("example_row")
        if row is None:
            n = int(meta["n_features"])
            from sklearn.datasets import load_breast_cancer  # only when the metadata has no row

            data = load_breast_cancer().data
            row = [float(v) for v in data[0][:n]] if data.shape[1] >= n else [0.0] * n
    if row is None:
        raise FileNotFoundError(f"no model metadata at {model_dir / 'metadata.json'}; run `make model`")
    return json.dumps({"features": row}).encode()


@dataclass
class ColdSample:
    """One forced cold start. Times in ms; ``None`` when that phase does not exist for the target."""

    first_response_ms: float  # process/environment start (container) or request (Lambda) -> answer
    init_ms: float | None  # container: spawn -> ready; Lambda: REPORT Init Duration
    request_ms: float | None  # the first request alone
    verified_cold: bool | None  # Lambda: the handler's cold header; container: True by construction
    status: int
    extra: dict = field(default_factory=dict)


def _post(url: str, body: bytes, timeout_s: float = 60.0) -> tuple[int, dict[str, str], float]:
    """POST with a fresh connection; returns (status, headers, ms). HTTP errors are statuses."""
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
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

    def describe(self) -> dict[str, object]:
        raise NotImplementedError

    def cold_sample(self, body: bytes) -> ColdSample:
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


class ContainerTarget(Target):
    """gunicorn (or podman) locally, under the pod's CPU/memory limits."""

    kind = "container"
    mode = "local"

    def __init__(self, runtime: str = "gunicorn", log_dir: Path | None = None) -> None:
        self.name = "container"
        self.runtime = runtime
        self.notes = []
        self.log_dir = log_dir
        pod = pod_settings()
        self.cpus = float(pod["cpus"])  # type: ignore[arg-type]
        self.memory_mb = int(pod["memory_mb"])  # type: ignore[arg-type]
        self.cpus_effective = self.cpus
        self._server = None
        self._description: dict[str, object] = {}
        self._cold_count = 0

    def _new_server(self, tag: str):
        log = self.log_dir / f"container-{tag}.log" if self.log_dir else None
        if self.runtime == "podman":
            from twinbench.podman_container import PodmanContainer  # another module; optional

            return PodmanContainer(port=0, cpus=self.cpus, memory_mb=self.memory_mb)
        return LocalContainer(cpus=self.cpus, memory_mb=self.memory_mb, log_path=log)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "runtime": self.runtime,
                "url": self.url, "notes": self.notes, "config": self._description}

    def __enter__(self) -> ContainerTarget:
        self._server = self._new_server("serving")
        self._server.__enter__()
        self.url = self._server.url
        if hasattr(self._server, "describe"):
            self._description = self._server.describe()
        applied = self._description.get("cpu_quota_applied")
        if applied is False:
            self.notes.append("pod CPU limit NOT applied (no writable cgroup): the container could use every core")
        return self

    def __exit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.__exit__(None, None, None)

    def cold_sample(self, body: bytes) -> ColdSample:
        """A new server process: spawn -> ready -> first answer; the serving one is untouched."""
        self._cold_count += 1
        server = self._new_server(f"cold-{self._cold_count}")
        server.start() if hasattr(server, "start") else None
        try:
            if hasattr(server, "wait_ready"):
                ready_ms = server.wait_ready()
                spawned_at = server.spawned_at
            else:  # a runtime that only offers the context manager: time it from here
                spawned_at = time.perf_counter()
                server.__enter__()
                ready_ms = (time.perf_counter() - spawned_at) * 1000.0
            status, _, request_ms = _post(server.url + "/predict", body)
            first_ms = (time.perf_counter() - spawned_at) * 1000.0
        finally:
            if hasattr(server, "stop"):
                server.stop(graceful_s=1.0)  # gunicorn 27 can hang on SIGTERM while a worker boots
            else:
                server.__exit__(None, None, None)
        return ColdSample(first_response_ms=first_ms, init_ms=ready_ms, request_ms=request_ms,
                          verified_cold=True, status=status)


class LambdaTarget(Target):
    """The local Lambda emulator serving the unzipped ``sls package`` output."""

    kind = "lambda"
    mode = "local"

    def __init__(self, runtime: str = "awslambdaric", package_dir: Path | None = None,
                 memory_mb: int | None = None, reserved_concurrency: int | None = None,
                 idle_s: float | None = None, timeout_s: float | None = None, log_dir: Path | None = None) -> None:
        self.name = "lambda"
        self.log_dir = log_dir
        self.runtime = runtime
        self.notes = [OFFLINE_LABEL] if runtime == "offline" else []
        self.package_dir = Path(package_dir or REPO / "build" / "lambda" / "pkg")
        self.memory_mb = memory_mb
        self.reserved_concurrency = reserved_concurrency
        self.idle_s = idle_s
        self.timeout_s = timeout_s
        self._lam = None
        self._config: dict[str, object] = {}
        if runtime == "offline":
            self.cold_supported = False
            self.cold_unsupported_reason = "serverless-offline cannot force or report a cold start"

    def describe(self) -> dict[str, object]:
        if self._lam is not None:
            self._config = self._lam_config()  # refresh the emulator's counters
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "runtime": self.runtime,
                "url": self.url, "notes": self.notes, "config": self._config}

    def __enter__(self) -> LambdaTarget:
        if self.runtime == "offline":
            raise RuntimeError("--lambda-runtime offline: no serverless-offline wrapper in this checkout yet")
        from twinbench.lambda_process import LambdaProcess

        log = self.log_dir / "lambda-emulator.log" if self.log_dir else None
        env = {}
        if not os.environ.get("LAMBDA_ACCOUNT_CONCURRENCY"):
            # Lambda gives every environment its full CPU share on its own hardware; here they share
            # this machine's cores. Beyond cores / vCPU-per-environment, new environments would only
            # steal CPU from the warm ones (a cold start storm Lambda never has), so cap there.
            from twinbench.local_lambda.settings import (
                FALLBACK_MEMORY_MB,
                MB_PER_VCPU,
                memory_mb_from_serverless_yml,
            )

            memory = self.memory_mb or memory_mb_from_serverless_yml() or FALLBACK_MEMORY_MB
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            cap = max(1, int(cores / (memory / MB_PER_VCPU)))
            env["LAMBDA_ACCOUNT_CONCURRENCY"] = str(cap)
            self.notes.append(
                f"local capacity cap: at most {cap} execution environments ({cores} cores / {memory / MB_PER_VCPU:.2f} "
                "vCPU each; set LAMBDA_ACCOUNT_CONCURRENCY to change). Requests beyond it get 429 here; real Lambda "
                "would start more environments (each a cold start) up to the account limit")
        self._lam = LambdaProcess(self.package_dir, memory_mb=self.memory_mb,
                                  reserved_concurrency=self.reserved_concurrency, idle_s=self.idle_s,
                                  timeout_s=self.timeout_s, log_path=log, env=env)
        self._lam.__enter__()
        self.url = self._lam.url
        self._config = self._lam_config()
        if self._config.get("cpu_quota_applied") is False:
            self.notes.append("Lambda CPU quota (memory/1769 vCPU) NOT applied: environments could use every core")
        vcpu = self._config.get("vcpu")
        limit = self._config.get("concurrency_limit")
        if isinstance(vcpu, float) and isinstance(limit, int):
            self.cpus_effective = min(float(os.cpu_count() or 1), vcpu * limit)
        return self

    def _lam_config(self) -> dict[str, object]:
        stats = self._lam.describe() if self._lam is not None else {}
        settings = dict(stats.get("settings", {}))
        quota = stats.get("cpu_quota", {})
        memory = settings.get("memory_mb")
        return {
            **settings,
            "vcpu": round(memory / 1769, 4) if isinstance(memory, int) else None,
            "cpu_quota_applied": quota.get("cpu_quota_applied"),
            "cpu_quota": quota,
            "counters": {k: v for k, v in stats.items() if isinstance(v, int | float) and not isinstance(v, bool)},
        }

    def __exit__(self, *exc: object) -> None:
        lam, self._lam = self._lam, None
        if lam is not None:
            lam.__exit__(None, None, None)

    def cold_sample(self, body: bytes) -> ColdSample:
        """Reap every environment, invoke once; the handler's header says whether it really was cold."""
        assert self._lam is not None
        self._lam.reap_all()
        status, headers, request_ms = _post(self.url + "/predict", body)
        cold_raw = headers.get(COLD_HEADER)
        cold = None if cold_raw is None else cold_raw.strip().lower() == "true"
        init_ms = None
        request_id = headers.get("x-local-lambda-request-id")
        for report in reversed(self._lam.reports):
            if report.get("request_id") == request_id:
                init_ms = report.get("init_duration_ms")
                break
        if init_ms is None and headers.get(INIT_HEADER):
            with contextlib.suppress(ValueError):
                init_ms = float(headers[INIT_HEADER])
        return ColdSample(first_response_ms=request_ms, init_ms=init_ms, request_ms=request_ms,
                          verified_cold=cold, status=status)

    def before_burst(self) -> str | None:
        if self._lam is not None and hasattr(self._lam, "reap_all"):
            self._lam.reap_all()
            return "all execution environments reaped (as after an idle period longer than the keep-alive)"
        return None

    def lambda_reports(self) -> list[dict]:
        if self._lam is None:
            return []
        try:
            return list(self._lam.reports)
        except OSError:
            return []


class RemoteTarget(Target):
    """A deployed endpoint; nothing to start or stop."""

    mode = "remote"
    runtime = "remote"
    cold_supported = False

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.kind = name
        self.url = url.rstrip("/")
        self.notes = [f"remote endpoint {self.url}"]
        self.cold_unsupported_reason = (
            "forcing cold starts on a deployed endpoint needs the cloud-metrics collectors (issue 5)"
        )

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "runtime": self.runtime,
                "url": self.url, "notes": self.notes, "config": {}}
