"""Settings precedence, serverless.yml memory default, and the CPU quota arithmetic (no processes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from twinbench.local_lambda.settings import LambdaSettings, lambda_vcpu
from twinbench.local_lambda.throttle import RouteThrottle
from twinserve_support.lambda_caps import CapsError, check_reserved_concurrency, deployed_caps
from twinserve_support.process import cgroup


def test_env_vars_then_explicit_arguments(tmp_path: Path):
    environ = {"LAMBDA_MEMORY_MB": "512", "LAMBDA_RESERVED_CONCURRENCY": "3", "LAMBDA_IDLE_S": "7.5",
               "LAMBDA_TIMEOUT_S": "4"}
    s = LambdaSettings.from_env(tmp_path, environ)
    assert (s.memory_mb, s.reserved_concurrency, s.idle_s, s.timeout_s) == (512, 3, 7.5, 4.0)
    assert s.concurrency_limit == 3
    s = LambdaSettings.from_env(tmp_path, environ, memory_mb=1769, reserved_concurrency=None)
    assert s.memory_mb == 1769 and s.reserved_concurrency == 3  # None = "not given", env stays
    assert s.vcpu == pytest.approx(1.0)


def test_caps_default_to_what_serverless_yml_deploys(tmp_path: Path):
    caps = deployed_caps()
    assert caps.reserved_concurrency and caps.throttle_rate_rps and caps.throttle_burst  # capped by default
    s = LambdaSettings.from_env(tmp_path, {"LAMBDA_RESERVED_CONCURRENCY": ""})  # empty = not given
    assert (s.reserved_concurrency, s.throttle_rate_rps, s.throttle_burst) == (
        caps.reserved_concurrency, caps.throttle_rate_rps, caps.throttle_burst)
    # The reservation, within the emulator's account concurrency (a local bound on environments).
    assert s.concurrency_limit == min(caps.reserved_concurrency, s.account_concurrency)
    bounded = LambdaSettings.from_env(tmp_path, {"LAMBDA_ACCOUNT_CONCURRENCY": "16"})
    assert bounded.concurrency_limit == 16  # an account bound holds whatever the reservation
    s = LambdaSettings.from_env(tmp_path, {"LAMBDA_PARAMS": "reservedConcurrency=5 throttleRateLimit=20 throttleBurstLimit=7"})
    assert (s.reserved_concurrency, s.throttle_rate_rps, s.throttle_burst) == (5, 20.0, 7)
    s = LambdaSettings.from_env(tmp_path, {"LAMBDA_RESERVED_CONCURRENCY": "3", "LAMBDA_THROTTLE_RATE_RPS": "2.5",
                                           "LAMBDA_THROTTLE_BURST": "4"})
    assert (s.reserved_concurrency, s.throttle_rate_rps, s.throttle_burst) == (3, 2.5, 4)


def test_none_lifts_the_caps(tmp_path: Path):
    s = LambdaSettings.from_env(tmp_path, {"LAMBDA_RESERVED_CONCURRENCY": "none", "LAMBDA_THROTTLE_RATE_RPS": "none",
                                           "LAMBDA_THROTTLE_BURST": "none"})
    assert s.reserved_concurrency is None and s.concurrency_limit == s.account_concurrency
    assert s.throttle_rate_rps is None and s.throttle_burst is None


def test_route_throttle_is_a_token_bucket_per_route():
    now = [0.0]
    bucket = RouteThrottle(rate_rps=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.admit("POST /predict") for _ in range(4)] == [True, True, True, False]
    assert bucket.admit("GET /health")  # another route, another bucket
    now[0] = 0.49
    assert not bucket.admit("POST /predict")  # 0.98 tokens
    now[0] = 0.5
    assert bucket.admit("POST /predict") and not bucket.admit("POST /predict")
    now[0] = 100.0
    assert [bucket.admit("POST /predict") for _ in range(4)] == [True, True, True, False]  # never above burst
    assert bucket.rejected == 4


@pytest.mark.parametrize("reserved, functions, account, ok", [
    (100, 2, 1000, True), (450, 2, 1000, True), (451, 2, 1000, False), (900, 1, 1000, True),
    (901, 1, 1000, False), (0, 1, 1000, False), (None, 2, 1000, True), (5, 1, 10, False)])
def test_reserved_concurrency_leaves_100_unreserved(reserved, functions, account, ok):
    if ok:
        check_reserved_concurrency(reserved, functions, account)
    else:
        with pytest.raises(CapsError):
            check_reserved_concurrency(reserved, functions, account)


def test_memory_timeout_and_architecture_default_to_what_serverless_yml_deploys(tmp_path: Path):
    """memorySize is ${param:memoryMb} in serverless.yml: the stage's and --param's value, not a fixed 1024."""
    s = LambdaSettings.from_env(tmp_path, {"LAMBDA_PARAMS": "memoryMb=512 arch=arm64 timeoutSeconds=7"})
    assert (s.memory_mb, s.timeout_s, s.architecture) == (512, 7.0, "arm64")
    s = LambdaSettings.from_env(tmp_path, {"LAMBDA_PARAMS": "memoryMb=512", "LAMBDA_MEMORY_MB": "2048"})
    assert s.memory_mb == 2048  # the explicit variable still wins


@pytest.mark.parametrize("bad", [{"memory_mb": 64}, {"idle_s": 0}, {"handler": "nodot"},
                                 {"reserved_concurrency": -1}, {"throttle_rate_rps": 1.0},
                                 {"throttle_rate_rps": 0.0, "throttle_burst": 1},
                                 {"throttle_rate_rps": 1.0, "throttle_burst": 0}])
def test_invalid_settings_raise(tmp_path: Path, bad):
    with pytest.raises(ValueError):
        LambdaSettings(package_dir=tmp_path, **bad)


def test_quota_is_memory_over_1769():
    assert lambda_vcpu(1769) == 1.0 and lambda_vcpu(1024) == pytest.approx(0.5788, abs=1e-4)
    assert cgroup.quota_us(1024 / 1769) == 57886  # 0.579 vCPU per 100 ms period
    assert cgroup.quota_us(1.0) == 100_000
    assert cgroup.quota_us(0.001) == 1000  # kernel minimum


def test_quota_never_raises_where_not_allowed(tmp_path: Path):
    quota = cgroup.CpuQuota(0.5, root=tmp_path / "no-cgroupfs")
    assert quota.applied is False and quota.reason
    assert quota.attach("env", 1) is False
    quota.close()
    assert cgroup.CpuQuota(0.5, enabled=False).describe()["cpu_quota_applied"] is False
