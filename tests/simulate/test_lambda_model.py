"""Lambda cold starts, reuse, limits and billing on hand-built arrival sequences."""

from __future__ import annotations

import pytest
from twinbench.simulate.errors import ParameterError
from twinbench.simulate.params import LambdaParams


def test_keep_alive_expiry_boundary(lambda_run):
    # cold at 0 (busy until 0.11 s); warm at 100 (idle from 100.01 s); 400.00 is 299.99 s idle: warm;
    # then idle from 400.01: 700.03 is 300.02 s idle: reaped, cold.
    res, lat, cold = lambda_run([0.0, 100.0, 400.0, 700.03], 10.0, init_ms=100.0, keep_alive_s=300.0)
    assert cold.tolist() == [1, 0, 0, 1]
    assert lat.tolist() == pytest.approx([110.0, 10.0, 10.0, 110.0])
    assert res["cold_starts"] == 2


def test_most_recently_used_environment_is_reused(lambda_run):
    # Two overlapping requests create environments A and B. One request every 100 s then reuses the
    # most recent (B) only, so A is reaped after 300 s: at t=1000 two concurrent requests find one
    # warm environment. Round-robin (LRU) reuse would have kept both warm: 0 cold at t=1000.
    times = [0.0, 0.001] + [100.0 * k for k in range(1, 10)] + [1000.0, 1000.001]
    res, _, cold = lambda_run(times, 50.0, init_ms=10.0, keep_alive_s=300.0)
    assert cold[:2].tolist() == [1, 1]
    assert cold[2:-2].sum() == 0
    assert cold[-2:].tolist() == [0, 1]
    assert res["cold_starts"] == 3


def test_scaling_token_bucket_throttles_and_refills_continuously(lambda_run):
    # 10 tokens refilled at 1/s: 15 simultaneous long requests -> 10 cold, 5 throttled; 5 s later
    # 5 tokens are back (continuous refill), so 5 more new environments start.
    times = [0.001 * i for i in range(15)] + [5.02 + 0.001 * i for i in range(5)]
    res, lat, cold = lambda_run(times, 100_000.0, scale_rate_per_10s=10.0)
    assert cold[:10].sum() == 10
    assert (lat[10:15] == -1).all()
    assert cold[15:].sum() == 5
    assert res["throttled"] == 5 and res["cold_starts"] == 15


def test_reserved_concurrency_throttles_past_the_limit(lambda_run):
    res, lat, _ = lambda_run([0.0, 0.001, 0.002, 0.003, 0.004], 10_000.0, reserved_concurrency=3)
    assert (lat == -1).sum() == 2 and res["throttled"] == 2
    assert res["max_concurrency"] == 3


def test_route_throttling_turns_requests_away_before_lambda(lambda_run):
    # A bucket of 3 refilled at 2/s: 5 at once -> 3 served, 2 route-throttled; 1 s later 2 tokens are back.
    times = [0.001 * i for i in range(5)] + [1.005 + 0.001 * i for i in range(3)]
    res, lat, cold = lambda_run(times, 1.0, throttle_rate_rps=2.0, throttle_burst=3)
    assert (lat[3:5] == -1).all() and (lat[:3] > 0).all()
    assert (lat[5:7] > 0).all() and lat[7] == -1
    assert res["route_throttled"] == 3 and res["throttled"] == 3 and res["served"] == 5
    # Never invoked, never billed: the billed ms are the served requests' alone.
    served_ms = sum(1 + (100 if c else 0) for c, lat_ms in zip(cold, lat, strict=True) if lat_ms > 0)
    assert res["billed_ms"] == served_ms


def test_route_throttling_off_by_default_in_the_model(lambda_run):
    res, _, _ = lambda_run([0.0001 * i for i in range(50)], 1.0)
    assert res["route_throttled"] == 0 and res["throttled"] == 0


def test_throttled_requests_are_not_billed():
    """The bill counts invocations of served requests and front-door requests that reached Lambda."""
    from twinbench.simulate import engine, profiles
    from twinbench.simulate.hpa import DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, HpaSpec
    from twinbench.simulate.inputs import default_inputs
    from twinbench.simulate.params import KubeParams

    inputs = default_inputs()
    lam = LambdaParams(throttle_rate_rps=10.0, throttle_burst=5)
    config = engine.SimulationConfig(profiles.constant(50.0, 2, 0), lam, KubeParams(),
                                     HpaSpec(1, 1, 0.7, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN),
                                     inputs.lambda_duration, inputs.lambda_init, inputs.container_service,
                                     platforms=("lambda",))
    res = engine.simulate(config).lambda_
    assert res["route_throttled"] > 0
    items = {i["name"].split(" (")[0]: i for i in res["cost"]["items"]}
    per_span = res["cost"]["months_per_span"]
    assert items["invocations"]["quantity"] * per_span * 1e6 == pytest.approx(res["served"])
    assert items["front door"]["quantity"] * per_span * 1e6 == pytest.approx(res["requests"] - res["route_throttled"])


def test_account_limit_and_warm_reuse_after_completion(lambda_run):
    res, lat, cold = lambda_run([0.0, 0.001, 0.002, 20.0], 1_000.0, account_concurrency=2)
    assert lat[2] == -1  # two in flight: the third is throttled
    assert cold[3] == 0  # later, an idle environment is reused


def test_provisioned_environments_are_never_cold(lambda_run):
    res, _, cold = lambda_run([0.0, 0.001, 0.002], 1_000.0, provisioned_concurrency=2)
    assert cold.tolist() == [0, 0, 1]
    assert res["max_environments"] == 3


def test_billing_rounds_up_per_invocation_and_bills_init_on_cold(lambda_run):
    res, _, _ = lambda_run([0.0, 10.0], 5.2, init_ms=100.4, memory_mb=2048)
    assert res["billed_ms"] == 106 + 6  # ceil(100.4 + 5.2) for the cold one, ceil(5.2) warm
    assert res["billed_gb_s"] == pytest.approx(0.112 * 2.0)


def test_environment_seconds_include_the_keep_alive(lambda_run):
    res, _, _ = lambda_run([0.0, 1000.0], 1_000.0, init_ms=0.001, keep_alive_s=300.0)
    # two lifetimes of (1 s busy + 300 s idle); the second is cut at the end of its minute span
    assert res["environment_seconds"] == pytest.approx(301.0 + (1020.0 - 1000.0), abs=0.01)


@pytest.mark.parametrize("kwargs", [{"keep_alive_s": float("nan")}, {"keep_alive_s": -1.0},
                                    {"memory_mb": 64}, {"reserved_concurrency": 2000},
                                    {"reserved_concurrency": 901}, {"reserved_concurrency": 0},
                                    {"throttle_rate_rps": 5.0}, {"throttle_rate_rps": 0.0, "throttle_burst": 3},
                                    {"scale_rate_per_10s": 0.0}, {"provisioned_concurrency": 5, "architecture": "arm64"}])
def test_bad_parameters_are_typed_errors(kwargs):
    with pytest.raises(ParameterError):
        LambdaParams(**kwargs)
