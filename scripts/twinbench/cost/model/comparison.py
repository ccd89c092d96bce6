"""Lambda against EKS and Fargate: the break-even traffic, cost curves over traffic, and the whole comparison
document with the assumptions it states."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from twinbench.cost import one_sided
from twinbench.cost.model.configs import (
    MAX_SEARCH_RPS,
    MIN_SEARCH_RPS,
    AlbAssumptions,
    ConfigError,
    ContainerConfig,
    LambdaConfig,
)
from twinbench.cost.model.containers import eks_monthly_cost, fargate_monthly_cost
from twinbench.cost.model.lambda_cost import expected_cold_starts, lambda_monthly_cost
from twinbench.cost.model.outputs import (
    BreakEven,
    CostComparison,
    CostCurve,
)
from twinbench.cost.prices import (
    PriceTable,
    load_prices,
)
from twinbench.cost.traffic import (
    HOURS_PER_MONTH,
    SECONDS_PER_MONTH,
    TrafficProfile,
)

if TYPE_CHECKING:
    from twinbench.simulate.params import OneSidedCosts

def _costs_at(profile: TrafficProfile, mean_rps: float, lam: LambdaConfig, ctr: ContainerConfig,
              alb: AlbAssumptions, prices: PriceTable, fargate_on_eks: bool,
              costs: OneSidedCosts | None = None) -> tuple[float, float, float]:
    scaled = profile.scaled_to_mean(mean_rps)
    costs = costs or one_sided.default_costs()
    return (lambda_monthly_cost(scaled, lam, prices, costs).monthly_usd,
            eks_monthly_cost(scaled, ctr, alb, prices, costs).monthly_usd,
            fargate_monthly_cost(scaled, ctr, alb, prices, fargate_on_eks, costs).monthly_usd)


MAX_STEP_POINTS = 500
"""Most pod-count steps evaluated in a break-even search; bounds its cost on long traces."""


def break_even_rps(profile: TrafficProfile, lam: LambdaConfig, ctr: ContainerConfig,
                   against: Literal["eks", "fargate"] = "eks", *, alb: AlbAssumptions | None = None,
                   prices: PriceTable | None = None, fargate_on_eks: bool = True,
                   max_rps: float = 100_000.0, grid_points: int = 160, tolerance_rps: float = 1e-3,
                   costs: OneSidedCosts | None = None) -> BreakEven:
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
    costs = costs or one_sided.default_costs()
    alb = alb or AlbAssumptions()
    lam = lam.uncapped()
    if profile.mean_rps == 0:
        profile = TrafficProfile(profile.name, np.ones(1))  # no shape to keep: price a constant rate
    def lambda_minus_other(rps: float) -> float:
        scaled = profile.scaled_to_mean(rps)
        other = (eks_monthly_cost(scaled, ctr, alb, prices, costs) if against == "eks"
                 else fargate_monthly_cost(scaled, ctr, alb, prices, fargate_on_eks, costs))
        return lambda_monthly_cost(scaled, lam, prices, costs).monthly_usd - other.monthly_usd

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
               prices: PriceTable | None = None, fargate_on_eks: bool = True,
               costs: OneSidedCosts | None = None) -> CostCurve:
    """Monthly cost of each platform at each mean rate (profile shape kept), for plotting.

    Default rates: 201 points from 0 to 2.5 x the larger break-even (or 2 x the profile's
    mean rate if that is larger), so both crossings sit inside the plot. Lambda is priced
    serving every request (caps lifted), as in :func:`break_even_rps`.
    """
    prices = prices or load_prices()
    costs = costs or one_sided.default_costs()
    alb = alb or AlbAssumptions()
    lam = lam.uncapped()
    shaped = profile if profile.mean_rps > 0 else TrafficProfile(profile.name, np.ones(1))
    be_eks = break_even_rps(shaped, lam, ctr, "eks", alb=alb, prices=prices, fargate_on_eks=fargate_on_eks,
                            costs=costs)
    be_fargate = break_even_rps(shaped, lam, ctr, "fargate", alb=alb, prices=prices, fargate_on_eks=fargate_on_eks,
                                costs=costs)
    if rates_rps is None:
        top = max([2.0 * profile.mean_rps, 1.0] + [2.5 * b.rps for b in (be_eks, be_fargate) if b.rps])
        rates = np.linspace(0.0, top, 201)
    else:
        rates = np.asarray(rates_rps, dtype=float)
        if rates.ndim != 1 or np.any(rates < 0):
            raise ConfigError("rates_rps must be a 1-D sequence of rates >= 0")
    bills = np.array([_costs_at(shaped, float(r), lam, ctr, alb, prices, fargate_on_eks, costs)
                      for r in rates]).reshape(-1, 3)
    return CostCurve(
        mean_rps=rates,
        requests_per_month=rates * SECONDS_PER_MONTH,
        lambda_monthly_usd=bills[:, 0],
        eks_monthly_usd=bills[:, 1],
        fargate_monthly_usd=bills[:, 2],
        break_even_eks=be_eks,
        break_even_fargate=be_fargate,
        profile_name=profile.name,
    )


def compare(profile: TrafficProfile, lam: LambdaConfig, ctr: ContainerConfig, *,
            alb: AlbAssumptions | None = None, prices: PriceTable | None = None,
            fargate_on_eks: bool = True, max_rps: float = 100_000.0,
            costs: OneSidedCosts | None = None) -> CostComparison:
    """Price one scenario on all three platforms and find both break-even rates.

    ``costs``: what only one platform pays (NAT, IPv4, extended support, Lambda's log ingestion), the
    parameters' one home ``simulate.params.OneSidedCosts``; None takes their defaults."""
    prices = prices or load_prices()
    costs = costs or one_sided.default_costs()
    alb = alb or AlbAssumptions()
    lambda_cost = lambda_monthly_cost(profile, lam, prices, costs)
    eks_cost = eks_monthly_cost(profile, ctr, alb, prices, costs)
    fargate_cost = fargate_monthly_cost(profile, ctr, alb, prices, fargate_on_eks, costs)
    be = {against: break_even_rps(profile, lam, ctr, against, alb=alb, prices=prices,
                                  fargate_on_eks=fargate_on_eks, max_rps=max_rps, costs=costs)
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
    "one-sided costs (simulate.params.OneSidedCosts defaults unless given): EKS/Fargate pay NAT gateway hours "
    "and GB processed and public IPv4 addresses (ALB per AZ + NAT), Lambda pays CloudWatch Logs ingestion per "
    "invocation (the handler's measured line + the platform's lines); EKS extended support is off",
    "not priced: other data transfer, CloudWatch metrics, ECR/S3 storage, EBS node volumes",
    "container fleets sized for the profile's peak minute x headroom and run all month (no autoscaling)",
    "Lambda duration billed per invocation rounded up to 1 ms; INIT billed on each cold start",
    "cold starts: Poisson arrivals per environment, keep-alive model (see twinbench.cost.model docstring)",
    "EKS node allocatable: EKS AMI kube-reserved + eviction threshold + aws-node/kube-proxy requests; "
    "nominal instance memory (the kernel's share is not subtracted)",
)
