"""The local Lambda target: the emulator from the unzipped package; cold = reap every environment, invoke.

Two variants of the same package, as serverless.yml deploys them: ``native`` (``handler.handler``,
function ``predict``) and ``wsgi`` (``wsgi_handler.handler``, function ``predict-wsgi``: the
container's Flask app through serverless-wsgi, ``API_GATEWAY_BASE_PATH=wsgi``, so requests go to
``/wsgi/predict`` and the target's ``url`` ends in ``/wsgi``).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from twinserve_support.paths import REPO

from twinbench.local_lambda.events import LOCAL_REQUEST_ID_HEADER
from twinbench.measure.loadgen import COLD_HEADER, INIT_HEADER
from twinbench.targets.base import (
    ColdSample,
    Target,
    timed_post,
)

WSGI_PREFIX = "/wsgi"  # serverless.yml: the WSGI function's routes and its API_GATEWAY_BASE_PATH


@dataclass(frozen=True)
class LambdaVariant:
    """One function of the package: target name, handler, serverless.yml function key, URL prefix, env."""

    name: str
    handler: str
    function: str
    prefix: str = ""
    env: tuple[tuple[str, str], ...] = ()


VARIANTS = {
    "native": LambdaVariant("lambda", "handler.handler", "predict"),
    "wsgi": LambdaVariant("lambda-wsgi", "wsgi_handler.handler", "predict-wsgi", WSGI_PREFIX,
                          (("API_GATEWAY_BASE_PATH", WSGI_PREFIX.strip("/")),)),
}


class LambdaTarget(Target):
    """The local Lambda emulator serving the unzipped ``sls package`` output."""

    kind = "lambda"
    mode = "local"

    def __init__(self, runtime: str = "awslambdaric", package_dir: Path | None = None,
                 memory_mb: int | None = None, reserved_concurrency: int | None = None,
                 idle_s: float | None = None, timeout_s: float | None = None, log_dir: Path | None = None,
                 variant: str = "native") -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown Lambda variant {variant!r}; choose from {sorted(VARIANTS)}")
        self.variant = VARIANTS[variant]
        self.name = self.variant.name
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
                "url": self.url, "notes": self.notes,
                "config": {**self._config, "handler": self.variant.handler, "function": self.variant.function}}

    def __enter__(self) -> LambdaTarget:
        from twinbench.targets.lambda_process import LambdaProcess

        log = self.log_dir / f"{self.name}-emulator.log" if self.log_dir else None
        env = {}
        if not os.environ.get("LAMBDA_ACCOUNT_CONCURRENCY"):
            # Lambda gives every environment its full CPU share on its own hardware; here they share
            # this machine's cores. Beyond cores / vCPU-per-environment, new environments would only
            # steal CPU from the warm ones (a cold start storm Lambda never has), so cap there.
            from twinbench.local_lambda.settings import deployed_function, lambda_vcpu

            memory = self.memory_mb or deployed_function(function=self.variant.function).memory_mb
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            cap = max(1, int(cores / lambda_vcpu(memory)))
            env["LAMBDA_ACCOUNT_CONCURRENCY"] = str(cap)
            self.notes.append(
                f"local capacity cap: at most {cap} execution environments ({cores} cores / {lambda_vcpu(memory):.2f} "
                "vCPU each; set LAMBDA_ACCOUNT_CONCURRENCY to change). Requests beyond it get 429 here; real Lambda "
                "would start more environments (each a cold start) up to the account limit")
        self._lam = LambdaProcess(self.package_dir, handler=self.variant.handler, memory_mb=self.memory_mb,
                                  reserved_concurrency=self.reserved_concurrency, idle_s=self.idle_s,
                                  timeout_s=self.timeout_s, log_path=log, env=env,
                                  function_env=dict(self.variant.env))
        if self.variant.env:
            self.notes.append(f"handler {self.variant.handler} (function {self.variant.function}), "
                              + ", ".join(f"{k}={v}" for k, v in self.variant.env) + f"; requests to {self.variant.prefix}/predict")
        self._lam.__enter__()
        self.url = self._lam.url + self.variant.prefix
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
        from twinbench.local_lambda.settings import lambda_vcpu

        return {
            **settings,
            "vcpu": round(lambda_vcpu(memory), 4) if isinstance(memory, int) else None,
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
        status, headers, request_ms = timed_post(self.url + "/predict", body)
        cold_raw = headers.get(COLD_HEADER)
        cold = None if cold_raw is None else cold_raw.strip().lower() == "true"
        init_ms = None
        request_id = headers.get(LOCAL_REQUEST_ID_HEADER)
        for report in reversed(self._lam.reports):
            if report.get("request_id") == request_id:
                init_ms = report.get("init_duration_ms")
                break
        if init_ms is None and headers.get(INIT_HEADER):
            with contextlib.suppress(ValueError):
                init_ms = float(headers[INIT_HEADER])
        if cold is None and init_ms is not None and request_id is not None:
            cold = True  # no cold header (the WSGI handler sets none): the emulator's REPORT Init Duration decides
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
