"""Steady traffic: per request almost no cold starts after warm-up; the per-minute model invents them."""

from __future__ import annotations

import numpy as np
from twinbench.simulate import engine, external
from twinbench.simulate.hpa import load_hpa_spec
from twinbench.simulate.params import KubeParams, LambdaParams, ServiceTime
from twinbench.simulate.profiles import MinuteCounts


def _lambda(counts):
    d12 = ServiceTime.constant("duration", 12.0)
    cfg = engine.SimulationConfig(MinuteCounts("steady", counts), LambdaParams(), KubeParams(),
                                  load_hpa_spec("k8s/base/hpa.yaml"), d12, ServiceTime.constant("init", 300.0), d12,
                                  platforms=("lambda",))
    return engine.simulate(cfg).lambda_


def test_steady_traffic_has_almost_no_cold_starts_after_warm_up():
    # 250 req/s at 12 ms (mean concurrency 3.0): 15,000 requests a minute, and the same with one
    # extra request every 7th minute (4 requests more in 450,000).
    flat = np.full(30, 15000, dtype=np.int64)
    bumped = np.where(np.arange(30) % 7 == 3, 15001, 15000).astype(np.int64)
    sims = [_lambda(c) for c in (flat, bumped)]
    after = [int(r["per_minute"]["cold_starts"][10:].sum()) for r in sims]
    for r, a in zip(sims, after, strict=True):
        assert r["cold_starts"] >= 3  # the first environments are cold
        assert a / 300_000 < 3e-5  # after warm-up: a handful in 300,000 (rare concurrency peaks)
    assert abs(after[0] - after[1]) <= 5  # 4 extra requests change nothing real
    # The per-minute model: 0 for the flat trace, but each 15,001 minute rounds 3.0002 up to 4
    # environments and calls the 4th new once the previous one left its 5-minute window.
    assert external.per_minute_cold_starts(flat, 12.0, 300.0) == 0
    assert external.per_minute_cold_starts(bumped, 12.0, 300.0) >= 3.5
