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

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np


class CostModelError(ValueError):
    """Base of every error the cost model raises: bad input, not a bug.

    Defined here, the lowest module of the cost model, so traffic and cost share one base;
    the CLI maps it to exit code 2 and a one-line message in exactly one place.
    """


class TrafficError(CostModelError):
    """A traffic profile that cannot exist (negative or non-finite rates, no minutes)."""


class TraceFormatError(TrafficError):
    """A trace file that does not follow the documented CSV format; names file and line."""

HOURS_PER_MONTH = 730.0
"""AWS's own billing month (365 x 24 / 12); every monthly figure here uses it."""
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0
MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class TrafficProfile:
    """Mean request rate (requests/s) of each minute of one period, repeated all month.

    ``rps_per_minute`` is copied into a read-only float array so a profile can be shared
    between curve points without one caller mutating another's traffic.
    """

    name: str
    rps_per_minute: np.ndarray = field(repr=False)
    description: str = ""

    def __post_init__(self) -> None:
        rates = np.array(self.rps_per_minute, dtype=float).reshape(-1)
        if rates.size == 0:
            raise TrafficError("a traffic profile needs at least one minute")
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
        return TrafficProfile(self.name, self.rps_per_minute * (mean_rps / current), self.description)

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
        }


def constant(rps: float) -> TrafficProfile:
    """The same rate every minute: the simplest case and the one break-even rates quote."""
    if rps < 0 or not math.isfinite(rps):
        raise TrafficError(f"rate must be finite and >= 0, got {rps}")
    return TrafficProfile("constant", np.array([float(rps)]), f"{rps:g} req/s all month")


def diurnal(mean_rps: float, peak_to_mean: float = 2.0, peak_hour_utc: float = 14.0) -> TrafficProfile:
    """A day-long sinusoid with the given mean, peaking at ``peak_hour_utc``.

    rate(t) = mean * (1 + a * cos(2 pi (t - peak) / 24 h)) with a = peak_to_mean - 1, so
    peak_to_mean is limited to [1, 2] (a = 1 puts the trough at exactly zero, the most
    idle a sinusoid can be). Real days are lumpier; use a trace when you have one.
    """
    if not 1.0 <= peak_to_mean <= 2.0:
        raise TrafficError(f"peak_to_mean must be within [1, 2] for a sinusoid, got {peak_to_mean}")
    if mean_rps < 0 or not math.isfinite(mean_rps):
        raise TrafficError(f"rate must be finite and >= 0, got {mean_rps}")
    minutes = np.arange(MINUTES_PER_DAY, dtype=float)
    phase = 2.0 * np.pi * (minutes - peak_hour_utc * 60.0) / MINUTES_PER_DAY
    rates = mean_rps * (1.0 + (peak_to_mean - 1.0) * np.cos(phase))
    rates = np.clip(rates, 0.0, None)  # a = 1 can dip a hair below 0 in floating point
    return TrafficProfile(
        "diurnal",
        rates,
        f"24 h sinusoid, mean {mean_rps:g} req/s, peak/mean {peak_to_mean:g} at {peak_hour_utc:g}:00 UTC",
    )


def from_trace_csv(path: str | Path) -> TrafficProfile:
    """Read a per-minute trace: one row per minute, missing minutes are idle.

    Format (header required; ``#`` lines are comments)::

        minute,requests        or   timestamp,rps
        0,120                       2026-11-02T14:00:00Z,2.0
        1,0                         2026-11-02T14:01:00Z,0
        3,60                        ...

    * time column: ``minute`` (integer offset from the first row) or ``timestamp``
      (ISO 8601, truncated to the minute). Rows may come in any order; minutes that are
      absent between the first and the last one count as zero traffic, which is exactly
      the idle gap that causes cold starts, so exporters can skip empty minutes.
    * volume column: ``requests`` (count in that minute) or ``rps`` (mean rate).

    Raises TraceFormatError (with the line number) for a missing column, an unparsable
    or negative value, or a minute given twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TraceFormatError(f"cannot read trace {path}: {exc.strerror}") from exc
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise TraceFormatError(f"{path}: empty trace")
    header_line_no, header = lines[0]
    columns = [c.strip().lower() for c in next(csv.reader([header]))]
    time_col = "minute" if "minute" in columns else "timestamp" if "timestamp" in columns else None
    volume_col = "requests" if "requests" in columns else "rps" if "rps" in columns else None
    if time_col is None or volume_col is None:
        raise TraceFormatError(
            f"{path}:{header_line_no}: header must name a time column (minute|timestamp) and a "
            f"volume column (requests|rps), got {columns}"
        )
    t_idx, v_idx = columns.index(time_col), columns.index(volume_col)

    minutes: dict[int, float] = {}
    for line_no, line in lines[1:]:
        row = next(csv.reader([line]))
        try:
            raw_t, raw_v = row[t_idx].strip(), row[v_idx].strip()
        except IndexError:
            raise TraceFormatError(f"{path}:{line_no}: expected {len(columns)} columns") from None
        try:
            minute = int(raw_t) if time_col == "minute" else _minute_of(raw_t)
            value = float(raw_v)
        except ValueError as exc:
            raise TraceFormatError(f"{path}:{line_no}: {exc}") from None
        if not math.isfinite(value) or value < 0:
            raise TraceFormatError(f"{path}:{line_no}: {volume_col} must be finite and >= 0, got {raw_v}")
        if minute in minutes:
            raise TraceFormatError(f"{path}:{line_no}: minute {raw_t} appears twice")
        minutes[minute] = value / 60.0 if volume_col == "requests" else value
    if not minutes:
        raise TraceFormatError(f"{path}: header but no rows")
    first = min(minutes)
    rates = np.zeros(max(minutes) - first + 1)
    for minute, rps in minutes.items():
        rates[minute - first] = rps
    return TrafficProfile("trace", rates, f"per-minute trace {path.name}, {rates.size} min")


def _minute_of(timestamp: str) -> int:
    """Whole minutes since the epoch, so gaps between rows become idle minutes."""
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {timestamp!r} has no timezone; add Z or an offset")
    return int(parsed.timestamp() // 60)
