"""Kubernetes: per-pod queues with a limit, load balancing, and the HPA loop scaling a real load."""

from __future__ import annotations

import numpy as np
import pytest
from twinbench.simulate.hpa import load_hpa_spec
from twinbench.simulate.kernels import minute_offsets
from twinbench.simulate.kube_sim import KubeSim
from twinbench.simulate.params import KubeParams
from twinbench.simulate.profiles import arrival_chunks, constant

REPO_HPA = "k8s/base/hpa.yaml"


def test_queue_limit_rejects_with_503(kube_run):
    # one pod, one worker, two may wait: 1 in service + 2 queued, the 4th and 5th are rejected
    res, lat = kube_run([0.0, 0.001, 0.002, 0.003, 0.004], 1000.0, workers=1, queue_limit=2)
    assert lat[:3] == pytest.approx([1000.0, 1999.0, 2998.0])
    assert (lat[3:] == -1).all()
    assert res["rejected"] == 2 and res["served"] == 3


def test_workers_serve_in_parallel_and_queue_drains(kube_run):
    res, lat = kube_run([0.0, 0.0, 0.0, 5.0], 1000.0, workers=2, queue_limit=10)
    assert lat.tolist() == pytest.approx([1000.0, 1000.0, 2000.0, 1000.0])
    assert res["rejected"] == 0


def test_round_robin_spreads_over_ready_pods(kube_run):
    # two pods with one worker each: four simultaneous requests -> two served at once, two wait one service time
    res, lat = kube_run([0.0, 0.0, 0.0, 0.0], 100.0, replicas=2, workers=1, queue_limit=10)
    assert sorted(lat.tolist()) == pytest.approx([100.0, 100.0, 200.0, 200.0])


def test_zero_queue_limit_rejects_whenever_all_workers_are_busy(kube_run):
    res, lat = kube_run([0.0, 0.01, 2.0], 1000.0, workers=1, queue_limit=0)
    assert lat.tolist() == pytest.approx([1000.0, -1.0, 1000.0])


def _run(profile, params, spec):
    sim = KubeSim(params, spec, pods_per_node=1, minutes=profile.minutes)
    rng = np.random.default_rng(1)
    for first, end, t in arrival_chunks(profile.counts, rng):
        sim.run_chunk(t, np.full(t.size, 2.0), minute_offsets(t, first, end - first), first, end)
    sim.finish()
    return sim.result()


def test_hpa_scales_to_the_load_then_back_down():
    # 300 req/s on pods of 100 req/s capacity at a 70 % target: ceil(300 / 70) = 5 pods (max 6),
    # then 20 minutes of silence: back to minReplicas 2 after the 300-s stabilisation window.
    spec = load_hpa_spec(REPO_HPA)
    params = KubeParams(pod_capacity_rps=100.0, queue_limit=1000, min_nodes=2)
    busy = constant(300.0, 20, seed=3).counts
    profile = constant(0.0, 40)
    counts = np.concatenate([busy, np.zeros(20, dtype=np.int64)])
    from twinbench.simulate.profiles import MinuteCounts

    res = _run(MinuteCounts("step", counts), params, spec)
    pm = res["per_minute"]
    assert pm["replicas_max"][15] == 5  # settled at ceil(300 / (100 x 0.7))
    assert pm["replicas_max"][-1] == spec.min_replicas
    assert res["max_nodes"] >= 5 and pm["nodes_max"][-1] >= 2
    assert profile.minutes == 40


def test_no_scale_within_tolerance():
    spec = load_hpa_spec(REPO_HPA)
    # 2 pods x 100 req/s x 0.7 = 140 req/s is the target. At 142 req/s (ratio 1.014, 15-s counts
    # vary by ~2 %) nothing moves; at 170 req/s (ratio 1.21) the HPA adds a pod: ceil(2 x 1.21) = 3.
    from twinbench.simulate.profiles import MinuteCounts

    params = KubeParams(pod_capacity_rps=100.0, queue_limit=1000)
    res = _run(MinuteCounts("flat", np.full(15, 142 * 60)), params, spec)
    assert res["max_replicas"] == 2 and res["scale_events"] == 0
    res = _run(MinuteCounts("flat", np.full(15, 170 * 60)), params, spec)
    assert res["max_replicas"] == 3
