"""One recommendation: the shipped configurations, both searches, the verdict, as a document.

``recommend(base, slo)`` takes the simulator's config for the *shipped* settings (what
``twinbench simulate`` would run with the same options) and returns the ``twinbench.recommendation``
document (``document.build``) plus the searches, for the plot and the written files.
``quick_search(base, slo, budget_s)`` is the bench's entry point: the ``--quick`` grid, bounded in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from twinbench.recommend import document, space
from twinbench.recommend.search import (
    KUBE_TWINS,
    Candidate,
    PlatformSearch,
    evaluate_kube,
    evaluate_lambda,
    evaluate_lambda_doors,
    kube_floor,
    lambda_floor,
    search_platform,
)
from twinbench.recommend.space import KubeChoice, LambdaChoice
from twinbench.simulate import engine, external
from twinbench.simulate.errors import ParameterError
from twinbench.simulate.slo import Slo

__all__ = ["Recommendation", "quick_search", "recommend"]


@dataclass
class Recommendation:
    doc: dict[str, Any]
    searches: dict[str, PlatformSearch]
    shipped: dict[str, Candidate]


def shipped_lambda(base: engine.SimulationConfig) -> LambdaChoice:
    lp = base.lambda_params
    return LambdaChoice(lp.memory_mb, lp.architecture, lp.provisioned_concurrency, lp.reserved_concurrency,
                        lp.snapstart, lp.throttle_rate_rps, lp.throttle_burst, lp.provisioned_schedule,
                        lp.front_door)


def shipped_kube(base: engine.SimulationConfig) -> KubeChoice:
    kp, h = base.kube_params, base.hpa
    return KubeChoice(int(kp.pod_cpu_m), int(kp.workers), h.min_replicas, h.max_replicas, h.target_utilization,
                      kp.instance_type, kp.provisioner)


def recommend(base: engine.SimulationConfig, slo: Slo, *, exhaustive: bool = False, quick: bool = False,
              platforms: tuple[str, ...] = ("lambda", "kubernetes"),
              progress: Callable[[str], None] | None = None, budget_s: float | None = None,
              doors: tuple[str, ...] = space.DEFAULT_FRONT_DOORS) -> Recommendation:
    """Search the platforms in ``platforms``; raises SimulationError subclasses on bad inputs.

    ``doors``: the Lambda front doors the search may choose (``space.FRONT_DOORS``); by default
    the public HTTP API only, since a Function URL is IAM-only and needs callers that sign.

    ``budget_s`` bounds the whole call in time (the shipped configurations' simulations included):
    Lambda may use the first half (what it leaves passes on), Kubernetes the rest; each search stops
    starting candidates at its deadline (``search_platform``) and says so.
    """
    started = time.perf_counter()

    def deadline(share: float) -> float | None:
        return None if budget_s is None else started + budget_s * share

    prices = external.load_price_table(base.prices_path)
    base = replace(base, slo=slo)
    ref_mb = base.lambda_params.memory_mb
    searches: dict[str, PlatformSearch] = {}
    shipped: dict[str, Candidate] = {}
    counts = base.profile.counts
    if "lambda" in platforms:
        ship = shipped_lambda(base)
        shipped["lambda"] = evaluate_lambda(base, ship, slo, ref_mb)
        dims = space.lambda_space(counts, base.lambda_duration.mean_ms, base.lambda_params.reserved_concurrency,
                                  base.lambda_params.account_concurrency, quick, space.reserving_functions())
        searches["lambda"] = search_platform(
            "lambda", dims, space.lambda_maker(ship.reserved_concurrency, ship.throttle_rate_rps, ship.throttle_burst),
            space.lambda_valid, partial(_eval_lambda, base, slo, ref_mb, doors),
            lambda_floor(base, prices, doors), slo, exhaustive=exhaustive, progress=progress,
            deadline=deadline(0.5 if "kubernetes" in platforms else 1.0))
    if "kubernetes" in platforms:
        ship_k = shipped_kube(base)
        shipped["kubernetes"] = evaluate_kube(base, ship_k, slo)
        instances = [name for name, i in prices.instances.items() if i.architecture == "x86_64"]
        cap_1cpu = base.kube_params.pod_capacity_rps * 1000.0 / base.kube_params.pod_cpu_m
        dims = space.kube_space(counts, cap_1cpu, instances, quick)
        if base.hpa.legacy:  # an HPA without ``behavior``: the legacy path has no behaviour to patch or simulate
            dims = {**dims, "scale_up": ("shipped",), "scale_down": ("shipped",)}

        def valid(c: KubeChoice) -> bool:
            if not space.kube_valid(c):
                return False
            try:
                if c.provisioner == "fargate":
                    external.cost_model().fargate_pod_size(c.pod_cpu_m, c.pod_memory_mib, prices)
                else:
                    external.node_pods_capacity(prices, c.instance_type, c.pod_cpu_m, c.pod_memory_mib)
            except (ParameterError, ValueError):
                return False
            return True

        searches["kubernetes"] = search_platform(
            "kubernetes", dims, space.kube_maker, valid, partial(_eval_kube, base, slo), kube_floor(base, prices),
            slo, exhaustive=exhaustive, progress=progress, deadline=deadline(1.0),
            twins=KUBE_TWINS, coarse=space.KUBE_COARSE)
    doc = document.build(base, slo, searches, shipped, exhaustive=exhaustive)
    return Recommendation(doc, searches, shipped)


def quick_search(base: engine.SimulationConfig, slo: Slo, budget_s: float,
                 progress: Callable[[str], None] | None = None) -> Recommendation:
    """The ``--quick`` grid on both platforms within ``budget_s`` seconds (``search_platform``'s deadline)."""
    return recommend(base, slo, quick=True, platforms=base.platforms, progress=progress, budget_s=budget_s)


def _eval_lambda(base: engine.SimulationConfig, slo: Slo, ref_mb: int, doors: tuple[str, ...],
                 c: LambdaChoice) -> Candidate:
    return evaluate_lambda_doors(base, c, slo, ref_mb, doors)


def _eval_kube(base: engine.SimulationConfig, slo: Slo, c: KubeChoice) -> Candidate:
    return evaluate_kube(base, c, slo)
