"""The cost model against hand-worked cases: each expected figure is arithmetic on the brief's prices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from twinbench.cost import model as cost
from twinbench.cost import traffic
from twinbench.cost.model import (
    AlbAssumptions,
    ContainerConfig,
    LambdaConfig,
    PodDoesNotFitError,
    PriceTableError,
)
from twinbench.simulate.params import OneSidedCosts

MONTH_S = 730 * 3600
NO_LCU = AlbAssumptions(new_connections_per_request=0.0, processed_bytes_per_request=0.0)
# The hand-worked cases price the platforms alone; the one-sided costs have their own tests
# (test_cost_one_sided.py).
NO_ONE_SIDED = OneSidedCosts(nat_gateways=0, nat_gb_per_month=0.0, public_ipv4=0,
                             lambda_log_bytes_per_invocation=0.0, lambda_log_bytes_per_cold_start=0.0)


def monthly_requests(n: float) -> traffic.TrafficProfile:
    """A constant profile carrying exactly ``n`` requests in the 730-hour month."""
    return traffic.constant(n / MONTH_S)


def item(platform_cost: cost.PlatformCost, name: str) -> cost.LineItem:
    return next(i for i in platform_cost.items if i.name == name)


# --------------------------------------------------------------------------- price table


def test_pinned_prices_match_the_issue_and_each_cites_a_source_and_date():
    prices = cost.load_prices()
    expected = {
        "lambda_x86_64_usd_per_gb_s": 0.0000166667,
        "lambda_arm64_usd_per_gb_s": 0.0000133334,
        "lambda_usd_per_million_requests": 0.20,
        "lambda_provisioned_x86_64_usd_per_gb_s_idle": 0.0000041667,
        "lambda_provisioned_x86_64_usd_per_gb_s_used": 0.0000097222,
        "apigw_http_api_usd_per_million_requests": 1.00,
        "apigw_rest_api_usd_per_million_requests": 3.50,
        "lambda_function_url_usd_per_million_requests": 0.0,
        "eks_cluster_usd_per_hour": 0.10,
        "fargate_x86_64_usd_per_vcpu_hour": 0.04048,
        "fargate_x86_64_usd_per_gb_hour": 0.004445,
        "alb_usd_per_hour": 0.0225,
        "alb_usd_per_lcu_hour": 0.008,
    }
    assert {k: prices.usd(k) for k in expected} == expected
    assert {n: i.usd_per_hour for n, i in prices.instances.items()} == {
        "t3.medium": 0.0416, "m6i.large": 0.096, "c7g.large": 0.0725}
    assert (prices.instance("c7g.large").vcpu, prices.instance("c7g.large").memory_gib) == (2, 4)
    assert prices.region == "us-east-1" and prices.hours_per_month == 730
    for row in prices.citations():
        assert row["source"].startswith("https://"), row
        assert len(row["as_of"]) == 10 and row["as_of"][4] == "-", row


def test_unknown_price_or_instance_is_a_price_table_error(tmp_path):
    with pytest.raises(PriceTableError, match="not pinned"):
        cost.load_prices().usd("lambda_mips_usd_per_gb_s")
    with pytest.raises(PriceTableError, match="known: c7g.large"):
        cost.load_prices().instance("p5.48xlarge")
    broken = tmp_path / "prices.json"
    broken.write_text('{"prices": {}}')
    with pytest.raises(PriceTableError, match="malformed"):
        cost.load_prices(broken)


# --------------------------------------------------------------------------- Lambda


def test_one_million_requests_of_100_ms_at_1024_mb_x86():
    """The issue's case: 100,000 GB-s x $0.0000166667 = $1.66667, plus $0.20 of requests."""
    c = cost.lambda_monthly_cost(monthly_requests(1e6), LambdaConfig(100, 1024, "x86_64", "function-url"),
                                 costs=NO_ONE_SIDED)
    assert item(c, "compute (x86_64)").quantity == pytest.approx(100_000)
    assert item(c, "compute (x86_64)").monthly_usd == pytest.approx(1.66667, abs=1e-6)
    assert item(c, "requests").monthly_usd == pytest.approx(0.20)
    assert item(c, "Function URL").monthly_usd == 0
    assert c.monthly_usd == pytest.approx(1.86667, abs=1e-6)


def test_arm64_and_front_doors():
    profile = monthly_requests(1e6)
    arm = cost.lambda_monthly_cost(profile, LambdaConfig(100, 1024, "arm64", "function-url"))
    assert item(arm, "compute (arm64)").monthly_usd == pytest.approx(1.33334, abs=1e-6)
    http = cost.lambda_monthly_cost(profile, LambdaConfig(100, 1024, front_door="http-api"))
    rest = cost.lambda_monthly_cost(profile, LambdaConfig(100, 1024, front_door="rest"))
    assert item(http, "API Gateway HTTP API").monthly_usd == pytest.approx(1.00)
    assert item(rest, "API Gateway REST API").monthly_usd == pytest.approx(3.50)
    assert rest.monthly_usd - http.monthly_usd == pytest.approx(2.50)


def test_memory_gb_is_mb_over_1024():
    c = cost.lambda_monthly_cost(monthly_requests(1e6), LambdaConfig(100, 128, front_door="function-url"))
    assert item(c, "compute (x86_64)").quantity == pytest.approx(12_500)  # 1e6 x 0.1 s x 0.125 GB


def test_billed_duration_rounds_each_invocation_up_to_1_ms():
    assert cost.mean_billed_duration_ms([0.2, 1.0, 1.01, 12.3]) == pytest.approx((1 + 1 + 2 + 13) / 4)
    assert cost.mean_billed_duration_ms([12.0, 12.0]) == 12.0
    with pytest.raises(cost.ConfigError):
        cost.mean_billed_duration_ms([])


def test_init_duration_is_billed_once_per_cold_start():
    # 0.01 req/s, keep-alive 0: every request is cold; 26,280 cold starts x 0.5 s x 1 GB.
    c = cost.lambda_monthly_cost(traffic.constant(0.01),
                                 LambdaConfig(10, 1024, front_door="function-url", init_duration_ms=500,
                                              keep_alive_s=0))
    assert c.sizing["cold_start_fraction"] == pytest.approx(1.0)
    assert item(c, "init (cold starts)").quantity == pytest.approx(0.01 * MONTH_S * 0.5)


def test_provisioned_concurrency_idle_cost_and_arm64_refusal():
    # One 1024 MB environment configured all month with no traffic: 2,628,000 GB-s x $0.0000041667.
    c = cost.lambda_monthly_cost(traffic.constant(0.0), LambdaConfig(10, 1024, provisioned_concurrency=1))
    assert item(c, "provisioned concurrency (configured)").monthly_usd == pytest.approx(MONTH_S * 0.0000041667)
    # Demand (0.5 concurrency) fits in the provisioned environment: all duration at the PC rate, no cold starts.
    busy = cost.lambda_monthly_cost(traffic.constant(50.0),
                                    LambdaConfig(10, 1024, provisioned_concurrency=1, keep_alive_s=0))
    assert item(busy, "compute (x86_64)").quantity == pytest.approx(0.0)
    assert item(busy, "provisioned concurrency (duration)").quantity == pytest.approx(50 * MONTH_S * 0.01)
    assert busy.sizing["cold_starts_per_month"] == pytest.approx(0.0)
    with pytest.raises(PriceTableError, match="x86_64 only"):
        cost.lambda_monthly_cost(traffic.constant(1.0), LambdaConfig(10, 1024, "arm64", provisioned_concurrency=1))


@pytest.mark.parametrize("kwargs", [dict(billed_duration_ms=0, memory_mb=1024),
                                    dict(billed_duration_ms=10, memory_mb=64),
                                    dict(billed_duration_ms=10, memory_mb=1024, architecture="mips"),
                                    dict(billed_duration_ms=10, memory_mb=1024, front_door="carrier-pigeon"),
                                    dict(billed_duration_ms=10, memory_mb=1024, reserved_concurrency=0),
                                    dict(billed_duration_ms=10, memory_mb=1024, reserved_concurrency=901),
                                    dict(billed_duration_ms=10, memory_mb=1024, throttle_rate_rps=0.0),
                                    dict(billed_duration_ms=10, memory_mb=1024, reserved_concurrency=2,
                                         provisioned_concurrency=3)])
def test_lambda_config_rejects_impossible_values(kwargs):
    with pytest.raises(cost.ConfigError):
        LambdaConfig(**kwargs)


def test_requests_beyond_the_route_throttling_get_429_and_are_not_billed():
    # 100 req/s offered, 40 req/s admitted: Lambda and the HTTP API bill the 40 only.
    offered = traffic.constant(100.0)
    capped = cost.lambda_monthly_cost(offered, LambdaConfig(10, 1024, throttle_rate_rps=40.0))
    assert item(capped, "requests").quantity == pytest.approx(40 * MONTH_S / 1e6)
    assert item(capped, "API Gateway HTTP API").quantity == pytest.approx(40 * MONTH_S / 1e6)
    assert item(capped, "compute (x86_64)").quantity == pytest.approx(40 * MONTH_S * 0.01)
    assert capped.sizing["throttled_fraction"] == pytest.approx(0.6)
    assert any("429" in note and "not billed" in note for note in capped.notes)


def test_requests_beyond_reserved_concurrency_get_429_and_are_not_billed_by_lambda():
    # 5 environments busy 100 ms each serve 50 req/s; of 80 offered, 30 get 429 from Lambda. The
    # HTTP API passed them on, so it bills all 80.
    c = cost.lambda_monthly_cost(traffic.constant(80.0), LambdaConfig(100, 1024, reserved_concurrency=5))
    assert item(c, "requests").quantity == pytest.approx(50 * MONTH_S / 1e6)
    assert item(c, "API Gateway HTTP API").quantity == pytest.approx(80 * MONTH_S / 1e6)
    assert c.sizing["throttled_per_month"] == pytest.approx(30 * MONTH_S)


def test_caps_that_are_not_reached_change_nothing():
    profile = traffic.diurnal(20.0)
    capped = cost.lambda_monthly_cost(profile, LambdaConfig(10, 1024, reserved_concurrency=100, throttle_rate_rps=1000.0))
    free = cost.lambda_monthly_cost(profile, LambdaConfig(10, 1024))
    assert capped.monthly_usd == pytest.approx(free.monthly_usd)
    assert capped.sizing["throttled_per_month"] == pytest.approx(0.0)


def test_break_even_prices_the_whole_traffic_with_the_caps_lifted():
    lam = LambdaConfig(10, 1024, reserved_concurrency=1, throttle_rate_rps=1.0)
    ctr = ContainerConfig(pod_rps=100.0)
    profile = traffic.constant(5.0)
    assert cost.break_even_rps(profile, lam, ctr) == cost.break_even_rps(profile, lam.uncapped(), ctr)


# --------------------------------------------------------------------------- cold starts


def test_cold_start_fraction_edge_cases():
    # No traffic: nothing is cold (and no division by zero).
    idle = cost.expected_cold_starts(traffic.constant(0.0), 10, 300)
    assert (idle.cold_starts_per_month, idle.cold_start_fraction) == (0.0, 0.0)
    # Keep-alive 0: every request finds its environment gone.
    assert cost.expected_cold_starts(traffic.constant(5.0), 10, 0).cold_start_fraction == pytest.approx(1.0)
    # One environment, Poisson at 0.01 req/s, keep-alive 300 s: P(gap > 300 s) = exp(-3).
    low = cost.expected_cold_starts(traffic.constant(0.01), 10, 300)
    assert low.cold_start_fraction == pytest.approx(math.exp(-3))
    assert low.cold_starts_per_month == pytest.approx(0.01 * MONTH_S * math.exp(-3))
    # Busy steady traffic: environments never idle long enough.
    assert cost.expected_cold_starts(traffic.constant(500.0), 10, 300).cold_start_fraction < 1e-12
    # Little's law: 500 req/s x 10 ms = 5 concurrent environments.
    assert cost.expected_cold_starts(traffic.constant(500.0), 10, 300).mean_concurrency == pytest.approx(5.0)


def test_idle_gaps_longer_than_keep_alive_make_the_next_request_cold():
    # One request every 10 minutes (a minute of traffic, nine idle).
    rates = np.zeros(10)
    rates[0] = 1 / 60
    profile = traffic.TrafficProfile("sparse", rates)
    assert cost.expected_cold_starts(profile, 10, 300).cold_start_fraction == pytest.approx(1.0)
    # With a 15-minute keep-alive the environment survives the 9-minute gap (exp(-15) left).
    assert cost.expected_cold_starts(profile, 10, 900).cold_start_fraction == pytest.approx(math.exp(-15))


def test_scale_out_environments_are_cold():
    # 30 min at 100 req/s x 100 ms = 10 environments, then 30 min at 1000 req/s = 100: 90 new ones
    # per hour-long period, all others warm (the high half ends within keep-alive of the next low half).
    rates = np.array([100.0] * 30 + [1000.0] * 30)
    est = cost.expected_cold_starts(traffic.TrafficProfile("step", rates), 100, 300)
    assert est.cold_starts_per_month == pytest.approx(90 * 730)
    assert est.peak_concurrency == pytest.approx(100.0)


# --------------------------------------------------------------------------- EKS and Fargate


def test_eks_fixed_cost_is_control_plane_two_nodes_and_alb():
    c = cost.eks_monthly_cost(traffic.constant(0.0), ContainerConfig(pod_rps=400), NO_LCU, costs=NO_ONE_SIDED)
    assert item(c, "EKS control plane").monthly_usd == pytest.approx(730 * 0.10) == pytest.approx(73.0)
    assert item(c, "nodes (t3.medium)").monthly_usd == pytest.approx(2 * 730 * 0.0416)
    assert item(c, "ALB hours").monthly_usd == pytest.approx(730 * 0.0225)
    assert c.monthly_usd == pytest.approx(73.0 + 60.736 + 16.425)
    assert (c.sizing["pods"], c.sizing["nodes"]) == (2, 2)


def test_pods_needed_from_peak_headroom_and_minimum():
    cfg = ContainerConfig(pod_rps=250, headroom_factor=1.25, min_replicas=2)
    assert cost.pods_needed(1000, cfg) == 5  # exactly 5.0: no spurious sixth pod
    assert cost.pods_needed(1001, cfg) == 6
    assert cost.pods_needed(0, cfg) == 2


def test_eks_sizes_for_the_peak_minute_not_the_mean():
    rates = np.array([100.0] * 59 + [4000.0])  # one busy minute an hour
    c = cost.eks_monthly_cost(traffic.TrafficProfile("spiky", rates), ContainerConfig(pod_rps=400, headroom_factor=1.0))
    assert c.sizing["pods"] == 10


def test_node_allocatable_follows_the_eks_ami_formula():
    prices = cost.load_prices()
    cpu_m, mem_mib, slots = cost.node_allocatable(prices.instance("t3.medium"), prices.node_overhead)
    assert cpu_m == pytest.approx(2000 - 70 - 125)  # 6 % + 1 % of two cores, aws-node + kube-proxy
    assert mem_mib == pytest.approx(4096 - 255 - 11 * 17 - 100)
    assert slots == 17 - 2


@pytest.mark.parametrize(
    ("instance", "cpu_m", "mem_mib", "pods", "nodes"),
    [
        ("t3.medium", 1000, 1024, 5, 5),    # 1805m allocatable: one 1-CPU pod per node
        ("m6i.large", 500, 1024, 7, 3),     # three per node by CPU; CoreDNS fits in the slack
        ("m6i.large", 250, 3000, 4, 2),     # 7518 MiB allocatable: two per node by memory
        ("t3.medium", 10, 10, 30, 3),       # 15 pod slots per node: 2 CoreDNS + 13, 15, 2
        ("t3.medium", 860, 512, 4, 3),      # 2 per node leaves 85m: CoreDNS needs a third node
    ],
)
def test_bin_packing(instance, cpu_m, mem_mib, pods, nodes):
    cfg = ContainerConfig(pod_rps=1, pod_cpu_m=cpu_m, pod_memory_mib=mem_mib, instance_type=instance, min_nodes=1)
    assert cost.nodes_needed(pods, cfg) == nodes


def test_a_pod_larger_than_a_node_is_refused():
    with pytest.raises(PodDoesNotFitError, match="1805m"):
        cost.nodes_needed(1, ContainerConfig(pod_rps=1, pod_cpu_m=2000))


def test_fargate_sizes_and_hand_worked_cost():
    prices = cost.load_prices()
    assert cost.fargate_pod_size(1000, 1024, prices, on_eks=True) == (1.0, 2.0)   # 1280 MiB -> 2 GB
    assert cost.fargate_pod_size(250, 512, prices, on_eks=False) == (0.25, 0.5)
    assert cost.fargate_pod_size(250, 512, prices, on_eks=True) == (0.25, 1.0)    # +256 MiB
    assert cost.fargate_pod_size(1500, 1024, prices, on_eks=True) == (2.0, 4.0)
    with pytest.raises(PodDoesNotFitError):
        cost.fargate_pod_size(32000, 1024, prices)
    # ECS on Fargate, 2 pods x (0.5 vCPU, 1 GB), idle: 2 x (0.5 x 0.04048 + 1 x 0.004445) x 730 + ALB 16.425.
    cfg = ContainerConfig(pod_rps=400, pod_cpu_m=500, pod_memory_mib=512)
    ecs = cost.fargate_monthly_cost(traffic.constant(0.0), cfg, NO_LCU, on_eks=False, costs=NO_ONE_SIDED)
    assert ecs.monthly_usd == pytest.approx(2 * (0.5 * 0.04048 + 1 * 0.004445) * 730 + 16.425)
    eks = cost.fargate_monthly_cost(traffic.constant(0.0), cfg, NO_LCU, on_eks=True, costs=NO_ONE_SIDED)
    assert eks.monthly_usd - ecs.monthly_usd == pytest.approx(73.0)  # same size (768 MiB -> 1 GB) + control plane


def test_alb_lcus_take_the_largest_dimension():
    profile = traffic.constant(50.0)
    conn = cost.eks_monthly_cost(profile, ContainerConfig(pod_rps=400))  # 50 new conn/s / 25 = 2 LCU
    assert item(conn, "ALB LCUs").quantity == pytest.approx(2 * 730)
    assert item(conn, "ALB LCUs").monthly_usd == pytest.approx(11.68)
    keep_alive = cost.eks_monthly_cost(profile, ContainerConfig(pod_rps=400),
                                       AlbAssumptions(new_connections_per_request=0.0))
    # 50 req/s x 2048 B x 3600 s = 0.3433 GiB/h -> 0.3433 LCU
    assert item(keep_alive, "ALB LCUs").quantity == pytest.approx(50 * 2048 * 3600 / 1024**3 * 730)


# --------------------------------------------------------------------------- break-even and curve


def hand_break_even_case() -> tuple[LambdaConfig, ContainerConfig, float]:
    """Lambda at $4.905... per req/s-month against a flat $150.161 EKS bill."""
    lam = LambdaConfig(100, 1024, front_door="function-url")
    ctr = ContainerConfig(pod_rps=1e6)
    per_rps_month = MONTH_S * (0.20e-6 + 0.1 * 0.0000166667)
    return lam, ctr, (73.0 + 2 * 730 * 0.0416 + 730 * 0.0225) / per_rps_month


def test_break_even_where_the_curves_cross():
    lam, ctr, expected_rps = hand_break_even_case()
    be = cost.break_even_rps(traffic.constant(1.0), lam, ctr, "eks", alb=NO_LCU, costs=NO_ONE_SIDED)
    assert expected_rps == pytest.approx(30.61, abs=0.01)
    assert be.rps == pytest.approx(expected_rps, abs=2e-3)
    assert be.requests_per_month == pytest.approx(be.rps * MONTH_S)
    curve = cost.cost_curve(traffic.constant(1.0), lam, ctr, [0, 10, 30, 31, 60], alb=NO_LCU, costs=NO_ONE_SIDED)
    below = curve.lambda_monthly_usd < curve.eks_monthly_usd
    assert below.tolist() == [True, True, True, False, False]
    assert curve.break_even_eks.rps == pytest.approx(expected_rps, abs=2e-3)


def test_break_even_on_a_step_is_found_and_every_crossing_listed():
    """One 1-CPU pod per t3.medium and 10 req/s per pod: EKS = $89.425 + $30.368 per started 10 req/s.

    Lambda ($4.905609 per req/s) first overtakes 5 nodes at 241.265 / 4.905609 = 49.18 req/s; the
    sixth node at 50 req/s makes it cheaper again until 271.633 / 4.905609 = 55.37, the seventh
    at 60 until 302.001 / 4.905609 = 61.56; past that the gap exceeds one node and stays.
    """
    lam = LambdaConfig(100, 1024, front_door="function-url")
    ctr = ContainerConfig(pod_rps=10, headroom_factor=1.0, min_replicas=1, min_nodes=1)
    be = cost.break_even_rps(traffic.constant(1.0), lam, ctr, "eks", alb=NO_LCU, max_rps=200, costs=NO_ONE_SIDED)
    slope = MONTH_S * (0.20e-6 + 0.1 * 0.0000166667)
    node, fixed = 730 * 0.0416, 73.0 + 730 * 0.0225
    expected = [(fixed + 5 * node) / slope, 50.0, (fixed + 6 * node) / slope, 60.0, (fixed + 7 * node) / slope]
    assert be.crossings_rps == pytest.approx(expected, abs=2e-3)
    assert be.rps == be.crossings_rps[0]


def test_break_even_extremes():
    lam, ctr, _ = hand_break_even_case()
    # Never reached inside the searched range.
    assert cost.break_even_rps(traffic.constant(1.0), lam, ctr, "eks", alb=NO_LCU, max_rps=10).rps is None
    # 1,000 provisioned 10 GB environments cost more than EKS even with no traffic.
    expensive = LambdaConfig(100, 10240, provisioned_concurrency=1000)
    assert cost.break_even_rps(traffic.constant(1.0), expensive, ctr, "fargate", alb=NO_LCU).rps == 0.0


def test_cost_curve_default_range_covers_both_break_evens_and_returns_arrays():
    lam, ctr, expected_rps = hand_break_even_case()
    curve = cost.cost_curve(traffic.diurnal(10.0), lam, ctr, alb=NO_LCU)
    assert isinstance(curve.mean_rps, np.ndarray) and curve.mean_rps.shape == curve.lambda_monthly_usd.shape
    assert curve.mean_rps[0] == 0 and curve.mean_rps[-1] > max(curve.break_even_eks.rps, curve.break_even_fargate.rps)
    assert np.all(np.diff(curve.lambda_monthly_usd) > 0)
    assert np.all(np.diff(curve.eks_monthly_usd) >= 0)
    assert curve.requests_per_month[-1] == pytest.approx(curve.mean_rps[-1] * MONTH_S)


def test_compare_is_data_with_a_schema_version():
    result = cost.compare(traffic.constant(50.0), LambdaConfig(12, 1024), ContainerConfig(pod_rps=400),
                          costs=NO_ONE_SIDED)
    data = result.to_dict()
    assert (data["format"], data["version"]) == ("twinbench.cost", cost.SCHEMA_VERSION)
    assert data["hours_per_month"] == 730
    assert {data["lambda_cost"]["platform"], data["eks_cost"]["platform"], data["fargate_cost"]["platform"]} == {
        "lambda", "eks", "fargate"}
    assert data["cheapest"] == min((result.lambda_cost, result.eks_cost, result.fargate_cost),
                                   key=lambda c: c.monthly_usd).platform
    assert any("ALB LCUs" in a for a in data["assumptions"])
    # Lambda at 50 req/s x 12 ms x 1 GB: 131.4 M requests -> $26.28 + $26.28 + $131.40 (HTTP API).
    assert result.lambda_cost.monthly_usd == pytest.approx(26.28 + 26.28 + 131.40, abs=0.01)
