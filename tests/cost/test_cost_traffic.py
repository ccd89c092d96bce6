"""Traffic profiles: constant, diurnal and per-minute trace files, including their failure modes."""

from __future__ import annotations

import numpy as np
import pytest
from twinbench.cost import model as cost
from twinbench.cost import traffic
from twinbench.cost.traffic import TraceFormatError, TrafficError


def test_constant_profile_month_is_730_hours():
    p = traffic.constant(50.0)
    assert (p.mean_rps, p.peak_rps, p.minutes) == (50.0, 50.0, 1)
    assert p.requests_per_month == pytest.approx(50 * 730 * 3600) == pytest.approx(131.4e6)


def test_diurnal_profile_keeps_its_mean_and_peak():
    p = traffic.diurnal(10.0, peak_to_mean=1.5, peak_hour_utc=14)
    assert p.minutes == 1440
    assert p.mean_rps == pytest.approx(10.0)
    assert p.peak_rps == pytest.approx(15.0)
    assert int(np.argmax(p.rps_per_minute)) == 14 * 60
    assert p.rps_per_minute.min() == pytest.approx(5.0)
    assert traffic.diurnal(10.0, peak_to_mean=2.0).rps_per_minute.min() == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(TrafficError, match="within"):
        traffic.diurnal(10.0, peak_to_mean=3.0)


def test_scaling_keeps_the_shape():
    p = traffic.diurnal(10.0).scaled_to_mean(40.0)
    assert p.mean_rps == pytest.approx(40.0) and p.peak_rps == pytest.approx(80.0)
    with pytest.raises(TrafficError, match="no traffic"):
        traffic.constant(0.0).scaled_to_mean(1.0)
    with pytest.raises(TrafficError):
        traffic.constant(1.0).scaled_to_mean(-1.0)


def test_profiles_are_read_only():
    p = traffic.constant(5.0)
    with pytest.raises(ValueError):
        p.rps_per_minute[0] = 1.0
    with pytest.raises(TrafficError):
        traffic.TrafficProfile("bad", np.array([1.0, -1.0]))


def test_trace_with_missing_minutes_counts_them_idle(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("# exported from ALB logs\nminute,requests\n10,600\n11,0\n14,1200\n")
    p = traffic.from_trace_csv(trace)
    assert p.minutes == 5  # minutes 10..14
    assert p.rps_per_minute.tolist() == [10.0, 0.0, 0.0, 0.0, 20.0]
    assert p.mean_rps == pytest.approx(6.0)
    assert p.summary()["idle_minutes_fraction"] == pytest.approx(0.6)


def test_trace_with_timestamps_and_rps_in_any_order(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("timestamp,rps,host\n"
                     "2026-11-02T14:02:00Z,3.0,a\n"
                     "2026-11-02T14:00:30Z,1.0,a\n"   # truncated to 14:00
                     "2026-11-02T15:01:00+01:00,2.0,b\n")  # = 14:01 UTC
    assert traffic.from_trace_csv(trace).rps_per_minute.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("time,count\n0,1\n", "header must name"),
        ("minute,requests\n0,1\n0,2\n", ":3: minute 0 appears twice"),
        ("minute,requests\n0,-5\n", ":2: requests must be finite and >= 0"),
        ("minute,requests\n0,lots\n", ":2:"),
        ("minute,requests\n0\n", ":2: expected 2 columns"),
        ("timestamp,rps\n2026-11-02T14:00:00,1\n", "no timezone"),
        ("minute,requests\n", "no rows"),
        ("# only a comment\n", "empty trace"),
    ],
)
def test_malformed_traces_name_the_line(tmp_path, body, message):
    trace = tmp_path / "bad.csv"
    trace.write_text(body)
    with pytest.raises(TraceFormatError, match=message):
        traffic.from_trace_csv(trace)


def test_missing_trace_file_is_a_cost_model_error(tmp_path):
    with pytest.raises(cost.CostModelError, match="cannot read trace"):
        traffic.from_trace_csv(tmp_path / "absent.csv")


def test_trace_profile_drives_cost_and_cold_starts(tmp_path):
    """A day with one busy hour and 23 idle ones: sized for the busy minute, cold after each idle night."""
    trace = tmp_path / "day.csv"
    trace.write_text("minute,requests\n" + "".join(f"{m},{60 * 200}\n" for m in range(600, 660)) + "1439,0\n")
    p = traffic.from_trace_csv(trace)
    assert p.minutes == 840 and p.peak_rps == pytest.approx(200.0)
    eks = cost.eks_monthly_cost(p, cost.ContainerConfig(pod_rps=50, headroom_factor=1.0))
    assert eks.sizing["pods"] == 4
    cold = cost.expected_cold_starts(p, billed_duration_ms=10, keep_alive_s=300)
    # 200 req/s x 10 ms = 2 environments, both new after the idle gap, once per period.
    assert cold.cold_starts_per_month == pytest.approx(2 * (730 * 60 / 840))
