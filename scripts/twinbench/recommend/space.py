"""What the search may choose on each platform, and how a choice changes the simulator's inputs.

Lambda: memory (CPU share), architecture, provisioned concurrency (none, constant or an hourly
schedule), reserved concurrency, SnapStart. Kubernetes: pod CPU, workers, HPA settings, node
type, node provisioner (incl. EKS on Fargate), warm nodes, the HPA's scale-up and scale-down
behaviour. Each dimension maps a choice onto the simulator's parameters, so a candidate is a
simulation, not an estimate.

Details (each dimension's values and rules): docs/recommend.md, 'What it searches' and 'The search space (space.py)'.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from twinserve_support.lambda_caps import UNRESERVED_MINIMUM, deployed_caps
from twinserve_support.paths import SERVERLESS_YML

from twinbench.cost import pc_schedule
from twinbench.simulate.errors import ParameterError
from twinbench.simulate.params import ServiceTime

__all__ = ["DEFAULT_FRONT_DOORS", "FARGATE", "FRONT_DOORS", "KUBE_COARSE", "KubeChoice", "LambdaChoice", "kube_maker", "kube_space", "lambda_space",
           "node_minimum", "scaled_service", "with_front_door"]

MEMORY_MB = (512, 768, 1024, 1280, 1536, 1769, 2048, 3008)
POD_CPU_M = (500, 1000, 2000)
WORKERS = (1, 2, 4)
TARGETS = (0.5, 0.6, 0.7, 0.8, 0.9)
PROVISIONERS = ("cluster-autoscaler", "karpenter", "fargate")
WARM_NODES = (0, 1)
FARGATE = "fargate"
"""``instance_type`` of a Fargate choice: no node type to choose."""


@dataclass(frozen=True, order=True)
class LambdaChoice:
    memory_mb: int
    architecture: str = "x86_64"
    provisioned_concurrency: int = 0
    reserved_concurrency: int | None = 100
    snapstart: bool = False
    throttle_rate_rps: float | None = None
    throttle_burst: int | None = None
    provisioned_schedule: tuple[int, ...] = ()
    """24 hourly counts (UTC) replacing the constant ``provisioned_concurrency``; ``()`` = none."""
    front_door: str = "http-api"
    """One of ``FRONT_DOORS``; a Function URL has no route throttling (``with_front_door``)."""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "provisioned_schedule": list(self.provisioned_schedule) or None}


@dataclass(frozen=True, order=True)
class KubeChoice:
    pod_cpu_m: int
    workers: int
    min_replicas: int
    max_replicas: int
    target_utilization: float
    instance_type: str
    provisioner: str = "cluster-autoscaler"
    scale_up: str = "shipped"
    """"shipped" (the manifest's behavior) or "fast" (``FAST_SCALE_UP``)."""
    warm_nodes: int = 0
    """Nodes kept beyond those the ``min_replicas`` pods fill (``node_minimum``)."""
    scale_down: str = "shipped"
    """"shipped" (the manifest's behavior) or "fast" (``FAST_SCALE_DOWN``)."""

    @property
    def pod_memory_mib(self) -> int:
        return 1024 if self.workers <= 2 else 2048

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pod_memory_mib": self.pod_memory_mib}


def node_minimum(c: KubeChoice, pods_per_node: int, floor: int) -> int:
    """The node group's (or NodePool's) minimum for a choice: at least ``floor`` (the simulator's
    ``min_nodes``, one node per zone), the nodes ``min_replicas`` pods fill, plus ``warm_nodes``;
    0 on Fargate (no nodes)."""
    if c.provisioner == "fargate":
        return 0
    return max(floor, math.ceil(c.min_replicas / max(1, pods_per_node))) + c.warm_nodes


def kube_maker(**kw: Any) -> KubeChoice:
    """A KubeChoice; on Fargate the node dimensions collapse (one choice, whatever the grid says)."""
    if kw.get("provisioner") == "fargate":
        kw = {**kw, "instance_type": FARGATE, "warm_nodes": 0}
    return KubeChoice(**kw)


def scaled_service(st: ServiceTime, ref_mb: int, memory_mb: int) -> ServiceTime:
    """The distribution at ``memory_mb`` (``ServiceTime.at_memory``: the CPU-share model)."""
    return st.at_memory(ref_mb, memory_mb)


def _concurrency(counts: np.ndarray, duration_ms: float) -> np.ndarray:
    """Mean in-flight requests per minute (Little's law: rate x duration)."""
    return np.asarray(counts, dtype=float) / 60.0 * duration_ms / 1000.0


def concurrency_levels(counts: np.ndarray, duration_ms: float) -> list[int]:
    """Provisioned-concurrency candidates: mean, p99-minute and peak-minute concurrency."""
    conc = _concurrency(counts, duration_ms)
    raw = [float(conc.mean()), float(np.quantile(conc, 0.99)), float(conc.max())]
    return sorted({max(1, math.ceil(c)) for c in raw})


def hourly_schedules(counts: np.ndarray, duration_ms: float, limit: int | None) -> list[tuple[int, ...]]:
    """Hourly-schedule candidates: each UTC hour's p99 and peak minute of concurrency (distinct ones)."""
    conc = _concurrency(counts, duration_ms)
    found = [pc_schedule.from_concurrency(conc, q, limit) for q in (0.99, 1.0)]
    return list(dict.fromkeys(found))


def reserving_functions(path: Path = SERVERLESS_YML) -> int:
    """How many of serverless.yml's functions reserve concurrency, as the Framework resolves them.

    Each reservation comes out of the same account pool, so this count divides what one may take.
    Raises ParameterError when serverless.yml cannot be read or resolved.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        names = list((doc or {}).get("functions") or {})
        return sum(deployed_caps(function=name, path=path).reserved_concurrency is not None for name in names)
    except (OSError, yaml.YAMLError, ValueError, AttributeError) as exc:
        raise ParameterError(f"cannot read the functions' reservations from {path}: {exc}") from None


def reserved_ceiling(account_concurrency: int, functions: int) -> int:
    """The most each of ``functions`` reserving functions may reserve (AWS keeps 100 unreserved)."""
    return (account_concurrency - UNRESERVED_MINIMUM) // max(1, functions)


def lambda_space(counts: np.ndarray, duration_ms: float, shipped_reserved: int | None,
                 account_concurrency: int, quick: bool = False,
                 functions: int = 1) -> dict[str, tuple[Any, ...]]:
    """The dimensions (ordered from least to most capacity/cost where that order exists).

    ``functions``: how many functions share the account's reservable concurrency (``reserving_functions``).
    """
    reserved_max = reserved_ceiling(account_concurrency, functions)
    reserved = tuple(sorted({r for r in (shipped_reserved, reserved_max) if r is not None and 1 <= r <= reserved_max}))
    pcs = (0, *concurrency_levels(counts, duration_ms))
    schedules = ((), *hourly_schedules(counts, duration_ms, max(reserved) if reserved else None))
    memory = (512, 1024, 1769, 3008) if quick else MEMORY_MB
    return {"memory_mb": memory, "architecture": ("x86_64", "arm64"), "provisioned_concurrency": pcs,
            "provisioned_schedule": schedules, "reserved_concurrency": reserved or (None,), "snapstart": (False, True)}


FRONT_DOORS = ("http-api", "function-url")
DEFAULT_FRONT_DOORS = ("http-api",)
"""What the search chooses from unless told otherwise: the public door. A Function URL is IAM-only
here (callers sign with SigV4), so it is a different product for most callers, not a cheaper route."""
"""The front doors serverless.yml deploys: its HTTP API (route throttling) and its Function URL
(IAM auth, callers sign with SigV4). It deploys no REST API, so the search offers none."""


def with_front_door(c: LambdaChoice, door: str) -> LambdaChoice:
    """``c`` behind ``door``: the route throttling is the HTTP API's, so a Function URL drops it."""
    if door == "http-api":
        return replace(c, front_door=door)
    return replace(c, front_door=door, throttle_rate_rps=None, throttle_burst=None)


APIGW_ACCOUNT_RATE_RPS = 10_000.0
APIGW_ACCOUNT_BURST = 5_000


def lambda_maker(shipped_reserved: int | None, shipped_rate: float | None,
                 shipped_burst: int | None) -> Callable[..., LambdaChoice]:
    """A LambdaChoice factory: the shipped reservation keeps the shipped route throttling, a raised
    one comes with the account-level throttling (module docstring)."""
    def make(**kw: Any) -> LambdaChoice:
        if kw.get("reserved_concurrency") == shipped_reserved:
            return LambdaChoice(**kw, throttle_rate_rps=shipped_rate, throttle_burst=shipped_burst)
        rate = None if shipped_rate is None else APIGW_ACCOUNT_RATE_RPS
        burst = None if shipped_burst is None else APIGW_ACCOUNT_BURST
        return LambdaChoice(**kw, throttle_rate_rps=rate, throttle_burst=burst)
    return make


def lambda_valid(c: LambdaChoice) -> bool:
    provisioned = max((c.provisioned_concurrency, *c.provisioned_schedule))
    if c.provisioned_concurrency and c.provisioned_schedule:
        return False  # a constant or a schedule, not both
    if c.snapstart and provisioned:
        return False  # AWS: SnapStart cannot be combined with provisioned concurrency
    if provisioned and c.architecture != "x86_64":
        return False  # the pinned table prices provisioned concurrency for x86_64 only
    return not (c.reserved_concurrency is not None and provisioned > c.reserved_concurrency)


def kube_space(counts: np.ndarray, pod_capacity_rps: float, instances: list[str],
               quick: bool = False) -> dict[str, tuple[Any, ...]]:
    """HPA ranges sized from the trace's peak minute at each pod size."""
    peak_rps = float(np.max(counts)) / 60.0 if len(counts) else 0.0
    need_1cpu = max(1, math.ceil(peak_rps / (pod_capacity_rps * 0.5)))  # at the lowest target
    maxes = tuple(sorted({max(2, need_1cpu), max(3, math.ceil(need_1cpu * 2)), max(4, need_1cpu * 4)}))
    # 1-3, and the 1-CPU pods the peak minute needs at 70 %: a fleet that never waits for the HPA,
    # the answer when bursts come faster than pods and nodes start.
    mins = tuple(sorted({1, 2, 3, max(1, math.ceil(peak_rps / (pod_capacity_rps * 0.7)))}))
    return {"pod_cpu_m": (500, 1000, 2000) if not quick else (1000, 2000), "workers": WORKERS if not quick else (2,),
            "min_replicas": mins, "max_replicas": maxes,
            "target_utilization": TARGETS if not quick else (0.5, 0.7, 0.9),
            "instance_type": tuple(instances),
            "provisioner": PROVISIONERS if not quick else ("cluster-autoscaler", "fargate"),
            "scale_up": ("shipped", "fast"), "warm_nodes": WARM_NODES, "scale_down": SCALE_DOWNS}


FAST_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                 "policies": [{"type": "Percent", "value": 400, "periodSeconds": 15},
                              {"type": "Pods", "value": 20, "periodSeconds": 15}]}
"""A burst-friendly scale-up: x5 or +20 pods per 15-s sync, whichever is more (the shipped HPA adds
+100 % or 2 pods per 30 s, sized for the bench's phases)."""


SCALE_DOWNS = ("shipped", "fast")
FAST_SCALE_DOWN = {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                   "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
"""A prompt release: Kubernetes' default rate (all surplus pods per 15-s sync) once the load has
been lower for a minute, not five; pays where idle pods are billed after a burst (the shipped HPA
keeps them 5 min, then removes one a minute, sized against flapping between the bench's phases)."""

KUBE_COARSE = {"scale_down": ("shipped",)}
"""Dimensions the coarse pass holds at one value: the scale-down behaviour is refined only around
the best candidates (``search_platform``'s fine rounds), so it does not double the coarse grid."""


def kube_valid(c: KubeChoice) -> bool:
    return c.min_replicas <= c.max_replicas and c.workers <= max(1, c.pod_cpu_m // 250)
