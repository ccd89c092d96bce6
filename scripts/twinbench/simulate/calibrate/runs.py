"""What one calibration replay recorded: per request, per target, and the measurement of both."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinbench.results.jsonable import jsonable
from twinbench.simulate.calibrate.schedule import Schedule

RAW_DIGITS = 3  # decimals kept of the raw per-request series in the report's JSON


@dataclass
class TargetRun:
    """One target's replay: per request in arrival order, plus what the target reported."""

    name: str
    latency_ms: np.ndarray
    status: np.ndarray
    cold: np.ndarray  # 1 cold, 0 warm, -1 no flag in the answer
    errors: dict[str, int]
    inputs: dict[str, Any]
    info: dict[str, Any]
    generator: dict[str, float]
    # Lambda only: ms the emulator held each request's environment (NaN where unknown: throttled,
    # failed, or no id in the answer). The concurrency cap counts held environments, not latencies.
    busy_ms: np.ndarray | None = None
    # Lambda only: when each request reached the emulator's environment pool, seconds of the schedule
    # (NaN where unknown: no id in the answer). Later than the intended send by the generator's lag
    # and the front's own delay.
    pool_arrival_s: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        return (self.status >= 200) & (self.status < 300)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "latency_ms": [round(float(v), 3) for v in self.latency_ms],
                "status": [int(v) for v in self.status], "cold": [int(v) for v in self.cold],
                "busy_ms": _floats_or_none(self.busy_ms, 3),
                "pool_arrival_s": _floats_or_none(self.pool_arrival_s, 6),
                "errors": self.errors, "inputs": jsonable(self.inputs, RAW_DIGITS), "info": jsonable(self.info, RAW_DIGITS),
                "generator": self.generator}


def _floats_or_none(values: np.ndarray | None, digits: int) -> list[float | None] | None:
    """A per-request array for JSON: NaN (unknown) becomes null."""
    if values is None:
        return None
    return [None if math.isnan(v) else round(float(v), digits) for v in values]


@dataclass
class Measurement:
    schedule: Schedule
    lambda_run: TargetRun | None
    container_run: TargetRun | None
    environment: dict[str, Any]
