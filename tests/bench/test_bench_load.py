"""twinbench.measure.loadgen: open-loop schedule, coordinated-omission correction, step aggregation."""

from __future__ import annotations

import asyncio
import gc

import pytest
from aiohttp import web
from twinbench.measure.loadgen import LoadGenerator, arrival_offsets, step_result
from twinbench.measure.scenarios import burst_timeline, rate_ladder


def test_constant_arrivals_are_evenly_spaced():
    offsets = arrival_offsets(100, 1.0)
    assert len(offsets) == 100
    assert offsets[0] == 0.0 and offsets[1] == pytest.approx(0.01) and offsets[-1] == pytest.approx(0.99)


def test_poisson_arrivals_are_reproducible_and_have_the_right_rate():
    a = arrival_offsets(200, 10.0, "poisson", seed=3)
    assert a == arrival_offsets(200, 10.0, "poisson", seed=3)
    assert 1800 < len(a) < 2200
    assert all(x < y for x, y in zip(a, a[1:], strict=False))
    assert a != arrival_offsets(200, 10.0, "poisson", seed=4)


@pytest.mark.parametrize("rate,duration", [(0, 1), (10, 0), (-1, 1)])
def test_bad_schedule_is_refused(rate, duration):
    with pytest.raises(ValueError):
        arrival_offsets(rate, duration)


def test_rate_ladder_scales_caps_and_dedupes():
    assert rate_ladder(100, (0.25, 0.5, 1.0, 2.0), max_rate_rps=150) == [25.0, 50.0, 100.0, 150.0]
    assert rate_ladder(1, (0.1, 0.2), max_rate_rps=100) == [1.0]


async def _serve(stall_s: float, stall_at: int):
    """A server that answers instantly except request number ``stall_at``, which it holds."""
    count = {"n": 0}
    lock = asyncio.Lock()

    async def predict(request: web.Request) -> web.Response:
        count["n"] += 1
        if count["n"] == stall_at:
            async with lock:  # hold every request behind this one, like a stalled single worker
                await asyncio.sleep(stall_s)
        else:
            async with lock:
                pass
        return web.json_response({"predictions": [1]}, headers={"x-twinserve-cold": "false"})

    return await _serve_predict(predict)


async def _serve_predict(predict):
    """``predict`` as POST /predict on 127.0.0.1; returns the runner (to clean up) and the base URL."""
    app = web.Application()
    app.router.add_post("/predict", predict)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


def test_open_loop_counts_the_stall_for_every_request_scheduled_during_it():
    async def main():
        runner, url = await _serve(stall_s=0.3, stall_at=10)
        try:
            async with LoadGenerator(url, b"{}") as gen:
                outcomes, generator = await gen.open_loop(100, 1.0)
        finally:
            await runner.cleanup()
        return outcomes, generator

    outcomes, generator = asyncio.run(main())
    assert len(outcomes) == 100 and all(o.ok for o in outcomes)
    step = step_result(outcomes, generator, offered_rps=100, duration_s=1.0)
    # ~30 requests were scheduled during the 300 ms stall; measured from their intended send
    # time they waited up to 300 ms. A closed-loop tool would have recorded one slow request.
    slow = [o for o in outcomes if o.latency_ms > 100]
    assert len(slow) >= 15
    assert step["latency"]["p99_ms"] >= 250
    assert step["latency"]["p50_ms"] < 250
    assert step["cold_starts"] == 0 and step["errors"] == 0
    assert set(generator) >= {"cpu_fraction", "send_lag_p99_ms", "bottleneck"}


def test_closed_loop_and_sequential_record_service_time():
    async def main():
        runner, url = await _serve(stall_s=0.0, stall_at=-1)
        try:
            async with LoadGenerator(url, b"{}") as gen:
                seq = await gen.sequential(5)
                closed, generator = await gen.closed_loop(2, 0.3)
        finally:
            await runner.cleanup()
        return seq, closed, generator

    seq, closed, generator = asyncio.run(main())
    assert len(seq) == 5 and all(o.ok and o.cold is False for o in seq)
    assert len(closed) > 10
    assert all(o.latency_ms == o.service_ms for o in closed)


def test_a_long_step_keeps_its_outcomes_out_of_the_collectors_walk_and_gives_them_back():
    """Why: a soak's outcomes pile up for 10 minutes and a full collection over them stalled the
    generator for hundreds of ms, which then sent its backlog as one burst."""
    seen: list[int] = []

    async def main():
        async def predict(request: web.Request) -> web.Response:
            seen.append(gc.get_freeze_count())
            return web.json_response({"predictions": [1]})

        runner, url = await _serve_predict(predict)
        try:
            async with LoadGenerator(url, b"{}") as gen:
                opened, _ = await gen.open_loop(100, 1.6)
                during_open = list(seen)
                seen.clear()
                closed, _ = await gen.closed_loop(1, 1.6)
        finally:
            await runner.cleanup()
        return opened, during_open, closed

    opened, during_open, closed = asyncio.run(main())
    assert len(opened) == 160 and all(o.ok for o in opened)
    assert sorted(o.done_s for o in opened)[-1] > 1.5 and closed and all(o.ok for o in closed)
    # Frozen while the step ran (the count rises after each second), released after it.
    assert max(during_open) > 0 and max(seen) > 0
    assert gc.get_freeze_count() == 0


def test_errors_are_outcomes_not_exceptions():
    async def main():
        async with LoadGenerator("http://127.0.0.1:9", b"{}", timeout_s=1.0) as gen:  # discard port: refused
            return await gen.sequential(2)

    outcomes = asyncio.run(main())
    assert [o.status for o in outcomes] == [0, 0] and all(o.error for o in outcomes)
    step = step_result(outcomes, {"cpu_fraction": 0.0, "send_lag_p99_ms": 0.0, "send_lag_max_ms": 0.0,
                                  "bottleneck": False}, offered_rps=1.0, duration_s=1.0)
    assert step["errors"] == 2 and step["error_rate"] == 1.0 and step["latency"]["n"] == 0


def test_burst_steady_state_is_after_the_last_bad_window():
    from twinbench.measure.loadgen import Outcome

    def o(latency, status=200):
        return Outcome(status=status, latency_ms=latency, service_ms=latency, send_lag_ms=0, done_s=0)

    outcomes = [o(500), o(400, 429), o(5), o(5), o(5), o(5)]
    offsets = [0.0, 0.1, 0.3, 0.45, 0.6, 0.8]
    timeline = burst_timeline(outcomes, 0.25, slo_ms=100, start_offsets=offsets)
    assert timeline["time_to_steady_s"] == 0.25
    never = burst_timeline([o(5), o(500)], 0.25, slo_ms=100, start_offsets=[0.0, 0.3])
    assert never["time_to_steady_s"] is None
