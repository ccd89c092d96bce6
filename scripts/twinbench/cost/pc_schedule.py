"""Provisioned concurrency by hour of day (UTC): one count per hour, the same every day.

serverless.yml takes it as the ``provisionedSchedule`` param: 24 whole numbers joined by
:data:`SEPARATOR` (hour 00 first), ``none`` for no schedule. A comma would do, but the local
Lambda's ``--param`` list is comma-separated. Deployed, Application Auto Scaling sets the
function's ``provisioned`` alias to each hour's count at the top of that hour (UTC); the alias
itself must exist, so every hour keeps at least one environment (:func:`check`).

A trace's minute 0 is 00:00 UTC (the convention of ``simulate.profiles``), so minute ``m`` is
hour ``(m // 60) % 24`` of the schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from twinserve_support.lambda_caps import ACCOUNT_CONCURRENCY_DEFAULT, Caps, check_reserved_concurrency

__all__ = ["HOURS", "NONE", "SEPARATOR", "ScheduleError", "check", "check_function", "check_provisioning", "from_concurrency", "parse",
           "per_minute", "render"]

HOURS = 24
SEPARATOR = "/"
NONE = "none"


class ScheduleError(ValueError):
    """A schedule that is not 24 whole numbers within the limits; ``str()`` says which."""


def check(schedule: Sequence[int], limit: int | None = None) -> tuple[int, ...]:
    """The schedule as a tuple, or ScheduleError: 24 hours, each 1..``limit`` (the reservation)."""
    values = tuple(schedule)
    if len(values) != HOURS:
        raise ScheduleError(f"a provisioned-concurrency schedule has {HOURS} hourly values, got {len(values)}")
    for hour, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ScheduleError(f"hour {hour:02d}: provisioned concurrency must be a whole number >= 1 (the alias "
                                f"keeps at least one environment), got {v!r}")
        if limit is not None and v > limit:
            raise ScheduleError(f"hour {hour:02d}: provisioned concurrency {v} exceeds the reservation {limit}")
    return tuple(int(v) for v in values)


def check_provisioning(constant: int, schedule: Sequence[int], limit: int | None) -> None:
    """The one check of a function's provisioning (the cost model and the simulator both call it).

    A constant count or a schedule, not both; the schedule valid (:func:`check`); neither above
    ``limit`` (the function's concurrency limit, None = unlimited). Raises ScheduleError.
    """
    if schedule:
        if constant:
            raise ScheduleError("give a constant provisioned concurrency or an hourly schedule, not both")
        check(schedule)
    top = max((constant, *schedule))
    if constant < 0 or (limit is not None and top > limit):
        raise ScheduleError(f"provisioned concurrency {top} must be within 0..the function's concurrency limit "
                            f"{limit}")


def check_function(reserved: int | None, rate_rps: float | None, burst: int | None, constant: int,
                   schedule: Sequence[int], account: int = ACCOUNT_CONCURRENCY_DEFAULT) -> None:
    """A function's caps and provisioning, checked in one place for the cost model and the simulator.

    The reservation must fit ``account``, the route throttling be valid, and the provisioning fit
    the function's concurrency limit (:func:`check_provisioning`). Raises ValueError (CapsError
    or ScheduleError), whose ``str()`` says which.
    """
    check_reserved_concurrency(reserved, 1, account)
    Caps(None, rate_rps, burst)
    check_provisioning(constant, schedule, account if reserved is None else reserved)


def parse(text: str) -> tuple[int, ...]:
    """``"1/1/.../4"`` -> 24 ints; ``"none"`` (or empty) -> ``()``. Raises ScheduleError."""
    text = str(text).strip()
    if text in ("", NONE):
        return ()
    try:
        values = [int(part) for part in text.split(SEPARATOR)]
    except ValueError:
        raise ScheduleError(f"provisionedSchedule {text!r} is not {HOURS} whole numbers joined by "
                            f"'{SEPARATOR}' (or '{NONE}')") from None
    return check(values)


def render(schedule: Sequence[int]) -> str:
    """The param's text for a schedule (``none`` for ``()``)."""
    return SEPARATOR.join(str(v) for v in check(schedule)) if schedule else NONE


def per_minute(schedule: Sequence[int], minutes: int, constant: int = 0) -> np.ndarray:
    """Provisioned environments in each minute of a span starting at 00:00 UTC (int64): the
    schedule's hour, or ``constant`` every minute without a schedule."""
    if not schedule:
        return np.full(minutes, constant, dtype=np.int64)
    hours = (np.arange(minutes) // 60) % HOURS
    return np.asarray(schedule, dtype=np.int64)[hours]


def from_concurrency(concurrency_per_minute: np.ndarray, quantile: float, limit: int | None = None) -> tuple[int, ...]:
    """A schedule from a trace: each hour of day, the ``quantile`` of the concurrency of its minutes
    (over every day of the trace), rounded up, at least 1, at most ``limit``. Hours the trace does
    not cover take the quantile of the whole trace."""
    conc = np.asarray(concurrency_per_minute, dtype=float)
    hours = (np.arange(conc.size) // 60) % HOURS
    fallback = float(np.quantile(conc, quantile)) if conc.size else 0.0
    out = []
    for h in range(HOURS):
        sel = conc[hours == h]
        v = float(np.quantile(sel, quantile)) if sel.size else fallback
        n = max(1, math.ceil(v - 1e-9))
        out.append(n if limit is None else min(n, limit))
    return tuple(out)
