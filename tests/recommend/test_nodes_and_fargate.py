"""Warm nodes (a node minimum above what minReplicas fill) and EKS on Fargate in the Kubernetes search."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from twinbench.recommend import search, space
from twinbench.recommend.run import recommend
from twinbench.recommend.space import KubeChoice
from twinbench.simulate import engine, external
from twinbench.simulate.slo import Slo

from .conftest import base_config

RAMP_SLO = Slo(60.0, 99.0, 0.001)


def _ramp_trace(folder: Path) -> Path:
    """100 req/s for 30 min, then up to 1,300 req/s over 6 min, held; twice (120 min)."""
    phase = np.arange(120) % 60
    level = np.where(phase < 30, 100.0, np.minimum(1300.0, 100.0 + 1200.0 * (phase - 29) / 6))
    path = folder / "ramp.csv"
    path.write_text("minute,requests\n" + "\n".join(f"{i},{int(v * 60)}" for i, v in enumerate(level)) + "\n",
                    encoding="utf-8")
    return path


def _ramp_search(base: engine.SimulationConfig, exhaustive: bool) -> search.PlatformSearch:
    # The real space's minimums for this trace (1, 2, 3 and the peak minute at 70 %: 5 one-CPU pods),
    # the other dimensions pinned to one 500m pod shape (3 per t3.medium) so the test stays short.
    dims = {"pod_cpu_m": (500,), "workers": (2,), "min_replicas": (1, 2, 3, 5), "max_replicas": (16,),
            "target_utilization": (0.7,), "instance_type": ("t3.medium",), "provisioner": ("cluster-autoscaler",),
            "scale_up": ("fast",), "warm_nodes": (0, 1, 2)}
    prices = external.load_price_table(base.prices_path)
    return search.search_platform("kubernetes", dims, space.kube_maker, space.kube_valid,
                                  partial(search.evaluate_kube, base, slo=RAMP_SLO), search.kube_floor(base, prices),
                                  RAMP_SLO, exhaustive=exhaustive, twins=[(search.warm_twin, search.waited_for_node)])


def test_a_warm_node_is_chosen_when_pods_otherwise_wait_for_nodes_past_the_slo(tmp_path):
    base = base_config("--trace", str(_ramp_trace(tmp_path)), "--seed", "1", "--platforms", "kubernetes")
    got, full = _ramp_search(base, False), _ramp_search(base, True)
    assert got.best is not None and full.best is not None
    assert got.best.choice.warm_nodes == 1, got.best.choice
    assert got.best.cost_usd_per_month <= full.best.cost_usd_per_month * 1.02
    cold = [c for c in full.evaluated if c.choice.warm_nodes == 0]
    assert cold and not any(c.feasible for c in cold)  # without a warm node every minimum misses the SLO
    assert any(c.extra["pods_waited_for_node"] > 0 for c in cold)
    assert got.best.extra["min_nodes"] == 3  # the 2-node floor (5 pods of 500m fill 2 t3.medium) + 1


def test_a_warm_node_where_no_pod_waited_is_the_same_run_at_a_higher_bill(traces):
    base = base_config("--trace", str(traces["steady"]), "--seed", "1", "--platforms", "kubernetes")
    slo = Slo(150.0, 99.0, 0.001)
    cold = KubeChoice(1000, 2, 2, 6, 0.7, "t3.medium")
    a = search.evaluate_kube(base, cold, slo)
    b = search.evaluate_kube(base, dataclasses.replace(cold, warm_nodes=1), slo)
    assert a.extra["pods_waited_for_node"] == 0 and not search.waited_for_node(a)
    assert a.latency_ms == b.latency_ms and a.errors == b.errors
    node_month = external.HOURS_PER_MONTH * external.load_price_table(None).instance("t3.medium").usd_per_hour
    assert b.cost_usd_per_month - a.cost_usd_per_month == pytest.approx(node_month, rel=1e-9)
    # ... which is why the search skips it, exhaustive or not
    res = recommend(base, slo, quick=True, exhaustive=True, platforms=("kubernetes",))
    assert res.searches["kubernetes"].same_as_twin > 0


@pytest.mark.parametrize(("cpu_m", "workers", "vcpu", "gb"), [(1000, 2, 1.0, 2.0), (2000, 4, 2.0, 4.0),
                                                              (500, 1, 0.5, 2.0)])
def test_fargate_bills_each_pod_at_the_size_holding_it(traces, cpu_m, workers, vcpu, gb):
    # Hand-computed sizes: 1 GiB + 256 MiB for the kubelet needs 2 GB at 0.5 and 1 vCPU; 2 GiB +
    # 256 MiB at 2 vCPU takes that size's smallest, 4 GB. Two pods all the time (min = max = 2).
    base = base_config("--trace", str(traces["steady"]), "--seed", "1", "--platforms", "kubernetes")
    choice = KubeChoice(cpu_m, workers, 2, 2, 0.7, space.FARGATE, "fargate")
    res = engine.simulate(search.kube_config(base, choice)).kube
    on_nodes = KubeChoice(1000, 2, 2, 2, 0.7, "t3.medium")  # its fixed rows do not depend on the pod shape
    eks = engine.simulate(search.kube_config(base, on_nodes)).kube
    assert res is not None and eks is not None
    prices = external.load_price_table(None)
    pod_hours = 2 * external.HOURS_PER_MONTH
    pods = pod_hours * (vcpu * prices.usd("fargate_x86_64_usd_per_vcpu_hour")
                        + gb * prices.usd("fargate_x86_64_usd_per_gb_hour"))
    nodes = next(i["monthly_usd"] for i in eks["cost"]["items"] if i["name"].startswith("nodes"))
    # the same control plane, ALB and network rows as on nodes; the pods replace the nodes
    assert res["cost_usd_per_month"] == pytest.approx(eks["cost_usd_per_month"] - nodes + pods, rel=1e-9)
    assert sum(i["monthly_usd"] for i in res["cost"]["items"] if i["name"].startswith("Fargate")) \
        == pytest.approx(pods, rel=1e-9)
    assert res["node_seconds"] >= 0 and res["pods_waited_for_node"] == 0


def test_fargate_is_chosen_when_it_is_the_cheapest_that_meets_the_slo(traces):
    base = base_config("--trace", str(traces["steady"]), "--seed", "1", "--platforms", "kubernetes")
    slo = Slo(150.0, 99.0, 0.001)
    got = recommend(base, slo, quick=True).searches["kubernetes"]
    full = recommend(base, slo, quick=True, exhaustive=True).searches["kubernetes"]
    assert got.best is not None and full.best is not None
    assert got.best.choice.provisioner == "fargate"
    assert got.best.cost_usd_per_month <= full.best.cost_usd_per_month * 1.02
    on_nodes = [c for c in full.evaluated if c.feasible and c.choice.provisioner != "fargate"]
    assert on_nodes and min(c.cost_usd_per_month for c in on_nodes) > got.best.cost_usd_per_month


def test_fargate_pods_start_slower_than_pods_on_a_warm_node(tmp_path):
    base = base_config("--trace", str(_ramp_trace(tmp_path)), "--seed", "1", "--platforms", "kubernetes")
    warm = KubeChoice(500, 2, 5, 16, 0.7, "t3.medium", "cluster-autoscaler", "fast", 1)
    fargate = space.kube_maker(**{**dataclasses.asdict(warm), "provisioner": "fargate"})
    a, b = (search.evaluate_kube(base, c, RAMP_SLO) for c in (warm, fargate))
    assert a.feasible and b.extra["pods_waited_for_node"] > 0  # every new Fargate pod waits for its capacity
    assert b.slo_latency_ms is not None and a.slo_latency_ms is not None and b.slo_latency_ms > a.slo_latency_ms
