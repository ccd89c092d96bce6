"""The HPA arithmetic against hand-computed cases, and the manifests it is read from."""

from __future__ import annotations

import pytest
from twinbench.simulate.errors import InputsError
from twinbench.simulate.hpa import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Hpa,
    HpaSpec,
    Policy,
    ScalingRules,
    desired_replicas,
    limit_by_policies,
    load_hpa_spec,
    stabilize,
    utilization_pct,
)

SPEC = load_hpa_spec("k8s/base/hpa.yaml")


def test_reads_the_shipped_manifest():
    assert (SPEC.min_replicas, SPEC.max_replicas, SPEC.target_utilization) == (2, 6, 0.70)
    assert SPEC.scale_up == ScalingRules(0, "Max", (Policy("Percent", 100, 30), Policy("Pods", 2, 30)))
    assert SPEC.scale_down == ScalingRules(300, "Min", (Policy("Percent", 50, 60), Policy("Pods", 1, 60)))


def test_overlay_patches_apply():
    prod = load_hpa_spec("k8s/base/hpa.yaml", "k8s/overlays/prod")
    assert (prod.min_replicas, prod.max_replicas) == (3, 12)


@pytest.mark.parametrize(("current", "util", "expected"), [
    (3, 0.90, 4),   # ceil(3 x 0.9 / 0.7) = ceil(3.857)
    (3, 0.75, 3),   # ratio 1.071: within the 0.1 tolerance
    (4, 0.20, 2),   # ceil(4 x 0.2857) = ceil(1.143)
    (2, 0.70, 2),   # exactly on target
    (3, 0.70 * 3 / 3, 3),
    (10, 0.63, 10),  # ratio 0.9: on the tolerance edge, no change
    (10, 0.62, 9),   # ratio 0.886: ceil(8.857)
])
def test_desired_replicas(current, util, expected):
    assert desired_replicas(current, util, 0.70, 0.1) == expected


def test_scale_up_policies_max_of_percent_and_pods():
    up, down = SPEC.scale_up, SPEC.scale_down
    assert limit_by_policies(2, 10, [], 100.0, up, down) == 4    # max(2 x 2, 2 + 2)
    assert limit_by_policies(6, 20, [], 100.0, up, down) == 12   # max(12, 8)
    assert limit_by_policies(4, 10, [(90.0, 2)], 100.0, up, down) == 4  # period started at 2: max(4, 4)
    assert limit_by_policies(4, 10, [(60.0, 2)], 100.0, up, down) == 8  # that event left the 30-s period


def test_scale_down_policies_min_selects_the_smaller_change():
    up, down = SPEC.scale_up, SPEC.scale_down
    assert limit_by_policies(6, 1, [], 100.0, up, down) == 5    # Min of (-50 % -> 3, -1 pod -> 5) = 5
    assert limit_by_policies(5, 1, [(80.0, -1)], 100.0, up, down) == 5  # 1 pod already removed this minute


def test_default_behaviour_is_kubernetes_defaults():
    assert limit_by_policies(3, 20, [], 0.0, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN) == 7  # max(6, 3 + 4)
    assert limit_by_policies(8, 1, [], 0.0, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN) == 1   # -100 %


def test_stabilization_window_keeps_the_highest_recent_recommendation():
    # ``recommendations`` ends with the one made now
    assert stabilize(6, [(0.0, 6), (150.0, 3), (200.0, 2)], 200.0, 0, 300) == 6
    # at 400 s, (0, 6) has left the 300-s window; (150, 3) is still in it
    assert stabilize(6, [(0.0, 6), (150.0, 3), (200.0, 2), (400.0, 2)], 400.0, 0, 300) == 3
    # scale-up is held by the up window's minimum
    assert stabilize(2, [(0.0, 2), (30.0, 5), (60.0, 4)], 60.0, 60, 0) == 4


def test_controller_scales_down_only_after_the_window():
    hpa = Hpa(HpaSpec(2, 6, 0.7, SPEC.scale_up, SPEC.scale_down))
    n = 6
    # idle: the recommendation is 2 from the start, but the 300-s window holds the earlier 6
    n = hpa.sync(0.0, n, 6, 0, 6 * 0.7, 1.0)  # on target: 6
    for t in range(15, 300, 15):
        n = hpa.sync(float(t), n, n, 0, 0.0, 1.0)
        assert n == 6
    n = hpa.sync(315.0, n, n, 0, 0.0, 1.0)
    assert n == 5  # Min policy: one pod per 60 s


def test_unready_pods_count_as_zero_when_scaling_up():
    hpa = Hpa(HpaSpec(1, 20, 0.5, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN))
    # 2 ready pods at 60 % of target 50 %, 2 starting: (1.2 cores) / (4 x 0.5) = 0.6 -> no further scale-up
    assert hpa.sync(0.0, 4, 2, 2, 1.2, 1.0) == 4
    # 2 ready at 100 %: 2 cores over 4 pods = 0.5 x 2 = 1.0 ratio -> stays; 3 cores -> ceil(4 x 1.5) = 6
    assert hpa.sync(15.0, 4, 2, 2, 3.0, 1.0) == 6


def test_bad_manifest_is_a_typed_error(tmp_path):
    bad = tmp_path / "hpa.yaml"
    bad.write_text("kind: Deployment\n")
    with pytest.raises(InputsError):
        load_hpa_spec(bad)
    bad.write_text("kind: HorizontalPodAutoscaler\nspec: {minReplicas: 3, maxReplicas: 2, metrics: [{type: Resource, "
                   "resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}]}\n")
    with pytest.raises(InputsError):
        load_hpa_spec(bad)


# ---- vectors from the controller's source (kubernetes/kubernetes, pkg/controller/podautoscaler)

def test_utilization_is_a_whole_percent():
    """metrics/utilization.go GetResourceUtilizationRatio: int32(metricsTotal*100/requestsTotal);
    replica_calculator.go GetResourceReplicas: ceil(ratio x ready). 3 pods at 935m/1000m, target 70 %:
    93 % -> 93/70 x 3 = 3.99 -> 4 replicas (0.935/0.7 x 3 = 4.007 would give 5)."""
    assert utilization_pct(3 * 935, 3 * 1000) == 93
    hpa = Hpa(HpaSpec(1, 10, 0.7, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN))
    assert hpa.replicas_for(3, 3, 0, 0, 3 * 0.935, 1.0) == 4


def test_missing_pods_count_full_on_scale_down():
    """replica_calculator.go GetResourceReplicas: on a scale-down, pods with no metric use
    max(100, target) % of their request; counting them reverses the direction -> current."""
    hpa = Hpa(HpaSpec(1, 10, 0.7, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN))
    # 2 ready pods at 35 % (ratio 0.5), 2 missing at 100 %: (700 + 2000) / 4000 = 67 % -> within tolerance
    assert hpa.replicas_for(4, 2, 0, 2, 0.7, 1.0) == 4
    # without the missing pods it would drop to ceil(0.5 x 2) = 1
    assert hpa.replicas_for(4, 2, 0, 0, 0.7, 1.0) == 1


def test_fresh_controller_holds_current_for_the_window():
    """horizontal.go reconcileAutoscaler: a new controller's recommendations start with the current
    count, so 6 replicas at 5 % CPU stay 6 for the 300-s scale-down window (not 2 at once)."""
    spec = HpaSpec(2, 10, 0.7, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)
    hpa = Hpa(spec)
    assert hpa.sync(0.0, 6, 6, 0, 6 * 0.05, 1.0) == 6
    n = 6
    for t in range(15, 300, 15):
        n = hpa.sync(float(t), n, n, 0, n * 0.05, 1.0)
    assert n == 6
    assert hpa.sync(300.0, n, n, 0, n * 0.05, 1.0) == 2


def test_policy_period_counts_both_directions():
    """horizontal.go calculateScaleUpLimitWithScalingRules: periodStartReplicas =
    current - added + removed. 4 -> 8 (+4) -> 6 (-2) in the period: start 4, +4 pods -> limit 8."""
    up = ScalingRules(0, "Max", (Policy("Pods", 4, 60),))
    assert limit_by_policies(6, 20, [(0.0, 4), (5.0, -2)], 10.0, up, DEFAULT_SCALE_DOWN) == 8
    down = ScalingRules(0, "Max", (Policy("Pods", 1, 60),))
    # calculateScaleDownLimitWithScalingRules: start = current + removed - added = 6 + 2 - 4 = 4 -> 3
    assert limit_by_policies(6, 1, [(0.0, 4), (5.0, -2)], 10.0, up, down) == 3


def test_legacy_path_without_behavior(tmp_path):
    """horizontal.go convertDesiredReplicasWithRules (no behavior): scale-up to at most
    max(2 x current, 4) per sync: 1 pod at 500 % of target -> 4 (the behavior default gives 5)."""
    f = tmp_path / "hpa.yaml"
    f.write_text("kind: HorizontalPodAutoscaler\nspec: {minReplicas: 1, maxReplicas: 20, metrics: [{type: Resource, "
                 "resource: {name: cpu, target: {type: Utilization, averageUtilization: 20}}}]}\n")
    spec = load_hpa_spec(f)
    assert spec.legacy
    assert Hpa(spec).sync(0.0, 1, 1, 0, 1.0, 1.0) == 4
    assert Hpa(HpaSpec(1, 20, 0.2, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).sync(0.0, 1, 1, 0, 1.0, 1.0) == 5


def test_per_direction_tolerance(tmp_path):
    """Kubernetes 1.33+ HPAConfigurableTolerance: behavior.scaleUp.tolerance replaces 0.1 upward."""
    f = tmp_path / "hpa.yaml"
    f.write_text("kind: HorizontalPodAutoscaler\nspec: {minReplicas: 1, maxReplicas: 20, metrics: [{type: Resource, "
                 "resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}], "
                 "behavior: {scaleUp: {tolerance: 50m}}}\n")
    spec = load_hpa_spec(f)
    assert spec.scale_up.tolerance == 0.05
    # 10 pods at 54 %: ratio 1.08 -> within 0.1 but not within 0.05 -> ceil(1.08 x 10) = 11
    assert Hpa(spec).replicas_for(10, 10, 0, 0, 5.4, 1.0) == 11
    assert Hpa(HpaSpec(1, 20, 0.5, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).replicas_for(10, 10, 0, 0, 5.4, 1.0) == 10
