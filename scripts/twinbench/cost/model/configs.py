"""The cost model's inputs: a Lambda configuration, a container fleet, the ALB's LCU assumptions; limits and errors.

The ALB's LCU default (``AlbAssumptions``) is the conservative one: every request opens a new
connection held ~1 s, 2 KiB processed per request, no rules beyond the free 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from twinserve_support.lambda_caps import ACCOUNT_CONCURRENCY_DEFAULT

from twinbench.cost import pc_schedule
from twinbench.cost.traffic import (
    CostModelError,
)
from twinbench.results import formats

SCHEMA_VERSION = formats.COST.version
"""Version of ``CostComparison.to_dict()`` (``"format": "twinbench.cost"``); bumped in
:mod:`twinbench.results.formats`, with its history in ``results/FORMATS.md``."""

LAMBDA_DEFAULT_CONCURRENCY_LIMIT = ACCOUNT_CONCURRENCY_DEFAULT
"""Default per-account, per-region concurrency quota; above it Lambda throttles (429)."""
LAMBDA_MAX_DURATION_MS = 900_000.0
"""Lambda's maximum timeout (15 minutes): no invocation bills longer."""
MIN_POD_RPS = 1e-3
"""Slowest pod accepted, req/s; below it pod counts overflow in the break-even search."""
MAX_HEADROOM = 100.0
"""Largest capacity / peak factor accepted: past it the input is a typo, not a plan."""
MIN_SEARCH_RPS, MAX_SEARCH_RPS = 1e-3, 1e7
"""Range of the break-even search's top rate, req/s: its grid starts at 1e-3."""
T3_UNLIMITED_USD_PER_VCPU_HOUR = 0.05
"""Surplus-credit charge of burstable T3 instances in unlimited mode (noted, not added)."""
GIB = 1024.0**3

Architecture = Literal["x86_64", "arm64"]
FrontDoor = Literal["http-api", "rest", "function-url"]
ARCHITECTURES: tuple[str, ...] = ("x86_64", "arm64")
FRONT_DOORS: tuple[str, ...] = ("http-api", "rest", "function-url")
FRONT_DOOR_PRICE_KEYS = {
    "http-api": "apigw_http_api_usd_per_million_requests",
    "rest": "apigw_rest_api_usd_per_million_requests",
    "function-url": "lambda_function_url_usd_per_million_requests",
}
FRONT_DOOR_LABELS = {"http-api": "API Gateway HTTP API", "rest": "API Gateway REST API", "function-url": "Function URL"}


class ConfigError(CostModelError):
    """An input outside what the platform allows (e.g. Lambda memory above 10240 MB)."""


class PodDoesNotFitError(CostModelError):
    """The pod's request exceeds what one node of the chosen type can allocate."""




@dataclass(frozen=True)
class LambdaConfig:
    """The Lambda deployment being priced, with its *measured* billed duration.

    ``billed_duration_ms`` is the mean over warm invocations of the REPORT line's Billed
    Duration (already rounded up to 1 ms each; use ``mean_billed_duration_ms`` on raw
    durations). ``init_duration_ms`` is the measured Init Duration, billed once per cold
    start. ``keep_alive_s`` is how long an idle environment survives (not published by AWS;
    300 s is a commonly observed lower end, so cold starts are not understated).
    ``provisioned_concurrency`` environments are billed all month (x86_64 prices only);
    ``provisioned_schedule`` (24 hourly counts, UTC, ``twinbench.cost.pc_schedule``) instead bills
    each hour's count for that hour, every day.
    ``reserved_concurrency`` and ``throttle_rate_rps`` (req/s) are the caps: what they turn away
    gets 429 and is not billed (see ``lambda_monthly_cost``); ``None`` = uncapped.
    """

    billed_duration_ms: float
    memory_mb: int
    architecture: Architecture = "x86_64"
    front_door: FrontDoor = "http-api"
    init_duration_ms: float = 0.0
    keep_alive_s: float = 300.0
    provisioned_concurrency: int = 0
    reserved_concurrency: int | None = None
    throttle_rate_rps: float | None = None
    provisioned_schedule: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (0 < self.billed_duration_ms <= LAMBDA_MAX_DURATION_MS):
            raise ConfigError(f"billed_duration_ms must be within (0, {LAMBDA_MAX_DURATION_MS:g}] (Lambda's "
                              f"15-minute timeout), got {self.billed_duration_ms}")
        if not 128 <= self.memory_mb <= 10240:
            raise ConfigError(f"Lambda memory must be 128..10240 MB, got {self.memory_mb}")
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.front_door not in FRONT_DOORS:
            raise ConfigError(f"front_door must be one of {FRONT_DOORS}, got {self.front_door!r}")
        # isfinite first: NaN compares False with everything, so "x < 0" alone lets it through.
        if not (math.isfinite(self.init_duration_ms) and math.isfinite(self.keep_alive_s)
                and self.init_duration_ms >= 0 and self.keep_alive_s >= 0 and self.provisioned_concurrency >= 0):
            raise ConfigError("init_duration_ms, keep_alive_s and provisioned_concurrency must be finite and >= 0, "
                              f"got {self.init_duration_ms}, {self.keep_alive_s}, {self.provisioned_concurrency}")
        try:
            # The rate alone is modelled (per minute); a burst of 1 stands in to validate it.
            pc_schedule.check_function(self.reserved_concurrency, self.throttle_rate_rps,
                                       None if self.throttle_rate_rps is None else 1,
                                       self.provisioned_concurrency, self.provisioned_schedule)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def memory_gb(self) -> float:
        """Lambda's GB for GB-seconds: MB / 1024 (128 MB = 0.125 GB)."""
        return self.memory_mb / 1024.0

    def provisioned_per_minute(self, minutes: int) -> np.ndarray:
        """Provisioned environments in each minute of a profile starting at 00:00 UTC."""
        return pc_schedule.per_minute(self.provisioned_schedule, minutes, self.provisioned_concurrency)

    @property
    def provisioned_mean(self) -> float:
        """Environments configured on average over a day (what the configured GB-s bill)."""
        if self.provisioned_schedule:
            return sum(self.provisioned_schedule) / len(self.provisioned_schedule)
        return float(self.provisioned_concurrency)

    def uncapped(self) -> LambdaConfig:
        """The same function with both caps lifted (what serving all of a traffic costs)."""
        return replace(self, reserved_concurrency=None, throttle_rate_rps=None)

    def capped_rates(self, rates_rps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(admitted, served) req/s per minute: past the route throttling, then within the reservation."""
        admitted = rates_rps if self.throttle_rate_rps is None else np.minimum(rates_rps, self.throttle_rate_rps)
        if self.reserved_concurrency is None:
            return admitted, admitted
        return admitted, np.minimum(admitted, self.reserved_concurrency * 1000.0 / self.billed_duration_ms)


@dataclass(frozen=True)
class ContainerConfig:
    """The Kubernetes deployment being priced, with its *measured* throughput per pod.

    ``pod_rps`` is the highest rate one pod sustains with p99 under the SLO (the knee from
    the scalability scenario). Pod requests default to k8s/base/deployment.yaml (1 CPU,
    1 GiB). ``headroom_factor`` 1.43 = 1 / 0.70, the HPA's CPU target in k8s/base/hpa.yaml:
    pods are provisioned so that the peak runs them at 70 %. ``min_replicas`` 2 and
    ``min_nodes`` 2 keep one pod per availability zone, as the PodDisruptionBudget expects.
    """

    pod_rps: float
    pod_cpu_m: float = 1000.0
    pod_memory_mib: float = 1024.0
    instance_type: str = "t3.medium"
    headroom_factor: float = 1.43
    min_replicas: int = 2
    min_nodes: int = 2

    def __post_init__(self) -> None:
        # Bounds keep pod counts finite when the break-even search scales the traffic up.
        if not (self.pod_rps >= MIN_POD_RPS and math.isfinite(self.pod_rps)):
            raise ConfigError(f"pod_rps must be finite and >= {MIN_POD_RPS:g}, got {self.pod_rps}")
        if not (self.pod_cpu_m > 0 and self.pod_memory_mib > 0
                and math.isfinite(self.pod_cpu_m) and math.isfinite(self.pod_memory_mib)):
            raise ConfigError(f"pod_cpu_m and pod_memory_mib must be finite and > 0, got {self.pod_cpu_m}, "
                              f"{self.pod_memory_mib}")
        if not 1.0 <= self.headroom_factor <= MAX_HEADROOM:  # also refuses NaN
            raise ConfigError(f"headroom_factor must be within 1..{MAX_HEADROOM:g}, got {self.headroom_factor}")
        if self.min_replicas < 1 or self.min_nodes < 1:
            raise ConfigError("min_replicas and min_nodes must be >= 1")


@dataclass(frozen=True)
class AlbAssumptions:
    """Traffic facts the ALB bills on (LCUs) that the benchmark does not measure.

    Defaults are the conservative case: each request is a new connection (no keep-alive),
    held ``connection_duration_s``, with ``processed_bytes_per_request`` in + out, and no
    rule evaluations beyond the free 10 rules.
    """

    new_connections_per_request: float = 1.0
    connection_duration_s: float = 1.0
    processed_bytes_per_request: float = 2048.0
    rule_evaluations_per_request: float = 0.0

    def __post_init__(self) -> None:
        values = (self.new_connections_per_request, self.connection_duration_s,
                  self.processed_bytes_per_request, self.rule_evaluations_per_request)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ConfigError(f"ALB assumptions must be finite and >= 0, got {values}")
