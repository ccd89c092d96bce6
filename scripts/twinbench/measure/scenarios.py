"""The four scenarios and the profiles that size them.

Each runner takes the targets (interleaved step by step, so drift in the machine's load hits both
alike) and returns plain dicts for results.json. Latencies in ms, rates in requests/s.

1. cold start   — N forced cold starts per target (see :mod:`twinbench.targets`); Lambda samples
                  whose cold header disagrees are dropped and counted.
2. warm latency — sequential requests on one kept-alive connection after discarded warm-ups.
3. scalability  — open-loop arrival-rate steps (coordinated-omission corrected) and closed-loop
                  concurrency steps; the knee is the highest rate with p99 <= SLO.
4. burst        — from idle (Lambda: environments reaped) straight to a high rate.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass

from twinbench.measure.loadgen import LoadGenerator, Outcome, step_result
from twinbench.measure.locust_driver import LocustDriver, LocustStep
from twinbench.measure.stats import Step, find_knee, summarize
from twinbench.targets.base import ColdBatch, ColdSample, Target

__all__ = ["PROFILES", "Profile", "SCENARIOS", "burst_timeline", "rate_ladder"]

SCENARIOS = ("cold", "warm", "scalability", "burst")


@dataclass(frozen=True)
class Profile:
    """How much of each scenario to run. Durations in s; ``rate_fractions`` scale the capacity estimate."""

    name: str
    cold_n: int
    warmup_n: int
    warm_n: int
    rate_fractions: tuple[float, ...]
    rate_step_s: float
    concurrency_levels: tuple[int, ...]
    concurrency_step_s: float
    burst_idle_s: float
    burst_s: float
    burst_fraction: float  # of the capacity estimate
    max_rate_rps: float  # one Python event loop cannot send much faster; above, the generator limits
    pause_s: float  # between steps, so one step's queue does not spill into the next


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", cold_n=2, warmup_n=10, warm_n=60, rate_fractions=(0.25, 0.6, 1.2),
                     rate_step_s=2.0, concurrency_levels=(1, 4), concurrency_step_s=1.5,
                     burst_idle_s=1.0, burst_s=2.0, burst_fraction=0.6, max_rate_rps=600, pause_s=0.3),
    "quick": Profile("quick", cold_n=6, warmup_n=30, warm_n=300,
                     rate_fractions=(0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0, 1.2), rate_step_s=6.0,
                     concurrency_levels=(1, 2, 4, 8, 16), concurrency_step_s=4.0,
                     burst_idle_s=3.0, burst_s=6.0, burst_fraction=0.7, max_rate_rps=1500, pause_s=1.0),
    "full": Profile("full", cold_n=20, warmup_n=100, warm_n=2000,
                    rate_fractions=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5),
                    rate_step_s=15.0, concurrency_levels=(1, 2, 4, 8, 16, 32, 64), concurrency_step_s=10.0,
                    burst_idle_s=10.0, burst_s=15.0, burst_fraction=0.8, max_rate_rps=2000, pause_s=2.0),
}

Progress = Callable[[str], None]


def _rel(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _cold_result(n: int, valid: Sequence[ColdSample], dropped: int, failure_statuses: list[int],
                 extra: dict | None = None) -> dict:
    return {
        "skipped": False,
        "n_requested": n,
        "n_valid": len(valid),
        "n_dropped_misclassified": dropped,
        "n_failed": len(failure_statuses),
        "failure_statuses": failure_statuses,
        "first_response": summarize([s.first_response_ms for s in valid]),
        "init": summarize([s.init_ms for s in valid if s.init_ms is not None]),
        "first_request": summarize([s.request_ms for s in valid if s.request_ms is not None]),
        "samples": [{"first_response_ms": _rel(s.first_response_ms), "init_ms": _rel(s.init_ms),
                     "first_request_ms": _rel(s.request_ms), "verified_cold": s.verified_cold}
                    for s in valid],
        **(extra or {}),
    }


async def _cold_batch(target: Target, body: bytes, n: int, on_sample: Progress) -> ColdBatch:
    """Run the target's own series in a thread; on cancellation (Ctrl-C, SIGTERM) tell it to stop.

    The thread finishes its current step and cleans up (the remote Lambda restores its
    configuration); ``asyncio.run`` waits for it before returning, so nothing is left changed.
    """
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(target.cold_batch, body, n, on_sample, cancel)
    except BaseException:
        cancel.set()
        raise


async def cold_start(targets: Sequence[Target], body: bytes, n: int, on_sample: Progress) -> dict[str, dict]:
    """``n`` forced cold starts per target, interleaved; misclassified Lambda samples dropped, counted.

    Targets with their own series (:meth:`Target.cold_batch`) run theirs after the interleaved
    ones; an error there (e.g. ``ColdStartError``: no permission) is recorded as the target's
    result (``skipped`` with ``error``) and the other scenarios still run.
    """
    results: dict[str, dict] = {}
    samples: dict[str, list] = {t.name: [] for t in targets}
    dropped = dict.fromkeys(samples, 0)
    failure_statuses: dict[str, list[int]] = {name: [] for name in samples}
    runnable = [t for t in targets if t.cold_supported and not t.has_cold_batch]
    for i in range(n):
        for target in runnable:
            sample = await asyncio.to_thread(target.cold_sample, body)
            if not 200 <= sample.status < 300:
                failure_statuses[target.name].append(sample.status)
            elif sample.verified_cold is False:
                dropped[target.name] += 1  # the handler says it was warm: not a cold start
            else:
                samples[target.name].append(sample)
            on_sample(f"{target.name} {i + 1}/{n}: {sample.first_response_ms:.0f} ms (status {sample.status})")
    for target in targets:
        if not target.cold_supported:
            results[target.name] = {"skipped": True, "reason": target.cold_unsupported_reason}
        elif target.has_cold_batch:
            try:
                batch = await _cold_batch(target, body, n, on_sample)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                results[target.name] = {"skipped": True, "reason": f"forced cold starts failed: {error}",
                                        "error": error}
                continue
            results[target.name] = _cold_result(n, batch.samples, batch.misclassified, batch.failure_statuses,
                                                {"n_unknown_cold_flag": batch.unknown, **batch.extra})
        else:
            results[target.name] = _cold_result(n, samples[target.name], dropped[target.name],
                                                failure_statuses[target.name])
    return results


async def warm(gens: dict[str, LoadGenerator], warmup_n: int, n: int, on_step: Progress) -> dict[str, dict]:
    """Sequential requests per target (warm-ups recorded apart); interleaved in blocks of 50."""
    warmups: dict[str, list[Outcome]] = {}
    measured: dict[str, list[Outcome]] = {name: [] for name in gens}
    for name, gen in gens.items():
        warmups[name] = await gen.sequential(warmup_n)
    block = 50
    done = 0
    while done < n:
        size = min(block, n - done)
        for name, gen in gens.items():
            measured[name].extend(await gen.sequential(size))
        done += size
        on_step(f"{done}/{n} requests per target")
    results = {}
    for name in gens:
        ok = [o for o in measured[name] if o.ok]
        results[name] = {
            "n_warmup": len(warmups[name]),
            "warmup_samples_ms": [round(o.service_ms, 3) for o in warmups[name] if o.ok],
            "warmup_cold_starts": sum(1 for o in warmups[name] if o.cold),
            "sent": len(measured[name]),
            "errors": len(measured[name]) - len(ok),
            "cold_starts": sum(1 for o in measured[name] if o.cold),
            "latency": summarize([o.service_ms for o in ok]),
            "samples_ms": [round(o.service_ms, 3) for o in ok],
        }
    return results


def capacity_estimate_rps(warm_median_ms: float | None, cpus: float | None) -> float | None:
    """What ``cpus`` CPUs could serve if each request cost the warm median: ``cpus * 1000 / median``."""
    if not warm_median_ms or not cpus:
        return None
    return cpus * 1000.0 / warm_median_ms


def rate_ladder(capacity_rps: float, fractions: Sequence[float], max_rate_rps: float) -> list[float]:
    """Offered rates for the open-loop steps: fractions of the capacity estimate, capped, ascending, unique."""
    rates = sorted({max(1.0, round(min(max_rate_rps, capacity_rps * f), 1)) for f in fractions})
    return rates


BUILTIN = "builtin"


def _named(step: dict, name: str = BUILTIN) -> dict:
    """Say which generator produced the step (the report shows it beside each figure)."""
    step["generator"].setdefault("name", name)
    return step


async def scalability(
    gens: dict[str, LoadGenerator], rates: Sequence[float], step_s: float, levels: Sequence[int],
    level_s: float, pause_s: float, slo_ms: float, on_step: Progress, on_tick: Callable[[dict], None],
    prewarm: dict[str, int] | None = None, locust: LocustDriver | None = None,
) -> dict[str, dict]:
    """Open-loop rate steps, then closed-loop concurrency steps; each step alternates targets.

    ``prewarm`` (target -> concurrency) first runs a discarded closed-loop second at that
    concurrency, so the steps measure warm capacity (Lambda: that many environments exist) and
    scale-out from idle is left to the burst scenario. With ``locust`` the rate steps run as one
    Locust plan (same interleaving and pauses); the closed-loop steps stay on the built-in generator.
    """
    prewarmed: dict[str, dict] = {}
    for name, gen in gens.items():
        level = (prewarm or {}).get(name)
        if level:
            outcomes, _ = await gen.closed_loop(level, 1.5)
            prewarmed[name] = {"concurrency": level, "sent": len(outcomes),
                               "cold_starts": sum(1 for o in outcomes if o.cold),
                               "errors": sum(1 for o in outcomes if not o.ok)}
            on_step(f"{name:9s} pre-warm at concurrency {level}: {len(outcomes)} requests, "
                    f"{prewarmed[name]['cold_starts']} cold starts (discarded)")
    rate_steps: dict[str, list[dict]] = {name: [] for name in gens}
    conc_steps: dict[str, list[dict]] = {name: [] for name in gens}
    if locust is not None:
        plan = [(name, LocustStep(gen.url, rate, step_s, pause_s=pause_s if i else 0.0))
                for i, (rate, (name, gen)) in enumerate((r, g) for r in rates for g in gens.items())]
        on_step(f"Locust: {len(plan)} open-loop steps on {locust.workers} local + {locust.remote_workers} remote workers")
        results = await asyncio.to_thread(locust.run_plan, [s for _, s in plan], on_step)
        for (name, spec), res in zip(plan, results, strict=True):
            rate_steps[name].append(res.record)
            on_step(_step_line(name, f"{spec.rate:g} rps", res.record) + "  [locust]")

    async def open_step(gen: LoadGenerator, rate: float) -> dict:
        outcomes, generator = await gen.open_loop(rate, step_s, progress=on_tick)
        return step_result(outcomes, generator, offered_rps=rate, duration_s=step_s)

    async def closed_step(gen: LoadGenerator, level: float) -> dict:
        outcomes, generator = await gen.closed_loop(int(level), level_s, progress=on_tick)
        return step_result(outcomes, generator, concurrency=int(level), duration_s=level_s)

    if locust is None:
        await _interleaved(gens, rates, open_step, lambda rate: f"{rate:g} rps", rate_steps, on_step, pause_s)
    await _interleaved(gens, levels, closed_step, lambda level: f"concurrency {level}", conc_steps, on_step, pause_s)
    results = {}
    for name in gens:
        knee = find_knee(
            [Step(s["offered_rps"], s["achieved_rps"], s["latency"]["p99_ms"], s["error_rate"])
             for s in rate_steps[name]],
            slo_ms,
        )
        results[name] = {
            "slo_ms": slo_ms,
            "knee_rps": knee,
            "knee_definition": "highest offered rate with p99 <= SLO, errors <= 1 %, achieved >= 90 % of offered",
            # The knee is only a lower bound when the highest step offered still met the SLO.
            "knee_is_lower_bound": bool(knee) and knee >= max((s["offered_rps"] for s in rate_steps[name]), default=0.0),
            "max_achieved_rps": max((s["achieved_rps"] for s in rate_steps[name] + conc_steps[name]), default=0.0),
            "prewarm": prewarmed.get(name),
            "rate_steps": rate_steps[name],
            "concurrency_steps": conc_steps[name],
        }
    return results


async def _interleaved(gens: dict[str, LoadGenerator], points: Sequence[float],
                       measure: Callable[[LoadGenerator, float], Awaitable[dict]], label: Callable[[float], str],
                       out: dict[str, list[dict]], on_step: Progress, pause_s: float) -> None:
    """Each point on each target in turn (targets alternate within a point), a pause after every
    step so one target's backlog does not land in the next one's step."""
    for point in points:
        for name, gen in gens.items():
            step = _named(await measure(gen, point))
            out[name].append(step)
            on_step(_step_line(name, label(point), step))
            await asyncio.sleep(pause_s)


def _step_line(name: str, label: str, step: dict) -> str:
    p99 = step["latency"]["p99_ms"]
    flag = "  [generator-bound]" if step["generator"]["bottleneck"] else ""
    return (f"{name:9s} {label:>16s}: {step['achieved_rps']:8.1f} rps  p99 "
            f"{p99 if p99 is not None else float('nan'):8.1f} ms  err {step['errors']}  429 {step['throttled_429']}{flag}")


def burst_timeline(outcomes: Sequence[Outcome], window_s: float, slo_ms: float, start_offsets: Sequence[float]) -> dict:
    """Per-window stats of a burst and the time to steady state.

    Windows are by *intended send time*. Steady state is reached at the end of the last window
    whose p99 exceeds the SLO or that had an error; ``time_to_steady_s`` is ``None`` when the
    final window is still bad (never reached within the burst).
    """
    windows: dict[int, list[Outcome]] = {}
    for outcome, offset in zip(outcomes, start_offsets, strict=True):
        windows.setdefault(int(offset // window_s), []).append(outcome)
    rows = []
    last_bad = -1
    for index in sorted(windows):
        group = windows[index]
        ok = [o.latency_ms for o in group if o.ok]
        p99 = summarize(ok)["p99_ms"] if ok else None
        errors = len(group) - len(ok)
        bad = errors > 0 or p99 is None or p99 > slo_ms
        if bad:
            last_bad = index
        rows.append({"t_s": round(index * window_s, 3), "sent": len(group), "errors": errors,
                     "throttled_429": sum(1 for o in group if o.status == 429),
                     "cold_starts": sum(1 for o in group if o.cold), "p99_ms": p99})
    last_index = max(windows) if windows else -1
    never = last_bad == last_index and last_index >= 0  # still bad at the end of the burst
    steady = None if never else round((last_bad + 1) * window_s, 3)
    return {"window_s": window_s, "windows": rows, "time_to_steady_s": steady}


async def burst(
    targets: Sequence[Target], gens: dict[str, LoadGenerator], rate: float, idle_s: float, burst_s: float,
    slo_ms: float, on_step: Progress, on_tick: Callable[[dict], None], locust: LocustDriver | None = None,
) -> dict[str, dict]:
    """Idle (Lambda: environments reaped), then ``rate`` rps at once for ``burst_s``.

    With ``locust`` (targets given as URLs: nothing to reap) every target's burst is one step of a
    Locust plan, each after ``idle_s`` of silence.
    """
    results = {}
    if locust is not None:
        plan = [LocustStep(gens[t.name].url, rate, burst_s, pause_s=idle_s) for t in targets]
        runs = await asyncio.to_thread(locust.run_plan, plan, on_step)
        for target, res in zip(targets, runs, strict=True):
            step = res.record
            step["idle_s"] = idle_s
            step["idle_action"] = None
            step["timeline"] = burst_timeline(res.outcomes, max(0.25, burst_s / 20), slo_ms, res.offsets)
            step["time_to_steady_s"] = step["timeline"]["time_to_steady_s"]
            results[target.name] = step
            on_step(_step_line(target.name, f"burst {rate:g} rps", step)
                    + f"  steady after {step['time_to_steady_s']} s  cold {step['cold_starts']}  [locust]")
        return results
    for target in targets:
        gen = gens[target.name]
        idle_action = await asyncio.to_thread(target.before_burst)
        await asyncio.sleep(idle_s)
        outcomes, generator = await gen.open_loop(rate, burst_s, progress=on_tick)
        offsets = [i / rate for i in range(len(outcomes))]  # constant arrivals: intended offsets
        step = _named(step_result(outcomes, generator, offered_rps=rate, duration_s=burst_s))
        step["idle_s"] = idle_s
        step["idle_action"] = idle_action
        step["timeline"] = burst_timeline(outcomes, max(0.25, burst_s / 20), slo_ms, offsets)
        step["time_to_steady_s"] = step["timeline"]["time_to_steady_s"]
        results[target.name] = step
        on_step(_step_line(target.name, f"burst {rate:g} rps", step)
                + f"  steady after {step['time_to_steady_s']} s  cold {step['cold_starts']}")
    return results


def profile_dict(profile: Profile) -> dict:
    return asdict(profile)
