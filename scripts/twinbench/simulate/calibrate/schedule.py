"""The calibration's arrival schedule: seeded, bursty, open-loop, with gaps either side of the keep-alive.

Bursts open fast (several environments start at once), idle gaps fall well above and well below the
keep-alive (reaping and reuse both happen), and one spike nears the pod's capacity (queueing).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from twinbench.simulate.errors import SimulationError


class CalibrationError(SimulationError):
    """A prerequisite is missing (package, runtime venv, model) or the real stack failed to start."""


@dataclass(frozen=True)
class Segment:
    """A stretch of the schedule with one Poisson rate (0 = idle)."""

    start_s: float
    end_s: float
    rate_rps: float
    label: str


@dataclass(frozen=True)
class Schedule:
    """Arrival times (s from the start, sorted) and the segments they were drawn from."""

    arrivals_s: np.ndarray = field(repr=False)
    segments: tuple[Segment, ...]
    keep_alive_s: float
    seed: int

    @property
    def duration_s(self) -> float:
        return self.segments[-1].end_s

    def describe(self) -> dict[str, Any]:
        return {"requests": int(self.arrivals_s.size), "duration_s": round(self.duration_s, 3),
                "keep_alive_s": self.keep_alive_s, "seed": self.seed,
                "segments": [asdict(s) for s in self.segments]}


def bursty_schedule(keep_alive_s: float = 10.0, bursts: int = 6, seed: int = 7, onset_rps: float = 8.0,
                    onset_s: float = 1.0, burst_rps: float = 6.0, burst_s: float = 5.0, spike_rps: float = 200.0,
                    spike_s: float = 1.0) -> Schedule:
    """``bursts`` bursts separated by gaps alternately long (all environments reaped) and short.

    Long gap = 1.3 x keep-alive + 2 s, short gap = 0.4 x keep-alive: both at least 2 s (and 40 %)
    away from the keep-alive, so the emulator's reaper, which runs on a timer of up to 1 s, reaps
    the same environments the model does. Each burst opens with ``onset_s`` at ``onset_rps``
    (the arrivals that land during the first INIT each need an environment), then ``burst_s`` at
    ``burst_rps``. The last burst carries a ``spike_s`` spike at ``spike_rps`` (queueing in the
    pod). Poisson arrivals inside each segment from one seeded generator. Raises CalibrationError.
    """
    for name, value in (("keep-alive", keep_alive_s), ("onset rate", onset_rps), ("onset", onset_s),
                        ("burst rate", burst_rps), ("burst", burst_s), ("spike rate", spike_rps), ("spike", spike_s)):
        if not (math.isfinite(value) and value > 0):
            raise CalibrationError(f"{name} must be finite and > 0, got {value}")
    if not 1 <= bursts <= 50:
        raise CalibrationError(f"bursts must be within 1..50, got {bursts}")
    if keep_alive_s < 3:
        raise CalibrationError("keep-alive must be >= 3 s (the emulator reaps on a timer of up to 1 s)")
    long_gap, short_gap = 1.3 * keep_alive_s + 2.0, 0.4 * keep_alive_s
    segments: list[Segment] = []
    t = 0.0
    for b in range(bursts):
        segments.append(Segment(t, t + onset_s, onset_rps, f"burst {b + 1} onset"))
        t += onset_s
        if b == bursts - 1:
            half = burst_s / 2.0
            segments.append(Segment(t, t + half, burst_rps, f"burst {b + 1}"))
            segments.append(Segment(t + half, t + half + spike_s, spike_rps, f"burst {b + 1} spike"))
            segments.append(Segment(t + half + spike_s, t + burst_s + spike_s, burst_rps, f"burst {b + 1}"))
            t += burst_s + spike_s
        else:
            segments.append(Segment(t, t + burst_s, burst_rps, f"burst {b + 1}"))
            t += burst_s
            gap = long_gap if b % 2 == 0 else short_gap
            segments.append(Segment(t, t + gap, 0.0, "idle > keep-alive" if gap > keep_alive_s else "idle < keep-alive"))
            t += gap
    rng = np.random.default_rng(seed)
    parts = []
    for s in segments:
        if s.rate_rps > 0:
            n = rng.poisson(s.rate_rps * (s.end_s - s.start_s))
            parts.append(np.sort(rng.uniform(s.start_s, s.end_s, n)))
    arrivals = np.concatenate(parts) if parts else np.empty(0)
    if arrivals.size == 0:
        raise CalibrationError("the schedule drew no arrivals; raise the rates")
    return Schedule(arrivals, tuple(segments), float(keep_alive_s), int(seed))


FULL = {"keep_alive_s": 10.0, "bursts": 6}
"""``make simulate-calibrate``: ~110 s of schedule per target."""
SHORT = {"keep_alive_s": 4.0, "bursts": 3, "burst_s": 2.5, "spike_s": 0.6}
"""The test's version: ~20 s per target, both targets and the simulation within 60 s wall."""
