"""Provisioned concurrency on an hourly schedule: environments change at the top of each UTC hour,
and the configured GB-s are billed per hour as scheduled."""

from __future__ import annotations

import numpy as np
import pytest
from twinbench.cost import pc_schedule
from twinbench.simulate.errors import ParameterError
from twinbench.simulate.params import LambdaParams

HOUR = 3600.0


def _burst(at_s: float, n: int) -> list[float]:
    return [at_s + 0.0001 * i for i in range(n)]


def test_a_flat_schedule_is_the_constant(lambda_run):
    times = _burst(10.0, 5) + _burst(HOUR + 10.0, 5) + [2 * HOUR + 1.0]
    const, lat_c, cold_c = lambda_run(times, 50.0, provisioned_concurrency=3)
    sched, lat_s, cold_s = lambda_run(times, 50.0, provisioned_schedule=(3,) * 24)
    assert lat_c.tolist() == lat_s.tolist() and cold_c.tolist() == cold_s.tolist()
    assert sched["provisioned_configured_gb_s"] == pytest.approx(const["provisioned_configured_gb_s"])


def test_each_hour_gets_its_own_environments_and_is_billed_as_scheduled(lambda_run):
    schedule = [1] * 24
    schedule[1] = 6  # 01:00-02:00 UTC
    times = _burst(10.0, 6) + _burst(HOUR + 10.0, 6) + _burst(2 * HOUR + 10.0, 6)
    res, _, cold = lambda_run(times, 50.0, provisioned_schedule=tuple(schedule), keep_alive_s=60.0)
    # hour 0: 1 provisioned, 5 cold; hour 1: 6 provisioned, none cold; hour 2: back to 1, 5 cold
    assert cold[:6].sum() == 5 and cold[6:12].sum() == 0 and cold[12:].sum() == 5
    minutes = int(times[-1] // 60) + 1
    expected_env_minutes = sum(schedule[(m // 60) % 24] for m in range(minutes))
    assert res["provisioned_configured_gb_s"] == pytest.approx(expected_env_minutes * 60.0 * 1024 / 1024)
    assert res["per_minute"]["environments_max"][60] == 6 and res["per_minute"]["environments_max"][59] == 1


def test_environments_taken_away_while_busy_finish_first(lambda_run):
    schedule = [1] * 24
    schedule[0] = 4
    # four requests of 30 s start at 00:59:50; at 01:00 only 1 is provisioned: a new request at
    # 01:00:05 finds none free (all 4 still busy, 3 of them leaving), so it is cold
    times = _burst(HOUR - 10.0, 4) + [HOUR + 5.0]
    _, _, cold = lambda_run(times, 30_000.0, provisioned_schedule=tuple(schedule))
    assert cold.tolist() == [0, 0, 0, 0, 1]


@pytest.mark.parametrize(("kw", "message"), [
    ({"provisioned_schedule": (1,) * 23}, "24 hourly values"),
    ({"provisioned_schedule": (0,) + (1,) * 23}, ">= 1"),
    ({"provisioned_schedule": (2,) * 24, "provisioned_concurrency": 2}, "not both"),
    ({"provisioned_schedule": (2,) * 24, "snapstart": True}, "SnapStart"),
    ({"provisioned_schedule": (2,) * 24, "architecture": "arm64"}, "x86_64"),
    ({"provisioned_schedule": (20,) * 24, "reserved_concurrency": 10}, "concurrency limit"),
])
def test_bad_schedules_are_parameter_errors(kw, message):
    with pytest.raises(ParameterError, match=message):
        LambdaParams(**kw)


def test_the_param_text_round_trips_and_bad_text_is_refused():
    schedule = tuple(range(1, 25))
    assert pc_schedule.parse(pc_schedule.render(schedule)) == schedule
    assert pc_schedule.parse("none") == () and pc_schedule.render(()) == "none"
    for bad in ("1,2,3", "1/2", "/".join(["x"] * 24)):
        with pytest.raises(pc_schedule.ScheduleError):
            pc_schedule.parse(bad)


def test_a_schedule_from_a_trace_follows_its_hours():
    minutes = 2 * 24 * 60
    conc = np.where((np.arange(minutes) // 60) % 24 == 14, 9.2, 0.3)
    schedule = pc_schedule.from_concurrency(conc, 0.99)
    assert schedule[14] == 10 and all(v == 1 for h, v in enumerate(schedule) if h != 14)
    assert pc_schedule.from_concurrency(conc, 0.99, limit=4)[14] == 4
