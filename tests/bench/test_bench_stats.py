"""twinbench.measure.stats: HDR percentiles, order-statistic CIs, the knee."""

from __future__ import annotations

import random

import pytest
from twinbench.measure.stats import Step, find_knee, quantile_ci, relative_ci_width, summarize


def test_summary_percentiles_match_the_samples_within_hdr_precision():
    samples = [float(i) for i in range(1, 1001)]  # 1..1000 ms
    s = summarize(samples)
    assert s["n"] == 1000
    assert s["median_ms"] == pytest.approx(500, rel=1e-3)
    assert s["p99_ms"] == pytest.approx(990, rel=1e-3)
    assert s["min_ms"] == 1.0 and s["max_ms"] == 1000.0
    assert s["mean_ms"] == pytest.approx(500.5)


def test_empty_summary_is_all_none_not_an_error():
    s = summarize([])
    assert s["n"] == 0 and s["median_ms"] is None and s["ci95"]["p99_ms"] == [None, None]


def test_median_ci_brackets_the_median_and_narrows_with_n():
    rng = random.Random(1)
    small = sorted(rng.lognormvariate(0, 0.5) for _ in range(50))
    large = sorted(rng.lognormvariate(0, 0.5) for _ in range(5000))
    lo_s, hi_s = quantile_ci(small, 0.5)
    lo_l, hi_l = quantile_ci(large, 0.5)
    assert lo_s <= small[25] <= hi_s
    assert lo_l <= large[2500] <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s)


def test_median_ci_of_n_100_uses_the_textbook_ranks():
    # For n = 100, the distribution-free 95 % CI of the median is (X(40), X(61)) (1-based).
    data = [float(i) for i in range(1, 101)]
    assert quantile_ci(data, 0.5) == [40.0, 61.0]


def test_p99_upper_bound_is_none_when_n_is_too_small():
    assert quantile_ci([float(i) for i in range(100)], 0.99)[1] is None
    low, high = quantile_ci([float(i) for i in range(2000)], 0.99)
    assert low is not None and high is not None and low < 1980 < high


def test_ci_coverage_is_about_95_percent():
    rng = random.Random(7)
    hits = 0
    trials = 400
    for _ in range(trials):
        data = sorted(rng.expovariate(1.0) for _ in range(60))
        low, high = quantile_ci(data, 0.5)
        true_median = 0.6931471805599453  # ln 2
        hits += low <= true_median <= high
    assert 0.92 <= hits / trials <= 0.995


def test_relative_ci_width_flags_unstable_medians():
    assert relative_ci_width(summarize([1.0] * 100)) == 0.0
    assert relative_ci_width(summarize([1.0, 50.0])) is None  # n too small for a bounded CI


def _steps(*rows):
    return [Step(offered, achieved, p99, err) for offered, achieved, p99, err in rows]


def test_knee_is_the_highest_rate_under_the_slo():
    steps = _steps((10, 10, 5, 0), (20, 20, 8, 0), (40, 39, 30, 0), (80, 60, 900, 0))
    assert find_knee(steps, slo_ms=100) == 40


def test_knee_stops_at_the_first_failing_step_even_if_a_later_one_passes():
    steps = _steps((10, 10, 5, 0), (20, 20, 150, 0), (40, 40, 50, 0))
    assert find_knee(steps, slo_ms=100) == 10


def test_knee_needs_low_errors_and_delivered_throughput():
    assert find_knee(_steps((10, 10, 5, 0.05)), slo_ms=100) is None  # 5 % errors
    assert find_knee(_steps((10, 5, 5, 0)), slo_ms=100) is None  # delivered half the offered rate
    assert find_knee(_steps((10, 10, None, 0)), slo_ms=100) is None  # no successful answer


def test_knee_ignores_step_order():
    steps = _steps((40, 40, 30, 0), (10, 10, 5, 0), (20, 20, 8, 0))
    assert find_knee(steps, slo_ms=100) == 40
