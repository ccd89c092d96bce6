"""The simulated platforms' parameters and their defaults; every number a user can pass is checked here.

Checked means finite, and > 0 or >= 0 as the platform needs, so a NaN never reaches the engine and
the CLI can say which option was wrong. Where each default comes from (AWS documentation, Kubernetes'
defaults, community measurements, each with its date) is in docs/measurements.md, "The simulator's
defaults and their sources".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
from twinserve_support.lambda_caps import ACCOUNT_CONCURRENCY_DEFAULT

from twinbench.cost import pc_schedule
from twinbench.simulate.errors import ParameterError

__all__ = ["DEFAULT_RESTORE_QUANTILES", "FARGATE_POD_START_S", "KubeParams", "LambdaParams", "NODE_PROVISIONERS", "OneSidedCosts",
           "ServiceTime", "check_finite"]

FARGATE_POD_START_S = 40.0
"""EKS on Fargate: capacity provisioning of one pod before its image pull (each Fargate pod pulls the
image: no node cache), so a new pod is ready after this + ``image_pull_s`` + ``pod_startup_s`` (53 s
with the defaults, inside the ~30-60 s commonly reported; not measured here: no AWS account). Sources:
vladionescu.me/posts/scaling-containers-in-aws (Fargate on EKS starts scaling at once, no node
provisioning, then about 60 pods a minute), justingarrison.com/blog/2024-02-08-fargate-is-not-firecracker
(a pod's own VM is started for each pod). Overridden by ``node_provisioning_s``."""

NODE_PROVISIONERS: dict[str, tuple[float, float]] = {
    "cluster-autoscaler": (100.0, 600.0),
    "karpenter": (55.0, 60.0),
    "fargate": (FARGATE_POD_START_S, 0.0),
}
"""Provisioner -> (node provisioning delay s, idle time before an empty node is removed s). Fargate
has no nodes: each pod gets its own capacity (the delay), released with the pod."""


def check_finite(name: str, value: float, *, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as float if finite and >= minimum (> minimum when strict); else ParameterError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < minimum or (strict and v == minimum):
        raise ParameterError(f"{name} must be finite and {'>' if strict else '>='} {minimum:g}, got {value}")
    return v


@dataclass(frozen=True)
class ServiceTime:
    """An empirical distribution of times in ms, sampled by its quantile function.

    Built from raw samples (sorted) or from a few quantiles (linear interpolation between
    them). ``sample(u)`` maps uniform draws to times, so two platforms fed the same ``u``
    see matched draws (common random numbers make their comparison less noisy).
    """

    name: str
    sorted_ms: np.ndarray = field(repr=False)
    source: str = "default"

    def __post_init__(self) -> None:
        values = np.sort(np.asarray(self.sorted_ms, dtype=np.float64).reshape(-1))
        if values.size == 0:
            raise ParameterError(f"{self.name}: no samples")
        if not np.all(np.isfinite(values)) or values[0] < 0:
            raise ParameterError(f"{self.name}: samples must be finite and >= 0")
        if values[-1] <= 0:
            raise ParameterError(f"{self.name}: samples must not all be zero")
        values.setflags(write=False)
        object.__setattr__(self, "sorted_ms", values)

    @classmethod
    def constant(cls, name: str, ms: float) -> ServiceTime:
        return cls(name, np.array([check_finite(name, ms, strict=True)]), f"constant {ms:g} ms")

    @classmethod
    def from_quantiles(cls, name: str, quantiles: dict[float, float], source: str) -> ServiceTime:
        """e.g. {0.0: 3.1, 0.5: 4.0, 0.99: 9.5, 1.0: 15}: 1,001 evenly spaced points between."""
        qs = np.array(sorted(quantiles))
        if qs[0] != 0.0 or qs[-1] != 1.0:
            raise ParameterError(f"{name}: quantiles must include 0 and 1")
        grid = np.linspace(0.0, 1.0, 1001)
        return cls(name, np.interp(grid, qs, [quantiles[q] for q in qs]), source)

    @property
    def mean_ms(self) -> float:
        return float(self.sorted_ms.mean())

    def at_memory(self, measured_mb: int, memory_mb: int) -> ServiceTime:
        """The distribution at ``memory_mb`` under the CPU-share model from one measured at ``measured_mb``.

        Lambda gives a function CPU in proportion to memory, one full vCPU at 1,769 MB (AWS docs,
        "Configure Lambda function memory"); our handler is single-threaded, so its times scale as
        ``min(1, measured/1769) / min(1, memory/1769)``.
        """
        f = min(1.0, measured_mb / FULL_VCPU_MB) / min(1.0, memory_mb / FULL_VCPU_MB)
        return self.scaled(f, f"CPU share at {memory_mb} MB")

    def scaled(self, factor: float, why: str) -> ServiceTime:
        """Every time multiplied by ``factor`` (itself when 1), with ``why`` in its source."""
        if factor == 1.0:
            return self
        return ServiceTime(self.name, self.sorted_ms * factor, f"{self.source}, x{factor:.3g} ({why})")

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Times (ms) at uniform draws ``u`` in [0, 1): linear between order statistics."""
        n = self.sorted_ms.size
        if n == 1:
            return np.full(u.shape, self.sorted_ms[0])
        return np.interp(u * (n - 1), np.arange(n, dtype=np.float64), self.sorted_ms)

    def describe(self) -> dict[str, object]:
        s = self.sorted_ms
        return {"source": self.source, "n": int(s.size), "mean_ms": round(self.mean_ms, 4),
                "p50_ms": round(float(np.quantile(s, 0.5)), 4), "p99_ms": round(float(np.quantile(s, 0.99)), 4)}


FULL_VCPU_MB = 1769
"""Lambda memory at which a function gets one full vCPU (AWS docs)."""

# Warm service time of one prediction when no bench results are given: the ONNX path's
# request handling measured here (~5 ms median through gunicorn with a tail), as quantiles.
DEFAULT_SERVICE_QUANTILES = {0.0: 2.0, 0.5: 5.0, 0.9: 7.0, 0.99: 12.0, 0.999: 25.0, 1.0: 40.0}
DEFAULT_INIT_QUANTILES = {0.0: 250.0, 0.5: 330.0, 0.99: 600.0, 1.0: 800.0}
"""Lambda INIT: the sample report's measured 330 ms median cold start (README), with a tail."""
ARM64_SPEED_FACTOR_UNKNOWN = 1.0
"""arm64 speed relative to x86_64 when nothing measured it (LambdaParams.arm64_speed_factor)."""
DEFAULT_RESTORE_QUANTILES = {0.0: 200.0, 0.5: 450.0, 0.99: 1000.0, 1.0: 1400.0}
"""SnapStart restore latency: an assumption inside AWS's "as low as sub-second" (module docstring)."""


@dataclass(frozen=True)
class LambdaParams:
    """One Lambda function's configuration and the platform's limits (defaults: module docstring)."""

    memory_mb: int = 1024
    keep_alive_s: float = 300.0
    account_concurrency: int = ACCOUNT_CONCURRENCY_DEFAULT
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    throttle_rate_rps: float | None = None
    throttle_burst: int | None = None
    scale_rate_per_10s: float = 1000.0
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    front_door: Literal["http-api", "rest", "function-url"] = "http-api"
    init_pool_size: int = 65536
    snapstart: bool = False
    restore_hook_ms: float = 2.0
    provisioned_schedule: tuple[int, ...] = ()
    """Provisioned concurrency by hour of day, UTC (``twinbench.cost.pc_schedule``); ``()`` = none.
    Replaces the constant ``provisioned_concurrency`` (which must then be 0)."""
    arm64_speed_factor: float = ARM64_SPEED_FACTOR_UNKNOWN
    """How much faster the handler runs on arm64 than on x86_64 (2.0 = half the time); arm64's warm
    duration and INIT are the measured ones divided by it. 1.0 = unknown: not measured here (no
    arm64 machine), so arm64 is taken as fast as x86_64 and saves only its lower GB-s price."""

    def __post_init__(self) -> None:
        check_finite("arm64 speed factor", self.arm64_speed_factor, strict=True)
        if self.snapstart and (self.provisioned_concurrency or self.provisioned_schedule):
            raise ParameterError("SnapStart cannot be combined with provisioned concurrency (AWS does not allow it)")
        check_finite("restore hook (ms)", self.restore_hook_ms)
        if not (isinstance(self.memory_mb, int) and 128 <= self.memory_mb <= 10240):
            raise ParameterError(f"Lambda memory must be 128..10240 MB, got {self.memory_mb}")
        check_finite("keep-alive (s)", self.keep_alive_s)
        if self.account_concurrency < 1:
            raise ParameterError(f"account concurrency must be >= 1, got {self.account_concurrency}")
        try:
            pc_schedule.check_function(self.reserved_concurrency, self.throttle_rate_rps, self.throttle_burst,
                                       self.provisioned_concurrency, self.provisioned_schedule,
                                       self.account_concurrency)
        except ValueError as exc:
            raise ParameterError(str(exc)) from None
        check_finite("scale rate (environments per 10 s)", self.scale_rate_per_10s, strict=True)
        if (self.provisioned_concurrency or self.provisioned_schedule) and self.architecture != "x86_64":
            raise ParameterError("provisioned concurrency is priced for x86_64 only in the pinned price table")

    def provisioned_per_minute(self, minutes: int) -> np.ndarray:
        """Provisioned environments in each minute of the span (the schedule's hour, else the constant)."""
        return pc_schedule.per_minute(self.provisioned_schedule, minutes, self.provisioned_concurrency)

    @property
    def duration_factor(self) -> float:
        """What the measured (x86_64) times are multiplied by on this function's architecture."""
        return 1.0 / self.arm64_speed_factor if self.architecture == "arm64" else 1.0

    @property
    def concurrency_limit(self) -> int:
        """In-flight requests the function may hold: its reserved concurrency, else the account's."""
        return self.account_concurrency if self.reserved_concurrency is None else self.reserved_concurrency

    @property
    def memory_gb(self) -> float:
        return self.memory_mb / 1024.0


@dataclass(frozen=True)
class KubeParams:
    """The container deployment, the cluster and the HPA timing (defaults: module docstring)."""

    pod_capacity_rps: float = 400.0
    workers: int = 2
    queue_limit: int = 128
    pod_cpu_m: float = 1000.0
    pod_memory_mib: float = 1024.0
    instance_type: str = "t3.medium"
    pod_startup_s: float = 3.0
    readiness_gate_s: float = 0.0
    image_pull_s: float = 10.0
    provisioner: Literal["cluster-autoscaler", "karpenter", "fargate"] = "cluster-autoscaler"
    node_provisioning_s: float | None = None
    node_idle_removal_s: float | None = None
    min_nodes: int = 2
    sync_period_s: float = 15.0
    metrics_lag_s: float = 15.0
    tolerance: float = 0.1
    balancing: Literal["round-robin", "random"] = "round-robin"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("provisioner", "balancing", "instance_type") or value is None:
                continue
            strict = f.name in ("pod_capacity_rps", "pod_cpu_m", "pod_memory_mib", "sync_period_s", "workers")
            check_finite(f.name.replace("_", "-"), value, strict=strict)
        if self.provisioner not in NODE_PROVISIONERS:
            raise ParameterError(f"provisioner must be one of {sorted(NODE_PROVISIONERS)}")
        if self.balancing not in ("round-robin", "random"):
            raise ParameterError("balancing must be round-robin or random")
        if int(self.workers) != self.workers or int(self.queue_limit) != self.queue_limit:
            raise ParameterError("workers and queue limit must be whole numbers")
        if self.workers > 64:
            raise ParameterError(f"workers must be <= 64, got {self.workers}")
        if self.tolerance >= 1:
            raise ParameterError(f"tolerance must be < 1, got {self.tolerance}")

    @property
    def fargate(self) -> bool:
        """EKS on Fargate: one pod per (billed) micro-VM, no node group, no node minimum."""
        return self.provisioner == "fargate"

    @property
    def node_delay_s(self) -> float:
        return self.node_provisioning_s if self.node_provisioning_s is not None else NODE_PROVISIONERS[self.provisioner][0]

    @property
    def node_idle_s(self) -> float:
        return self.node_idle_removal_s if self.node_idle_removal_s is not None else NODE_PROVISIONERS[self.provisioner][1]

    @property
    def metrics_lag_syncs(self) -> int:
        """The lag as whole sync periods (the simulator's metric resolution is one period)."""
        return max(0, round(self.metrics_lag_s / self.sync_period_s))


@dataclass(frozen=True)
class OneSidedCosts:
    """Costs only one platform pays, as parameters (prices in prices.json, dated and sourced).

    * ``nat_gateways`` 1: EKS nodes in private subnets reach ECR, STS and CloudWatch through a
      NAT gateway (eksctl's default VPC creates one, ``--vpc-nat-mode Single``); one per AZ for
      zonal resilience would be 2-3. Lambda outside a VPC needs none.
    * ``nat_gb_per_month`` 10: image pulls and the nodes' own traffic through it (a parameter,
      not a measurement: node starts x image size is a few GB a month here).
    * ``public_ipv4`` 3: an internet-facing ALB holds one public IPv4 per AZ (2 AZs minimum) and
      the NAT gateway one Elastic IP; since 2024-02-01 each costs $0.005/h.
    * ``eks_extended_support``: a cluster on a Kubernetes version past standard support pays
      $0.60/h instead of $0.10/h (off by default).
    * ``lambda_log_bytes_per_invocation`` / ``..._per_cold_start``: CloudWatch Logs ingestion;
      None takes them from ``twinbench.cost.lambda_logs`` (the handler's measured line plus the
      platform's lines).
    """

    nat_gateways: int = 1
    nat_gb_per_month: float = 10.0
    public_ipv4: int = 3
    eks_extended_support: bool = False
    lambda_log_bytes_per_invocation: float | None = None
    lambda_log_bytes_per_cold_start: float | None = None

    def __post_init__(self) -> None:
        for name in ("nat_gateways", "nat_gb_per_month", "public_ipv4"):
            check_finite(name.replace("_", "-"), getattr(self, name))
        for name in ("lambda_log_bytes_per_invocation", "lambda_log_bytes_per_cold_start"):
            if getattr(self, name) is not None:
                check_finite(name.replace("_", "-"), getattr(self, name))

    def log_bytes(self) -> tuple[float, float, str]:
        """(bytes per invocation, extra bytes per cold start, source)."""
        from twinbench.cost.lambda_logs import lambda_log_bytes

        measured = lambda_log_bytes()
        per = self.lambda_log_bytes_per_invocation
        cold = self.lambda_log_bytes_per_cold_start
        source = measured.source if per is None else "given"
        return (measured.per_invocation if per is None else per,
                measured.per_cold_start if cold is None else cold, source)
