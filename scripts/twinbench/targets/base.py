"""The things the benchmark measures: the Lambda and the container, each local or remote.

A target is a context manager that serves on ``url`` while open and knows how to produce one
forced cold-start sample (:meth:`cold_sample`) — the one scenario whose mechanics differ:

* local container: a *new* gunicorn process under the pod's limits; process start -> ``/ready``
  200 -> first prediction answered (a pod start without image pull);
* local Lambda: reap every execution environment of the running emulator, invoke, and take the
  handler's cold header plus the ``REPORT`` line's Init Duration;
* local Lambda under serverless-offline (:class:`OfflineLambdaTarget`): a new ``osls offline``
  server per sample, its first request (the Python process start and the handler's init are inside
  it: serverless-offline has no init split); init from the handler's own init header;
* remote Lambda (:class:`RemoteLambdaTarget`) with a function name and region: SeBS-style forced
  cold starts through ``UpdateFunctionConfiguration`` (:mod:`twinbench.aws.forced_cold`), the config
  restored afterwards; without them, and for a remote container (a pod restart needs kubectl),
  the scenario is skipped with the reason recorded.

A target whose cold starts come as one batch (the remote Lambda: the function's configuration is
changed once for the whole series and restored at the end) implements :meth:`Target.cold_batch`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from twinbench.measure.loadgen import COLD_HEADER, INIT_HEADER
from twinbench.process.net import free_port
from twinbench.targets.container_local import REPO, LocalContainer, pod_settings
from twinbench.targets.lambda_offline import OFFLINE_LABEL, OfflineLambda, OfflineLambdaError

__all__ = ["ColdBatch", "ColdSample", "ContainerTarget", "LambdaTarget", "OFFLINE_LABEL", "OfflineLambdaError",
           "OfflineLambdaTarget", "RemoteLambdaTarget", "RemoteTarget", "Target", "request_body"]


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


def _cold_flag(headers: dict[str, str]) -> bool | None:
    raw = headers.get(COLD_HEADER)
    if raw is None:
        return None
    value = raw.strip().lower()
    return True if value == "true" else False if value == "false" else None


def _init_header_ms(headers: dict[str, str]) -> float | None:
    with contextlib.suppress(KeyError, ValueError):
        return float(headers[INIT_HEADER])
    return None


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

    def _new_server(self, tag: str, stop_timeout_s: int = 30):
        log = self.log_dir / f"container-{tag}.log" if self.log_dir else None
        if self.runtime == "podman":
            try:
                from twinbench.targets.container_podman import PodmanContainer
            except ImportError as exc:
                raise RuntimeError("--container-runtime podman: twinbench.targets.container_podman is not available in "
                                   f"this checkout ({exc})") from exc
            return PodmanContainer(port=free_port(), cpus=self.cpus, memory_mb=self.memory_mb,
                                   stop_timeout_s=stop_timeout_s)
        return LocalContainer(cpus=self.cpus, memory_mb=self.memory_mb, log_path=log)

    def _podman_description(self, server) -> dict[str, object]:
        pod = pod_settings()
        return {"runtime": "podman", "image": server.image, "cpus": self.cpus, "memory_mb": self.memory_mb,
                "limits_source": pod.get("source"), "server_env": dict(pod.get("env") or {}),
                # podman --cpus/--memory put the container in its own cgroup with those limits.
                "cpu_quota_applied": True, "memory_limit_applied": True,
                "start_to_ready_ms": server.timings.get("start_to_ready_ms")}

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "runtime": self.runtime,
                "url": self.url, "notes": self.notes, "config": self._description}

    def __enter__(self) -> ContainerTarget:
        self._server = self._new_server("serving")
        self._server.__enter__()
        self.url = self._server.url
        if isinstance(self._server, LocalContainer):
            self._description = self._server.describe()
        else:
            self._description = self._podman_description(self._server)
            self.notes.append(f"real image {self._server.image} under podman (host network on 127.0.0.1, "
                              "read-only root, pod limits via --cpus/--memory)")
        applied = self._description.get("cpu_quota_applied")
        if applied is False:
            self.notes.append("pod CPU limit NOT applied (no writable cgroup): the container could use every core")
        return self

    def __exit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.__exit__(None, None, None)

    def cold_sample(self, body: bytes) -> ColdSample:
        """A new server (process or container): start -> ready -> first answer; the serving one is untouched."""
        self._cold_count += 1
        server = self._new_server(f"cold-{self._cold_count}", stop_timeout_s=2)
        try:
            if isinstance(server, LocalContainer):
                server.start()
                ready_ms = server.wait_ready()
                spawned_at = server.spawned_at
            else:  # podman: `podman run` -> /ready 200 is timed inside start()
                spawned_at = time.perf_counter()
                server.start()
                ready_ms = server.timings.get("start_to_ready_ms", (time.perf_counter() - spawned_at) * 1000.0)
            status, _, request_ms = _post(server.url + "/predict", body)
            first_ms = (time.perf_counter() - spawned_at) * 1000.0
        finally:
            if isinstance(server, LocalContainer):
                server.stop(graceful_s=1.0)  # gunicorn 27 can hang on SIGTERM while a worker boots
            else:
                server.stop()
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
        if runtime != "awslambdaric":
            raise ValueError(f"LambdaTarget runs awslambdaric; use OfflineLambdaTarget for {runtime!r}")
        self.runtime = runtime
        self.notes = []
        self.package_dir = Path(package_dir or REPO / "build" / "lambda" / "pkg")
        self.memory_mb = memory_mb
        self.reserved_concurrency = reserved_concurrency
        self.idle_s = idle_s
        self.timeout_s = timeout_s
        self._lam = None
        self._config: dict[str, object] = {}

    def describe(self) -> dict[str, object]:
        if self._lam is not None:
            self._config = self._lam_config()  # refresh the emulator's counters
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "runtime": self.runtime,
                "url": self.url, "notes": self.notes, "config": self._config}

    def __enter__(self) -> LambdaTarget:
        from twinbench.targets.lambda_process import LambdaProcess

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


class OfflineLambdaTarget(Target):
    """The Lambda under serverless-offline 14.8.2 (osls), serving the shipped package; see :mod:`twinbench.targets.lambda_offline`.

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
        from twinbench.local_lambda.settings import FALLBACK_MEMORY_MB, memory_mb_from_serverless_yml

        return self._memory_mb or memory_mb_from_serverless_yml() or FALLBACK_MEMORY_MB

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
            status, headers, request_ms = _post(server.url + "/predict", body)
        finally:
            server.stop()
        return ColdSample(first_response_ms=request_ms, init_ms=_init_header_ms(headers), request_ms=request_ms,
                          verified_cold=_cold_flag(headers), status=status,
                          extra={"server_start_ms": server.timings.get("spawn_to_listening_ms")})

    def before_burst(self) -> str | None:
        return ("none possible: serverless-offline cannot reap environments on demand, so the burst starts with "
                "the environments the earlier scenarios left warm")


class RemoteLambdaTarget(RemoteTarget):
    """A deployed Lambda (HTTP API / Function URL); with its function name and region, forced cold starts.

    The cold starts are SeBS's: :class:`twinbench.aws.forced_cold.ForcedColdStarts` bumps an
    environment variable through ``UpdateFunctionConfiguration`` and waits for ``Successful``
    before each request; each sample is classified by the handler's ``x-twinserve-cold`` header
    (misclassified ones dropped and counted) and the original configuration is restored when the
    series ends — also after a failure or Ctrl-C. ``client_factory`` returns a boto3 ``lambda``
    client (default: ``boto3.client("lambda", region_name=region)``, which honours
    ``AWS_ENDPOINT_URL`` and the normal credential chain).
    """

    has_cold_batch = True

    def __init__(self, url: str, function_name: str | None = None, region: str | None = None,
                 client_factory: Callable[[], object] | None = None) -> None:
        super().__init__("lambda", url)
        self.function_name = function_name or None
        self.region = region or None
        self._client_factory = client_factory
        if self.function_name and self.region:
            self.cold_supported = True
            self.cold_unsupported_reason = None
            self.notes.append(f"cold starts forced on {self.function_name} ({self.region}) through "
                              "UpdateFunctionConfiguration; the function's configuration is restored afterwards")
        else:
            self.cold_supported = False
            self.cold_unsupported_reason = (
                "forcing cold starts on the deployed Lambda needs its function name and region: set LAMBDA_FUNCTION "
                "and AWS_REGION (or --lambda-function / --aws-region); the caller needs "
                "lambda:GetFunctionConfiguration and lambda:UpdateFunctionConfiguration")

    def describe(self) -> dict[str, object]:
        doc = super().describe()
        doc["config"] = {"function_name": self.function_name, "region": self.region,
                         "endpoint_url": os.environ.get("AWS_ENDPOINT_URL") or None}
        return doc

    def _client(self) -> object:
        if self._client_factory is not None:
            return self._client_factory()
        import boto3  # only for remote cold starts

        return boto3.client("lambda", region_name=self.region)

    def cold_batch(self, body: bytes, n: int, on_sample: Callable[[str], None],
                   cancel: threading.Event) -> ColdBatch:
        """``n`` forced cold starts; raises ``ColdStartError`` (permissions, unknown function) before any change."""
        from twinbench.aws.forced_cold import ForcedColdStarts, run_forced_cold_starts
        from twinbench.measure.stats import summarize

        statuses: list[int] = []

        def invoke() -> tuple[int, dict[str, str], float]:
            status, headers, ms = _post(self.url + "/predict", body)
            statuses.append(status)
            return status, headers, ms

        def is_cold(sample: tuple[int, dict[str, str], float]) -> bool | None:
            status, headers, _ = sample
            return _cold_flag(headers) if 200 <= status < 300 else None

        def progress(i: int, total: int) -> None:
            on_sample(f"lambda {i}/{total}: forced cold start (status {statuses[-1] if statuses else '?'})")
            if cancel.is_set():
                raise _Cancelled("cold-start series cancelled")

        assert self.function_name is not None
        with ForcedColdStarts(self._client(), self.function_name) as forcer:
            result = run_forced_cold_starts(forcer, n, invoke, is_cold, progress)
        failures = [s for s in statuses if not 200 <= s < 300]
        samples = [ColdSample(first_response_ms=ms, init_ms=_init_header_ms(headers), request_ms=ms,
                              verified_cold=True, status=status) for status, headers, ms in result.samples]
        return ColdBatch(
            samples=samples, misclassified=result.misclassified_count,
            unknown=max(0, result.unknown_count - len(failures)), failure_statuses=failures,
            extra={"method": "UpdateFunctionConfiguration env-var bump, then one request (SeBS)",
                   "function_name": self.function_name, "region": self.region,
                   "config_restored": forcer.restored,
                   "config_update_wait_ms": summarize([w * 1000.0 for w in result.update_wait_s]),
                   "init_source": "the handler's init header (the platform's Init Duration is in CloudWatch: "
                                  "make collect-cloudwatch)"})


class _Cancelled(Exception):
    """The bench was interrupted: stop the series (the ``with`` restores the configuration)."""
