"""AWS Lambda, per request: execution environments, keep-alive, scaling limits, billing.

The per-request loop is ``kernels.lambda_chunk``; this module holds its parameters and state:
provisioned and on-demand environments (most-recently-used reuse, cold starts wait INIT),
keep-alive reaping, API Gateway throttling, concurrency and scaling-rate limits (429), and
billing (GB-s, provisioned) with environment-seconds.

Details (each rule of the model): docs/simulation.md, 'The Lambda model (lambda_sim.py)'.
"""

from __future__ import annotations

import numpy as np

from twinbench.simulate import kernels as k
from twinbench.simulate.latency import LatencyRecorder
from twinbench.simulate.params import LambdaParams, ServiceTime

__all__ = ["LambdaSim"]


class LambdaSim:
    """One function's state across chunks of arrivals; ``result()`` after ``finish()``."""

    def __init__(self, params: LambdaParams, init: ServiceTime, minutes: int, rng: np.random.Generator) -> None:
        self.p = params
        cap = params.concurrency_limit + 1
        self.ints = np.zeros(k.L_N_INTS, dtype=np.int64)
        self.floats = np.zeros(k.L_N_FLOATS, dtype=np.float64)
        self.floats[k.LF_TOKENS] = params.scale_rate_per_10s
        self.floats[k.LF_ROUTE_TOKENS] = params.throttle_burst or 0
        self.pc_pm = params.provisioned_per_minute(minutes)
        self.ints[k.L_PC_FREE] = self.pc_pm[0]
        self.heap_t = np.zeros(cap, dtype=np.float64)
        self.heap_e = np.zeros(cap, dtype=np.int64)
        self.idle = np.zeros(cap, dtype=np.int64)
        self.free_at = np.zeros(cap, dtype=np.float64)
        self.created_at = np.zeros(cap, dtype=np.float64)
        self.dead = np.zeros(cap, dtype=np.int64)
        self.init_pool = init.sample(rng.random(params.init_pool_size))
        self.minutes = minutes
        self.env_max = np.zeros(minutes, dtype=np.int64)
        self.env_max[0] = self.pc_pm[0]
        self.cold_pm = np.zeros(minutes, dtype=np.int64)
        self.throttled_pm = np.zeros(minutes, dtype=np.int64)
        self.busy_max = np.zeros(minutes, dtype=np.int64)
        self.latency = LatencyRecorder(minutes)
        self.span_s = minutes * 60.0

    def run_chunk(self, t: np.ndarray, dur_ms: np.ndarray, offsets: np.ndarray, first_minute: int,
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Serve one chunk; returns (latency ms, -1 = throttled; cold flag) per request."""
        latency = np.empty(t.size, dtype=np.float64)
        cold = np.empty(t.size, dtype=np.int8)
        p = self.p
        k.lambda_chunk(t, dur_ms, self.init_pool, self.ints, self.floats, self.heap_t, self.heap_e, self.idle,
                       self.free_at, self.created_at, self.dead, float(p.keep_alive_s), int(p.concurrency_limit),
                       self.pc_pm, float(p.scale_rate_per_10s), float(p.scale_rate_per_10s) / 10.0,
                       float(p.throttle_rate_rps or 0.0), float(p.throttle_burst or 0),
                       latency, cold, self.env_max, self.cold_pm, self.throttled_pm, self.busy_max)
        self.latency.add(latency, offsets, first_minute)
        return latency, cold

    def finish(self) -> None:
        """Walk the idle minutes after the last arrival; close the environment-seconds books."""
        p = self.p
        args = (self.ints, self.floats, self.heap_t, self.heap_e, self.idle, self.free_at, self.created_at,
                self.dead, float(p.keep_alive_s))
        while self.ints[k.L_MINUTE] < self.minutes - 1:
            self.ints[k.L_MINUTE] += 1
            m = int(self.ints[k.L_MINUTE])
            k._lambda_advance(m * 60.0, *args)
            self.ints[k.L_PC_FREE] += self.pc_pm[m] - self.pc_pm[m - 1]
            self.env_max[m] = max(self.env_max[m], int(self.ints[k.L_ALIVE]) + int(self.pc_pm[m]))
        k._lambda_advance(self.span_s, *args)
        # Still alive at the end: idle ones until min(reaping, end), busy ones until the end.
        lo, cnt, cap = int(self.ints[k.L_IDLE_LO]), int(self.ints[k.L_IDLE_CNT]), self.idle.size
        for j in range(cnt):
            e = self.idle[(lo + j) % cap]
            self.floats[k.LF_ENV_SECONDS] += min(self.free_at[e] + p.keep_alive_s, self.span_s) - self.created_at[e]
        for j in range(int(self.ints[k.L_HEAP_N])):
            e = self.heap_e[j]
            if e >= 0:
                self.floats[k.LF_ENV_SECONDS] += self.span_s - self.created_at[e]

    def result(self) -> dict[str, object]:
        """The simulated quantities (per span, not per month): counts, billing, per-minute series."""
        i = self.ints
        requests = int(i[k.L_REQUESTS])
        cold = int(i[k.L_COLD])
        gb = self.p.memory_gb
        return {
            "requests": requests,
            "served": requests - int(i[k.L_THROTTLED]),
            "cold_starts": cold,
            "cold_start_fraction": cold / requests if requests else 0.0,
            "throttled": int(i[k.L_THROTTLED]),
            "route_throttled": int(i[k.L_ROUTE_THROTTLED]),
            "rejected": 0,
            "billed_ms": int(i[k.L_BILLED_MS]),
            "billed_gb_s": int(i[k.L_BILLED_MS]) / 1000.0 * gb,
            "provisioned_billed_gb_s": int(i[k.L_PC_BILLED_MS]) / 1000.0 * gb,
            "provisioned_configured_gb_s": float(self.pc_pm.sum()) * 60.0 * gb,
            "environment_seconds": float(self.floats[k.LF_ENV_SECONDS]) + float(self.pc_pm.sum()) * 60.0,
            "max_environments": int(self.env_max.max()),
            "max_concurrency": int(self.busy_max.max()),
            "latency_ms": self.latency.summary(),
            "per_minute": {"environments_max": self.env_max, "concurrency_max": self.busy_max,
                           "cold_starts": self.cold_pm, "throttled": self.throttled_pm,
                           "latency_ms": self.latency.per_minute},
        }
