"""Traffic profiles as requests per minute, and the arrival times inside each minute.

A profile here is an integer count of requests for every minute of the simulated span
(``MinuteCounts``); arrival times are drawn from it chunk by chunk, so a day at 1,000 req/s
(86.4 M arrivals) never sits in memory at once.

Arrivals inside a minute
------------------------
Given a minute's count n, the n arrival times are the order statistics of n uniform draws
over the minute: exactly the arrival times of a Poisson process *conditioned* on n arrivals.
So a trace keeps its per-minute counts exactly, and sub-minute bursts are what a Poisson
process would produce (real clients can be burstier; the simulation then under-counts
concurrency spikes, not over-counts). They are drawn as normalised cumulative sums of n + 1
exponentials (O(n), already sorted). ``constant`` and ``diurnal`` profiles draw each
minute's count from a Poisson distribution of the rate x 60, so they are a true Poisson
process of that (piecewise-constant) rate. Everything uses one seeded ``numpy`` Generator.

Sources
-------
* ``constant(rps, minutes)``, ``diurnal(mean_rps, peak_to_mean, peak_hour_utc, minutes)``.
* ``from_minute_csv(path)``: a header naming a time column (``minute`` | ``timestamp``) and a
  volume column (``requests`` | ``count`` | ``rps``). Minutes absent between the first and
  the last row are idle (exporters skip empty minutes) and a warning says how many; the span
  runs from the first to the last row unless ``span_minutes`` extends it. A UTF-8 BOM is
  accepted (spreadsheets write one); other encodings, a span over ``MAX_MINUTES`` or a count
  over ``MAX_REQUESTS_PER_MINUTE`` raise ProfileError naming file and line.
* ``from_azure_csv(path, function=...)``: the Azure Functions 2019 public trace
  (``invocations_per_function_md.anon.d01.csv``): one row per function,
  ``HashOwner,HashApp,HashFunction,Trigger,1,...,1440`` per-minute invocation counts. Pick a
  function by ``HashFunction`` (a unique prefix is enough) or by rank of total invocations
  (``rank:1`` is the busiest).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from twinbench.simulate.errors import ProfileError

__all__ = [
    "MAX_MINUTES",
    "MAX_REQUESTS_PER_MINUTE",
    "AzureFunction",
    "MinuteCounts",
    "arrival_chunks",
    "azure_functions",
    "constant",
    "diurnal",
    "from_azure_csv",
    "from_minute_csv",
    "load_profile",
]

MAX_MINUTES = 366 * 1440
"""Longest span simulated (one leap year of minutes); longer traces are refused, not truncated."""
MAX_REQUESTS_PER_MINUTE = 60_000_000
"""1 M req/s for a whole minute: far past one function's or one cluster's capacity; above is a typo."""
MINUTES_PER_DAY = 1440
AZURE_FIXED_COLUMNS = ("hashowner", "hashapp", "hashfunction", "trigger")


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


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")  # a BOM, as spreadsheets write, is not part of the header
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte {exc.start}); export the trace as UTF-8 CSV") from None


def _minute_of(timestamp: str) -> int:
    """Whole minutes since the epoch, so the gaps between rows become idle minutes."""
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {timestamp!r} has no timezone; add Z or an offset")
    return math.floor(parsed.timestamp() / 60.0)


def from_minute_csv(path: str | Path, span_minutes: int | None = None) -> MinuteCounts:
    """Read a per-minute CSV (format in the module docstring); raises ProfileError."""
    path = Path(path)
    text = _read_text(path)
    rows = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise ProfileError(f"{path}: empty trace")
    header_no, header = rows[0]
    columns = [c.strip().lower() for c in next(csv.reader([header]))]
    if columns[:1] == ["hashowner"]:
        raise ProfileError(f"{path}:{header_no}: this is an Azure Functions trace; use --azure (and --function)")
    time_col = next((c for c in ("minute", "timestamp") if c in columns), None)
    volume_col = next((c for c in ("requests", "count", "rps") if c in columns), None)
    if time_col is None or volume_col is None:
        raise ProfileError(f"{path}:{header_no}: header must name a time column (minute|timestamp) and a volume "
                           f"column (requests|count|rps), got {columns}")
    t_idx, v_idx = columns.index(time_col), columns.index(volume_col)
    per_minute: dict[int, int] = {}
    for line_no, line in rows[1:]:
        row = next(csv.reader([line]))
        if len(row) <= max(t_idx, v_idx):
            raise ProfileError(f"{path}:{line_no}: expected {len(columns)} columns, got {len(row)}")
        raw_t, raw_v = row[t_idx].strip(), row[v_idx].strip()
        try:
            minute = int(raw_t) if time_col == "minute" else _minute_of(raw_t)
            value = float(raw_v)
        except (ValueError, OverflowError) as exc:
            raise ProfileError(f"{path}:{line_no}: {exc}") from None
        if not math.isfinite(value) or value < 0:
            raise ProfileError(f"{path}:{line_no}: {volume_col} must be finite and >= 0, got {raw_v}")
        count = value * 60.0 if volume_col == "rps" else value
        if count > MAX_REQUESTS_PER_MINUTE:
            raise ProfileError(f"{path}:{line_no}: {raw_v} {volume_col} is more than {MAX_REQUESTS_PER_MINUTE:,} "
                               "requests in a minute (1 M req/s)")
        if minute in per_minute:
            raise ProfileError(f"{path}:{line_no}: minute {raw_t} appears twice")
        per_minute[minute] = int(round(count))
        if len(per_minute) > MAX_MINUTES:
            raise ProfileError(f"{path}: more than {MAX_MINUTES:,} rows")
    if not per_minute:
        raise ProfileError(f"{path}: header but no rows")
    first, last = min(per_minute), max(per_minute)
    span = last - first + 1
    if span > MAX_MINUTES:  # checked before allocating: 0001..9999 would need terabytes
        raise ProfileError(f"{path}: rows span {span:,} minutes, over the limit of {MAX_MINUTES:,} (366 days)")
    warnings: list[str] = []
    if span_minutes is not None:
        if span_minutes < span:
            raise ProfileError(f"--span-minutes {span_minutes} is shorter than the trace's {span} minutes")
        span = _check_minutes(span_minutes)
    counts = np.zeros(span, dtype=np.int64)
    for minute, count in per_minute.items():
        counts[minute - first] = count
    missing = span - len(per_minute)
    if missing:
        warnings.append(f"{path.name}: {missing:,} of {span:,} minutes have no row and count as idle "
                        f"(span from the first to the last row{' plus --span-minutes' if span_minutes else ''})")
    return MinuteCounts("trace", counts, f"per-minute trace {path.name}, {span:,} min", tuple(warnings))


@dataclass(frozen=True)
class AzureFunction:
    """One row of an Azure Functions trace, ranked by total invocations (1 = busiest)."""

    rank: int
    hash_function: str
    hash_app: str
    trigger: str
    total: int


def _azure_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str], str]]]:
    text = _read_text(path)
    lines = text.splitlines()
    if not lines:
        raise ProfileError(f"{path}: empty trace")
    header = [c.strip().lower() for c in lines[0].split(",")]
    if tuple(header[:4]) != AZURE_FIXED_COLUMNS or len(header) < 5:
        raise ProfileError(f"{path}:1: not an Azure Functions trace header "
                           "(HashOwner,HashApp,HashFunction,Trigger,1,...,1440)")
    minute_cols = header[4:]
    if minute_cols != [str(i) for i in range(1, len(minute_cols) + 1)]:
        raise ProfileError(f"{path}:1: minute columns must be 1,2,...,N")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if line.strip():
            parts = line.split(",", 4)
            if len(parts) < 5:
                raise ProfileError(f"{path}:{n}: expected {len(header)} columns")
            rows.append((n, parts[:4], parts[4]))
    if not rows:
        raise ProfileError(f"{path}: header but no function rows")
    return minute_cols, rows


def _azure_counts(path: Path, line_no: int, rest: str, width: int) -> np.ndarray:
    fields = rest.split(",")
    if len(fields) != width:
        raise ProfileError(f"{path}:{line_no}: expected {width} minute counts, got {len(fields)}")
    try:
        counts = np.array([float(f) if f.strip() else 0.0 for f in fields])
    except ValueError as exc:
        raise ProfileError(f"{path}:{line_no}: {exc}") from None
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or np.any(counts != np.floor(counts)):
        raise ProfileError(f"{path}:{line_no}: minute counts must be whole numbers >= 0")
    if np.any(counts > MAX_REQUESTS_PER_MINUTE):
        raise ProfileError(f"{path}:{line_no}: a minute count over {MAX_REQUESTS_PER_MINUTE:,} is refused")
    return counts.astype(np.int64)


def azure_functions(path: str | Path) -> list[AzureFunction]:
    """Every function in an Azure trace, busiest first (ties by hash, so ranks are stable)."""
    path = Path(path)
    cols, rows = _azure_rows(path)
    found = [AzureFunction(0, fixed[2], fixed[1], fixed[3], int(_azure_counts(path, n, rest, len(cols)).sum()))
             for n, fixed, rest in rows]
    found.sort(key=lambda f: (-f.total, f.hash_function))
    return [AzureFunction(i, f.hash_function, f.hash_app, f.trigger, f.total) for i, f in enumerate(found, start=1)]


def from_azure_csv(path: str | Path, function: str = "rank:1") -> MinuteCounts:
    """One function of an Azure Functions trace: ``rank:N`` or a (unique prefix of a) HashFunction."""
    path = Path(path)
    cols, rows = _azure_rows(path)
    if function.startswith("rank:"):
        try:
            rank = int(function[5:])
        except ValueError:
            raise ProfileError(f"--function {function!r}: rank must be an integer (rank:1 = busiest)") from None
        ranked = azure_functions(path)
        if not 1 <= rank <= len(ranked):
            raise ProfileError(f"--function {function}: the trace has {len(ranked)} functions")
        target = ranked[rank - 1].hash_function
    else:
        matches = {fixed[2] for _, fixed, _ in rows if fixed[2].startswith(function)}
        if not matches:
            raise ProfileError(f"{path}: no function whose HashFunction starts with {function!r}")
        if len(matches) > 1:
            raise ProfileError(f"{path}: {len(matches)} functions start with {function!r}; give more of the hash")
        target = matches.pop()
    picked = [(n, fixed, rest) for n, fixed, rest in rows if fixed[2] == target]
    counts = np.zeros(len(cols), dtype=np.int64)
    for n, _, rest in picked:  # the same function listed under two triggers: its invocations add up
        counts += _azure_counts(path, n, rest, len(cols))
    fixed = picked[0][1]
    return MinuteCounts(f"azure:{target[:12]}", counts,
                        f"Azure Functions trace {path.name}, function {target[:12]}… ({fixed[3]} trigger)")


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
