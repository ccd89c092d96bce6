"""Provisioned concurrency as an hourly schedule: offered by the search, cheaper than the constant
that covers the busiest hour, written for the deploy script, and read back as written."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from twinbench.cost import pc_schedule
from twinbench.recommend import space, write
from twinbench.recommend.search import evaluate_lambda
from twinbench.simulate import overlay
from twinbench.simulate.slo import Slo

from .conftest import base_config

REPO = Path(__file__).resolve().parents[2]
SLO = Slo(150.0, 99.0, 0.01)


@pytest.fixture(scope="module")
def two_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days: 1 request a minute, except 13:00-15:00 UTC at 600 req/s (a few requests in flight)."""
    m = np.arange(2 * 24 * 60)
    counts = np.where(((m // 60) % 24 >= 13) & ((m // 60) % 24 < 15), 36_000, 1)
    path = tmp_path_factory.mktemp("trace") / "two_days.csv"
    path.write_text("minute,requests\n" + "".join(f"{i},{c}\n" for i, c in enumerate(counts)), encoding="utf-8")
    return path


def test_the_space_offers_hourly_schedules_shaped_like_the_trace(two_days):
    base = base_config("--trace", str(two_days), "--seed", "1")
    dims = space.lambda_space(base.profile.counts, base.lambda_duration.mean_ms, 100, 1000, functions=2)
    schedules = [s for s in dims["provisioned_schedule"] if s]
    assert () in dims["provisioned_schedule"] and schedules
    for s in schedules:
        assert len(s) == pc_schedule.HOURS and min(s) == 1
        assert s[13] == s[14] == max(s) > 1  # the busy hours get the most
        assert all(s[h] == 1 for h in range(24) if h not in (13, 14))


def test_a_schedule_costs_less_than_the_constant_that_covers_the_peak(two_days):
    base = base_config("--trace", str(two_days), "--seed", "1")
    dims = space.lambda_space(base.profile.counts, base.lambda_duration.mean_ms, 100, 1000, functions=2)
    peak = next(s for s in reversed(dims["provisioned_schedule"]) if s)
    make = space.lambda_maker(100, 1000.0, 100)
    constant = make(memory_mb=1024, architecture="x86_64", provisioned_concurrency=max(peak), reserved_concurrency=100,
                    snapstart=False, provisioned_schedule=())
    scheduled = replace(constant, provisioned_concurrency=0, provisioned_schedule=peak)
    a = evaluate_lambda(base, constant, SLO, base.lambda_params.memory_mb)
    b = evaluate_lambda(base, scheduled, SLO, base.lambda_params.memory_mb)
    assert b.cost_usd_per_month < a.cost_usd_per_month
    # at the top of hour 13 the schedule has the environments the constant has
    assert b.cold_starts <= a.cold_starts + 24


def test_the_written_schedule_passes_the_deploy_preflight_and_reads_back(two_days, tmp_path):
    schedule = tuple([1] * 13 + [4, 4] + [1] * 9)
    choice = space.LambdaChoice(1024, "x86_64", 0, 100, False, 1000.0, 100, schedule)
    path = write.write_lambda_params(choice, tmp_path, "test")
    params = json.loads(path.read_text())["params"]
    assert params["provisionedSchedule"] == "/".join(map(str, schedule)) and params["provisionedConcurrency"] == 1
    assert overlay.read_lambda_params(path).provisioned_schedule == schedule
    out = subprocess.run(["bash", "scripts/deploy_lambda.sh", "--preflight", "--params-file", str(path),
                          "--param", "modelSha256=none"], cwd=REPO, capture_output=True, text=True, env={**os.environ})
    assert out.returncode == 0, out.stderr
    none = write.write_lambda_params(replace(choice, provisioned_schedule=()), tmp_path / "none", "test")
    assert json.loads(none.read_text())["params"]["provisionedSchedule"] == "none"


def test_the_recommendation_describes_a_schedule():
    from twinbench.recommend.document import describe_config

    schedule = [1] * 13 + [4, 4] + [1] * 9
    choice = space.LambdaChoice(1024, "x86_64", 0, 100, False, None, None, tuple(schedule))
    assert "PC hourly 1..4" in describe_config(choice.to_dict())


def test_a_schedule_and_a_constant_together_or_with_snapstart_are_not_offered():
    s = tuple([2] * 24)
    c = space.LambdaChoice(1024, "x86_64", 0, 100, False, None, None, s)
    assert space.lambda_valid(c)
    assert not space.lambda_valid(replace(c, provisioned_concurrency=2))
    assert not space.lambda_valid(replace(c, snapstart=True))
    assert not space.lambda_valid(replace(c, architecture="arm64"))
    assert not space.lambda_valid(replace(c, reserved_concurrency=1))
