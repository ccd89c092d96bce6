"""Traffic profiles as requests per minute, and the arrival times inside each minute.

A profile is an integer count of requests for every minute of the simulated span
(``MinuteCounts``): ``constant``, ``diurnal``, or a trace file (per-minute CSV, Azure Functions
2019). Arrival times are drawn from it chunk by chunk (Poisson arrivals conditioned on each
minute's count, one seeded ``numpy`` Generator), so a day at 1,000 req/s never sits in memory at once.

Details (the arrival model, the sources): docs/simulation.md, 'Traffic profiles (profiles.py)'.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twinbench.simulate.errors import ProfileError
from twinbench.traffic.traces import (
    MAX_MINUTES,
    MAX_REQUESTS_PER_MINUTE,
    MINUTES_PER_DAY,
    AzureFunction,
    MinuteTrace,
    TraceError,
    read_azure_csv,
    read_minute_csv,
)
from twinbench.traffic.traces import azure_functions as _azure_functions

__all__ = [
    "MAX_MINUTES",
    "MAX_REQUESTS_PER_MINUTE",
    "MAX_SIMULATED_MINUTE",
    "MAX_SIMULATED_REQUESTS",
    "AzureFunction",
    "MinuteCounts",
    "arrival_chunks",
    "azure_functions",
    "check_simulatable",
    "constant",
    "diurnal",
    "from_azure_csv",
    "from_minute_csv",
    "load_profile",
]



@dataclass(frozen=True)
class MinuteCounts:
    """Requests arriving in each minute of the simulated span (int64, read-only).

    ``warnings`` carries what the reader had to assume (skipped minutes filled as idle), so
    the CLI prints it and the JSON document records it.
    """

    name: str
    counts: np.ndarray = field(repr=False)
    description: str = ""
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts)
        if counts.ndim != 1 or counts.size == 0:
            raise ProfileError("a traffic profile needs at least one minute")
        if counts.size > MAX_MINUTES:
            raise ProfileError(f"span of {counts.size:,} minutes exceeds the limit of {MAX_MINUTES:,} (366 days)")
        if counts.dtype.kind == "f" and not np.all(np.isfinite(counts)):
            raise ProfileError("request counts must be finite")
        if np.any(counts < 0):
            raise ProfileError("request counts must be >= 0")
        if np.any(counts > MAX_REQUESTS_PER_MINUTE):
            raise ProfileError(f"a minute with more than {MAX_REQUESTS_PER_MINUTE:,} requests (1 M req/s) is refused")
        fixed = counts.astype(np.int64)
        fixed.setflags(write=False)
        object.__setattr__(self, "counts", fixed)

    @property
    def minutes(self) -> int:
        return int(self.counts.size)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def span_s(self) -> float:
        return self.minutes * 60.0

    @property
    def mean_rps(self) -> float:
        return self.total / self.span_s

    @property
    def peak_rps(self) -> float:
        """Busiest minute's mean rate, req/s."""
        return float(self.counts.max()) / 60.0

    @property
    def idle_minutes(self) -> int:
        return int(np.count_nonzero(self.counts == 0))

    def scaled_to_mean(self, mean_rps: float) -> MinuteCounts:
        """Same shape at another mean rate (only when the user asks for it).

        Counts are rounded on the running total, so the scaled total is exact to one request
        and no minute drifts by more than one request from its share.
        """
        if not (math.isfinite(mean_rps) and mean_rps > 0):
            raise ProfileError(f"--scale needs a finite mean rate > 0, got {mean_rps}")
        if self.total == 0:
            raise ProfileError(f"profile {self.name!r} carries no traffic, so it cannot be rescaled")
        factor = mean_rps * self.span_s / self.total
        running = np.rint(np.cumsum(self.counts.astype(np.float64)) * factor)
        scaled = np.diff(np.concatenate(([0.0], running)))
        return MinuteCounts(self.name, scaled.astype(np.int64),
                            f"{self.description}, rescaled to a mean of {mean_rps:g} req/s", self.warnings)

    def summary(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "minutes": self.minutes,
                "requests": self.total, "mean_rps": self.mean_rps, "peak_minute_rps": self.peak_rps,
                "idle_minutes": self.idle_minutes, "warnings": list(self.warnings)}


MAX_SIMULATED_MINUTE = 12_000_000
"""Most requests in one minute the per-request simulator takes (200,000 req/s): a minute is one
chunk in memory, about 1 GB at this size; the traces allow more, which the cost model prices."""
MAX_SIMULATED_REQUESTS = 2_000_000_000
"""Most requests in one simulation: about twenty minutes at the engine's speed on this 2-core machine."""


def check_simulatable(profile: MinuteCounts) -> MinuteCounts:
    """``profile`` if one per-request simulation can run it in bounded memory and time; else ProfileError."""
    peak, total = int(profile.counts.max()), profile.total
    fix = "--scale R lowers the rate, --span-minutes shortens a trace; `twinbench cost` prices any rate"
    if peak > MAX_SIMULATED_MINUTE:
        raise ProfileError(f"a minute of {peak:,} requests is more than the simulator takes in one minute "
                           f"({MAX_SIMULATED_MINUTE:,}, 200,000 req/s): {fix}")
    if total > MAX_SIMULATED_REQUESTS:
        raise ProfileError(f"{total:,} requests is more than one simulation runs ({MAX_SIMULATED_REQUESTS:,}): {fix}")
    return profile


def _check_rate(name: str, value: float, *, positive: bool = False) -> float:
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ProfileError(f"{name} must be finite and {'> 0' if positive else '>= 0'}, got {value}")
    return float(value)


def _check_minutes(minutes: int) -> int:
    if not 1 <= minutes <= MAX_MINUTES:
        raise ProfileError(f"minutes must be within 1..{MAX_MINUTES}, got {minutes}")
    return int(minutes)


def constant(rps: float, minutes: int = MINUTES_PER_DAY, seed: int = 0) -> MinuteCounts:
    """A Poisson process at ``rps`` req/s for ``minutes`` minutes (counts drawn per minute)."""
    rps = _check_rate("rate", rps)
    minutes = _check_minutes(minutes)
    if rps * 60.0 > MAX_REQUESTS_PER_MINUTE:
        raise ProfileError(f"rate {rps:g} req/s exceeds {MAX_REQUESTS_PER_MINUTE / 60:,.0f} req/s")
    counts = np.random.default_rng(seed).poisson(rps * 60.0, minutes)
    return MinuteCounts("constant", counts, f"Poisson arrivals at {rps:g} req/s for {minutes} min")


def diurnal(mean_rps: float, peak_to_mean: float = 2.0, peak_hour_utc: float = 14.0,
            minutes: int = MINUTES_PER_DAY, seed: int = 0) -> MinuteCounts:
    """A 24-h sinusoid (the cost model's shape) with Poisson counts per minute."""
    mean_rps = _check_rate("mean rate", mean_rps)
    if not (math.isfinite(peak_to_mean) and 1.0 <= peak_to_mean <= 2.0):
        raise ProfileError(f"peak_to_mean must be within [1, 2] for a sinusoid, got {peak_to_mean}")
    if not (math.isfinite(peak_hour_utc) and 0.0 <= peak_hour_utc < 24.0):
        raise ProfileError(f"peak hour must be within [0, 24), got {peak_hour_utc}")
    minutes = _check_minutes(minutes)
    if mean_rps * peak_to_mean * 60.0 > MAX_REQUESTS_PER_MINUTE:
        raise ProfileError(f"peak rate exceeds {MAX_REQUESTS_PER_MINUTE / 60:,.0f} req/s")
    m = np.arange(minutes, dtype=float)
    rates = mean_rps * (1.0 + (peak_to_mean - 1.0) * np.cos(2.0 * np.pi * (m - peak_hour_utc * 60.0) / MINUTES_PER_DAY))
    counts = np.random.default_rng(seed).poisson(np.clip(rates, 0.0, None) * 60.0)
    return MinuteCounts("diurnal", counts, f"24 h sinusoid, mean {mean_rps:g} req/s, peak/mean {peak_to_mean:g}")


@contextmanager
def _as_profile_error() -> Iterator[None]:
    """The shared reader's TraceError becomes this room's ProfileError (one line, exit 2)."""
    try:
        yield
    except TraceError as exc:
        raise ProfileError(str(exc)) from None


def _counts(trace: MinuteTrace) -> np.ndarray:
    # Whole requests per minute: rps exports are fractional; round half to even, as round() did.
    return np.rint(trace.requests_per_minute).astype(np.int64)


def from_minute_csv(path: str | Path, span_minutes: int | None = None) -> MinuteCounts:
    """Read a per-minute CSV with the shared reader (``twinbench.traffic``); raises ProfileError."""
    with _as_profile_error():
        trace = read_minute_csv(path, span_minutes)
    return MinuteCounts(trace.name, _counts(trace), trace.description, trace.warnings)


def azure_functions(path: str | Path) -> list[AzureFunction]:
    """Every function in an Azure trace, busiest first; raises ProfileError."""
    with _as_profile_error():
        return _azure_functions(path)


def from_azure_csv(path: str | Path, function: str = "rank:1") -> MinuteCounts:
    """One function of an Azure Functions trace: ``rank:N`` or a (unique prefix of a) HashFunction."""
    with _as_profile_error():
        trace = read_azure_csv(path, function)
    return MinuteCounts(trace.name, _counts(trace), trace.description, trace.warnings)


def load_profile(kind: str, *, rps: float | None = None, minutes: int = MINUTES_PER_DAY,
                 peak_to_mean: float = 2.0, trace: str | None = None, function: str = "rank:1",
                 span_minutes: int | None = None, seed: int = 0) -> MinuteCounts:
    """The profile the CLI options describe; raises ProfileError on a bad combination."""
    if kind in ("constant", "diurnal"):
        if rps is None:
            raise ProfileError(f"--profile {kind} needs --rps")
        return constant(rps, minutes, seed) if kind == "constant" else diurnal(rps, peak_to_mean, minutes=minutes,
                                                                              seed=seed)
    if trace is None:
        raise ProfileError(f"--profile {kind} needs a trace file")
    if kind == "csv":
        return from_minute_csv(trace, span_minutes)
    if kind == "azure":
        return from_azure_csv(trace, function)
    raise ProfileError(f"unknown profile {kind!r}")


def arrival_chunks(counts: np.ndarray, rng: np.random.Generator, max_requests: int = 2_000_000,
                   ) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(first_minute, end_minute, arrival_times_s)`` for whole-minute chunks.

    Each chunk holds at most ``max_requests`` arrivals (or one minute if a single minute has
    more), sorted, in seconds from the start of the span. Memory stays bounded by the chunk.
    """
    counts = np.asarray(counts, dtype=np.int64)
    cum = np.concatenate(([0], np.cumsum(counts)))
    start = 0
    n_min = counts.size
    while start < n_min:
        end = int(np.searchsorted(cum, cum[start] + max_requests, side="right")) - 1
        end = min(max(end, start + 1), n_min)
        yield start, end, _arrivals_for(counts[start:end], start, rng)
        start = end


def _arrivals_for(counts: np.ndarray, first_minute: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted uniform times inside each minute via normalised exponential spacings."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.float64)
    active = np.flatnonzero(counts)
    n = counts[active]
    # Segment k has n_k + 1 spacings; arrival j of segment k sits at cumsum_j / sum_k.
    spacings = rng.standard_exponential(total + active.size)
    csum = np.cumsum(spacings)
    seg_end = np.cumsum(n + 1) - 1  # index of each segment's last spacing
    seg_start_base = np.concatenate(([0.0], csum[seg_end[:-1]]))
    seg_total = csum[seg_end] - seg_start_base
    keep = np.ones(csum.size, dtype=bool)
    keep[seg_end] = False  # the last spacing only closes the interval
    seg_of = np.repeat(np.arange(active.size), n)
    frac = (csum[keep] - seg_start_base[seg_of]) / seg_total[seg_of]
    return (active[seg_of] + first_minute + frac) * 60.0
