"""Lambda's monthly bill: requests + front door + billed GB-s (duration rounded up to 1 ms per invocation,
INIT billed on each cold start), and the expected cold starts under a keep-alive model.

Caps (reserved concurrency, route throttling) bound what is served per minute; what they turn away
(429) is not billed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from twinbench.cost import one_sided
from twinbench.cost.model.configs import (
    FRONT_DOOR_LABELS,
    FRONT_DOOR_PRICE_KEYS,
    LAMBDA_DEFAULT_CONCURRENCY_LIMIT,
    ConfigError,
    LambdaConfig,
)
from twinbench.cost.model.outputs import (
    ColdStartEstimate,
    LineItem,
    PlatformCost,
)
from twinbench.cost.prices import (
    PriceTable,
    PriceTableError,
    load_prices,
)
from twinbench.cost.traffic import (
    SECONDS_PER_MONTH,
    TrafficProfile,
)

if TYPE_CHECKING:
    from twinbench.simulate.params import OneSidedCosts


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
    """Cold starts per month and as a fraction of requests.

    Per minute m with rate r_m (req/s) and mean billed duration d (s): environments in use
    n_m = ceil(r_m x d), at least 1 when r_m > 0 (Little's law); each sees Poisson arrivals at
    r_m / n_m, so a request finds its environment idle longer than the keep-alive T with probability
    exp(-(r_m / n_m) T); environments beyond the most used in the previous ceil(T / 60) minutes are
    new (scale-out is cold): cold_m = min(requests_m, requests_m x exp(-(r_m / n_m) T) + max(0, n_m - w_m)).
    Limits: AWS does not publish the keep-alive (and recycles environments after hours); Poisson
    arrivals are an assumption (bursty clients see more); the mean concurrency misses spikes inside a
    minute (under-estimate at high load); the two terms may count the first request after an idle
    gap twice (over-estimate by at most one per environment per minute).
    """
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


def lambda_monthly_cost(profile: TrafficProfile, config: LambdaConfig, prices: PriceTable | None = None,
                        costs: OneSidedCosts | None = None) -> PlatformCost:
    """Lambda + front door + CloudWatch Logs ingestion for a month of ``profile``; raises
    PriceTableError for PC on arm64. ``costs``: the one-sided parameters (None: no log ingestion, the
    function alone, as the Power Tuning pricing wants it; ``compare`` passes the defaults).

    cost = requests x price/request + front door
         + (requests x mean billed duration + cold starts x init duration) x memory GB x price/GB-s,
    GB = memory_mb / 1024. Caps: per minute a_m = min(r_m, throttle rate) passes the route throttling
    (the burst only shifts requests within a minute) and s_m = min(a_m, reserved / d) is served
    (Little's law); the rest gets 429 and is not billed: GB-s and Lambda requests on s_m, the front
    door's requests on a_m. Break-even rates and curves price all traffic, as if the caps were raised.
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
    pc_pm = config.provisioned_per_minute(rates.size)
    pc = bool(pc_pm.any())
    if pc:
        if config.architecture != "x86_64":
            raise PriceTableError("provisioned-concurrency prices are pinned for x86_64 only")
        demand = rates * d_s
        pc_share = np.divide(np.minimum(demand, pc_pm), demand, out=np.ones_like(rates), where=demand > 0)
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
        configured_gb_s = config.provisioned_mean * gb * SECONDS_PER_MONTH  # every hour of every day, as scheduled
        idle_price = prices.usd("lambda_provisioned_x86_64_usd_per_gb_s_idle")
        used_price = prices.usd("lambda_provisioned_x86_64_usd_per_gb_s_used")
        items.append(LineItem("provisioned concurrency (configured)", configured_gb_s, "GB-s",
                              idle_price, configured_gb_s * idle_price))
        items.append(LineItem("provisioned concurrency (duration)", pc_used_gb_s, "GB-s",
                              used_price, pc_used_gb_s * used_price))
    door_price = prices.usd(FRONT_DOOR_PRICE_KEYS[config.front_door])
    items.append(LineItem(FRONT_DOOR_LABELS[config.front_door], door_requests / 1e6, "million requests",
                          door_price, door_requests / 1e6 * door_price))
    if costs is not None:
        logs = one_sided.lambda_logs(costs, prices, requests, cold.cold_starts_per_month)
        items.append(LineItem(logs.name, logs.quantity, logs.unit, logs.unit_usd, logs.monthly_usd))

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
                "provisioned_concurrency": config.provisioned_concurrency,
                "provisioned_schedule": list(config.provisioned_schedule) or None,
                "throttled_per_month": throttled,
                "throttled_fraction": throttled / offered.requests_per_month if offered.requests_per_month else 0.0},
        notes=tuple(notes),
    )
