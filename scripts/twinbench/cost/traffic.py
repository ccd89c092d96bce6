"""Traffic profiles for the cost model: how many requests arrive in each minute.

Cost depends on more than the mean rate: the container fleet is sized for the *peak*,
Lambda bills every request, and cold starts come from the *idle gaps*. So a profile keeps
the whole per-minute shape, not just a number. One minute is the resolution because that
is what CloudWatch, ALB logs and most trace exports give you; sub-minute bursts are the
headroom factor's job, not the profile's.

A profile is periodic: a one-day diurnal curve or a three-day trace is repeated to fill the
730-hour billing month, and the minute after the last one is the first one again (so the
idle gap at the end of a trace wraps around into its start).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twinbench.traffic.traces import (
    MAX_MINUTES,
    MAX_RPS,
    MinuteTrace,
    TraceError,
    read_azure_csv,
    read_minute_csv,
)


class CostModelError(ValueError):
    """Base of every error the cost model raises: bad input, not a bug.

    Defined here, the lowest module of the cost model, so traffic and cost share one base;
    the CLI maps it to exit code 2 and a one-line message in exactly one place.
    """


class TrafficError(CostModelError):
    """A traffic profile that cannot exist (negative or non-finite rates, no minutes)."""


class TraceFormatError(TrafficError):
    """A trace file that cannot be read, breaks its format or the limits; names file and line."""


HOURS_PER_MONTH = 730.0
"""AWS's own billing month (365 x 24 / 12); every monthly figure here uses it."""
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0
MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class TrafficProfile:
    """Mean request rate (requests/s) of each minute of one period, repeated all month.

    ``rps_per_minute`` is copied into a read-only float array so a profile can be shared
    between curve points without one caller mutating another's traffic. ``warnings`` is
    what a trace reader had to assume (skipped minutes counted idle), kept for the output.
    The rate limit (``MAX_RPS``) applies where a profile enters (readers, ``constant``,
    ``diurnal``, ``check_rate``), not here: the break-even search scales a profile far past it.
    """

    name: str
    rps_per_minute: np.ndarray = field(repr=False)
    description: str = ""
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        rates = np.array(self.rps_per_minute, dtype=float).reshape(-1)
        if rates.size == 0:
            raise TrafficError("a traffic profile needs at least one minute")
        if rates.size > MAX_MINUTES:  # the cost of every price evaluation grows with the span
            raise TrafficError(f"a profile of {rates.size:,} minutes exceeds the limit of {MAX_MINUTES:,} (366 days)")
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise TrafficError("request rates must be finite and >= 0")
        rates.setflags(write=False)
        object.__setattr__(self, "rps_per_minute", rates)

    @property
    def minutes(self) -> int:
        return int(self.rps_per_minute.size)

    @property
    def mean_rps(self) -> float:
        return float(self.rps_per_minute.mean())

    @property
    def peak_rps(self) -> float:
        """Highest one-minute mean rate: what the container fleet must be sized for."""
        return float(self.rps_per_minute.max())

    @property
    def requests_per_month(self) -> float:
        return self.mean_rps * SECONDS_PER_MONTH

    @property
    def requests_per_minute(self) -> np.ndarray:
        return self.rps_per_minute * 60.0

    def scaled_to_mean(self, mean_rps: float) -> TrafficProfile:
        """Same shape, different volume: how the cost curve sweeps request rate.

        Raises TrafficError for a negative rate, or when an all-zero profile is asked to
        carry traffic (it has no shape to scale).
        """
        if mean_rps < 0 or not math.isfinite(mean_rps):
            raise TrafficError(f"mean rate must be finite and >= 0, got {mean_rps}")
        current = self.mean_rps
        if current == 0:
            if mean_rps == 0:
                return self
            raise TrafficError(f"profile {self.name!r} carries no traffic, so it cannot be scaled")
        return TrafficProfile(self.name, self.rps_per_minute * (mean_rps / current), self.description, self.warnings)

    def summary(self) -> dict[str, float | int | str]:
        return {
            "name": self.name,
            "description": self.description,
            "minutes": self.minutes,
            "mean_rps": self.mean_rps,
            "peak_rps": self.peak_rps,
            "peak_to_mean": self.peak_rps / self.mean_rps if self.mean_rps else 0.0,
            "idle_minutes_fraction": float(np.mean(self.rps_per_minute == 0)),
            "requests_per_month": self.requests_per_month,
            "warnings": list(self.warnings),
        }


def check_rate(name: str, rps: float) -> float:
    """``rps`` if finite and within 0..MAX_RPS (1 M req/s); raises TrafficError naming ``name``."""
    if not (math.isfinite(rps) and 0.0 <= rps <= MAX_RPS):
        raise TrafficError(f"{name} must be within 0..{MAX_RPS:,.0f} req/s, got {rps:g}")
    return float(rps)


def constant(rps: float) -> TrafficProfile:
    """The same rate every minute: the simplest case and the one break-even rates quote."""
    rps = check_rate("rate", rps)
    return TrafficProfile("constant", np.array([float(rps)]), f"{rps:g} req/s all month")


def diurnal(mean_rps: float, peak_to_mean: float = 2.0, peak_hour_utc: float = 14.0) -> TrafficProfile:
    """A day-long sinusoid with the given mean, peaking at ``peak_hour_utc``.

    rate(t) = mean * (1 + a * cos(2 pi (t - peak) / 24 h)) with a = peak_to_mean - 1, so
    peak_to_mean is limited to [1, 2] (a = 1 puts the trough at exactly zero, the most
    idle a sinusoid can be). Real days are lumpier; use a trace when you have one.
    """
    if not 1.0 <= peak_to_mean <= 2.0:
        raise TrafficError(f"peak_to_mean must be within [1, 2] for a sinusoid, got {peak_to_mean}")
    if not (math.isfinite(peak_hour_utc) and 0.0 <= peak_hour_utc < 24.0):
        raise TrafficError(f"peak hour must be within [0, 24), got {peak_hour_utc}")
    mean_rps = check_rate("rate", mean_rps)
    if mean_rps * peak_to_mean > MAX_RPS:
        raise TrafficError(f"peak rate {mean_rps * peak_to_mean:g} req/s exceeds {MAX_RPS:,.0f} req/s")
    minutes = np.arange(MINUTES_PER_DAY, dtype=float)
    phase = 2.0 * np.pi * (minutes - peak_hour_utc * 60.0) / MINUTES_PER_DAY
    rates = mean_rps * (1.0 + (peak_to_mean - 1.0) * np.cos(phase))
    rates = np.clip(rates, 0.0, None)  # a = 1 can dip a hair below 0 in floating point
    return TrafficProfile(
        "diurnal",
        rates,
        f"24 h sinusoid, mean {mean_rps:g} req/s, peak/mean {peak_to_mean:g} at {peak_hour_utc:g}:00 UTC",
    )


@contextmanager
def _as_trace_format_error() -> Iterator[None]:
    """The shared reader's TraceError becomes this room's TraceFormatError (a CostModelError)."""
    try:
        yield
    except TraceError as exc:
        raise TraceFormatError(str(exc)) from None


def _profile(trace: MinuteTrace) -> TrafficProfile:
    return TrafficProfile(trace.name, trace.requests_per_minute / 60.0, trace.description, trace.warnings)


def from_trace_csv(path: str | Path, span_minutes: int | None = None) -> TrafficProfile:
    """A per-minute trace file, as it is (no rescaling), read by the shared reader.

    Format, BOM, skipped minutes and limits: ``twinbench.traffic.traces``. Minutes with no
    row between the first and the last row count as idle and ``warnings`` says how many;
    ``span_minutes`` extends the span from the first row (idle minutes after the last row,
    which an export that skips empty minutes drops). Raises TraceFormatError naming file
    and line.
    """
    with _as_trace_format_error():
        return _profile(read_minute_csv(path, span_minutes))


def from_azure_csv(path: str | Path, function: str = "rank:1") -> TrafficProfile:
    """One function of an Azure Functions 2019 trace (``rank:N`` or a HashFunction prefix).

    Raises TraceFormatError for a bad file or a function that is not in it.
    """
    with _as_trace_format_error():
        return _profile(read_azure_csv(path, function))
