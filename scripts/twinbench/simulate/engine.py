"""Run one traffic profile through both platforms, chunk by chunk, and price what happened.

``simulate(config)`` is the whole API the CLI, the bench report and a calibration test
need: it takes a ``SimulationConfig`` (profile, both platforms' parameters, the measured
service times, the HPA spec) and returns a ``SimulationResult`` whose ``to_document()`` is
the versioned JSON described by ``schema.json``. Both platforms see the same arrivals and
draws (common random numbers), in chunks of whole minutes so memory stays bounded.

Details (chunking, threads, the monthly cost): docs/simulation.md, 'The engine (engine.py)'.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinbench.cost import one_sided
from twinbench.results.formats import SIMULATION
from twinbench.simulate import external
from twinbench.simulate.errors import ParameterError
from twinbench.simulate.hpa import HpaSpec
from twinbench.simulate.kernels import HAVE_NUMBA, minute_offsets
from twinbench.simulate.kube_sim import KubeSim
from twinbench.simulate.lambda_sim import LambdaSim
from twinbench.simulate.params import (
    DEFAULT_RESTORE_QUANTILES,
    KubeParams,
    LambdaParams,
    OneSidedCosts,
    ServiceTime,
)
from twinbench.simulate.profiles import MinuteCounts, arrival_chunks
from twinbench.simulate.slo import Slo, check_slo

__all__ = ["FORMAT", "VERSION", "SimulationConfig", "SimulationResult", "simulate"]

FORMAT = SIMULATION.name
VERSION = SIMULATION.version
FRONT_DOOR_PRICE_KEYS = {"http-api": "apigw_http_api_usd_per_million_requests",
                         "rest": "apigw_rest_api_usd_per_million_requests",
                         "function-url": "lambda_function_url_usd_per_million_requests"}


@dataclass(frozen=True)
class SimulationConfig:
    """Everything one run needs; ``inputs`` records where the measured figures came from."""

    profile: MinuteCounts
    lambda_params: LambdaParams
    kube_params: KubeParams
    hpa: HpaSpec
    lambda_duration: ServiceTime
    lambda_init: ServiceTime
    container_service: ServiceTime
    seed: int = 0
    chunk_requests: int = 2_000_000
    prices_path: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    platforms: tuple[str, ...] = ("lambda", "kubernetes")
    costs: OneSidedCosts = field(default_factory=OneSidedCosts)
    slo: Slo | None = None
    """When given, each platform gets ``slo_latency_ms`` (its percentile) and an ``slo`` verdict."""
    lambda_restore: ServiceTime | None = None
    """SnapStart restore latency (None: ``params.DEFAULT_RESTORE_QUANTILES``)."""

    def restore(self) -> ServiceTime:
        return self.lambda_restore or ServiceTime.from_quantiles(
            "SnapStart restore", DEFAULT_RESTORE_QUANTILES, "assumed (AWS: 'as low as sub-second'; params.py)")


@dataclass
class SimulationResult:
    config: SimulationConfig
    lambda_: dict[str, Any] | None
    kube: dict[str, Any] | None
    elapsed_s: float
    warnings: list[str]

    def to_document(self, per_minute: bool = True) -> dict[str, Any]:
        """The versioned JSON document (schema.json); per-minute series optional (they are long)."""
        cfg = self.config
        platforms: dict[str, Any] = {}
        for name, res in (("lambda", self.lambda_), ("kubernetes", self.kube)):
            if res is None:
                continue
            out = {k: v for k, v in res.items() if k != "per_minute"}
            out.setdefault("max_environments", 0)
            out.setdefault("max_replicas", 0)
            out.setdefault("max_nodes", 0)
            if per_minute:
                out["per_minute"] = {k: _series(v) for k, v in res["per_minute"].items()}
            platforms[name] = out
        return {
            "format": FORMAT,
            "version": VERSION,
            "profile": cfg.profile.summary(),
            "seed": cfg.seed,
            "engine": {"numba": HAVE_NUMBA, "elapsed_s": round(self.elapsed_s, 3),
                       "percentiles": "overall: log histogram, 0.1 % buckets (HdrHistogram-equivalent, 3 digits); "
                                      "per minute: exact (numpy linear)"},
            "inputs": cfg.inputs,
            "parameters": {
                "lambda": {**_plain(cfg.lambda_params.__dict__), "duration": cfg.lambda_duration.describe(),
                           "init": cfg.lambda_init.describe()},
                "kubernetes": {**_plain(cfg.kube_params.__dict__), "service": cfg.container_service.describe(),
                               "node_provisioning_s": cfg.kube_params.node_delay_s,
                               "node_idle_removal_s": cfg.kube_params.node_idle_s, "hpa": cfg.hpa.to_dict()},
            },
            "platforms": platforms,
            "slo": cfg.slo.to_dict() if cfg.slo is not None else None,
            "one_sided_costs": {**_plain(cfg.costs.__dict__), "lambda_log_bytes_source": cfg.costs.log_bytes()[2]},
            "warnings": list(self.warnings),
        }


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if isinstance(v, (int, float, str, type(None)))}


def _series(v: Any) -> Any:
    arr = np.asarray(v)
    if arr.ndim == 2:  # per-minute latency quantiles: columns p50, p99, p999
        return {name: [None if math.isnan(x) else round(float(x), 3) for x in arr[:, i]]
                for i, name in enumerate(("p50", "p99", "p999"))}
    return [int(x) for x in arr]


def service_stretch(params: KubeParams, service: ServiceTime) -> float:
    """Factor on service times so ``workers`` servers saturate at the measured pod capacity."""
    return max(1.0, params.workers / (params.pod_capacity_rps * service.mean_ms / 1000.0))


def simulate(config: SimulationConfig, progress: Callable[[float, float], None] | None = None) -> SimulationResult:
    """Run the profile through the selected platforms; ``progress(fraction, elapsed_s)`` per chunk.

    Raises SimulationError subclasses for bad inputs (prices, instance sizes).
    """
    started = time.perf_counter()
    prices = external.load_price_table(config.prices_path)
    profile = config.profile
    minutes = profile.minutes
    rng = np.random.default_rng(config.seed)
    do_lambda = "lambda" in config.platforms
    do_kube = "kubernetes" in config.platforms
    snap = config.lambda_params.snapstart
    arch = config.lambda_params.duration_factor  # arm64: the measured times / its speed factor
    why = f"arm64 at {config.lambda_params.arm64_speed_factor:g}x x86_64's speed"
    lambda_duration = config.lambda_duration.scaled(arch, why)
    lam = LambdaSim(config.lambda_params, config.restore() if snap else config.lambda_init.scaled(arch, why), minutes,
                    np.random.default_rng(config.seed + 1)) if do_lambda else None
    kube = None
    stretch = service_stretch(config.kube_params, config.container_service)
    if do_kube:
        kp = config.kube_params
        ppn = 1 if kp.fargate else external.node_pods_capacity(prices, kp.instance_type, kp.pod_cpu_m,
                                                                kp.pod_memory_mib)
        kube = KubeSim(kp, config.hpa, ppn, minutes, config.seed)
    total = max(1, profile.total)
    done = 0
    pool = ThreadPoolExecutor(max_workers=1) if (lam and kube) else None
    try:
        for first, end, t in arrival_chunks(profile.counts, rng, config.chunk_requests):
            u = rng.random(t.size)
            offsets = minute_offsets(t, first, end - first)
            future = None
            if lam is not None:
                dur = lambda_duration.sample(u)
                if pool is not None:
                    future = pool.submit(lam.run_chunk, t, dur, offsets, first)
                else:
                    lam.run_chunk(t, dur, offsets, first)
            if kube is not None:
                kube.run_chunk(t, config.container_service.sample(u) * stretch, offsets, first, end)
            if future is not None:
                future.result()
            done += t.size
            if progress is not None:
                progress(done / total, time.perf_counter() - started)
    finally:
        if pool is not None:
            pool.shutdown()
    warnings = list(profile.warnings)
    lam_res = kube_res = None
    if lam is not None:
        lam.finish()
        lam_res = lam.result()
        if snap:
            _snapstart_billing(lam_res, lam.init_pool, config.lambda_params)
        if config.slo is not None:
            lam_res["slo_latency_ms"] = lam.latency.percentile(config.slo.quantile)
        lam_res["cost"] = lambda_cost(lam_res, config, prices)
        lam_res["cost_usd_per_month"] = lam_res["cost"]["total_usd"]
        if lam_res["throttled"]:
            warnings.append(f"Lambda throttled {lam_res['throttled']:,} requests (429; "
                            f"{lam_res['route_throttled']:,} by the HTTP API's route throttling): route throttling, "
                            "concurrency limit or scaling rate reached")
    if kube is not None:
        kube.finish()
        kube_res = kube.result()
        kube_res["service_stretch"] = round(stretch, 4)
        if config.slo is not None:
            kube_res["slo_latency_ms"] = kube.latency.percentile(config.slo.quantile)
        kube_res["fargate_cost"] = fargate_cost(kube_res, config, prices)
        if config.kube_params.fargate:  # the pods are the bill: no nodes
            if kube_res["fargate_cost"]["total_usd"] is None:
                raise ParameterError(kube_res["fargate_cost"]["error"])
            kube_res["cost"] = kube_res["fargate_cost"]
        else:
            kube_res["cost"] = eks_cost(kube_res, config, prices)
        kube_res["cost_usd_per_month"] = kube_res["cost"]["total_usd"]
        if kube_res["rejected"]:
            warnings.append(f"Kubernetes rejected {kube_res['rejected']:,} requests (503): pod queues full or no "
                            "ready pod")
    if config.slo is not None:
        for name, res in (("Lambda", lam_res), ("Kubernetes", kube_res)):
            if res is None:
                continue
            verdict = check_slo(res, config.slo)
            res["slo"] = verdict.to_dict()
            if not verdict.meets:
                warnings.append(f"{name} misses the SLO ({config.slo.describe()}): {', '.join(verdict.binding)}; "
                                f"{verdict.errors:,} errors ({verdict.error_fraction * 100:.3g} %) - its cost is not "
                                "comparable")
    return SimulationResult(config, lam_res, kube_res, time.perf_counter() - started, warnings)


def _snapstart_billing(res: dict[str, Any], pool: np.ndarray, lp: LambdaParams) -> None:
    """A restored environment bills no INIT: take the restore waits (the kernel billed them as INIT)
    back out of the billed time and bill the after-restore hook instead."""
    cold = int(res["cold_starts"])
    n = pool.size
    waited_ms = (cold // n) * float(pool.sum()) + float(pool[: cold % n].sum())
    billed_ms = max(0, int(res["billed_ms"] - waited_ms + cold * lp.restore_hook_ms))
    res["billed_ms"] = billed_ms
    res["billed_gb_s"] = billed_ms / 1000.0 * lp.memory_gb
    res["restores"] = cold
    res["restore_wait_ms_total"] = round(waited_ms, 1)


def _months(config: SimulationConfig) -> float:
    """How many simulated spans make a 730-hour month."""
    return external.HOURS_PER_MONTH * 3600.0 / config.profile.span_s


def _item(name: str, quantity: float, unit: str, unit_usd: float) -> dict[str, Any]:
    return {"name": name, "quantity": quantity, "unit": unit, "unit_usd": unit_usd, "monthly_usd": quantity * unit_usd}


def lambda_cost(res: dict[str, Any], config: SimulationConfig, prices: Any) -> dict[str, Any]:
    """Monthly Lambda bill from the simulated requests and billed GB-s.

    A throttled request is not billed by Lambda (it never ran); one the route throttling turned
    away never reached Lambda and is taken as not billed by API Gateway either.
    """
    lp = config.lambda_params
    k = _months(config)
    items = [
        _item("invocations", res["served"] * k / 1e6, "M requests", prices.usd("lambda_usd_per_million_requests")),
        _item(f"front door ({lp.front_door})", (res["requests"] - res["route_throttled"]) * k / 1e6,
              "M requests", prices.usd(FRONT_DOOR_PRICE_KEYS[lp.front_door])),
        _item(f"duration incl. INIT ({lp.architecture})", res["billed_gb_s"] * k, "GB-s",
              prices.usd(f"lambda_{lp.architecture}_usd_per_gb_s")),
    ]
    items.append(_row(one_sided.lambda_logs(config.costs, prices, res["served"] * k, res["cold_starts"] * k)))
    if lp.snapstart:
        items.append(_item("SnapStart cache (1 published version)", lp.memory_gb * external.HOURS_PER_MONTH * 3600.0,
                           "GB-s", prices.usd("lambda_snapstart_cache_usd_per_gb_s")))
        items.append(_item("SnapStart restores", res["cold_starts"] * k * lp.memory_gb, "GB restored",
                           prices.usd("lambda_snapstart_restore_usd_per_gb")))
    if lp.provisioned_concurrency or lp.provisioned_schedule:
        items.append(_item("provisioned concurrency (configured)", res["provisioned_configured_gb_s"] * k, "GB-s",
                           prices.usd("lambda_provisioned_x86_64_usd_per_gb_s_idle")))
        items.append(_item("provisioned concurrency (duration)", res["provisioned_billed_gb_s"] * k, "GB-s",
                           prices.usd("lambda_provisioned_x86_64_usd_per_gb_s_used")))
    return {"total_usd": sum(i["monthly_usd"] for i in items), "items": items, "months_per_span": 1.0 / k}


def eks_cost(res: dict[str, Any], config: SimulationConfig, prices: Any) -> dict[str, Any]:
    """Monthly EKS bill from the simulated node-hours (autoscaled), plus control plane and ALB."""
    kp = config.kube_params
    k = _months(config)
    instance = prices.instance(kp.instance_type)
    items = [
        _control_plane(config, prices),
        _item(f"nodes ({instance.name}, autoscaled)", res["node_seconds"] / 3600.0 * k, "instance-hours",
              instance.usd_per_hour),
        _item("ALB (hours + LCUs)", 1.0, "month", external.alb_monthly_usd(config.profile.counts, prices)),
        *_network_items(config, prices),
    ]
    return {"total_usd": sum(i["monthly_usd"] for i in items), "items": items,
            "pod_hours_per_month": res["pod_seconds"] / 3600.0 * k, "node_hours_per_month": res["node_seconds"] / 3600.0 * k}


def fargate_cost(res: dict[str, Any], config: SimulationConfig, prices: Any) -> dict[str, Any]:
    """Monthly EKS-on-Fargate bill: each simulated pod-hour at the smallest size holding the pod."""
    kp = config.kube_params
    k = _months(config)
    model = external.cost_model()
    try:
        vcpu, mem_gb = model.fargate_pod_size(kp.pod_cpu_m, kp.pod_memory_mib, prices)
    except (ValueError, TypeError) as exc:
        return {"total_usd": None, "items": [], "error": str(exc)}
    pod_hours = res["pod_seconds"] / 3600.0 * k
    items = [
        _control_plane(config, prices),
        _item(f"Fargate vCPU ({vcpu:g} per pod)", pod_hours * vcpu, "vCPU-hours",
              prices.usd("fargate_x86_64_usd_per_vcpu_hour")),
        _item(f"Fargate memory ({mem_gb:g} GB per pod)", pod_hours * mem_gb, "GB-hours",
              prices.usd("fargate_x86_64_usd_per_gb_hour")),
        _item("ALB (hours + LCUs)", 1.0, "month", external.alb_monthly_usd(config.profile.counts, prices)),
        *_network_items(config, prices),
    ]
    return {"total_usd": sum(i["monthly_usd"] for i in items), "items": items}


def _row(row: one_sided.Row) -> dict[str, Any]:
    return _item(row.name, row.quantity, row.unit, row.unit_usd)


def _control_plane(config: SimulationConfig, prices: Any) -> dict[str, Any]:
    return _row(one_sided.control_plane(config.costs, prices))


def _network_items(config: SimulationConfig, prices: Any) -> list[dict[str, Any]]:
    """What only the cluster pays: NAT gateway hours and GB, public IPv4 addresses (OneSidedCosts)."""
    return [_row(r) for r in one_sided.cluster_network(config.costs, prices)]
