"""Read trace files into requests per minute: a per-minute CSV and the Azure Functions 2019 format.

Why one reader: ``bench --trace``, ``cost`` and ``simulate`` must see the same minutes from the same
file. Per-minute CSV (:func:`read_minute_csv`): a header naming a time column (``minute`` or an
ISO 8601 ``timestamp``) and a volume column (``requests``, ``count`` or ``rps``)::

    minute,requests        or   timestamp,rps
    0,120                       2026-11-02T14:00:00Z,2.0

Azure (:func:`read_azure_csv`): ``HashOwner,HashApp,HashFunction,Trigger,1..1440``, a function
picked by rank (``rank:1``) or a unique HashFunction prefix. Minutes missing between rows are idle
(counted in ``MinuteTrace.warnings``); sizes past ``MAX_MINUTES`` / ``MAX_REQUESTS_PER_MINUTE`` raise
:class:`TraceLimitError` before allocating. The full rules: docs/benchmark.md, "Trace files".
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

MINUTES_PER_DAY = 1440
MAX_MINUTES = 366 * MINUTES_PER_DAY
"""Longest span read (one leap year of minutes); longer traces are refused, never truncated."""
MAX_REQUESTS_PER_MINUTE = 60_000_000
"""1 M req/s for a whole minute: far past one function's or one cluster's capacity; above is a typo."""
MAX_RPS = MAX_REQUESTS_PER_MINUTE / 60.0
"""The same limit as a rate, req/s, for profiles built from a number instead of a file."""
AZURE_FIXED_COLUMNS = ("hashowner", "hashapp", "hashfunction", "trigger")
TIME_COLUMNS = ("minute", "timestamp")
VOLUME_COLUMNS = ("requests", "count", "rps")


class TraceError(ValueError):
    """A trace file that cannot be read or does not follow its format (names file and line)."""


class TraceLimitError(TraceError):
    """A trace past the limits: span over MAX_MINUTES, a minute over MAX_REQUESTS_PER_MINUTE."""


@dataclass(frozen=True)
class MinuteTrace:
    """Requests in each minute of a trace's span (float64, read-only), as the file gives them.

    Counts stay floats because exports of ``rps`` or averaged counts are fractional; a
    consumer that needs whole requests rounds them. ``warnings`` carries what the reader had
    to assume (minutes with no row counted as idle) so the CLIs can print it.
    """

    name: str
    requests_per_minute: np.ndarray = field(repr=False)
    description: str = ""
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        counts = np.array(self.requests_per_minute, dtype=np.float64).reshape(-1)
        counts.setflags(write=False)
        object.__setattr__(self, "requests_per_minute", counts)

    @property
    def minutes(self) -> int:
        return int(self.requests_per_minute.size)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line, decoded as UTF-8 with an optional BOM, streamed.

    Raises TraceError when the file cannot be opened or a line is not UTF-8.
    """
    line_no = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            for line_no, line in enumerate(f, start=1):  # line_no outlives the loop: it names a bad line
                yield line_no, line.rstrip("\r\n")
    except OSError as exc:
        raise TraceError(f"cannot read trace {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TraceError(f"{path}:{line_no + 1}: not UTF-8 text; export the trace as UTF-8 CSV") from None


def _minute_of(timestamp: str) -> int:
    """Whole minutes since the epoch, so the gaps between rows become idle minutes."""
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {timestamp!r} has no timezone; add Z or an offset")
    return math.floor(parsed.timestamp() / 60.0)


def check_span_minutes(span_minutes: int) -> int:
    """``span_minutes`` if within 1..MAX_MINUTES; raises TraceLimitError otherwise."""
    if not 1 <= span_minutes <= MAX_MINUTES:
        raise TraceLimitError(f"span must be within 1..{MAX_MINUTES:,} minutes (366 days), got {span_minutes:,}")
    return int(span_minutes)


def read_minute_csv(path: str | Path, span_minutes: int | None = None) -> MinuteTrace:
    """Read a per-minute CSV (format in the module docstring).

    Raises TraceError naming file and line for an unreadable file, a missing column, an
    unparsable or negative value or a minute given twice; TraceLimitError past the limits
    or when ``span_minutes`` is shorter than the rows' span.
    """
    path = Path(path)
    columns: list[str] | None = None
    header_no = 0
    t_idx = v_idx = 0
    time_col = volume_col = ""
    per_minute: dict[int, float] = {}
    for line_no, line in _lines(path):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = next(csv.reader([line]))
        if columns is None:
            header_no, columns = line_no, [c.strip().lower() for c in row]
            if columns[:1] == ["hashowner"]:
                raise TraceError(f"{path}:{line_no}: this is an Azure Functions trace; use --azure (and --function)")
            time_col = next((c for c in TIME_COLUMNS if c in columns), "")
            volume_col = next((c for c in VOLUME_COLUMNS if c in columns), "")
            if not time_col or not volume_col:
                raise TraceError(f"{path}:{line_no}: header must name a time column (minute|timestamp) and a "
                                 f"volume column (requests|count|rps), got {columns}")
            t_idx, v_idx = columns.index(time_col), columns.index(volume_col)
            continue
        if len(row) <= max(t_idx, v_idx):
            raise TraceError(f"{path}:{line_no}: expected {len(columns)} columns, got {len(row)}")
        raw_t, raw_v = row[t_idx].strip(), row[v_idx].strip()
        try:
            minute = int(raw_t) if time_col == "minute" else _minute_of(raw_t)
            value = float(raw_v)
        except (ValueError, OverflowError) as exc:
            raise TraceError(f"{path}:{line_no}: {exc}") from None
        if not math.isfinite(value) or value < 0:
            raise TraceError(f"{path}:{line_no}: {volume_col} must be finite and >= 0, got {raw_v}")
        count = value * 60.0 if volume_col == "rps" else value
        if count > MAX_REQUESTS_PER_MINUTE:
            raise TraceLimitError(f"{path}:{line_no}: {raw_v} {volume_col} is more than "
                                  f"{MAX_REQUESTS_PER_MINUTE:,} requests in a minute (1 M req/s)")
        if minute in per_minute:
            raise TraceError(f"{path}:{line_no}: minute {raw_t} appears twice")
        per_minute[minute] = count
        if len(per_minute) > MAX_MINUTES:
            raise TraceLimitError(f"{path}:{line_no}: more than {MAX_MINUTES:,} rows (366 days of minutes)")
    if columns is None:
        raise TraceError(f"{path}: empty trace")
    if not per_minute:
        raise TraceError(f"{path}:{header_no}: header but no rows")
    first, last = min(per_minute), max(per_minute)
    span = last - first + 1
    if span > MAX_MINUTES:  # checked before allocating: 0001..9999 would need terabytes
        raise TraceLimitError(f"{path}: rows span {span:,} minutes, over the limit of {MAX_MINUTES:,} (366 days)")
    if span_minutes is not None:
        check_span_minutes(span_minutes)
        if span_minutes < span:
            raise TraceLimitError(f"{path}: span of {span_minutes:,} minutes is shorter than the rows' {span:,}")
        span = span_minutes
    counts = np.zeros(span, dtype=np.float64)
    for minute, count in per_minute.items():
        counts[minute - first] = count
    warnings: list[str] = []
    missing = span - len(per_minute)
    if missing:
        how = ("the given span from the first row" if span_minutes is not None else
               "span from the first to the last row; idle minutes after the last row are not in the file: "
               "--span-minutes restores them")
        warnings.append(f"{path.name}: {missing:,} of {span:,} minutes have no row and count as idle ({how})")
    return MinuteTrace("trace", counts, f"per-minute trace {path.name}, {span:,} min", tuple(warnings))


@dataclass(frozen=True)
class AzureFunction:
    """One function of an Azure Functions trace, ranked by total invocations (1 = busiest)."""

    rank: int
    hash_function: str
    hash_app: str
    trigger: str
    total: int


def _azure_rows(path: Path) -> tuple[int, list[tuple[int, list[str], str]]]:
    """(number of minute columns, [(line, fixed columns, rest of the line)]); raises TraceError."""
    width = 0
    rows: list[tuple[int, list[str], str]] = []
    for line_no, line in _lines(path):
        if not width:
            header = [c.strip().lower() for c in line.split(",")]
            if tuple(header[:4]) != AZURE_FIXED_COLUMNS or len(header) < 5:
                raise TraceError(f"{path}:{line_no}: not an Azure Functions trace header "
                                 "(HashOwner,HashApp,HashFunction,Trigger,1,...,1440)")
            minute_cols = header[4:]
            if minute_cols != [str(i) for i in range(1, len(minute_cols) + 1)]:
                raise TraceError(f"{path}:{line_no}: minute columns must be 1,2,...,N")
            if len(minute_cols) > MAX_MINUTES:
                raise TraceLimitError(f"{path}:{line_no}: {len(minute_cols):,} minute columns, over the limit "
                                      f"of {MAX_MINUTES:,} (366 days)")
            width = len(minute_cols)
            continue
        if line.strip():
            parts = line.split(",", 4)
            if len(parts) < 5:
                raise TraceError(f"{path}:{line_no}: expected {width + 4} columns")
            rows.append((line_no, parts[:4], parts[4]))
    if not width:
        raise TraceError(f"{path}: empty trace")
    if not rows:
        raise TraceError(f"{path}: header but no function rows")
    return width, rows


def _azure_counts(path: Path, line_no: int, rest: str, width: int) -> np.ndarray:
    fields = rest.split(",")
    if len(fields) != width:
        raise TraceError(f"{path}:{line_no}: expected {width} minute counts, got {len(fields)}")
    try:
        counts = np.array([float(f) if f.strip() else 0.0 for f in fields])
    except ValueError as exc:
        raise TraceError(f"{path}:{line_no}: {exc}") from None
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or np.any(counts != np.floor(counts)):
        raise TraceError(f"{path}:{line_no}: minute counts must be whole numbers >= 0")
    if np.any(counts > MAX_REQUESTS_PER_MINUTE):
        raise TraceLimitError(f"{path}:{line_no}: a minute count over {MAX_REQUESTS_PER_MINUTE:,} is refused")
    return counts


def _ranked(path: Path, width: int, rows: list[tuple[int, list[str], str]]) -> list[AzureFunction]:
    found = [AzureFunction(0, fixed[2], fixed[1], fixed[3], int(_azure_counts(path, n, rest, width).sum()))
             for n, fixed, rest in rows]
    found.sort(key=lambda f: (-f.total, f.hash_function))  # ties by hash, so ranks are stable
    return [AzureFunction(i, f.hash_function, f.hash_app, f.trigger, f.total) for i, f in enumerate(found, start=1)]


def azure_functions(path: str | Path) -> list[AzureFunction]:
    """Every function in an Azure trace, busiest first; raises TraceError on a bad file."""
    path = Path(path)
    width, rows = _azure_rows(path)
    return _ranked(path, width, rows)


def read_azure_csv(path: str | Path, function: str = "rank:1") -> MinuteTrace:
    """One function of an Azure trace: ``rank:N`` or a (unique prefix of a) HashFunction.

    Raises TraceError for a bad file, a rank out of range, no or several matching hashes.
    """
    path = Path(path)
    width, rows = _azure_rows(path)
    if function.startswith("rank:"):
        try:
            rank = int(function[5:])
        except ValueError:
            raise TraceError(f"--function {function!r}: rank must be an integer (rank:1 = busiest)") from None
        ranked = _ranked(path, width, rows)
        if not 1 <= rank <= len(ranked):
            raise TraceError(f"--function {function}: the trace has {len(ranked)} functions")
        target = ranked[rank - 1].hash_function
    else:
        matches = {fixed[2] for _, fixed, _ in rows if fixed[2].startswith(function)}
        if not function or not matches:
            raise TraceError(f"{path}: no function whose HashFunction starts with {function!r}")
        if len(matches) > 1:
            raise TraceError(f"{path}: {len(matches)} functions start with {function!r}; give more of the hash")
        target = matches.pop()
    picked = [(n, fixed, rest) for n, fixed, rest in rows if fixed[2] == target]
    counts = np.zeros(width, dtype=np.float64)
    for n, _, rest in picked:  # the same function listed under two triggers: its invocations add up
        counts += _azure_counts(path, n, rest, width)
    if np.any(counts > MAX_REQUESTS_PER_MINUTE):
        raise TraceLimitError(f"{path}: function {target[:12]} has a minute over {MAX_REQUESTS_PER_MINUTE:,} requests")
    trigger = picked[0][1][3]
    return MinuteTrace(f"azure:{target[:12]}", counts,
                       f"Azure Functions trace {path.name}, function {target[:12]}… ({trigger} trigger)")
