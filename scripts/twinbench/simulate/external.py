"""The simulator's only door to the rest of twinbench: prices, node sizes, the per-minute model.

Kept in one small module so the simulator depends on the cost room through a handful of
calls: prices come from the one price loader (:mod:`twinbench.cost.prices`), node sizing and the
per-minute baseline from :mod:`twinbench.cost.model` and :mod:`twinbench.cost.traffic`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from twinbench.cost import model as cost_model_module
from twinbench.cost import traffic as traffic_module
from twinbench.cost.prices import load_prices
from twinbench.cost.traffic import HOURS_PER_MONTH
from twinbench.simulate.errors import InputsError, ParameterError

__all__ = ["cost_model", "load_price_table", "node_pods_capacity", "peak_sized_eks_usd",
           "per_minute_cold_starts", "per_minute_profile", "alb_monthly_usd", "HOURS_PER_MONTH"]



def cost_model() -> ModuleType:
    return cost_model_module


def _traffic() -> ModuleType:
    return traffic_module


def load_price_table(path: str | None = None) -> Any:
    """The pinned price table (the one price loader); its errors become InputsError."""
    try:
        return load_prices(path)
    except ValueError as exc:
        raise InputsError(str(exc)) from None


def node_pods_capacity(prices: Any, instance_type: str, pod_cpu_m: float, pod_memory_mib: float) -> int:
    """How many of our pods one node holds: allocatable CPU, memory and pod slots after EKS's own."""
    model = cost_model()
    try:
        instance = prices.instance(instance_type)
    except ValueError as exc:
        raise ParameterError(str(exc)) from None
    cpu_m, mem_mib, slots = model.node_allocatable(instance, prices.node_overhead)
    fit = int(min(cpu_m // pod_cpu_m, mem_mib // pod_memory_mib, slots))
    if fit < 1:
        raise ParameterError(f"a pod of {pod_cpu_m:g}m CPU / {pod_memory_mib:g} MiB does not fit on {instance_type} "
                             f"({cpu_m:g}m / {mem_mib:g} MiB allocatable)")
    return fit


def per_minute_profile(counts: np.ndarray, name: str = "trace") -> Any:
    """The cost model's TrafficProfile (req/s per minute) for the same counts."""
    return _traffic().TrafficProfile(name, np.asarray(counts, dtype=float) / 60.0)


def per_minute_cold_starts(counts: np.ndarray, billed_duration_ms: float, keep_alive_s: float) -> float:
    """The cost model's per-minute estimate of cold starts over one span of ``counts``."""
    profile = per_minute_profile(counts)
    est = cost_model().expected_cold_starts(profile, billed_duration_ms, keep_alive_s)
    return est.cold_start_fraction * float(np.sum(counts))


def alb_monthly_usd(counts: np.ndarray, prices: Any) -> float:
    """ALB hours + LCUs for a month of this traffic, as the cost model prices them."""
    model = cost_model()
    profile = per_minute_profile(counts)
    cost = model.eks_monthly_cost(profile, model.ContainerConfig(pod_rps=1.0), prices=prices)
    return sum(i.monthly_usd for i in cost.items if i.name.startswith("ALB"))


def peak_sized_eks_usd(counts: np.ndarray, pod_rps: float, instance_type: str, min_replicas: int,
                       min_nodes: int, prices: Any, pod_cpu_m: float = 1000.0,
                       pod_memory_mib: float = 1024.0) -> tuple[float, dict[str, Any]]:
    """The cost model's EKS bill: a fleet sized for the peak minute (x 1.43 headroom) all month."""
    model = cost_model()
    profile = per_minute_profile(counts)
    cfg = model.ContainerConfig(pod_rps=pod_rps, pod_cpu_m=pod_cpu_m, pod_memory_mib=pod_memory_mib,
                                instance_type=instance_type, min_replicas=min_replicas, min_nodes=min_nodes)
    cost = model.eks_monthly_cost(profile, cfg, prices=prices)
    return cost.monthly_usd, dict(cost.sizing)
