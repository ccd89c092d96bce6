"""When a calibration disagreement is called inconclusive: the machine, not the stack, was busy."""

from __future__ import annotations

from twinbench.measure.other_work import STEAL_SHARE_WARN
from twinbench.simulate import calibrate


def _report(environment: dict) -> calibrate.CalibrationReport:
    schedule = calibrate.bursty_schedule(seed=7, **calibrate.SHORT)
    measurement = calibrate.Measurement(schedule, None, None, {"cpus": 2, **environment})
    return calibrate.CalibrationReport(measurement, calibrate.Simulated(None, None, {}, None), [], 0.0)


def test_steal_during_a_replay_makes_a_disagreement_inconclusive():
    busy = _report({"steal_share": {"lambda": STEAL_SHARE_WARN + 0.01, "container": 0.0}})
    assert busy.busy_reasons() == [f"the hypervisor took {STEAL_SHARE_WARN + 0.01:.0%} of the CPUs (steal) "
                                   "during the lambda replay"]


def test_a_quiet_machine_gives_no_reason():
    assert _report({"steal_share": {"lambda": STEAL_SHARE_WARN, "container": 0.0},
                    "load_average": [1.5, 1.0, 1.0]}).busy_reasons() == []
    assert _report({}).busy_reasons() == []  # an older document without the field
