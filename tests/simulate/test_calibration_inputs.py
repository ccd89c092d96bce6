"""What the model is fed from a Lambda replay: the environments' holds for the concurrency cap, and the
client's own overhead back on top of the model's latencies."""

from __future__ import annotations

import numpy as np
from twinbench.simulate import calibrate


def _run(n: int, busy: np.ndarray | None) -> calibrate.TargetRun:
    status = np.full(n, 200)
    status[::5] = 429  # every fifth throttled in the replay
    latency = np.linspace(5.0, 9.0, n)
    cold = np.zeros(n, dtype=int)
    return calibrate.TargetRun("lambda", latency, status, cold, {}, {}, {}, {}, busy_ms=busy)


def test_durations_are_the_environments_holds_when_the_run_has_them():
    schedule = calibrate.bursty_schedule(seed=7, **calibrate.SHORT)
    n = schedule.arrivals_s.size
    busy = np.linspace(1.0, 3.0, n)
    busy[1] = np.nan  # an answer without an id: not a hold to draw
    run = _run(n, busy)
    drawn = calibrate.segment_durations(schedule, run, seed=0)
    # Drawn between the holds' order statistics (1-3 ms), never from the latencies (5-9 ms).
    assert drawn.size == n and drawn.min() >= 1.0 and drawn.max() <= 3.0
    old = calibrate.segment_durations(schedule, _run(n, None), seed=0)  # no holds: the latencies, as before
    assert old.min() >= 5.0 and old.max() <= 9.0


def test_client_latencies_add_each_requests_own_overhead_or_one_from_its_segment():
    schedule = calibrate.bursty_schedule(seed=7, **calibrate.SHORT)
    n = schedule.arrivals_s.size
    busy = np.full(n, 2.0)
    run = _run(n, busy)
    simulated = np.full(n, 3.0)
    simulated[3] = -1.0  # throttled in the model: stays unserved
    seen = calibrate.client_latencies(schedule, run, simulated, seed=0)
    overhead = run.latency_ms - busy
    served = run.ok.copy()
    served[3] = False
    assert np.allclose(seen[served], 3.0 + overhead[served])
    assert seen[3] == -1.0
    throttled_there = ~run.ok
    assert set(np.round(seen[throttled_there] - 3.0, 9).tolist()) <= set(np.round(overhead[run.ok], 9).tolist())
    assert np.array_equal(calibrate.client_latencies(schedule, _run(n, None), simulated, seed=0), simulated)
