"""One fault step: a steady open-loop stream with one fault injected from a thread, and the step's record and checks."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import psutil

from twinbench.measure.loadgen import LoadGenerator, Outcome
from twinbench.measure.progress import Progress
from twinbench.reliability.chaos.recovery import analyse
from twinbench.reliability.chaos.settings import (
    CLIENT_TIMEOUT_S,
    RATE_BACKOFF,
    RATE_CHECK_S,
    RATE_CHECKS,
    SATURATION_LEVELS,
    SATURATION_STEP_S,
    ChaosSettings,
    FaultError,
)

Inject = Callable[[Callable[[], float], threading.Event], dict[str, Any]]
"""``inject(now_s, cancel)``: runs in a thread while the stream flows; ``now_s()`` is the step's clock;
returns facts including ``t_fault_s``. It must return soon after ``cancel`` is set."""


async def stream_with_fault(url: str, body: Sequence[bytes], rate: float, duration_s: float, pre_s: float,
                             inject: Inject) -> tuple[list[Outcome], dict, dict]:
    cancel = threading.Event()
    async with LoadGenerator(url, body, timeout_s=CLIENT_TIMEOUT_S) as gen:
        called = time.perf_counter()
        start = called + 0.01  # LoadGenerator.open_loop's step clock starts 10 ms after the call

        def now_s() -> float:
            return time.perf_counter() - start

        def injector() -> dict:
            while now_s() < pre_s and not cancel.is_set():
                time.sleep(0.005)
            if cancel.is_set():
                return {"t_fault_s": None, "cancelled": True}
            try:
                return inject(now_s, cancel)
            except (FaultError, OSError, psutil.Error, ValueError, TypeError) as exc:
                # Recorded as the fault's result (its "fault injected" check fails); the run goes on.
                return {"t_fault_s": None, "error": f"{type(exc).__name__}: {exc}"}

        task = asyncio.create_task(asyncio.to_thread(injector))
        try:
            outcomes, generator = await gen.open_loop(rate, duration_s)
            cancel.set()
            facts = await task
        finally:
            cancel.set()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), 30)
    return outcomes, generator, facts


def measure_rate(url: str, body: Sequence[bytes], settings: ChaosSettings, progress: Progress) -> tuple[float, dict]:
    """The offered rate: ``--rps``, or ``load_fraction`` of a quick closed-loop saturation estimate."""
    if settings.rps:
        return settings.rps, {"source": "--rps", "saturation_rps": None}

    async def probe() -> list[dict]:
        steps = []
        async with LoadGenerator(url, body, timeout_s=CLIENT_TIMEOUT_S) as gen:
            await gen.sequential(30)
            for level in SATURATION_LEVELS:
                outcomes, generator = await gen.closed_loop(level, SATURATION_STEP_S)
                ok = [o for o in outcomes if o.ok]
                span = max((o.done_s for o in outcomes), default=0.0)
                steps.append({"concurrency": level, "achieved_rps": round(len(ok) / span, 1) if span else 0.0,
                              "errors": len(outcomes) - len(ok), "generator_bound": generator["bottleneck"]})
                progress.update(f"concurrency {level}: {steps[-1]['achieved_rps']:.0f} rps")
        return steps

    steps = asyncio.run(probe())
    clean = [s["achieved_rps"] for s in steps if s["errors"] == 0]
    saturation = max(clean) if clean else max(s["achieved_rps"] for s in steps) / 2
    rate = max(1.0, round(saturation * settings.load_fraction, 1))
    # A closed-loop peak overstates what an open-loop stream holds when the generator (and, on a
    # shared machine, other work) takes cores: check the rate open-loop and back off until it holds,
    # or every fault would be measured on a queue that was already growing.
    checks = asyncio.run(_hold_rate(url, body, rate, progress))
    rate = checks[-1]["offered_rps"] if checks[-1]["held"] else round(checks[-1]["offered_rps"] * RATE_BACKOFF, 1)
    return rate, {"source": f"{settings.load_fraction:g} x closed-loop peak ({SATURATION_STEP_S:.0f} s at concurrency "
                            f"{SATURATION_LEVELS}), checked open loop for {RATE_CHECK_S:.0f} s and backed off "
                            f"x{RATE_BACKOFF} until held (no error, >= 95 % achieved, p99 not climbing)",
                  "saturation_rps": saturation, "steps": steps, "rate_checks": checks}


async def _hold_rate(url: str, body: Sequence[bytes], rate: float, progress: Progress) -> list[dict]:
    from twinbench.reliability.soak import latency_stable

    checks = []
    async with LoadGenerator(url, body, timeout_s=CLIENT_TIMEOUT_S) as gen:
        for _ in range(RATE_CHECKS):
            outcomes, generator = await gen.open_loop(rate, RATE_CHECK_S)
            ok = [o for o in outcomes if o.ok]
            span = max((o.done_s for o in outcomes), default=0.0)
            achieved = len(ok) / span if span else 0.0
            stable, first, last = latency_stable(outcomes)
            held = len(ok) == len(outcomes) and achieved >= 0.95 * rate and stable
            checks.append({"offered_rps": rate, "achieved_rps": round(achieved, 1), "errors": len(outcomes) - len(ok),
                           "p99_first_third_ms": first, "p99_last_third_ms": last, "held": held,
                           "generator_bound": generator["bottleneck"]})
            progress.update(f"open loop {rate:.0f} rps: achieved {achieved:.0f}, p99 {first} -> {last} ms, held {held}")
            if held:
                break
            rate = max(1.0, round(rate * RATE_BACKOFF, 1))
    return checks


def fault_record(target: str, fault: str, rate: float, duration_s: float, outcomes: list[Outcome],
                  generator: dict, facts: dict, pre_s: float) -> dict[str, Any]:
    t_fault = facts.get("t_fault_s")
    figures = analyse(outcomes, t_fault if t_fault is not None else pre_s, duration_s)
    return {"target": target, "fault": fault, "offered_rps": rate, "duration_s": duration_s,
            "pre_s": pre_s, **figures, "generator": generator, "facts": facts}


def judge(record: dict[str, Any], checks: list[tuple[str, bool, str]]) -> dict[str, Any]:
    record["checks"] = [{"name": n, "ok": bool(ok), "detail": d} for n, ok, d in checks]
    record["ok"] = all(c["ok"] for c in record["checks"])
    return record


def post(url: str, body: bytes, timeout_s: float = CLIENT_TIMEOUT_S) -> tuple[int, dict[str, str], bytes, float]:
    """One POST on a fresh connection: (status, headers, body, ms); status 0 when nothing answered."""
    t0 = time.perf_counter()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), \
                (time.perf_counter() - t0) * 1000
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read(), (time.perf_counter() - t0) * 1000
    except OSError as exc:
        return 0, {"error": type(exc).__name__}, b"", (time.perf_counter() - t0) * 1000

def one_line(record: dict) -> str:
    status = "ok" if record.get("ok") else "FAIL"
    return (f"{record['fault']}: sent {record.get('sent')}, failed {record.get('failed_by_status')}, "
            f"recovery {record.get('recovery_s')} s, {status}")
