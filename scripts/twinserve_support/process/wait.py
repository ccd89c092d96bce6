"""Bounded waits on a condition: poll a fact until it holds or a deadline passes.

Why: a fixed sleep is too short on a loaded machine (a flaky test) and too long on an idle one;
waiting on the fact itself (a port open, a pid gone, a log line written, an environment busy) is
neither, and the deadline keeps a broken behaviour a failure rather than a hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["WaitTimeout", "poll_until", "wait_until"]

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The condition did not hold within the deadline; the message names it."""


def poll_until(condition: Callable[[], T], timeout_s: float, *, poll_s: float = 0.05) -> T:
    """Call ``condition`` every ``poll_s`` s until it returns a truthy value, at most ``timeout_s`` s
    (monotonic clock); return that value, or the last falsy one when the deadline passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(poll_s)


def wait_until(condition: Callable[[], T], timeout_s: float, *, what: str = "", poll_s: float = 0.05) -> T:
    """:func:`poll_until`, but a condition still false at the deadline raises :class:`WaitTimeout`
    (``what`` says which fact was awaited; the condition's docstring or name when empty)."""
    value = poll_until(condition, timeout_s, poll_s=poll_s)
    if not value:
        name = what or (condition.__doc__ or getattr(condition, "__name__", "condition")).strip()
        raise WaitTimeout(f"not within {timeout_s:g} s: {name}")
    return value
