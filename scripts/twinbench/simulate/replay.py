"""Explicit arrival times through the platform models: the entry point a replay needs.

``engine.simulate`` draws its own arrivals from per-minute counts. A replay (the calibration
against the real local stack, or a request log) already has the exact arrival times, so these
functions take them as they are and return, besides the usual result dict, the per-request
latency and cold flag, so a caller can compare request by request.

Details (the functions, matched draws, ``init_sequence_ms``): docs/simulation.md, 'Replays (replay.py)'.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinbench.simulate import engine, external
from twinbench.simulate.errors import ProfileError
from twinbench.simulate.hpa import HpaSpec
from twinbench.simulate.kernels import minute_offsets
from twinbench.simulate.kube_sim import KubeSim
from twinbench.simulate.lambda_sim import LambdaSim
from twinbench.simulate.params import KubeParams, LambdaParams, ServiceTime
from twinbench.simulate.profiles import MAX_MINUTES, MinuteCounts

__all__ = ["ReplayOutcome", "check_arrivals", "profile_of", "replay_kube", "replay_lambda", "service_draws",
           "simulate_arrivals"]


@dataclass
class ReplayOutcome:
    """One platform's answer to a replay, per request in arrival order.

    ``latency_ms`` is -1 for a request not served (429 on Lambda, 503 on Kubernetes); ``cold``
    is the simulated cold flag (always False on Kubernetes: pods start before traffic).
    """

    latency_ms: np.ndarray
    cold: np.ndarray
    result: dict[str, Any]


def check_arrivals(arrivals_s: Any) -> np.ndarray:
    """Arrival times (s from the span's start) as a sorted float64 array; ProfileError if unusable."""
    try:
        t = np.asarray(arrivals_s, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ProfileError("arrival times must be numbers (seconds from the start)") from None
    if t.size == 0:
        raise ProfileError("a replay needs at least one arrival")
    if not np.all(np.isfinite(t)) or t.min() < 0:
        raise ProfileError("arrival times must be finite and >= 0 s")
    if t.max() >= MAX_MINUTES * 60.0:
        raise ProfileError(f"arrival times beyond {MAX_MINUTES:,} minutes (366 days) are refused")
    return np.sort(t)


def profile_of(arrivals_s: np.ndarray, name: str = "replay") -> MinuteCounts:
    """The per-minute counts of explicit arrivals (the span ends at the last arrival's minute)."""
    t = check_arrivals(arrivals_s)
    minutes = int(t[-1] // 60.0) + 1
    counts = np.bincount((t // 60.0).astype(np.int64), minlength=minutes)
    return MinuteCounts(name, counts, f"{t.size} explicit arrivals over {minutes} min")


def service_draws(service: ServiceTime, n: int, seed: int) -> np.ndarray:
    """``n`` service times (ms) from ``service``, one seeded uniform each (common random numbers)."""
    return service.sample(np.random.default_rng(seed).random(n))


def _check_times(name: str, values: np.ndarray, n: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size != n:
        raise ProfileError(f"{name}: {v.size} values for {n} arrivals")
    if not np.all(np.isfinite(v)) or (v.size and v.min() < 0):
        raise ProfileError(f"{name}: times must be finite and >= 0 ms")
    return v


def replay_lambda(arrivals_s: Any, duration_ms: Any, params: LambdaParams, init: ServiceTime,
                  init_sequence_ms: Any | None = None, seed: int = 0) -> ReplayOutcome:
    """Run explicit arrivals through the Lambda model (``lambda_sim``), in one chunk.

    ``duration_ms``: each request's invocation time (ms). INIT: drawn from ``init``, or, when
    ``init_sequence_ms`` is given, the k-th cold start takes its k-th value (cycling if the model
    has more cold starts than the sequence).
    """
    t = check_arrivals(arrivals_s)
    d = _check_times("durations", duration_ms, t.size)
    minutes = int(t[-1] // 60.0) + 1
    sim = LambdaSim(params, init, minutes, np.random.default_rng(seed + 1))
    if init_sequence_ms is not None:
        seq = np.asarray(init_sequence_ms, dtype=np.float64).reshape(-1)
        if seq.size == 0 or not np.all(np.isfinite(seq)) or seq.min() < 0:
            raise ProfileError("init sequence: needs at least one finite time >= 0 ms")
        # The kernel takes INIT k from the pool at index k (mod its size): the pool is the sequence.
        sim.init_pool = seq.copy()
    latency, cold = sim.run_chunk(t, d, minute_offsets(t, 0, minutes), 0)
    sim.finish()
    return ReplayOutcome(latency, cold.astype(bool), sim.result())


def replay_kube(arrivals_s: Any, service_ms: Any, params: KubeParams, spec: HpaSpec, pods_per_node: int,
                seed: int = 0, stretch: float | None = None) -> ReplayOutcome:
    """Run explicit arrivals through the Kubernetes model (``kube_sim``), in one chunk.

    ``service_ms`` are warm service times; they are stretched as the engine does
    (``engine.service_stretch``, from the pod capacity) unless ``stretch`` is given.
    """
    t = check_arrivals(arrivals_s)
    s = _check_times("service times", service_ms, t.size)
    if stretch is None:
        stretch = engine.service_stretch(params, ServiceTime("service", s if s.max() > 0 else np.ones(1)))
    minutes = int(t[-1] // 60.0) + 1
    sim = KubeSim(params, spec, pods_per_node, minutes, seed)
    latency = sim.run_chunk(t, s * stretch, minute_offsets(t, 0, minutes), 0, minutes)
    sim.finish()
    result = sim.result()
    result["service_stretch"] = round(float(stretch), 4)
    return ReplayOutcome(latency, np.zeros(t.size, dtype=bool), result)


def simulate_arrivals(config: engine.SimulationConfig, arrivals_s: Any,
                      init_sequence_ms: Any | None = None) -> engine.SimulationResult:
    """``engine.simulate`` on explicit arrival times instead of the profile's drawn ones.

    The config's profile is replaced by the arrivals' per-minute counts (so costs and the
    document describe what was replayed). Raises SimulationError subclasses for bad input.
    """
    started = time.perf_counter()
    t = check_arrivals(arrivals_s)
    config = dataclasses.replace(config, profile=profile_of(t))
    prices = external.load_price_table(config.prices_path)
    u = np.random.default_rng(config.seed).random(t.size)
    lam_res = kube_res = None
    warnings: list[str] = []
    if "lambda" in config.platforms:
        out = replay_lambda(t, config.lambda_duration.sample(u), config.lambda_params, config.lambda_init,
                            init_sequence_ms, config.seed)
        lam_res = out.result
        lam_res["cost"] = engine.lambda_cost(lam_res, config, prices)
        lam_res["cost_usd_per_month"] = lam_res["cost"]["total_usd"]
    if "kubernetes" in config.platforms:
        kp = config.kube_params
        ppn = external.node_pods_capacity(prices, kp.instance_type, kp.pod_cpu_m, kp.pod_memory_mib)
        stretch = engine.service_stretch(kp, config.container_service)
        out = replay_kube(t, config.container_service.sample(u), kp, config.hpa, ppn, config.seed, stretch)
        kube_res = out.result
        kube_res["cost"] = engine.eks_cost(kube_res, config, prices)
        kube_res["fargate_cost"] = engine.fargate_cost(kube_res, config, prices)
        kube_res["cost_usd_per_month"] = kube_res["cost"]["total_usd"]
    if lam_res is not None and lam_res["throttled"]:
        warnings.append(f"Lambda throttled {lam_res['throttled']:,} requests (429)")
    if kube_res is not None and kube_res["rejected"]:
        warnings.append(f"Kubernetes rejected {kube_res['rejected']:,} requests (503)")
    elapsed = time.perf_counter() - started
    return engine.SimulationResult(config, lam_res, kube_res, elapsed if math.isfinite(elapsed) else 0.0, warnings)
