"""Statistics over raw latency samples: HDR-histogram percentiles, order-statistic 95% CIs, the knee.

Percentiles come from an HdrHistogram (1 µs resolution, 3 significant digits, up to 10 min), so
they agree with what HdrHistogram-based tools (wrk2, Gatling) would print for the same samples.
Confidence intervals come from the *raw* samples with the distribution-free order-statistic method
(the rank of a quantile's estimate is binomial), which needs no assumption about the latency
distribution and, unlike a bootstrap, says honestly when n is too small: the bound is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

__all__ = [
    "CI_METHOD",
    "HISTOGRAM_RANGE_US",
    "Step",
    "find_knee",
    "histogram_from_ms",
    "quantile_ci",
    "summarize",
]

HISTOGRAM_RANGE_US = (1, 600_000_000)  # 1 µs .. 10 min
HISTOGRAM_DIGITS = 3
CI_METHOD = "order-statistic (binomial) 95% CI from raw samples"
CONFIDENCE = 0.95


def histogram_from_ms(samples_ms: Iterable[float]) -> HdrHistogram:
    """Record latencies given in milliseconds into an HdrHistogram counting microseconds."""
    low, high = HISTOGRAM_RANGE_US
    hist = HdrHistogram(low, high, HISTOGRAM_DIGITS)
    for value_ms in samples_ms:
        hist.record_value(min(high, max(low, round(value_ms * 1000.0))))
    return hist


def _binom_ppf(p: float, n: int, q: float) -> int:
    """Smallest k with P(Binom(n, q) <= k) >= p."""
    from scipy.stats import binom  # deferred: scipy costs ~0.5 s to import

    return int(binom.ppf(p, n, q))


def quantile_ci(sorted_ms: Sequence[float], q: float, confidence: float = CONFIDENCE) -> list[float | None]:
    """Distribution-free CI for the ``q`` quantile from ascending raw samples.

    With ``B ~ Binom(n, q)``, ``P(X(r) <= xi_q <= X(s)) = P(r <= B <= s-1)``; ``r``/``s`` are picked
    symmetric in probability. A bound that falls outside the sample (too few samples for that
    tail: e.g. p99 needs n >= ~300 for a finite upper bound) is ``None``. Returns ``[low, high]``.
    """
    n = len(sorted_ms)
    if n == 0:
        return [None, None]
    alpha = 1.0 - confidence
    r = _binom_ppf(alpha / 2, n, q)  # 1-based rank of the lower bound
    s = _binom_ppf(1 - alpha / 2, n, q) + 1  # 1-based rank of the upper bound
    low = sorted_ms[r - 1] if 1 <= r <= n else None
    high = sorted_ms[s - 1] if 1 <= s <= n else None
    return [low, high]


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 < q <= 100) by nearest rank: the smallest sample with at least q %
    of the samples at or below it.

    The one percentile definition of every figure in a report: HdrHistogram's
    ``get_value_at_percentile`` (client side, :func:`summarize`) is the same rule over 1-µs
    buckets, so client- and provider-side percentiles in one report are comparable.
    """
    n = len(sorted_values)
    rank = max(1, math.ceil(q / 100.0 * n))
    return sorted_values[min(rank, n) - 1]


def distribution(values: Iterable[float]) -> dict[str, float | int | None]:
    """n, min, p50, p90, p99, max, mean of raw values (nearest-rank percentiles), in their unit.

    For provider-side figures (REPORT durations, pod start-up phases), where there are few
    samples and no histogram is kept. An empty input gives ``n = 0`` and ``None`` everywhere.
    """
    xs = sorted(values)
    n = len(xs)
    if not n:
        return {"n": 0, "min": None, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    return {"n": n, "min": xs[0], "p50": nearest_rank(xs, 50), "p90": nearest_rank(xs, 90),
            "p99": nearest_rank(xs, 99), "max": xs[-1], "mean": math.fsum(xs) / n}


def summarize(samples_ms: Sequence[float]) -> dict[str, object]:
    """n, median, p50/p90/p95/p99/p99.9, mean, min, max (ms) and 95% CIs of median and p99.

    Percentiles from an HdrHistogram of the samples; CIs from the sorted raw samples. An empty
    input gives ``n = 0`` and ``None`` everywhere (a scenario that produced no successful answer).
    """
    n = len(samples_ms)
    out: dict[str, object] = {"n": n, "ci_method": CI_METHOD}
    keys = ("median_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "mean_ms", "min_ms", "max_ms")
    if n == 0:
        out.update(dict.fromkeys(keys))
        out["ci95"] = {"median_ms": [None, None], "p99_ms": [None, None]}
        return out
    hist = histogram_from_ms(samples_ms)

    def pct(p: float) -> float:
        return round(hist.get_value_at_percentile(p) / 1000.0, 3)

    ordered = sorted(samples_ms)
    out.update(
        median_ms=pct(50),
        p50_ms=pct(50),
        p90_ms=pct(90),
        p95_ms=pct(95),
        p99_ms=pct(99),
        p999_ms=pct(99.9),
        mean_ms=round(math.fsum(ordered) / n, 3),
        min_ms=round(ordered[0], 3),
        max_ms=round(ordered[-1], 3),
    )
    out["ci95"] = {
        "median_ms": [_r(v) for v in quantile_ci(ordered, 0.5)],
        "p99_ms": [_r(v) for v in quantile_ci(ordered, 0.99)],
    }
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def relative_ci_width(summary: dict) -> float | None:
    """Width of the median's CI relative to the median; ``None`` if unbounded. Used to flag instability."""
    low, high = summary["ci95"]["median_ms"]
    median = summary.get("median_ms")
    if low is None or high is None or not median:
        return None
    return (high - low) / median


@dataclass(frozen=True, slots=True)
class Step:
    """What :func:`find_knee` needs of one load step."""

    offered_rps: float
    achieved_rps: float
    p99_ms: float | None
    error_rate: float


MIN_ACHIEVED_FRACTION = 0.9  # a step that delivered < 90 % of the offered rate is saturated
MAX_ERROR_RATE = 0.01


def find_knee(steps: Iterable[Step], slo_ms: float) -> float | None:
    """The highest offered rate whose p99 is within ``slo_ms`` (and errors <= 1 %, throughput >= 90 %).

    Steps above a failing step do not count even if they happen to pass (a noisy pass past the
    first failure is not capacity one can plan with). ``None`` when even the lowest step fails.
    """
    knee: float | None = None
    for step in sorted(steps, key=lambda s: s.offered_rps):
        ok = (
            step.p99_ms is not None
            and step.p99_ms <= slo_ms
            and step.error_rate <= MAX_ERROR_RATE
            and step.achieved_rps >= MIN_ACHIEVED_FRACTION * step.offered_rps
        )
        if not ok:
            break
        knee = step.offered_rps
    return knee
