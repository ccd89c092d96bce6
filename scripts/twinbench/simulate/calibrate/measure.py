"""The calibration's measurement: the schedule replayed open-loop on the local Lambda and on gunicorn.

Each target runs in turn (never at once: they would share the cores). The inputs the model gets
(Lambda holds and INITs, the pod's service time and capacity) come from the same replay.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twinbench.results.envinfo import load_average
from twinbench.simulate.calibrate.runs import Measurement, TargetRun
from twinbench.simulate.calibrate.schedule import CalibrationError, Schedule
from twinbench.simulate.calibrate.simulated import lambda_arrivals


async def _replay(url: str, bodies: Sequence[bytes], arrivals_s: np.ndarray, timeout_s: float
                  ) -> tuple[list[Any], dict[str, float], float]:
    """Open loop at exactly ``arrivals_s``; outcomes in arrival order (latency from the intended send),
    the generator's send lag, and the schedule's time 0 on ``time.monotonic()``."""
    from twinbench.measure.loadgen import LoadGenerator

    async with LoadGenerator(url, bodies, timeout_s=timeout_s) as gen:
        outcomes, generator = await gen.open_loop_at([float(x) for x in arrivals_s])
    zero_s = gen.started_monotonic_s
    assert zero_s is not None  # open_loop_at sets it
    return outcomes, {"send_lag_p99_ms": generator["send_lag_p99_ms"], "send_lag_max_ms": generator["send_lag_max_ms"]}, zero_s


def _target_run(name: str, outcomes: list[Any], generator: dict[str, float], inputs: dict[str, Any],
                info: dict[str, Any]) -> TargetRun:
    errors: dict[str, int] = {}
    for o in outcomes:
        if not 200 <= o.status < 300:
            key = str(o.status) if o.status else (o.error or "error")
            errors[key] = errors.get(key, 0) + 1
    return TargetRun(name, np.array([o.latency_ms for o in outcomes]), np.array([o.status for o in outcomes]),
                     np.array([-1 if o.cold is None else int(o.cold) for o in outcomes]), errors, inputs, info,
                     generator)


def _bodies() -> tuple[list[bytes], str]:
    """The model's registered rows as ``POST /predict`` bodies, sent round-robin (as bench, soak and
    chaos send them), and where they came from for the report."""
    import os

    from twinserve_support.paths import REPO

    from twinbench.targets.base import request_body, request_payloads

    model_dir = Path(os.environ.get("MODEL_PATH") or REPO / "model")
    try:
        bodies = request_payloads(model_dir) or [request_body(model_dir)]
    except FileNotFoundError as exc:
        raise CalibrationError(f"{exc}") from None
    return bodies, f"{len(bodies)} registered row{'s' if len(bodies) != 1 else ''} of {model_dir}, round-robin"


def _problem_lines(log_path: Path) -> list[str]:
    """The emulator's error lines (failed or timed-out invocations, tracebacks), kept with the run."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if "Status: error" in line or "Status: timeout" in line
            or "Traceback" in line or "Error" in line][:20]


def measure_lambda(schedule: Schedule, concurrency: int, timeout_s: float = 30.0,
                   log_dir: Path | None = None) -> TargetRun:
    """Replay ``schedule`` against the local Lambda (idle reaping = the schedule's keep-alive)."""
    import os
    import tempfile

    from twinserve_support.process.managed import ProcessNotReady

    from twinbench.local_lambda import LambdaSettings
    from twinbench.local_lambda.settings import (
        DEFAULT_PACKAGE_DIR,
        DEFAULT_PYTHON,
        ENV_THROTTLE_BURST,
        ENV_THROTTLE_RATE_RPS,
    )
    from twinbench.targets.lambda_process import LambdaProcess

    if not DEFAULT_PYTHON.exists():
        raise CalibrationError(f"{DEFAULT_PYTHON} missing: run `make lambda-runtime`")
    if not (DEFAULT_PACKAGE_DIR / "handler.py").exists():
        raise CalibrationError(f"no Lambda package at {DEFAULT_PACKAGE_DIR}: run `make package-lambda`")
    bodies, payloads = _bodies()
    # What is calibrated is the concurrency cap's mechanics: serverless.yml's route throttling is
    # lifted in the emulator (the model replays pool arrivals, which a route 429 never becomes).
    lifted = {ENV_THROTTLE_RATE_RPS: "none", ENV_THROTTLE_BURST: "none"}
    try:
        settings = LambdaSettings.from_env(DEFAULT_PACKAGE_DIR, {**os.environ, **lifted}, idle_s=schedule.keep_alive_s,
                                           reserved_concurrency=concurrency)
    except ValueError as exc:
        raise CalibrationError(f"local Lambda settings: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="twinbench-calibrate-") as tmp:
        log_path = (log_dir or Path(tmp)) / "serve-lambda.log"
        # serve-lambda in its own process (the shared LambdaProcess): in this process the emulator's
        # event loop would share the load generator's interpreter lock, so during a spike both would
        # run late for a reason no platform has.
        try:
            with LambdaProcess(settings.package_dir, handler=settings.handler, memory_mb=settings.memory_mb,
                               reserved_concurrency=settings.reserved_concurrency, idle_s=settings.idle_s,
                               timeout_s=settings.timeout_s, log_path=log_path,
                               env={"PYTHONUNBUFFERED": "1", **lifted}) as fn:
                outcomes, generator, zero_s = asyncio.run(_replay(fn.url, bodies, schedule.arrivals_s, timeout_s))
                reports = fn.reports
                rows = fn.occupancy
                held = {row["request_id"]: float(row["busy_ms"]) for row in rows if row["busy_ms"] is not None}
                arrived = {row["request_id"]: float(row["arrived_s"]) - zero_s for row in rows}
                stats = fn.stats()
        except ProcessNotReady as exc:
            raise CalibrationError(f"the local Lambda did not start: {exc}") from None
        problems = _problem_lines(log_path)
    if not stats:
        raise CalibrationError("the local Lambda did not answer its stats route after the replay")
    inits = [float(r["init_duration_ms"]) for r in reports if r.get("init_duration_ms") is not None]
    run = _target_run("lambda", outcomes, generator, {}, {
        "memory_mb": settings.memory_mb, "idle_s": settings.idle_s, "reserved_concurrency": concurrency,
        "route_throttle": "lifted", "payloads": payloads, "emulator_process": "python -m twinbench serve-lambda (its own process)",
        "report_cold_starts": len(inits), "report_durations_ms": [r.get("duration_ms") for r in reports],
        "emulator": {k: stats.get(k) for k in ("invocations", "cold_starts", "throttles", "reaped",
                                                 "peak_environments", "timeouts", "function_errors",
                                                 "runtime_exits")},
        "cpu_quota": stats.get("cpu_quota"), "problem_log_lines": problems})
    run.busy_ms = np.array([held.get(o.request_id, math.nan) for o in outcomes])  # no id (None): unknown
    run.pool_arrival_s = np.array([arrived.get(o.request_id, math.nan) for o in outcomes])
    warm = run.ok & (run.cold == 0) & np.isfinite(run.busy_ms)
    if not warm.any() or not inits:
        raise CalibrationError("the local Lambda replay produced no warm answer or no cold start: nothing to "
                               f"calibrate (errors: {run.errors})")
    ordered, how = _inits_in_start_order(schedule.arrivals_s, run, inits, lambda_arrivals(schedule, run))
    run.inputs = {"duration_ms": run.busy_ms[warm], "duration_source": "environment holds of the warm answers, per segment",
                  "init_sequence_ms": ordered}
    run.info["init_order"] = how
    return run


def _inits_in_start_order(arrivals_s: np.ndarray, run: TargetRun, inits: list[float],
                          starts_s: np.ndarray) -> tuple[np.ndarray, str]:
    """REPORT INIT durations reordered from completion order (REPORT is logged when an invocation
    ends) to the order the cold starts began, so the model's k-th cold start gets the k-th one's.

    REPORT lines and the cold answers are both in completion order: the cold answers sorted by
    completion time (``arrivals_s``, the intended sends, plus the latency) are matched to the REPORT
    lines one to one, then put in the order of ``starts_s`` (the model's arrivals). When the counts differ (a cold request failed and sent no header) the REPORT
    order is kept.
    """
    cold_idx = np.flatnonzero(run.ok & (run.cold == 1))
    if cold_idx.size != len(inits):
        return np.array(inits), "REPORT (completion) order: cold answers and REPORT lines differ in number"
    done = arrivals_s[cold_idx] + run.latency_ms[cold_idx] / 1000.0
    by_done = cold_idx[np.argsort(done, kind="stable")]
    init_of = dict(zip(by_done.tolist(), inits, strict=True))
    by_start = cold_idx[np.argsort(starts_s[cold_idx], kind="stable")]
    return np.array([init_of[i] for i in by_start.tolist()]), "cold-start order (REPORT lines matched to cold answers)"


async def _capacity(url: str, bodies: Sequence[bytes], concurrency: int, seconds: float) -> float:
    """Successful answers per second of a closed loop at ``concurrency`` (the pod saturated)."""
    from twinbench.measure.loadgen import LoadGenerator

    async with LoadGenerator(url, bodies) as gen:
        outcomes, _ = await gen.closed_loop(concurrency, seconds)
    ok = [o for o in outcomes if o.ok]
    span = max((o.done_s for o in outcomes), default=0.0)
    return len(ok) / span if span > 0 else 0.0


async def _probe(url: str, bodies: Sequence[bytes], sequential: int, concurrency: int, seconds: float
                 ) -> tuple[list[float], float]:
    """Warm-up, then ``sequential`` back-to-back requests (service time) and a closed-loop capacity run."""
    from twinbench.measure.loadgen import LoadGenerator

    async with LoadGenerator(url, bodies) as gen:
        await gen.closed_loop(concurrency, 0.3)  # every worker and connection warm
        seq = await gen.sequential(sequential)
    return [o.service_ms for o in seq if o.ok], await _capacity(url, bodies, concurrency, seconds)


def measure_container(schedule: Schedule, timeout_s: float = 30.0, probe_s: float = 1.0) -> TargetRun:
    """Replay ``schedule`` against gunicorn under the pod limits, between two capacity probes.

    The pod's capacity is the higher of a closed-loop probe before and one after the replay: on
    shared cores another process can only slow a probe down, never speed it up, so the higher
    one is nearer what the pod's CPU limit allows (both are recorded).
    """
    from twinbench.targets.container import ContainerTarget

    bodies, payloads = _bodies()
    try:
        with ContainerTarget(runtime="gunicorn") as target:
            description = target.describe()
            config = description.get("config") or {}
            workers = int((config.get("server_env") or {}).get("WEB_CONCURRENCY", 2))
            probe_c = max(4, 2 * workers)
            service, before = asyncio.run(_probe(target.url, bodies, 200, probe_c, probe_s))
            outcomes, generator, _ = asyncio.run(_replay(target.url, bodies, schedule.arrivals_s, timeout_s))
            after = asyncio.run(_capacity(target.url, bodies, probe_c, probe_s))
            capacity = max(before, after)
    except RuntimeError as exc:  # ContainerStartError and friends
        raise CalibrationError(f"container target: {exc}") from None
    if not service or capacity <= 0:
        raise CalibrationError("the container probe got no successful answer")
    run = _target_run("container", outcomes, generator, {}, {
        "cpus": config.get("cpus"), "memory_mb": config.get("memory_mb"), "payloads": payloads,
        "cpu_quota_applied": config.get("cpu_quota_applied"), "workers": workers,
        "limits_source": config.get("limits_source"), "capacity_rps": round(capacity, 1),
        "capacity_probes_rps": [round(before, 1), round(after, 1)],
        "probe_service_ms_p50": round(float(np.median(service)), 3)})
    lone = lone_requests(schedule.arrivals_s, run.latency_ms, run.ok)
    if lone.size >= MIN_LONE_REQUESTS:
        run.inputs = {"service_ms": lone, "service_source": "answers that found the pod idle in the replay"}
    else:  # too few quiet moments in the schedule: the sequential probe stands in
        run.inputs = {"service_ms": np.array(service), "service_source": "sequential probe before the replay"}
    run.inputs.update(capacity_rps=capacity, workers=workers)
    run.info["lone_requests"] = int(lone.size)
    return run


MIN_LONE_REQUESTS = 20


def lone_requests(arrivals_s: np.ndarray, latency_ms: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Latencies (ms) of the successful requests that arrived when no earlier one was in flight.

    Their latency is the pod's service time as this replay saw it (connection set-up after an
    idle gap included, which a sequential probe on one kept-alive connection would miss), with
    no queueing in it: the model's service-time input, taken from the same replay.
    """
    done = arrivals_s + np.where(ok, latency_ms, 0.0) / 1000.0
    busy_until = np.maximum.accumulate(np.concatenate(([-np.inf], done[:-1])))
    return latency_ms[ok & (arrivals_s >= busy_until)]


def _environment() -> dict[str, Any]:
    import os
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def measure(schedule: Schedule, concurrency: int = 8, targets: tuple[str, ...] = ("lambda", "container"),
            progress: Any = None) -> Measurement:
    """Replay ``schedule`` against each target in turn (never at once: they would share the 2 cores)."""
    from twinbench.measure.other_work import other_work, snapshot

    say = progress or (lambda msg: None)
    lam = ctr = None
    env = _environment()
    phases: dict[str, float] = {}
    steal: dict[str, float] = {}
    if "lambda" in targets:
        say(f"local Lambda: replaying {schedule.arrivals_s.size} requests over {schedule.duration_s:.0f} s "
            f"(idle reaping {schedule.keep_alive_s:g} s, {concurrency} environments at most)")
        t0, cpu0 = time.perf_counter(), snapshot()
        lam = measure_lambda(schedule, concurrency)
        phases["lambda_s"] = round(time.perf_counter() - t0, 2)
        steal["lambda"] = other_work(cpu0, snapshot(), 0.0, env["cpus"] or 1).steal_share
    if "container" in targets:
        say(f"gunicorn under the pod limits: probe, the same {schedule.arrivals_s.size} requests, probe")
        t0, cpu0 = time.perf_counter(), snapshot()
        ctr = measure_container(schedule)
        phases["container_s"] = round(time.perf_counter() - t0, 2)
        steal["container"] = other_work(cpu0, snapshot(), 0.0, env["cpus"] or 1).steal_share
    env["phases"] = phases
    # The hypervisor's steal during each replay, a share of all CPUs: CPU the VM was owed and did not
    # get slows INITs and answers at random, which no model of the platform has.
    env["steal_share"] = {name: round(share, 4) for name, share in steal.items()}
    env["load_average"] = load_average()
    return Measurement(schedule, lam, ctr, env)
