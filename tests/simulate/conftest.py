"""Helpers that run one platform model on hand-built arrivals (no profile, no randomness)."""

from __future__ import annotations

import numpy as np
import pytest
from twinbench.simulate.hpa import DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, HpaSpec
from twinbench.simulate.kernels import minute_offsets
from twinbench.simulate.kube_sim import KubeSim
from twinbench.simulate.lambda_sim import LambdaSim
from twinbench.simulate.params import KubeParams, LambdaParams, ServiceTime


def run_lambda(times, dur_ms, init_ms=100.0, **params):
    """(result dict, latency ms per request, cold flag per request) for arrivals at ``times`` s."""
    t = np.asarray(times, dtype=float)
    minutes = int(t.max() // 60) + 1
    sim = LambdaSim(LambdaParams(**params), ServiceTime.constant("init", init_ms), minutes, np.random.default_rng(0))
    d = np.broadcast_to(np.asarray(dur_ms, dtype=float), t.shape).copy()
    latency, cold = sim.run_chunk(t, d, minute_offsets(t, 0, minutes), 0)
    sim.finish()
    return sim.result(), latency, cold


def run_kube(times, svc_ms, replicas=1, **params):
    """(result dict, latency ms per request) on a fixed-size deployment (HPA min = max)."""
    t = np.asarray(times, dtype=float)
    minutes = int(t.max() // 60) + 1
    spec = HpaSpec(replicas, replicas, 0.7, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)
    sim = KubeSim(KubeParams(**{"min_nodes": 1, **params}), spec, pods_per_node=1, minutes=minutes)
    s = np.broadcast_to(np.asarray(svc_ms, dtype=float), t.shape).copy()
    latency = sim.run_chunk(t, s, minute_offsets(t, 0, minutes), 0, minutes)
    sim.finish()
    return sim.result(), latency


@pytest.fixture
def lambda_run():
    return run_lambda


@pytest.fixture
def kube_run():
    return run_kube
