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


def test_the_lambda_model_gets_the_arrivals_the_pool_saw():
    schedule = calibrate.bursty_schedule(seed=7, **calibrate.SHORT)
    n = schedule.arrivals_s.size
    run = _run(n, np.full(n, 2.0))
    assert np.array_equal(calibrate.lambda_arrivals(schedule, run), schedule.arrivals_s)  # none recorded
    pool = schedule.arrivals_s + 0.003
    pool[10] = np.nan  # an answer without an id: scheduled + the others' median delay
    run.pool_arrival_s = pool
    seen = calibrate.lambda_arrivals(schedule, run)
    assert np.allclose(seen, schedule.arrivals_s + 0.003)


def test_a_bunched_arrival_order_is_replayed_in_time_order_and_answered_per_request():
    from twinbench.simulate.params import LambdaParams, ServiceTime

    params = LambdaParams(memory_mb=1024, keep_alive_s=60.0, reserved_concurrency=1, account_concurrency=1000)
    init = ServiceTime("Lambda init", np.array([100.0]), "test")
    # The third request reached the pool first: it is the cold start, and the other two, arriving
    # during its INIT, are throttled by the cap of one.
    arrivals = np.array([0.010, 0.020, 0.005])
    out = calibrate.replay_lambda_at(arrivals, np.full(3, 1.0), params, init, np.array([100.0]), seed=0)
    assert out.cold.tolist() == [False, False, True]
    assert out.latency_ms.tolist() == [-1.0, -1.0, 101.0]
