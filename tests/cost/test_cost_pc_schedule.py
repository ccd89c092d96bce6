"""The per-minute cost model with provisioned concurrency on an hourly schedule: each hour's count
is billed for that hour, and each minute's duration is absorbed up to that hour's count."""

from __future__ import annotations

import numpy as np
import pytest
from twinbench.cost import model as cost
from twinbench.cost import traffic
from twinbench.cost.model import ConfigError, LambdaConfig
from twinbench.cost.prices import load_prices

MONTH_S = 730 * 3600


def _item(c: cost.PlatformCost, name: str) -> cost.LineItem:
    return next(i for i in c.items if i.name == name)


def test_the_configured_gb_s_follow_the_schedule():
    schedule = tuple([1] * 12 + [5] * 12)  # 1 environment 00-12 UTC, 5 from 12 to 24
    # billed every hour of every day, whatever span the profile covers (here a single minute)
    c = cost.lambda_monthly_cost(traffic.constant(0.0), LambdaConfig(10, 1024, provisioned_schedule=schedule))
    idle = load_prices().usd("lambda_provisioned_x86_64_usd_per_gb_s_idle")
    item = _item(c, "provisioned concurrency (configured)")
    assert item.quantity == pytest.approx(3.0 * MONTH_S)  # the day's mean, 3 environments of 1 GB
    assert item.monthly_usd == pytest.approx(3.0 * MONTH_S * idle)
    assert c.sizing["provisioned_schedule"] == list(schedule)


def test_a_flat_schedule_prices_as_the_constant():
    profile = traffic.TrafficProfile("day", np.linspace(0.0, 400.0, 1440))
    flat = cost.lambda_monthly_cost(profile, LambdaConfig(10, 1024, provisioned_schedule=(2,) * 24))
    const = cost.lambda_monthly_cost(profile, LambdaConfig(10, 1024, provisioned_concurrency=2))
    assert flat.monthly_usd == pytest.approx(const.monthly_usd)


def test_each_minute_s_duration_is_absorbed_up_to_its_hour_s_count():
    # 100 req/s of 20 ms = 2 in flight all day; 2 provisioned only 12-24 UTC: half the duration on demand
    profile = traffic.TrafficProfile("day", np.full(1440, 100.0))
    c = cost.lambda_monthly_cost(profile, LambdaConfig(20, 1024, provisioned_schedule=tuple([1] * 12 + [2] * 12),
                                                       keep_alive_s=0))
    total_gb_s = 100.0 * MONTH_S * 0.02
    assert _item(c, "provisioned concurrency (duration)").quantity == pytest.approx(total_gb_s * 0.75)
    assert _item(c, "compute (x86_64)").quantity == pytest.approx(total_gb_s * 0.25)


@pytest.mark.parametrize("kwargs", [dict(provisioned_schedule=(1,) * 23),
                                    dict(provisioned_schedule=(2,) * 24, provisioned_concurrency=2),
                                    dict(provisioned_schedule=(3,) * 24, reserved_concurrency=2)])
def test_bad_schedules_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        LambdaConfig(10, 1024, **kwargs)
