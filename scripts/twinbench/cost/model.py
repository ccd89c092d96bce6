"""Monthly cost of serving the model on Lambda, on EKS nodes and on Fargate; the break-even.

Why a model and not a calculator link: the figures that decide the answer (billed duration,
throughput per pod at the SLO, cold starts) are *measured* by ``make bench`` on this
machine, and the traffic shape matters as much as its volume. Everything here is pure
arithmetic over a pinned price table (``prices.json``, us-east-1, each price with its
source and date) so a report can be re-derived and a hand calculation can check it.

Conventions
-----------
* A month is 730 hours (AWS's billing month, 365 x 24 / 12); "monthly" always means that.
* Rates are request/s (``rps``); ``mean_rps`` of a profile is what curves and break-even
  rates are quoted in, with the profile's shape kept while its volume is scaled.
* On-demand list prices only: no free tier, no volume tiers, no Savings Plans or Spot, no
  data transfer, CloudWatch Logs, NAT or ECR storage. Those are real but the same order for
  both sides or account-specific; the report states this list.
* The container fleets are sized for the profile's *peak* with headroom and run all month
  (no cluster autoscaling). On a strongly diurnal profile an autoscaled fleet costs less,
  bounded below by the same fleet sized for the mean.

Lambda
------
cost = requests x price/request + front door
     + (requests x mean billed duration + cold starts x init duration) x memory GB x price/GB-s
Duration is billed rounded *up* to 1 ms per invocation, so ``mean_billed_duration_ms``
rounds each sample before averaging (the mean of raw durations would under-bill). Since
2025-08-01 the INIT phase is billed for on-demand ZIP functions too, so each cold start
adds its init duration. GB is memory_mb / 1024, as AWS computes it.

Cold starts (``expected_cold_starts``)
--------------------------------------
Per minute m with rate r_m (req/s) and mean billed duration d (s):
* environments in use n_m = ceil(r_m x d), at least 1 when r_m > 0 (Little's law);
* each environment sees Poisson arrivals at r_m / n_m, so a request finds its environment
  idle longer than the keep-alive T with probability exp(-(r_m / n_m) x T);
* environments beyond the most used in the previous ceil(T / 60) minutes are new, so
  scale-out (and the first request after an idle gap longer than T) is cold: max(0, n_m - w_m);
* cold_m = min(requests_m, requests_m x exp(-(r_m / n_m) T) + max(0, n_m - w_m)).
Limits: AWS does not publish the keep-alive (observed ~5-15 min, and it reaps environments
after a few hours regardless); Poisson arrivals are an assumption (bursty clients see more
cold starts); n_m uses the *mean* concurrency, so concurrency spikes inside a minute are
missed (under-estimate at high load); the two terms may count the first request after an
idle gap twice (over-estimate by at most one per environment per minute).

Caps (reserved concurrency, HTTP API route throttling)
------------------------------------------------------
``LambdaConfig.reserved_concurrency`` and ``throttle_rate_rps`` (serverless.yml's
reservedConcurrency and throttleRateLimit; ``None`` = uncapped) bound what is served in each
minute m: a_m = min(r_m, rate) passes the route throttling (the burst only shifts requests
within a minute, so it is not modelled here), and s_m = min(a_m, reserved / d) is what
``reserved`` environments busy d seconds per request can serve (Little's law). The rest gets 429
and is not billed: Lambda's requests and GB-s are on s_m, the front door's requests on a_m (a
request the route throttling turns away never reaches the integration). Break-even rates and
cost curves price the whole traffic served, as if the caps were raised to carry it.

EKS
---
control plane 730 x $0.10 + nodes x 730 x instance $/h + ALB. Pods at peak =
ceil(peak_rps x headroom / pod_rps), at least ``min_replicas``; they are bin-packed
(first-fit decreasing, with CoreDNS) onto nodes whose allocatable CPU/memory/pod slots
follow the EKS AMI's kube-reserved formula minus the per-node DaemonSets; at least
``min_nodes``.

Fargate
-------
Default EKS on Fargate (the same Kubernetes manifests): control plane + ALB + each pod
billed at the smallest Fargate size holding its CPU request and memory request + 256 MiB.
``fargate_on_eks=False`` prices ECS on Fargate instead (no control plane, no 256 MiB).

ALB
---
$0.0225/h + $0.008 per LCU-hour, where an LCU-hour is the largest of: new connections/s
/ 25, active connections / 3000, processed GB/h / 1, rule evaluations/s / 1000. The
default assumption (``AlbAssumptions``) is the conservative one: every request opens a new
connection (clients without keep-alive) held ~1 s, 2 KiB processed per request (request +
response), no rules beyond the free 10. LCUs are computed per minute and averaged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
from twinserve_support.lambda_caps import ACCOUNT_CONCURRENCY_DEFAULT, Caps, check_reserved_concurrency

from twinbench.cost.prices import (
    InstanceType,
    NodeOverhead,
    PriceTable,
    PriceTableError,
    load_prices,
)
from twinbench.cost.traffic import (
    HOURS_PER_MONTH,
    SECONDS_PER_MONTH,
    CostModelError,
    TraceFormatError,
    TrafficError,
    TrafficProfile,
)
from twinbench.results import formats
from twinbench.results.jsonable import jsonable

__all__ = [
    "HOURS_PER_MONTH",
    "SCHEMA_VERSION",
    "AlbAssumptions",
    "BreakEven",
    "ColdStartEstimate",
    "ConfigError",
    "ContainerConfig",
    "CostComparison",
    "CostCurve",
    "CostModelError",
    "LambdaConfig",
    "LineItem",
    "PlatformCost",
    "PodDoesNotFitError",
    "PriceTable",
    "PriceTableError",
    "TraceFormatError",
    "TrafficError",
    "break_even_rps",
    "compare",
    "cost_curve",
    "eks_monthly_cost",
    "expected_cold_starts",
    "fargate_monthly_cost",
    "fargate_pod_size",
    "lambda_monthly_cost",
    "load_prices",
    "mean_billed_duration_ms",
    "nodes_needed",
    "pods_needed",
]

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


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class LambdaConfig:
    """The Lambda deployment being priced, with its *measured* billed duration.

    ``billed_duration_ms`` is the mean over warm invocations of the REPORT line's Billed
    Duration (already rounded up to 1 ms each; use ``mean_billed_duration_ms`` on raw
    durations). ``init_duration_ms`` is the measured Init Duration, billed once per cold
    start. ``keep_alive_s`` is how long an idle environment survives (not published by AWS;
    300 s is a commonly observed lower end, so cold starts are not understated).
    ``provisioned_concurrency`` environments are billed all month (x86_64 prices only).
    ``reserved_concurrency`` and ``throttle_rate_rps`` (req/s) are the caps: what they turn away
    gets 429 and is not billed (module docstring); ``None`` = uncapped.
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
            check_reserved_concurrency(self.reserved_concurrency)
            # The rate alone is modelled (per minute); a burst of 1 stands in to validate it.
            Caps(None, self.throttle_rate_rps, None if self.throttle_rate_rps is None else 1)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.reserved_concurrency is not None and self.provisioned_concurrency > self.reserved_concurrency:
            raise ConfigError(f"provisioned_concurrency {self.provisioned_concurrency} exceeds reserved_concurrency "
                              f"{self.reserved_concurrency}")

    @property
    def memory_gb(self) -> float:
        """Lambda's GB for GB-seconds: MB / 1024 (128 MB = 0.125 GB)."""
        return self.memory_mb / 1024.0

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


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class LineItem:
    """One row of a bill: quantity x unit price = monthly_usd."""

    name: str
    quantity: float
    unit: str
    unit_usd: float
    monthly_usd: float


@dataclass(frozen=True)
class PlatformCost:
    """A platform's monthly bill: the total, its line items, sizing facts and caveats."""

    platform: Literal["lambda", "eks", "fargate"]
    label: str
    monthly_usd: float
    items: tuple[LineItem, ...]
    sizing: Mapping[str, float | int | str]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColdStartEstimate:
    """Expected cold starts per month under the keep-alive model in the module docstring."""

    cold_starts_per_month: float
    cold_start_fraction: float
    keep_alive_s: float
    mean_concurrency: float
    peak_concurrency: float


@dataclass(frozen=True)
class BreakEven:
    """Where Lambda stops being cheaper than ``against``, in mean req/s of the same shape.

    ``rps`` is the lowest such rate (0.0 if Lambda is never cheaper, None if it is cheaper
    all the way to ``searched_up_to_rps``). ``crossings_rps`` lists every rate where the
    cheaper side changes: the container side is a step function (whole nodes and pods), so
    just above break-even a new node can briefly make Lambda cheaper again.
    """

    against: Literal["eks", "fargate"]
    rps: float | None
    requests_per_month: float | None
    crossings_rps: tuple[float, ...]
    searched_up_to_rps: float


@dataclass(frozen=True)
class CostCurve:
    """Monthly cost of each platform over a sweep of mean request rates, ready to plot."""

    mean_rps: np.ndarray
    requests_per_month: np.ndarray
    lambda_monthly_usd: np.ndarray
    eks_monthly_usd: np.ndarray
    fargate_monthly_usd: np.ndarray
    break_even_eks: BreakEven
    break_even_fargate: BreakEven
    profile_name: str


@dataclass(frozen=True)
class CostComparison:
    """The whole answer for one scenario; ``to_dict()`` is what results.json stores."""

    region: str
    hours_per_month: float
    prices_pinned_on: str
    prices_path: str
    traffic: Mapping[str, Any]
    lambda_config: LambdaConfig
    container_config: ContainerConfig
    alb: AlbAssumptions
    fargate_on_eks: bool
    lambda_cost: PlatformCost
    eks_cost: PlatformCost
    fargate_cost: PlatformCost
    cold_starts: ColdStartEstimate
    break_even_eks: BreakEven
    break_even_fargate: BreakEven
    cheapest: str
    assumptions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {**formats.COST.header(), **jsonable(asdict(self))}


# --------------------------------------------------------------------------- Lambda


def mean_billed_duration_ms(durations_ms: Iterable[float]) -> float:
    """Mean Lambda-billed duration of raw durations: each rounded up to 1 ms first.

    Raises ConfigError on an empty or negative sample.
    """
    samples = np.asarray(list(durations_ms), dtype=float)
    if samples.size == 0 or np.any(samples < 0) or not np.all(np.isfinite(samples)):
        raise ConfigError("need at least one finite duration >= 0")
    # 1e-9 keeps an exact 12.0 at 12 when it arrives as 12.000000000000002.
    return float(np.mean(np.maximum(1.0, np.ceil(samples - 1e-9))))


def expected_cold_starts(profile: TrafficProfile, billed_duration_ms: float, keep_alive_s: float) -> ColdStartEstimate:
    """Cold starts per month and as a fraction of requests; model in the module docstring."""
    rates = profile.rps_per_minute
    requests = rates * 60.0
    concurrency = rates * billed_duration_ms / 1000.0
    envs = np.where(rates > 0, np.maximum(1.0, np.ceil(concurrency - 1e-9)), 0.0)
    per_env_rps = np.divide(rates, envs, out=np.zeros_like(rates), where=envs > 0)
    gap_cold = requests * np.exp(-per_env_rps * keep_alive_s)
    window_minutes = min(max(1, math.ceil(keep_alive_s / 60.0)), envs.size)
    # The profile repeats, so the minutes before the first one are the last ones (np.roll).
    warm = np.zeros_like(envs)
    for k in range(1, window_minutes + 1):
        np.maximum(warm, np.roll(envs, k), out=warm)
    scale_out_cold = np.maximum(0.0, envs - warm)
    cold = np.minimum(requests, gap_cold + scale_out_cold)
    per_period = float(requests.sum())
    periods_per_month = SECONDS_PER_MONTH / (60.0 * rates.size)
    return ColdStartEstimate(
        cold_starts_per_month=float(cold.sum()) * periods_per_month,
        cold_start_fraction=float(cold.sum()) / per_period if per_period > 0 else 0.0,
        keep_alive_s=keep_alive_s,
        mean_concurrency=float(concurrency.mean()),
        peak_concurrency=float(concurrency.max()),
    )


def lambda_monthly_cost(profile: TrafficProfile, config: LambdaConfig, prices: PriceTable | None = None) -> PlatformCost:
    """Lambda + front door for a month of ``profile``; raises PriceTableError for PC on arm64.

    Requests the caps turn away (429) are not billed (module docstring, "Caps").
    """
    prices = prices or load_prices()
    gb = config.memory_gb
    offered = profile
    month_scale = SECONDS_PER_MONTH / (60.0 * profile.rps_per_minute.size)
    admitted_rates, served_rates = config.capped_rates(profile.rps_per_minute)
    profile = TrafficProfile(profile.name, served_rates)
    door_requests = float(admitted_rates.sum()) * 60.0 * month_scale
    throttled = offered.requests_per_month - profile.requests_per_month
    requests = profile.requests_per_month
    rates = profile.rps_per_minute
    d_s = config.billed_duration_ms / 1000.0
    on_demand_price = prices.usd(f"lambda_{config.architecture}_usd_per_gb_s")
    items: list[LineItem] = []
    notes: list[str] = []

    # Share of each minute's duration that provisioned environments absorb.
    pc = config.provisioned_concurrency
    if pc:
        if config.architecture != "x86_64":
            raise PriceTableError("provisioned-concurrency prices are pinned for x86_64 only")
        demand = rates * d_s
        pc_share = np.divide(np.minimum(demand, pc), demand, out=np.ones_like(rates), where=demand > 0)
    else:
        pc_share = np.zeros_like(rates)
    invoke_gb_s_per_min = rates * 60.0 * d_s * gb
    pc_used_gb_s = float(np.sum(invoke_gb_s_per_min * pc_share)) * month_scale
    on_demand_invoke_gb_s = float(np.sum(invoke_gb_s_per_min * (1.0 - pc_share))) * month_scale

    # Cold starts only happen on the traffic provisioned environments do not absorb.
    cold_all = expected_cold_starts(profile, config.billed_duration_ms, config.keep_alive_s)
    if pc:
        spill = TrafficProfile(profile.name, rates * (1.0 - pc_share))
        cold = expected_cold_starts(spill, config.billed_duration_ms, config.keep_alive_s)
    else:
        cold = cold_all
    init_gb_s = cold.cold_starts_per_month * config.init_duration_ms / 1000.0 * gb

    items.append(LineItem("requests", requests / 1e6, "million requests",
                          prices.usd("lambda_usd_per_million_requests"),
                          requests / 1e6 * prices.usd("lambda_usd_per_million_requests")))
    items.append(LineItem(f"compute ({config.architecture})", on_demand_invoke_gb_s, "GB-s",
                          on_demand_price, on_demand_invoke_gb_s * on_demand_price))
    if config.init_duration_ms > 0:
        items.append(LineItem("init (cold starts)", init_gb_s, "GB-s", on_demand_price, init_gb_s * on_demand_price))
    if pc:
        configured_gb_s = pc * gb * SECONDS_PER_MONTH
        idle_price = prices.usd("lambda_provisioned_x86_64_usd_per_gb_s_idle")
        used_price = prices.usd("lambda_provisioned_x86_64_usd_per_gb_s_used")
        items.append(LineItem("provisioned concurrency (configured)", configured_gb_s, "GB-s",
                              idle_price, configured_gb_s * idle_price))
        items.append(LineItem("provisioned concurrency (duration)", pc_used_gb_s, "GB-s",
                              used_price, pc_used_gb_s * used_price))
    door_price = prices.usd(FRONT_DOOR_PRICE_KEYS[config.front_door])
    items.append(LineItem(FRONT_DOOR_LABELS[config.front_door], door_requests / 1e6, "million requests",
                          door_price, door_requests / 1e6 * door_price))

    if cold_all.peak_concurrency > LAMBDA_DEFAULT_CONCURRENCY_LIMIT:
        notes.append(f"peak concurrency {cold_all.peak_concurrency:.0f} exceeds the default account quota "
                     f"of {LAMBDA_DEFAULT_CONCURRENCY_LIMIT}: request an increase or expect throttling")
    if throttled > 1e-9 * offered.requests_per_month:
        notes.append(f"{throttled / offered.requests_per_month:.1%} of requests get 429 from the caps (reserved "
                     f"concurrency {config.reserved_concurrency}, route throttling {config.throttle_rate_rps} req/s) "
                     "and are not billed: raise the caps to serve them (docs/deploy-lambda.md)")
    if config.init_duration_ms == 0:
        notes.append("init duration not given: cold starts add no cost here (INIT is billed since 2025-08-01)")
    return PlatformCost(
        platform="lambda",
        label=f"Lambda + {FRONT_DOOR_LABELS[config.front_door]}",
        monthly_usd=sum(i.monthly_usd for i in items),
        items=tuple(items),
        sizing={"memory_mb": config.memory_mb, "billed_duration_ms": config.billed_duration_ms,
                "cold_start_fraction": cold.cold_start_fraction,
                "cold_starts_per_month": cold.cold_starts_per_month,
                "peak_concurrency": cold_all.peak_concurrency,
                "provisioned_concurrency": pc,
                "throttled_per_month": throttled,
                "throttled_fraction": throttled / offered.requests_per_month if offered.requests_per_month else 0.0},
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- Kubernetes sizing


def pods_needed(peak_rps: float, config: ContainerConfig) -> int:
    """Replicas that carry ``peak_rps`` with the headroom: ceil(peak x headroom / pod_rps)."""
    # The 1e-9 stops 2.0000000000000004 pods from becoming 3.
    return max(config.min_replicas, math.ceil(peak_rps * config.headroom_factor / config.pod_rps - 1e-9))


def node_allocatable(instance: InstanceType, overhead: NodeOverhead) -> tuple[float, float, int]:
    """(CPU millicores, memory MiB, pod slots) a node offers our pods after its own needs."""
    cores = instance.vcpu
    # EKS AMI kube-reserved CPU: 6 % of core 1, 1 % of core 2, 0.5 % of cores 3-4, 0.25 % above.
    reserved_cpu_m = (60.0 * min(cores, 1) + 10.0 * min(max(cores - 1, 0), 1)
                      + 5.0 * min(max(cores - 2, 0), 2) + 2.5 * max(cores - 4, 0))
    cpu_m = cores * 1000.0 - reserved_cpu_m - overhead.daemonset_cpu_m
    memory_mib = (instance.memory_gib * 1024.0 - overhead.kube_reserved_memory_base_mib
                  - overhead.kube_reserved_memory_per_pod_mib * instance.max_pods
                  - overhead.eviction_hard_memory_mib - overhead.daemonset_memory_mib)
    return cpu_m, memory_mib, instance.max_pods - overhead.daemonset_pods


def nodes_needed(pods: int, config: ContainerConfig, prices: PriceTable | None = None) -> int:
    """Nodes of ``config.instance_type`` holding ``pods`` replicas plus CoreDNS.

    First-fit decreasing over groups of identical nodes (pods of one kind are identical,
    so they are placed in bulk; the cost stays O(kinds x node groups), not O(pods)).
    Raises PodDoesNotFitError when one pod exceeds a node's allocatable resources.
    """
    prices = prices or load_prices()
    instance = prices.instance(config.instance_type)
    ov = prices.node_overhead
    alloc_cpu, alloc_mem, alloc_slots = node_allocatable(instance, ov)
    kinds = [("model pod", pods, config.pod_cpu_m, config.pod_memory_mib),
             ("coredns", ov.coredns_replicas, ov.coredns_cpu_m, ov.coredns_memory_mib)]
    kinds.sort(key=lambda k: max(k[2] / alloc_cpu, k[3] / alloc_mem), reverse=True)
    groups: list[list[float]] = []  # [node count, cpu free, memory free, slots free]

    def fit(cpu_free: float, mem_free: float, slots_free: float, cpu: float, mem: float) -> int:
        by_cpu = math.floor(cpu_free / cpu + 1e-9) if cpu > 0 else slots_free
        by_mem = math.floor(mem_free / mem + 1e-9) if mem > 0 else slots_free
        return int(max(0, min(by_cpu, by_mem, slots_free)))

    for name, count, cpu, mem in kinds:
        remaining = int(count)
        new_groups: list[list[float]] = []
        for group in groups:
            n_nodes, cpu_free, mem_free, slots_free = group
            per_node = fit(cpu_free, mem_free, slots_free, cpu, mem)
            if remaining == 0 or per_node == 0:
                new_groups.append(group)
                continue
            full = min(remaining // per_node, int(n_nodes))
            if full:
                new_groups.append([full, cpu_free - per_node * cpu, mem_free - per_node * mem, slots_free - per_node])
                remaining -= full * per_node
            untouched = int(n_nodes) - full
            if untouched and remaining:
                placed = min(remaining, per_node)
                new_groups.append([1, cpu_free - placed * cpu, mem_free - placed * mem, slots_free - placed])
                remaining -= placed
                untouched -= 1
            if untouched:
                new_groups.append([untouched, cpu_free, mem_free, slots_free])
        groups = new_groups
        if remaining:
            per_empty = fit(alloc_cpu, alloc_mem, alloc_slots, cpu, mem)
            if per_empty == 0:
                raise PodDoesNotFitError(
                    f"a {name} requests {cpu:g}m CPU / {mem:g} MiB but one {instance.name} node has only "
                    f"{alloc_cpu:g}m / {alloc_mem:g} MiB allocatable; choose a larger instance type")
            full, rest = divmod(remaining, per_empty)
            if full:
                groups.append([full, alloc_cpu - per_empty * cpu, alloc_mem - per_empty * mem, alloc_slots - per_empty])
            if rest:
                groups.append([1, alloc_cpu - rest * cpu, alloc_mem - rest * mem, alloc_slots - rest])
    return max(config.min_nodes, int(sum(g[0] for g in groups)))


def fargate_pod_size(cpu_m: float, memory_mib: float, prices: PriceTable | None = None,
                     on_eks: bool = True) -> tuple[float, float]:
    """(vCPU, memory GB) Fargate bills for a pod: the smallest size that holds it.

    On EKS, 256 MiB for kubelet, kube-proxy and containerd is added to the memory request.
    Raises PodDoesNotFitError above the largest Fargate size.
    """
    prices = prices or load_prices()
    need_mib = memory_mib + (prices.fargate_kubernetes_overhead_mib if on_eks else 0.0)
    for vcpu, memories in prices.fargate_sizes:
        if vcpu * 1000.0 + 1e-9 < cpu_m:
            continue
        for memory_gb in memories:
            if memory_gb * 1024.0 + 1e-9 >= need_mib:
                return vcpu, memory_gb
    raise PodDoesNotFitError(f"no Fargate size holds {cpu_m:g}m CPU and {need_mib:g} MiB")


def _alb_items(profile: TrafficProfile, alb: AlbAssumptions, prices: PriceTable) -> list[LineItem]:
    lcu = prices.lcu
    # Every LCU dimension is proportional to the request rate, so the largest one per request
    # times the rate is the per-minute LCU count, and its monthly mean is the mean rate's.
    lcu_per_rps = max(
        alb.new_connections_per_request / lcu.new_connections_per_s,
        alb.new_connections_per_request * alb.connection_duration_s / lcu.active_connections_per_minute,
        alb.processed_bytes_per_request * 3600.0 / GIB / lcu.processed_gb_per_hour,
        alb.rule_evaluations_per_request / lcu.rule_evaluations_per_s,
    )
    lcu_hours = profile.mean_rps * lcu_per_rps * HOURS_PER_MONTH
    hour_price, lcu_price = prices.usd("alb_usd_per_hour"), prices.usd("alb_usd_per_lcu_hour")
    return [LineItem("ALB hours", HOURS_PER_MONTH, "ALB-hours", hour_price, HOURS_PER_MONTH * hour_price),
            LineItem("ALB LCUs", lcu_hours, "LCU-hours", lcu_price, lcu_hours * lcu_price)]


def _control_plane_item(prices: PriceTable) -> LineItem:
    price = prices.usd("eks_cluster_usd_per_hour")
    return LineItem("EKS control plane", HOURS_PER_MONTH, "cluster-hours", price, HOURS_PER_MONTH * price)


def eks_monthly_cost(profile: TrafficProfile, config: ContainerConfig, alb: AlbAssumptions | None = None,
                     prices: PriceTable | None = None) -> PlatformCost:
    """EKS control plane + EC2 nodes for the peak's pods + ALB, for a month of ``profile``."""
    prices = prices or load_prices()
    alb = alb or AlbAssumptions()
    instance = prices.instance(config.instance_type)
    pods = pods_needed(profile.peak_rps, config)
    nodes = nodes_needed(pods, config, prices)
    node_hours = nodes * HOURS_PER_MONTH
    items = [_control_plane_item(prices),
             LineItem(f"nodes ({instance.name})", node_hours, "instance-hours", instance.usd_per_hour,
                      node_hours * instance.usd_per_hour),
             *_alb_items(profile, alb, prices)]
    notes = []
    if instance.burstable_baseline_fraction is not None:
        notes.append(f"{instance.name} is burstable: CPU above {instance.burstable_baseline_fraction:.0%} per vCPU "
                     f"sustained costs ${T3_UNLIMITED_USD_PER_VCPU_HOUR}/vCPU-h in unlimited mode (not included)")
    if instance.architecture == "arm64":
        notes.append(f"{instance.name} is arm64: the container image must be built for linux/arm64")
    alloc_cpu, alloc_mem, _ = node_allocatable(instance, prices.node_overhead)
    return PlatformCost(
        platform="eks",
        label=f"EKS + EC2 {instance.name}",
        monthly_usd=sum(i.monthly_usd for i in items),
        items=tuple(items),
        sizing={"pods": pods, "nodes": nodes, "instance_type": instance.name,
                "node_allocatable_cpu_m": alloc_cpu, "node_allocatable_memory_mib": alloc_mem,
                "peak_rps": profile.peak_rps, "capacity_rps": pods * config.pod_rps},
        notes=tuple(notes),
    )


def fargate_monthly_cost(profile: TrafficProfile, config: ContainerConfig, alb: AlbAssumptions | None = None,
                         prices: PriceTable | None = None, on_eks: bool = True) -> PlatformCost:
    """Fargate pods for the peak + ALB (+ EKS control plane when ``on_eks``), for a month."""
    prices = prices or load_prices()
    alb = alb or AlbAssumptions()
    pods = pods_needed(profile.peak_rps, config)
    vcpu, memory_gb = fargate_pod_size(config.pod_cpu_m, config.pod_memory_mib, prices, on_eks)
    vcpu_hours = pods * vcpu * HOURS_PER_MONTH
    gb_hours = pods * memory_gb * HOURS_PER_MONTH
    vcpu_price = prices.usd("fargate_x86_64_usd_per_vcpu_hour")
    gb_price = prices.usd("fargate_x86_64_usd_per_gb_hour")
    items = ([_control_plane_item(prices)] if on_eks else []) + [
        LineItem("Fargate vCPU", vcpu_hours, "vCPU-hours", vcpu_price, vcpu_hours * vcpu_price),
        LineItem("Fargate memory", gb_hours, "GB-hours", gb_price, gb_hours * gb_price),
        *_alb_items(profile, alb, prices),
    ]
    return PlatformCost(
        platform="fargate",
        label="EKS on Fargate" if on_eks else "ECS on Fargate",
        monthly_usd=sum(i.monthly_usd for i in items),
        items=tuple(items),
        sizing={"pods": pods, "pod_vcpu": vcpu, "pod_memory_gb": memory_gb,
                "peak_rps": profile.peak_rps, "capacity_rps": pods * config.pod_rps},
    )


# --------------------------------------------------------------------------- comparison


def _costs_at(profile: TrafficProfile, mean_rps: float, lam: LambdaConfig, ctr: ContainerConfig,
              alb: AlbAssumptions, prices: PriceTable, fargate_on_eks: bool) -> tuple[float, float, float]:
    scaled = profile.scaled_to_mean(mean_rps)
    return (lambda_monthly_cost(scaled, lam, prices).monthly_usd,
            eks_monthly_cost(scaled, ctr, alb, prices).monthly_usd,
            fargate_monthly_cost(scaled, ctr, alb, prices, fargate_on_eks).monthly_usd)


MAX_STEP_POINTS = 500
"""Most pod-count steps evaluated in a break-even search; bounds its cost on long traces."""


def break_even_rps(profile: TrafficProfile, lam: LambdaConfig, ctr: ContainerConfig,
                   against: Literal["eks", "fargate"] = "eks", *, alb: AlbAssumptions | None = None,
                   prices: PriceTable | None = None, fargate_on_eks: bool = True,
                   max_rps: float = 100_000.0, grid_points: int = 160, tolerance_rps: float = 1e-3) -> BreakEven:
    """Lowest mean rate (same traffic shape) at which Lambda costs at least ``against``.

    Lambda is priced serving all of it: its caps are lifted (:meth:`LambdaConfig.uncapped`).

    Scans a geometric grid up to ``max_rps`` (plus every pod-count step below the first
    crossing) for each change of the cheaper side, then bisects each to ``tolerance_rps``.
    The container side is a step function, so a crossing can sit on a step (a new pod or
    node) rather than where two lines meet. Steps are checked on both sides, so crossings
    are exact to the tolerance up to twice the highest one the grid sees (past that the gap
    only widens) or MAX_STEP_POINTS steps, whichever comes first.
    """
    if against not in ("eks", "fargate"):
        raise ConfigError(f"against must be 'eks' or 'fargate', got {against!r}")
    if not MIN_SEARCH_RPS <= max_rps <= MAX_SEARCH_RPS:  # also refuses NaN; the grid starts at 1e-3
        raise ConfigError(f"max_rps must be within {MIN_SEARCH_RPS:g}..{MAX_SEARCH_RPS:,.0f} req/s, got {max_rps}")
    prices = prices or load_prices()
    alb = alb or AlbAssumptions()
    lam = lam.uncapped()
    if profile.mean_rps == 0:
        profile = TrafficProfile(profile.name, np.ones(1))  # no shape to keep: price a constant rate
    def lambda_minus_other(rps: float) -> float:
        scaled = profile.scaled_to_mean(rps)
        other = (eks_monthly_cost(scaled, ctr, alb, prices) if against == "eks"
                 else fargate_monthly_cost(scaled, ctr, alb, prices, fargate_on_eks))
        return lambda_monthly_cost(scaled, lam, prices).monthly_usd - other.monthly_usd

    cache: dict[float, bool] = {}

    def signs_on(points: np.ndarray) -> np.ndarray:
        for r in points:
            if float(r) not in cache:
                cache[float(r)] = lambda_minus_other(float(r)) >= 0
        return np.array([cache[float(r)] for r in points])

    grid = np.concatenate([[0.0], np.geomspace(1e-3, max_rps, grid_points)])
    signs = signs_on(grid)
    # Between two pod-count steps both costs are continuous and nearly linear, so a crossing
    # the grid straddles is found by bisection. At a step the container side jumps, and a
    # narrow window where the cheaper side differs can hide between grid points. So both
    # sides of every step are evaluated too: up to twice the highest grid crossing (past it
    # the gap only widens), or up to max_rps when the grid saw none, at most MAX_STEP_POINTS.
    per_pod_mean_rps = ctr.pod_rps / (ctr.headroom_factor * profile.peak_rps / profile.mean_rps)
    flips = np.flatnonzero(signs[1:] != signs[:-1])
    limit = min(max_rps, 2.0 * float(grid[flips[-1] + 1])) if flips.size else max_rps
    steps = per_pod_mean_rps * np.arange(1, min(int(limit / per_pod_mean_rps), MAX_STEP_POINTS) + 1)
    if steps.size:
        grid = np.unique(np.concatenate([grid, steps, steps * (1.0 + 1e-7)]))
        signs = signs_on(grid)
    crossings: list[float] = []
    for i in np.flatnonzero(signs[1:] != signs[:-1]):
        lo, hi = float(grid[i]), float(grid[i + 1])
        lo_sign = signs[i]
        while hi - lo > max(tolerance_rps, 1e-9 * hi):
            mid = 0.5 * (lo + hi)
            if (lambda_minus_other(mid) >= 0) == lo_sign:
                lo = mid
            else:
                hi = mid
        crossings.append(hi)
    if signs[0]:
        first: float | None = 0.0
    else:
        first = crossings[0] if crossings else None
    return BreakEven(
        against=against,
        rps=first,
        requests_per_month=None if first is None else first * SECONDS_PER_MONTH,
        crossings_rps=tuple(crossings),
        searched_up_to_rps=max_rps,
    )


def cost_curve(profile: TrafficProfile, lam: LambdaConfig, ctr: ContainerConfig,
               rates_rps: Sequence[float] | np.ndarray | None = None, *, alb: AlbAssumptions | None = None,
               prices: PriceTable | None = None, fargate_on_eks: bool = True) -> CostCurve:
    """Monthly cost of each platform at each mean rate (profile shape kept), for plotting.

    Default rates: 201 points from 0 to 2.5 x the larger break-even (or 2 x the profile's
    mean rate if that is larger), so both crossings sit inside the plot. Lambda is priced
    serving every request (caps lifted), as in :func:`break_even_rps`.
    """
    prices = prices or load_prices()
    alb = alb or AlbAssumptions()
    lam = lam.uncapped()
    shaped = profile if profile.mean_rps > 0 else TrafficProfile(profile.name, np.ones(1))
    be_eks = break_even_rps(shaped, lam, ctr, "eks", alb=alb, prices=prices, fargate_on_eks=fargate_on_eks)
    be_fargate = break_even_rps(shaped, lam, ctr, "fargate", alb=alb, prices=prices, fargate_on_eks=fargate_on_eks)
    if rates_rps is None:
        top = max([2.0 * profile.mean_rps, 1.0] + [2.5 * b.rps for b in (be_eks, be_fargate) if b.rps])
        rates = np.linspace(0.0, top, 201)
    else:
        rates = np.asarray(rates_rps, dtype=float)
        if rates.ndim != 1 or np.any(rates < 0):
            raise ConfigError("rates_rps must be a 1-D sequence of rates >= 0")
    costs = np.array([_costs_at(shaped, float(r), lam, ctr, alb, prices, fargate_on_eks) for r in rates]).reshape(-1, 3)
    return CostCurve(
        mean_rps=rates,
        requests_per_month=rates * SECONDS_PER_MONTH,
        lambda_monthly_usd=costs[:, 0],
        eks_monthly_usd=costs[:, 1],
        fargate_monthly_usd=costs[:, 2],
        break_even_eks=be_eks,
        break_even_fargate=be_fargate,
        profile_name=profile.name,
    )


def compare(profile: TrafficProfile, lam: LambdaConfig, ctr: ContainerConfig, *,
            alb: AlbAssumptions | None = None, prices: PriceTable | None = None,
            fargate_on_eks: bool = True, max_rps: float = 100_000.0) -> CostComparison:
    """Price one scenario on all three platforms and find both break-even rates."""
    prices = prices or load_prices()
    alb = alb or AlbAssumptions()
    lambda_cost = lambda_monthly_cost(profile, lam, prices)
    eks_cost = eks_monthly_cost(profile, ctr, alb, prices)
    fargate_cost = fargate_monthly_cost(profile, ctr, alb, prices, fargate_on_eks)
    be = {against: break_even_rps(profile, lam, ctr, against, alb=alb, prices=prices,
                                  fargate_on_eks=fargate_on_eks, max_rps=max_rps)
          for against in ("eks", "fargate")}
    cheapest = min((lambda_cost, eks_cost, fargate_cost), key=lambda c: c.monthly_usd).platform
    return CostComparison(
        region=prices.region,
        hours_per_month=HOURS_PER_MONTH,
        prices_pinned_on=prices.pinned_on,
        prices_path=prices.path,
        traffic=profile.summary(),
        lambda_config=lam,
        container_config=ctr,
        alb=alb,
        fargate_on_eks=fargate_on_eks,
        lambda_cost=lambda_cost,
        eks_cost=eks_cost,
        fargate_cost=fargate_cost,
        cold_starts=expected_cold_starts(profile, lam.billed_duration_ms, lam.keep_alive_s),
        break_even_eks=be["eks"],
        break_even_fargate=be["fargate"],
        cheapest=cheapest,
        assumptions=(*ASSUMPTIONS, alb_assumption_text(alb)),
    )


def alb_assumption_text(alb: AlbAssumptions) -> str:
    """The LCU assumption in words, so every output states the one it used."""
    return (f"ALB LCUs: {alb.new_connections_per_request:g} new connection(s) per request held "
            f"{alb.connection_duration_s:g} s, {alb.processed_bytes_per_request:g} bytes processed per request, "
            f"{alb.rule_evaluations_per_request:g} billable rule evaluations per request")


ASSUMPTIONS: tuple[str, ...] = (
    "730-hour month; us-east-1 on-demand list prices pinned in prices.json (no free tier, volume tiers, "
    "Savings Plans or Spot)",
    "not priced: data transfer, CloudWatch Logs/metrics, NAT gateway, ECR/S3 storage, EBS node volumes",
    "container fleets sized for the profile's peak minute x headroom and run all month (no autoscaling)",
    "Lambda duration billed per invocation rounded up to 1 ms; INIT billed on each cold start",
    "cold starts: Poisson arrivals per environment, keep-alive model (see twinbench.cost.model docstring)",
    "EKS node allocatable: EKS AMI kube-reserved + eviction threshold + aws-node/kube-proxy requests; "
    "nominal instance memory (the kernel's share is not subtracted)",
)
