"""Search each platform's configurations by simulation: coarse to fine, with pruning.

Every candidate is one run of the trace-driven simulator (``engine.simulate``) on that platform
alone, with the SLO attached, so its cost, latency at the SLO's percentile, cold starts and
errors are simulated, not estimated. ``search_platform`` runs a coarse pass, then fine rounds
around the best; pruning is safe (cost bound, dominated capacity, a warm node's twin);
``exhaustive=True`` evaluates the whole grid to check it; ``deadline`` bounds it in time.

Details: docs/recommend.md, 'How it searches' and 'The search (search.py)'.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from twinbench.cost import one_sided
from twinbench.recommend import space
from twinbench.recommend.space import KubeChoice, LambdaChoice
from twinbench.simulate import engine, external
from twinbench.simulate.hpa import HpaSpec, _rules
from twinbench.simulate.slo import Slo, check_slo

__all__ = ["KUBE_TWINS", "Candidate", "PlatformSearch", "evaluate_kube", "evaluate_lambda", "evaluate_lambda_doors",
           "search_platform"]

Choice = LambdaChoice | KubeChoice


@dataclass
class Candidate:
    """One evaluated configuration: the simulated figures the recommendation reports."""

    choice: Choice
    cost_usd_per_month: float
    latency_ms: dict[str, float | None]
    slo_latency_ms: float | None
    cold_starts: int
    errors: int
    error_fraction: float
    feasible: bool
    binding: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def violation(self, slo: Slo) -> float:
        """How far from the SLO (0 when met): the larger relative excess of latency or errors."""
        lat = math.inf if self.slo_latency_ms is None else self.slo_latency_ms / slo.latency_ms - 1.0
        err = (self.error_fraction - slo.error_budget) / max(slo.error_budget, 1e-9)
        return max(0.0, lat, err)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.choice.to_dict(), "cost_usd_per_month": round(self.cost_usd_per_month, 4),
                "latency_ms": {"p50": self.latency_ms.get("p50"), "p99": self.latency_ms.get("p99"),
                               "at_slo_percentile": self.slo_latency_ms},
                "cold_starts": self.cold_starts, "errors": self.errors,
                "error_fraction": self.error_fraction, "meets_slo": self.feasible, "binding": list(self.binding),
                **self.extra}


@dataclass
class PlatformSearch:
    platform: str
    evaluated: list[Candidate]
    best: Candidate | None
    closest: Candidate | None
    pruned: int
    grid_size: int
    elapsed_s: float
    exhaustive: bool
    budget_reached: bool = False
    """The search stopped at its deadline with candidates left to simulate."""
    same_as_twin: int = 0
    """Choices skipped because their twin's simulation shows they cannot differ but in cost."""

    def binding(self) -> list[str]:
        """Which constraint keeps the closest configuration from the SLO (when none meets it)."""
        return [] if self.best is not None or self.closest is None else list(self.closest.binding)


Rule = tuple[Callable[[Choice], Choice | None], Callable[[Candidate], bool]]
"""A twin rule: (``twin_of``, ``matters``), see ``search_platform``."""


def _candidate(choice: Choice, res: dict[str, Any], slo: Slo, extra: dict[str, Any] | None = None) -> Candidate:
    verdict = check_slo(res, slo)
    return Candidate(choice, float(res["cost_usd_per_month"]), dict(res["latency_ms"]), verdict.latency_at_percentile_ms,
                     int(res.get("cold_starts", 0)), verdict.errors, verdict.error_fraction, verdict.meets,
                     verdict.binding, extra or {})


def lambda_config(base: engine.SimulationConfig, c: LambdaChoice, ref_mb: int) -> engine.SimulationConfig:
    lp = replace(base.lambda_params, memory_mb=c.memory_mb, architecture=c.architecture,
                 provisioned_concurrency=c.provisioned_concurrency, provisioned_schedule=c.provisioned_schedule,
                 reserved_concurrency=c.reserved_concurrency,
                 snapstart=c.snapstart, throttle_rate_rps=c.throttle_rate_rps, throttle_burst=c.throttle_burst,
                 front_door=c.front_door)
    return replace(base, lambda_params=lp, platforms=("lambda",),
                   lambda_duration=space.scaled_service(base.lambda_duration, ref_mb, c.memory_mb),
                   lambda_init=space.scaled_service(base.lambda_init, ref_mb, c.memory_mb))


def kube_min_nodes(base: engine.SimulationConfig, c: KubeChoice) -> int:
    """The node minimum a choice deploys with (``space.node_minimum``, 0 on Fargate)."""
    if c.provisioner == "fargate":
        return 0
    prices = external.load_price_table(base.prices_path)
    ppn = external.node_pods_capacity(prices, c.instance_type, c.pod_cpu_m, c.pod_memory_mib)
    return space.node_minimum(c, ppn, base.kube_params.min_nodes)


def kube_config(base: engine.SimulationConfig, c: KubeChoice) -> engine.SimulationConfig:
    cap_1cpu = base.kube_params.pod_capacity_rps * 1000.0 / base.kube_params.pod_cpu_m
    instance = base.kube_params.instance_type if c.provisioner == "fargate" else c.instance_type
    kp = replace(base.kube_params, pod_cpu_m=float(c.pod_cpu_m), pod_memory_mib=float(c.pod_memory_mib),
                 workers=c.workers, pod_capacity_rps=cap_1cpu * c.pod_cpu_m / 1000.0,
                 instance_type=instance, provisioner=c.provisioner,  # type: ignore[arg-type]
                 min_nodes=kube_min_nodes(base, c))
    scale_up = base.hpa.scale_up if c.scale_up == "shipped" else _rules(space.FAST_SCALE_UP, base.hpa.scale_up, "fast")
    scale_down = base.hpa.scale_down if c.scale_down == "shipped" \
        else _rules(space.FAST_SCALE_DOWN, base.hpa.scale_down, "fast")
    hpa = HpaSpec(c.min_replicas, c.max_replicas, c.target_utilization, scale_up, scale_down,
                  f"recommend: {c.min_replicas}..{c.max_replicas} at {c.target_utilization:.0%}", base.hpa.legacy)
    return replace(base, kube_params=kp, hpa=hpa, platforms=("kubernetes",))


def _simulate_lambda(base: engine.SimulationConfig, c: LambdaChoice, slo: Slo, ref_mb: int) -> dict[str, Any]:
    res = engine.simulate(replace(lambda_config(base, c, ref_mb), slo=slo)).lambda_
    assert res is not None
    return res


def _lambda_extra(res: dict[str, Any]) -> dict[str, Any]:
    return {"throttled": int(res["throttled"]), "route_throttled": int(res["route_throttled"])}


def evaluate_lambda(base: engine.SimulationConfig, c: LambdaChoice, slo: Slo, ref_mb: int) -> Candidate:
    """``c`` simulated behind its own front door."""
    res = _simulate_lambda(base, c, slo, ref_mb)
    return _candidate(c, res, slo, _lambda_extra(res))


def repriced(res: dict[str, Any], base: engine.SimulationConfig, door: str) -> dict[str, Any]:
    """``res`` (behind the HTTP API, nothing route-throttled) behind ``door``: only the door's line changes.

    With no request route-throttled the token bucket changed nothing, so the simulation behind a
    door without one is the same run; the bill differs by the door's per-request price alone.
    """
    prices = external.load_price_table(base.prices_path)
    items = [dict(i) for i in res["cost"]["items"]]
    for item in items:
        if item["name"].startswith("front door ("):
            item["name"] = f"front door ({door})"
            item["unit_usd"] = prices.usd(engine.FRONT_DOOR_PRICE_KEYS[door])
            item["monthly_usd"] = item["quantity"] * item["unit_usd"]
    total = sum(i["monthly_usd"] for i in items)
    return {**res, "cost": {**res["cost"], "items": items, "total_usd": total},
            "cost_usd_per_month": res["cost_usd_per_month"] - res["cost"]["total_usd"] + total}


def evaluate_lambda_doors(base: engine.SimulationConfig, c: LambdaChoice, slo: Slo, ref_mb: int,
                          doors: tuple[str, ...] = space.FRONT_DOORS) -> Candidate:
    """The cheapest feasible of ``c`` behind each of ``doors`` (else the closest to the SLO).

    A cheap variant, not a grid dimension: the door changes only the per-request price and whether
    the HTTP API's route throttling applies, so the HTTP API run is simulated and another door
    re-simulated only when that run route-throttled a request (``repriced`` otherwise).
    """
    first = space.with_front_door(c, "http-api" if "http-api" in doors else doors[0])
    res0 = _simulate_lambda(base, first, slo, ref_mb)
    cands = [(first.front_door, _candidate(first, res0, slo, _lambda_extra(res0)))]
    for door in doors:
        if door == first.front_door:
            continue
        variant = space.with_front_door(c, door)
        resimulate = first.front_door != "http-api" or res0["route_throttled"] > 0
        res = _simulate_lambda(base, variant, slo, ref_mb) if resimulate else repriced(res0, base, door)
        cands.append((door, _candidate(variant, res, slo, _lambda_extra(res))))
    costs = {door: round(cand.cost_usd_per_month, 4) for door, cand in cands}
    feasible = [cand for _, cand in cands if cand.feasible]
    best = min(feasible, key=lambda x: x.cost_usd_per_month) if feasible \
        else min((cand for _, cand in cands), key=lambda x: (x.violation(slo), x.cost_usd_per_month))
    best.extra["front_door_costs_usd_per_month"] = costs
    return best


def evaluate_kube(base: engine.SimulationConfig, c: KubeChoice, slo: Slo) -> Candidate:
    res = engine.simulate(replace(kube_config(base, c), slo=slo)).kube
    assert res is not None
    fargate = res.get("fargate_cost", {}).get("total_usd")
    return _candidate(c, res, slo, {"rejected": int(res["rejected"]), "max_replicas_reached": int(res["max_replicas"]),
                                    "fargate_cost_usd_per_month": None if fargate is None else round(fargate, 4),
                                    "min_nodes": kube_min_nodes(base, c),
                                    "pods_waited_for_node": int(res["pods_waited_for_node"])})


def warm_twin(c: Choice) -> Choice | None:
    """The choice with one warm node fewer, whose simulation decides whether ``c`` can differ.

    With no pod waiting for a node there, every pod found room on a node already up, so a node more
    changes no request's latency, only the bill: ``c`` is the twin at a higher cost.
    """
    if isinstance(c, KubeChoice) and c.warm_nodes > 0:
        return replace(c, warm_nodes=c.warm_nodes - 1)
    return None


def waited_for_node(cand: Candidate) -> bool:
    return int(cand.extra.get("pods_waited_for_node", 0)) > 0


def scale_down_twin(c: Choice) -> Choice | None:
    """The choice with the shipped scale-down, whose simulation decides whether ``c`` can differ.

    With the replicas never above ``min_replicas`` there, every proposal was clamped to at least
    the current count, so no scale-down was ever wanted: the behaviour changes nothing, exactly.
    """
    if isinstance(c, KubeChoice) and c.scale_down != "shipped":
        return replace(c, scale_down="shipped")
    return None


def scaled_above_minimum(cand: Candidate) -> bool:
    assert isinstance(cand.choice, KubeChoice)
    return int(cand.extra.get("max_replicas_reached", 0)) > cand.choice.min_replicas


KUBE_TWINS: tuple[Rule, ...] = (
    (scale_down_twin, scaled_above_minimum), (warm_twin, waited_for_node))
"""The Kubernetes twin rules, tried in order (a choice may have a twin under each)."""


# --------------------------------------------------------------------------- the generic search

CAPACITY_ORDER: dict[str, dict[str, int]] = {
    # +1: more of this dimension never serves worse; -1: more serves worse; absent: no order.
    "lambda": {"memory_mb": 1, "provisioned_concurrency": 1, "reserved_concurrency": 1},
    "kubernetes": {"pod_cpu_m": 1, "min_replicas": 1, "max_replicas": 1, "target_utilization": -1, "warm_nodes": 1},
}


def _grid(dims: dict[str, tuple[Any, ...]], make: Callable[..., Choice],
          valid: Callable[[Any], bool]) -> list[Choice]:
    keys = list(dims)
    out: dict[Choice, None] = {}  # a maker may map several points to one choice (Fargate's node dimensions)
    for values in itertools.product(*(dims[k] for k in keys)):
        c = make(**dict(zip(keys, values, strict=False)))
        if valid(c):
            out[c] = None
    return list(out)


def _coarse(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(values) <= 3:
        return values
    return (values[0], values[len(values) // 2], values[-1])


def _neighbours(c: Choice, dims: dict[str, tuple[Any, ...]], make: Callable[..., Choice],
                valid: Callable[[Any], bool]) -> Iterable[Choice]:
    d = {k: getattr(c, k) for k in dims}
    for k, values in dims.items():
        if d[k] not in values:
            continue
        i = values.index(d[k])
        for j in (i - 1, i + 1):
            if 0 <= j < len(values):
                n = make(**{**d, k: values[j]})
                if valid(n):
                    yield n


def _dominated(c: Choice, infeasible: list[Choice], order: dict[str, int], dims: Iterable[str]) -> bool:
    """True when some infeasible choice has at least ``c``'s capacity on every ordered dimension."""
    for bad in infeasible:
        ok = True
        for k in dims:
            a, b = getattr(c, k), getattr(bad, k)
            sign = order.get(k)
            if sign is None or a is None or b is None:
                if a != b:
                    ok = False
                    break
            elif (a - b) * sign > 0:
                ok = False
                break
        if ok:
            return True
    return False


def _twin_run(ch: Choice, rules: tuple[Rule, ...], seen: dict[Choice, Candidate], same_as: dict[Choice, Choice],
              run_twin: Callable[[Choice], None]) -> Choice | None:
    """The simulated choice whose run ``ch`` would repeat (but in cost), by the first rule that shows it; else None.

    ``same_as`` records earlier skips, so a twin that was itself skipped stands for the run it repeats.
    """
    def resolve(x: Choice) -> Choice:
        while x not in seen and x in same_as:
            x = same_as[x]
        return x

    for twin_of, matters in rules:
        other = twin_of(ch)
        if other is None:
            continue
        if resolve(other) not in seen:
            run_twin(other)  # the twin first: it decides whether ``ch`` can differ
        found = resolve(other)
        if found in seen and not matters(seen[found]):
            return found
    return None


def search_platform(platform: str, dims: dict[str, tuple[Any, ...]], make: Callable[..., Choice],
                    valid: Callable[[Any], bool], evaluate: Callable[[Choice], Candidate],
                    floor: Callable[[Choice], float], slo: Slo, exhaustive: bool = False, max_rounds: int = 6,
                    top_k: int = 3, progress: Callable[[str], None] | None = None,
                    deadline: float | None = None,
                    twins: Iterable[Rule] = (),
                    coarse: dict[str, tuple[Any, ...]] | None = None,
                    ) -> PlatformSearch:
    """Cheapest feasible choice in ``dims`` (module docstring); ``floor(c)`` is a lower bound of its cost.

    ``twins``: rules (``twin_of``, ``matters``): a choice whose ``twin_of`` was simulated and does
    not ``matters`` is skipped, exhaustive or not (module docstring, *same as its twin*).
    ``coarse``: values the coarse pass takes for some dimensions instead of their ends and middle
    (the fine rounds still step through every value).
    """
    rules = tuple(twins)
    same_as: dict[Choice, Choice] = {}
    started = time.perf_counter()
    stopped = False
    slowest_s = 0.0
    grid = _grid(dims, make, valid)
    order = CAPACITY_ORDER.get(platform, {})
    seen: dict[Choice, Candidate] = {}
    infeasible: list[Choice] = []
    pruned = 0
    same = 0

    def best_cost() -> float:
        costs = [c.cost_usd_per_month for c in seen.values() if c.feasible]
        return min(costs) if costs else math.inf

    def run(batch: Iterable[Choice], prune: bool) -> None:
        nonlocal pruned, stopped, slowest_s, same
        for ch in batch:
            if ch in seen or ch in same_as:
                continue
            if deadline is not None and time.perf_counter() + slowest_s >= deadline:
                stopped = True
                return
            twin_run = _twin_run(ch, rules, seen, same_as, lambda other: run([other], prune))
            if twin_run is not None:
                same_as[ch] = twin_run
                same += 1
                continue
            if ch in seen or stopped:
                continue
            if prune and (floor(ch) > best_cost() or _dominated(ch, infeasible, order, dims)):
                pruned += 1
                continue
            t0 = time.perf_counter()
            cand = evaluate(ch)
            slowest_s = max(slowest_s, time.perf_counter() - t0)
            seen[ch] = cand
            if not cand.feasible:
                infeasible.append(ch)
            if progress is not None:
                progress(f"{platform}: {len(seen)} evaluated, {pruned} pruned")

    if exhaustive:
        run(grid, prune=False)
    else:
        coarse_dims = {k: (coarse or {}).get(k, _coarse(v)) for k, v in dims.items()}
        # cheapest first, so the cost bound prunes the rest of the coarse grid early
        run(sorted(_grid(coarse_dims, make, valid), key=floor), prune=True)
        pruned_set: set[Choice] = set()
        for _ in range(max_rounds):
            feas = sorted((c for c in seen.values() if c.feasible), key=lambda c: c.cost_usd_per_month)[:top_k]
            seeds = feas or sorted(seen.values(), key=lambda c: c.violation(slo))[:top_k]
            frontier = list(dict.fromkeys(n for s in seeds for n in _neighbours(s.choice, dims, make, valid)
                                          if n not in seen and n not in pruned_set))
            if not frontier or stopped:
                break
            run(sorted(frontier, key=floor), prune=True)
            pruned_set.update(n for n in frontier if n not in seen)
    evaluated = list(seen.values())
    feasible = [c for c in evaluated if c.feasible]
    best = min(feasible, key=lambda c: (c.cost_usd_per_month, c.slo_latency_ms or 0.0)) if feasible else None
    closest = None if best is not None else min(evaluated, key=lambda c: (c.violation(slo), c.cost_usd_per_month),
                                                default=None)
    return PlatformSearch(platform, evaluated, best, closest, pruned, len(grid), time.perf_counter() - started,
                          exhaustive, stopped, same)


# --------------------------------------------------------------------------- cost floors

def lambda_floor(base: engine.SimulationConfig, prices: Any,
                 doors: tuple[str, ...] | None = None) -> Callable[[LambdaChoice], float]:
    """Requests x (invocation + cheapest of ``doors`` + log bytes) + provisioned idle + SnapStart cache:
    paid before duration. ``doors`` defaults to the base's front door."""
    requests = float(base.profile.total) * external.HOURS_PER_MONTH * 3600.0 / base.profile.span_s
    door_usd = min(prices.usd(engine.FRONT_DOOR_PRICE_KEYS[d]) for d in (doors or (base.lambda_params.front_door,)))
    fixed = requests / 1e6 * (prices.usd("lambda_usd_per_million_requests") + door_usd)
    fixed += one_sided.lambda_logs(base.costs, prices, requests, 0.0).monthly_usd
    month_s = external.HOURS_PER_MONTH * 3600.0

    def floor(c: LambdaChoice) -> float:
        gb = c.memory_mb / 1024.0
        provisioned = sum(c.provisioned_schedule) / len(c.provisioned_schedule) if c.provisioned_schedule \
            else c.provisioned_concurrency  # a schedule's mean over the day
        extra = provisioned * gb * month_s * prices.usd("lambda_provisioned_x86_64_usd_per_gb_s_idle")
        if c.snapstart:
            extra += gb * month_s * prices.usd("lambda_snapstart_cache_usd_per_gb_s")
        return (fixed + extra) * 0.999  # a bound, not an estimate: errors are unbilled, so stay below

    return floor


def kube_floor(base: engine.SimulationConfig, prices: Any) -> Callable[[KubeChoice], float]:
    """Control plane + ALB hours + NAT + IPv4 + the node minimum all month (``kube_min_nodes``), or on
    Fargate the ``min_replicas`` pods all month at their Fargate size."""
    hours = external.HOURS_PER_MONTH
    fixed = hours * prices.usd("alb_usd_per_hour") + one_sided.control_plane(base.costs, prices).monthly_usd
    fixed += sum(r.monthly_usd for r in one_sided.cluster_network(base.costs, prices))

    def floor(ch: KubeChoice) -> float:
        if ch.provisioner == "fargate":  # the min_replicas pods all month at their Fargate size
            vcpu, gb = fargate_size(ch)
            per_pod = vcpu * prices.usd("fargate_x86_64_usd_per_vcpu_hour") \
                + gb * prices.usd("fargate_x86_64_usd_per_gb_hour")
            return (fixed + ch.min_replicas * hours * per_pod) * 0.999
        try:
            nodes = kube_min_nodes(base, ch)
        except Exception:  # noqa: BLE001 - a pod that fits no node: evaluation will say so
            return 0.0
        return (fixed + nodes * hours * prices.instance(ch.instance_type).usd_per_hour) * 0.999

    def fargate_size(ch: KubeChoice) -> tuple[float, float]:
        try:
            return external.cost_model().fargate_pod_size(ch.pod_cpu_m, ch.pod_memory_mib, prices)
        except ValueError:
            return 0.0, 0.0

    return floor
