"""The HPA's scale-down behaviour in the Kubernetes search: in the space, simulated, written, read back."""

from __future__ import annotations

import dataclasses
import itertools
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from twinbench.recommend import search, space, write
from twinbench.recommend.run import recommend
from twinbench.recommend.space import KubeChoice
from twinbench.simulate import engine, external
from twinbench.simulate.hpa import load_hpa_spec
from twinbench.simulate.slo import Slo

from .conftest import base_config

REPO = Path(__file__).resolve().parents[2]
SLO = Slo(150.0, 99.0, 0.001)


def _burst_then_lull(folder: Path) -> Path:
    """One hour: 10 req/s ramping to 1,000 over 15 min, held 5 min, then 5 req/s for 40 min."""
    m = np.arange(60)
    level = np.where(m < 15, 10 + 990 * (m + 1) / 15, np.where(m < 20, 1000.0, 5.0))
    path = folder / "burst-then-lull.csv"
    path.write_text("minute,requests\n" + "\n".join(f"{i},{int(v * 60)}" for i, v in enumerate(level)) + "\n",
                    encoding="utf-8")
    return path


def _fargate_search(base: engine.SimulationConfig, exhaustive: bool) -> search.PlatformSearch:
    # One 1-CPU pod shape on Fargate (idle pods billed per pod), both minimums, both scale-downs:
    # the real scale-down values and coarse rule, the rest pinned so the test stays short.
    dims = {"pod_cpu_m": (1000,), "workers": (2,), "min_replicas": (1, 2), "max_replicas": (8,),
            "target_utilization": (0.7,), "instance_type": ("t3.medium",), "provisioner": ("fargate",),
            "scale_up": ("shipped",), "warm_nodes": (0,), "scale_down": space.SCALE_DOWNS}
    prices = external.load_price_table(base.prices_path)
    return search.search_platform("kubernetes", dims, space.kube_maker, space.kube_valid,
                                  partial(search.evaluate_kube, base, slo=SLO), search.kube_floor(base, prices), SLO,
                                  exhaustive=exhaustive, twins=search.KUBE_TWINS, coarse=space.KUBE_COARSE)


def test_the_scale_down_behaviour_is_a_dimension_searched_in_the_fine_rounds(traces):
    counts = np.full(60, 600)
    for quick in (False, True):
        assert space.kube_space(counts, 400.0, ["t3.medium"], quick)["scale_down"] == ("shipped", "fast")
    assert space.KUBE_COARSE["scale_down"] == ("shipped",)
    base = base_config("--trace", str(traces["steady"]), "--platforms", "kubernetes")
    shipped = KubeChoice(1000, 2, 2, 6, 0.7, "t3.medium")
    manifest = load_hpa_spec(REPO / "k8s/base/hpa.yaml")
    assert search.kube_config(base, shipped).hpa.scale_down == manifest.scale_down
    fast = search.kube_config(base, dataclasses.replace(shipped, scale_down="fast")).hpa.scale_down
    assert fast.stabilization_s == space.FAST_SCALE_DOWN["stabilizationWindowSeconds"] < manifest.scale_down.stabilization_s
    assert fast.policies[0].kind == "Percent" and fast.policies[0].value == 100


@pytest.mark.parametrize(("scale_up", "scale_down"), list(itertools.product(("shipped", "fast"), repeat=2)))
def test_the_written_overlay_carries_the_behaviour_that_was_simulated(traces, tmp_path, scale_up, scale_down):
    base = base_config("--trace", str(traces["steady"]), "--platforms", "kubernetes")
    choice = KubeChoice(1000, 2, 1, 5, 0.6, "t3.medium", scale_up=scale_up, scale_down=scale_down)
    overlay = write.write_kube_overlay(choice, tmp_path, "test").parent
    read_back = load_hpa_spec(REPO / "k8s/base/hpa.yaml", overlay)  # what simulate --overlay reads
    simulated = search.kube_config(base, choice).hpa
    assert (read_back.min_replicas, read_back.max_replicas, read_back.target_utilization) == \
        (simulated.min_replicas, simulated.max_replicas, simulated.target_utilization)
    assert read_back.scale_up == simulated.scale_up
    assert read_back.scale_down == simulated.scale_down
    assert ("path: /spec/behavior/scaleDown" in (overlay / "kustomization.yaml").read_text()) == (scale_down == "fast")


def test_a_scale_down_that_cannot_differ_is_skipped_as_its_twin(traces):
    base = base_config("--trace", str(traces["sparse"]), "--seed", "1", "--platforms", "kubernetes")
    shipped = KubeChoice(1000, 2, 2, 6, 0.7, "t3.medium")
    a = search.evaluate_kube(base, shipped, SLO)
    b = search.evaluate_kube(base, dataclasses.replace(shipped, scale_down="fast"), SLO)
    assert a.extra["max_replicas_reached"] == shipped.min_replicas and not search.scaled_above_minimum(a)
    assert (a.cost_usd_per_month, a.latency_ms, a.errors) == (b.cost_usd_per_month, b.latency_ms, b.errors)
    assert search.scale_down_twin(b.choice) == shipped and search.scale_down_twin(shipped) is None


def test_a_fast_scale_down_is_chosen_where_idle_pods_are_billed_and_simulates_again(tmp_path):
    trace = _burst_then_lull(tmp_path)
    base = base_config("--trace", str(trace), "--seed", "1", "--platforms", "kubernetes")
    got, full = _fargate_search(base, False), _fargate_search(base, True)
    assert got.best is not None and full.best is not None
    assert got.best.choice.scale_down == "fast", got.best.choice
    assert got.best.choice == full.best.choice
    twin = next(c for c in full.evaluated if c.choice == dataclasses.replace(got.best.choice, scale_down="shipped"))
    assert search.scaled_above_minimum(twin)  # the burst's pods are what the behaviour releases
    assert twin.cost_usd_per_month > got.best.cost_usd_per_month * 1.02  # cheaper by more than noise
    assert twin.feasible  # both meet the SLO: the difference is the pods kept through the lull

    overlay = write.write_kube_overlay(got.best.choice, tmp_path / "out", "test").parent
    again = base_config("--trace", str(trace), "--seed", "1", "--platforms", "kubernetes", "--overlay", str(overlay),
                        "--provisioner", "fargate", "--slo-ms", "150")
    res = engine.simulate(again).kube
    assert res is not None
    assert res["cost_usd_per_month"] == pytest.approx(got.best.cost_usd_per_month, rel=1e-6, abs=1e-3)
    assert res["latency_ms"]["p99"] == pytest.approx(got.best.latency_ms["p99"])


def test_an_hpa_without_behavior_is_searched_without_behaviours(traces, tmp_path):
    manifest = (REPO / "k8s/base/hpa.yaml").read_text(encoding="utf-8")
    legacy = tmp_path / "hpa.yaml"
    legacy.write_text(manifest[:manifest.index("  behavior:")], encoding="utf-8")  # the controller's legacy path
    base = base_config("--trace", str(traces["sparse"]), "--seed", "1", "--platforms", "kubernetes",
                       "--hpa", str(legacy))
    assert base.hpa.legacy
    rec = recommend(base, SLO, quick=True, platforms=("kubernetes",))
    choices = [c.choice for c in rec.searches["kubernetes"].evaluated]
    assert choices and all(c.scale_up == "shipped" and c.scale_down == "shipped" for c in choices)
