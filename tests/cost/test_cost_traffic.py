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


def test_trace_reader_is_the_shared_one_and_its_errors_are_cost_model_errors(tmp_path):
    """BOM, limits and encoding come from twinbench.traffic; the cost room sees TraceFormatError."""
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufefftimestamp,count\n2026-01-01T00:00:00Z,60\n2026-01-01T00:02:00Z,120\n".encode())
    p = traffic.from_trace_csv(bom)
    assert p.rps_per_minute.tolist() == [1.0, 0.0, 2.0]
    assert p.warnings and "1 of 3 minutes" in p.warnings[0]
    assert traffic.from_trace_csv(bom, span_minutes=6).minutes == 6
    for body, message in [(b"minute,requests\n0,\xff\n", "not UTF-8"),
                          (b"timestamp,rps\n0001-01-01T00:00:00Z,1\n9999-12-31T00:00:00Z,1\n", "over the limit"),
                          (b"minute,requests\n0,1e300\n", "requests in a minute")]:
        bad = tmp_path / "bad.csv"
        bad.write_bytes(body)
        with pytest.raises(TraceFormatError, match=message):
            traffic.from_trace_csv(bad)
    with pytest.raises(TraceFormatError, match="shorter"):
        traffic.from_trace_csv(bom, span_minutes=2)


def test_rates_and_spans_have_sane_limits():
    with pytest.raises(TrafficError, match="within 0..1,000,000"):
        traffic.constant(1e300)
    with pytest.raises(TrafficError, match="within"):
        traffic.constant(float("nan"))
    with pytest.raises(TrafficError, match="peak hour"):
        traffic.diurnal(5.0, peak_hour_utc=float("nan"))
    with pytest.raises(TrafficError, match="366 days"):
        traffic.TrafficProfile("long", np.zeros(366 * 1440 + 1))
    # The break-even search scales a profile past the input limit: scaling itself must allow it.
    assert traffic.constant(1.0).scaled_to_mean(1e7).peak_rps == pytest.approx(1e7)


@pytest.mark.parametrize(("config", "kwargs", "message"), [
    (cost.ContainerConfig, {"pod_rps": 400, "headroom_factor": float("nan")}, "headroom_factor"),
    (cost.ContainerConfig, {"pod_rps": 400, "headroom_factor": float("inf")}, "headroom_factor"),
    (cost.ContainerConfig, {"pod_rps": 400, "pod_cpu_m": float("nan")}, "pod_cpu_m"),
    (cost.ContainerConfig, {"pod_rps": 1e-300}, "pod_rps"),
    (cost.LambdaConfig, {"billed_duration_ms": 12, "memory_mb": 1024, "keep_alive_s": float("nan")}, "keep_alive_s"),
    (cost.LambdaConfig, {"billed_duration_ms": 1e6, "memory_mb": 1024}, "15-minute"),
    (cost.AlbAssumptions, {"new_connections_per_request": float("nan")}, "finite"),
])
def test_configs_refuse_nan_and_infinities(config, kwargs, message):
    with pytest.raises(cost.ConfigError, match=message):
        config(**kwargs)


def test_break_even_search_range_is_checked():
    lam, ctr = cost.LambdaConfig(12, 1024), cost.ContainerConfig(pod_rps=400)
    for bad in (0.0, float("nan"), 1e300):
        with pytest.raises(cost.ConfigError, match="max_rps"):
            cost.break_even_rps(traffic.constant(5.0), lam, ctr, max_rps=bad)
