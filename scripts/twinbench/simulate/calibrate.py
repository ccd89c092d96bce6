"""The simulator against reality: one bursty arrival schedule through the real local stack and the model.

``twinbench calibrate`` (``make simulate-calibrate``):

1. **Schedule.** A seeded, bursty open-loop schedule (:func:`bursty_schedule`): bursts that open
   with a faster onset (arrivals during the first INIT need several environments at once), idle
   gaps *longer* than a short keep-alive (every environment is reaped, so cold starts recur) and
   gaps well *shorter* than it (environments must survive), and one short spike near the pod's
   capacity (queueing in gunicorn). Gaps stay at least 2 s away from the keep-alive so the
   emulator's reaper timer cannot flip them.
2. **Measure.** The schedule is replayed open-loop (latency from the intended send time, so
   queueing is counted) against the local Lambda (``twinbench serve-lambda`` in its own process:
   real ``awslambdaric`` processes, ``idle_s`` = the keep-alive, reserved concurrency = the cap)
   and then against real gunicorn under the pod's limits. Per request: arrival, latency, status,
   the ``x-twinserve-cold`` flag; from the emulator its REPORT lines (INIT durations), when each
   invocation reached the environment pool and how long it held its environment, and counters.
3. **Simulate.** The same arrivals run through ``lambda_sim`` / ``kube_sim``
   (:mod:`twinbench.simulate.replay`), Lambda's as the emulator's pool saw them (the local front
   delays and bunches them under load; see :func:`lambda_arrivals`), with inputs taken from the
   same measurement: Lambda duration = how long the emulator held the environment for the warm answers of the request's
   schedule segment (what the concurrency cap counts), with each answer's overhead outside the
   hold (send lag, front, return trip) added back to the model's latencies; INIT = the REPORT
   Init Durations in the order the cold starts began; the pod's service time = the answers that found it idle, its capacity = the
   better of two closed-loop probes around the replay. So the inputs are calibrated; what is
   checked is the *mechanics*: keep-alive reaping, most-recently-used reuse, the concurrency cap
   during INIT, per-pod queueing.
4. **Compare** with the tolerances in :data:`TOLERANCES` (each with its reason) and print
   where every figure came from.

What cannot be checked here is listed in :data:`NOT_CHECKABLE` and printed with every run.
Exit codes: 0 every check agrees, 1 a check disagrees, 2 bad input or a missing prerequisite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from twinbench.results.envinfo import load_average
from twinbench.results.jsonable import jsonable
from twinbench.simulate.errors import SimulationError
from twinbench.simulate.hpa import DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, HpaSpec
from twinbench.simulate.params import KubeParams, LambdaParams, ServiceTime
from twinbench.simulate.replay import ReplayOutcome, replay_kube, replay_lambda, service_draws

RAW_DIGITS = 3  # decimals kept of the raw per-request series in the report's JSON

__all__ = ["CalibrationError", "CalibrationReport", "Check", "Measurement", "Schedule", "Tolerance",
           "TOLERANCES", "NOT_CHECKABLE", "bursty_schedule", "calibrate", "compare", "measure", "register",
           "simulate_measurement"]

BUSY_SEND_LAG_MS = 20.0
"""p99 send lag that makes a run inconclusive: 4x a warm answer's ~5 ms. Below it the lag (which is
inside every measured latency, since latency counts from the intended send) stays within the
latency tolerances; a spike with INITs running on 2 cores routinely costs the generator 5-10 ms."""

FORMAT = "twinbench.calibration"
VERSION = 1
EXIT_DISAGREE = 1
EXIT_BAD_INPUT = 2


class CalibrationError(SimulationError):
    """A prerequisite is missing (package, runtime venv, model) or the real stack failed to start."""


# ---------------------------------------------------------------------------------------------- schedule

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


# ---------------------------------------------------------------------------------------------- measure

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


async def _replay(url: str, body: bytes, arrivals_s: np.ndarray, timeout_s: float
                  ) -> tuple[list[Any], dict[str, float], float]:
    """Open loop at exactly ``arrivals_s``; outcomes in arrival order (latency from the intended send),
    the generator's send lag, and the schedule's time 0 on ``time.monotonic()``."""
    from twinbench.measure.loadgen import LoadGenerator

    async with LoadGenerator(url, body, timeout_s=timeout_s) as gen:
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


def _body() -> bytes:
    from twinserve_support.paths import REPO

    from twinbench.targets.base import request_body

    try:
        return request_body(REPO / "model")
    except FileNotFoundError as exc:
        raise CalibrationError(f"{exc}") from None


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
    body = _body()
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
                outcomes, generator, zero_s = asyncio.run(_replay(fn.url, body, schedule.arrivals_s, timeout_s))
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
        "route_throttle": "lifted", "emulator_process": "python -m twinbench serve-lambda (its own process)",
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


async def _capacity(url: str, body: bytes, concurrency: int, seconds: float) -> float:
    """Successful answers per second of a closed loop at ``concurrency`` (the pod saturated)."""
    from twinbench.measure.loadgen import LoadGenerator

    async with LoadGenerator(url, body) as gen:
        outcomes, _ = await gen.closed_loop(concurrency, seconds)
    ok = [o for o in outcomes if o.ok]
    span = max((o.done_s for o in outcomes), default=0.0)
    return len(ok) / span if span > 0 else 0.0


async def _probe(url: str, body: bytes, sequential: int, concurrency: int, seconds: float
                 ) -> tuple[list[float], float]:
    """Warm-up, then ``sequential`` back-to-back requests (service time) and a closed-loop capacity run."""
    from twinbench.measure.loadgen import LoadGenerator

    async with LoadGenerator(url, body) as gen:
        await gen.closed_loop(concurrency, 0.3)  # every worker and connection warm
        seq = await gen.sequential(sequential)
    return [o.service_ms for o in seq if o.ok], await _capacity(url, body, concurrency, seconds)


def measure_container(schedule: Schedule, timeout_s: float = 30.0, probe_s: float = 1.0) -> TargetRun:
    """Replay ``schedule`` against gunicorn under the pod limits, between two capacity probes.

    The pod's capacity is the higher of a closed-loop probe before and one after the replay: on
    shared cores another process can only slow a probe down, never speed it up, so the higher
    one is nearer what the pod's CPU limit allows (both are recorded).
    """
    from twinbench.targets.container import ContainerTarget

    body = _body()
    try:
        with ContainerTarget(runtime="gunicorn") as target:
            description = target.describe()
            config = description.get("config") or {}
            workers = int((config.get("server_env") or {}).get("WEB_CONCURRENCY", 2))
            probe_c = max(4, 2 * workers)
            service, before = asyncio.run(_probe(target.url, body, 200, probe_c, probe_s))
            outcomes, generator, _ = asyncio.run(_replay(target.url, body, schedule.arrivals_s, timeout_s))
            after = asyncio.run(_capacity(target.url, body, probe_c, probe_s))
            capacity = max(before, after)
    except RuntimeError as exc:  # ContainerStartError and friends
        raise CalibrationError(f"container target: {exc}") from None
    if not service or capacity <= 0:
        raise CalibrationError("the container probe got no successful answer")
    run = _target_run("container", outcomes, generator, {}, {
        "cpus": config.get("cpus"), "memory_mb": config.get("memory_mb"),
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


# ---------------------------------------------------------------------------------------------- simulate

@dataclass
class Simulated:
    lambda_out: ReplayOutcome | None
    container_out: ReplayOutcome | None
    parameters: dict[str, Any]
    lambda_random_init: ReplayOutcome | None = None
    """The same Lambda replay with INIT drawn at random from the measured ones (shown, not asserted)."""


MIN_SEGMENT_SAMPLES = 5


def _segment_of(schedule: Schedule) -> np.ndarray:
    """The index of the schedule segment each arrival belongs to."""
    starts = np.array([seg.start_s for seg in schedule.segments])
    return np.clip(np.searchsorted(starts, schedule.arrivals_s, side="right") - 1, 0, len(starts) - 1)


def lambda_arrivals(schedule: Schedule, run: TargetRun) -> np.ndarray:
    """Each request's arrival for the Lambda model: when it reached the emulator's environment pool.

    Why not the schedule's times: the load generator and the emulator's front share the 2 cores
    (and each its event loop), so during the spike a busy loop hands the pool several requests at
    once. With every other environment in INIT, the one warm environment turns away more of a bunch
    than of the same requests spread as scheduled: on the scheduled times the model predicted
    4-24 fewer 429s than the emulator gave in 26 short runs here (median 11, about 16 %), also
    when given each request's own measured hold; the pool saw the spike's requests up to
    ~90-150 ms late (p99 of the delay). That bunching is the local front's, not AWS's; what the
    calibration checks is the model of the pool, so it gets the arrivals the pool saw.

    A request without a pool time (no id in its answer) gets its scheduled time plus the median
    delay of the others. The result may be out of order by a few ms (see :func:`replay_lambda_at`).
    """
    t = schedule.arrivals_s
    if run.pool_arrival_s is None:
        return t
    known = np.isfinite(run.pool_arrival_s)
    if not known.any():
        return t
    delay = float(np.median(run.pool_arrival_s[known] - t[known]))
    return np.where(known, run.pool_arrival_s, t + delay)


def _arrivals_source(run: TargetRun) -> str:
    """Where :func:`lambda_arrivals` took the model's arrivals from, for the report."""
    known = np.isfinite(run.pool_arrival_s) if run.pool_arrival_s is not None else np.zeros(0, dtype=bool)
    if not known.any():
        return "the schedule's times"
    if known.all():
        return "when each request reached the emulator's pool"
    return f"when each request reached the emulator's pool ({int(known.sum())} of {known.size}; the rest scheduled + median delay)"


def replay_lambda_at(arrivals_s: np.ndarray, durations_ms: np.ndarray, params: LambdaParams, init: ServiceTime,
                     init_sequence_ms: np.ndarray | None, seed: int) -> ReplayOutcome:
    """:func:`replay_lambda` on arrivals in any order; the outcome per request, in the arrivals' order."""
    order = np.argsort(arrivals_s, kind="stable")
    out = replay_lambda(arrivals_s[order], durations_ms[order], params, init, init_sequence_ms, seed)
    latency = np.empty_like(out.latency_ms)
    latency[order] = out.latency_ms
    cold = np.empty_like(out.cold)
    cold[order] = out.cold
    return replace(out, latency_ms=latency, cold=cold)


def segment_durations(schedule: Schedule, run: TargetRun, seed: int) -> np.ndarray:
    """One Lambda duration (ms) per request: drawn from the warm answers of its own schedule segment,
    as long as the emulator held their environment (``run.busy_ms``; the answers' latencies when the
    run has none).

    Why the hold and not the latency: the cap counts environments held, and a client's latency adds
    the front and the return trip, which under a spike's load run late in the emulator's event loop
    after the environment is free again. With latencies the model held environments longer than
    the emulator did and predicted up to 34 % more 429s (six short runs here: -6 to +22).

    Why per segment: here the emulator, the load generator and up to 8 INITs share 2 cores, so a
    warm invocation during a spike with INITs running takes several times longer than in a quiet
    burst (on AWS each environment has its own CPU share, so this is local, not Lambda). Drawing
    every request's duration from the whole replay would hide that slowdown from the model, which
    would then see fewer environments busy, and fewer 429s, than the emulator really had. A
    segment with fewer than MIN_SEGMENT_SAMPLES warm answers draws from the whole replay.
    """
    t = schedule.arrivals_s
    seg_of = _segment_of(schedule)
    held = run.latency_ms if run.busy_ms is None else run.busy_ms
    warm = run.ok & (run.cold == 0) & np.isfinite(held)
    pooled = ServiceTime("Lambda duration", held[warm], "warm answers of the replay")
    u = np.random.default_rng(seed).random(t.size)
    out = pooled.sample(u)
    for k in np.unique(seg_of):
        own = warm & (seg_of == k)
        if np.count_nonzero(own) >= MIN_SEGMENT_SAMPLES:
            mask = seg_of == k
            out[mask] = ServiceTime("Lambda duration", held[own], "segment").sample(u[mask])
    return out


def client_latencies(schedule: Schedule, run: TargetRun, simulated_ms: np.ndarray, seed: int) -> np.ndarray:
    """The model's latencies as the client would see them: each served request's simulated time plus
    what the client saw beyond the environment's hold (send lag, the front, the return trip).

    A request served in the replay too adds its own measured overhead; any other (throttled or
    failed there) draws one from the answers of its segment. Unchanged when the run has no holds.
    """
    if run.busy_ms is None:
        return simulated_ms
    overhead = run.latency_ms - run.busy_ms
    known = run.ok & np.isfinite(overhead)
    if not known.any():
        return simulated_ms
    seg_of = _segment_of(schedule)
    rng = np.random.default_rng(seed + 2)
    extra = np.where(known, overhead, np.nan)
    for k in np.unique(seg_of):
        pool = overhead[known & (seg_of == k)]
        if pool.size < MIN_SEGMENT_SAMPLES:
            pool = overhead[known]
        need = ~known & (seg_of == k)
        extra[need] = rng.choice(pool, int(np.count_nonzero(need)))
    return np.where(simulated_ms >= 0, simulated_ms + np.maximum(extra, 0.0), simulated_ms)


def simulate_measurement(m: Measurement, concurrency: int = 8, keep_alive_s: float | None = None,
                         seed: int = 0) -> Simulated:
    """The model on the measurement's arrival times, with inputs taken from the measurement.

    ``keep_alive_s`` defaults to the keep-alive the emulator ran with; another value is for
    showing that a wrong parameter is caught.
    """
    t = m.schedule.arrivals_s
    keep = m.schedule.keep_alive_s if keep_alive_s is None else keep_alive_s
    params: dict[str, Any] = {}
    lam_out = ctr_out = None
    if m.lambda_run is not None:
        inp = m.lambda_run.inputs
        duration = ServiceTime("Lambda duration", inp["duration_ms"], inp["duration_source"])
        init = ServiceTime("Lambda init", inp["init_sequence_ms"], "REPORT Init Duration of the replay")
        lp = LambdaParams(memory_mb=int(m.lambda_run.info["memory_mb"]), keep_alive_s=keep,
                          reserved_concurrency=concurrency, account_concurrency=max(1000, concurrency))
        durations = segment_durations(m.schedule, m.lambda_run, seed)
        arrivals = lambda_arrivals(m.schedule, m.lambda_run)
        lam_out = replay_lambda_at(arrivals, durations, lp, init, inp["init_sequence_ms"], seed)
        iid = replay_lambda_at(arrivals, durations, lp, init, None, seed)
        # Latencies as the client sees them (the model's hold plus the measured overhead outside it).
        lam_out = replace(lam_out, latency_ms=client_latencies(m.schedule, m.lambda_run, lam_out.latency_ms, seed))
        iid = replace(iid, latency_ms=client_latencies(m.schedule, m.lambda_run, iid.latency_ms, seed))
        params["lambda"] = {"arrivals": _arrivals_source(m.lambda_run),
                            "keep_alive_s": keep, "reserved_concurrency": concurrency,
                            "duration": duration.describe(), "init": init.describe(),
                            "init_order": m.lambda_run.info.get("init_order")}
    if m.container_run is not None:
        inp = m.container_run.inputs
        service = ServiceTime("container service", inp["service_ms"], inp["service_source"])
        info = m.container_run.info
        kp = KubeParams(pod_capacity_rps=float(inp["capacity_rps"]), workers=int(inp["workers"]),
                        queue_limit=2048, pod_cpu_m=float(info.get("cpus") or 1.0) * 1000.0,
                        pod_memory_mib=float(info.get("memory_mb") or 1024), min_nodes=1)
        spec = HpaSpec(1, 1, 0.7, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN, "one pod, as run locally")
        ctr_out = replay_kube(t, service_draws(service, t.size, seed), kp, spec, pods_per_node=1, seed=seed)
        params["kubernetes"] = {"replicas": 1, "workers": kp.workers, "pod_capacity_rps": round(kp.pod_capacity_rps, 1),
                                "queue_limit": kp.queue_limit, "service": service.describe(),
                                "service_stretch": ctr_out.result["service_stretch"]}
    return Simulated(lam_out, ctr_out, params, iid if m.lambda_run is not None else None)


# ---------------------------------------------------------------------------------------------- compare

@dataclass(frozen=True)
class Tolerance:
    """Counts: |sim - measured| <= max(absolute, relative x measured). Latencies: ratio within a factor."""

    kind: str  # "count" or "factor"
    absolute: float = 0.0
    relative: float = 0.0
    factor: float = 1.0
    why: str = ""

    def accepts(self, measured: float, simulated: float) -> bool:
        if self.kind == "count":
            return abs(simulated - measured) <= max(self.absolute, self.relative * measured)
        if measured <= 0 or simulated <= 0:
            return measured == simulated
        ratio = simulated / measured
        return 1.0 / self.factor <= ratio <= self.factor

    def text(self) -> str:
        if self.kind == "count":
            return f"±max({self.absolute:g}, {self.relative:.0%})"
        return f"×/÷{self.factor:g}"


TOLERANCES: dict[str, Tolerance] = {
    "lambda.cold_starts": Tolerance(
        "count", 2, 0.20, why="the emulator reaps on a timer (every min(1 s, idle/4)), so an environment lives "
        "keep-alive..keep-alive+1 s idle against exactly keep-alive in the model; INIT under 2 shared cores "
        "varies with how many start at once, which moves how many onset arrivals land inside it"),
    "lambda.throttled": Tolerance(
        "count", 3, 0.25, why="429s happen only while every environment is busy or in INIT: a few arrivals "
        "either side of an INIT's end decide them, and INIT's end is timed to scheduler noise"),
    "lambda.p50": Tolerance(
        "factor", factor=1.5, why="warm holds and the overhead around them are inputs (per segment, from the "
        "same replay), so the median checks which answers are served: spike answers take 2-5x a quiet burst's on shared cores, "
        "and which spike requests get a 429 differs within the 429 tolerance, which moves the median"),
    "lambda.p99": Tolerance(
        "factor", factor=1.5, why="p99 falls among the cold answers (INIT + duration); with the same INITs "
        "it moves with the cold-start count (±20 %) and the emulator's per-request overhead under load"),
    "container.rejected": Tolerance(
        "count", 2, 0.20, why="gunicorn's backlog (2,048) is never reached at these rates; any failure in "
        "either is a defect, two allowed for a client-side timeout under scheduling stalls"),
    "container.p50": Tolerance(
        "factor", factor=1.5, why="the model stretches every service time so two workers saturate at the "
        "measured capacity (a pod shares one CPU), which lengthens lone requests too"),
    "container.p99": Tolerance(
        "factor", factor=2.0, why="the tail is the service-time tail plus the spike's queueing (the pod at "
        "10-40 % of its capacity here); 2 shared cores add scheduling stalls (the generator, gunicorn's "
        "master, other work) that the FIFO model does not have, and p99 of ~400 answers rests on 4-5 of them"),
}

NOT_CHECKABLE = (
    "AWS's real keep-alive (unpublished; the model's default 300 s is an assumption, here both sides use the "
    "same short keep-alive, which checks the mechanics, not the value)",
    "the scaling rate of 1,000 new environments per 10 s and the account limit of 1,000: a 2-core machine "
    "cannot start more than a few environments at once",
    "the HPA on a real cluster (metrics-server lag, the 15-s sync, stabilisation): one pod here, no control loop",
    "node provisioning, image pulls and pod start-up on a cluster (cluster-autoscaler/Karpenter delays)",
    "AWS's own INIT durations and network latency (local processes, loopback)",
    "queueing at a saturated pod: a Python open-loop generator on 2 shared cores cannot send the ~1,000-2,000 "
    "req/s one pod serves without becoming the bottleneck, so the spike stays at 200 req/s",
    "Lambda's periodic recycling of environments after hours (runs are minutes long)",
)


@dataclass
class Check:
    key: str
    label: str
    measured: float | None
    simulated: float | None
    tolerance: Tolerance | None
    measured_source: str
    simulated_source: str
    ok: bool | None  # None: informational, not asserted

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "measured": self.measured, "simulated": self.simulated,
                "tolerance": self.tolerance.text() if self.tolerance else None,
                "why": self.tolerance.why if self.tolerance else None, "measured_source": self.measured_source,
                "simulated_source": self.simulated_source, "ok": self.ok}


def _pct(values: np.ndarray, q: float) -> float | None:
    from twinbench.measure.stats import summarize

    if values.size == 0:
        return None
    return summarize([float(v) for v in values])[f"p{q}_ms"]  # type: ignore[return-value]


def _check(key: str, label: str, measured: float | None, simulated: float | None, msrc: str, ssrc: str,
           tolerances: dict[str, Tolerance]) -> Check:
    tol = tolerances.get(key)
    ok = None
    if tol is not None:
        ok = measured is not None and simulated is not None and tol.accepts(measured, simulated)
    return Check(key, label, measured, simulated, tol, msrc, ssrc, ok)


def compare(m: Measurement, s: Simulated, tolerances: dict[str, Tolerance] | None = None) -> list[Check]:
    """One row per figure: measured locally vs simulated, with the tolerance and the verdict."""
    tol = TOLERANCES if tolerances is None else tolerances
    rows: list[Check] = []
    client = "measured: open-loop client"
    if m.lambda_run is not None and s.lambda_out is not None:
        run, out = m.lambda_run, s.lambda_out
        sim_src = "simulated: lambda_sim on the arrivals the pool saw"
        rows.append(_check("lambda.requests", "Lambda requests", run.latency_ms.size, out.latency_ms.size,
                           "schedule", "schedule", tol))
        # Every environment start has a REPORT line with an Init Duration, also when its request then
        # failed (no cold header comes back from a 502): that count is the one asserted.
        rows.append(_check("lambda.cold_starts", "Lambda cold starts (REPORT Init Duration)",
                           int(run.info["report_cold_starts"]), int(out.cold.sum()), "measured: emulator REPORT lines",
                           sim_src, tol))
        rows.append(_check("lambda.cold_starts_header", "Lambda cold answers (x-twinserve-cold: true)",
                           int(np.count_nonzero(run.ok & (run.cold == 1))), int(np.count_nonzero(out.cold)),
                           client, sim_src, {}))
        failures = int(np.count_nonzero(~run.ok & (run.status != 429)))
        rows.append(_check("lambda.failed", "Lambda failed answers (5xx, no answer)", failures, 0, client,
                           "the model has no failures", {}))
        matched = int(np.count_nonzero((run.cold == 1) & out.cold))
        rows.append(_check("lambda.cold_same_request", "Lambda cold starts on the same request", matched,
                           int(out.cold.sum()), "measured ∩ simulated", sim_src, {}))
        rows.append(_check("lambda.throttled", "Lambda throttled (429)", int(np.count_nonzero(run.status == 429)),
                           int(np.count_nonzero(out.latency_ms < 0)), client, sim_src, tol))
        rows.append(_check("lambda.peak_environments", "Lambda peak environments",
                           run.info["emulator"].get("peak_environments"), out.result["max_environments"],
                           "measured: emulator counters", sim_src, {}))
        served = out.latency_ms[out.latency_ms >= 0]
        if s.lambda_random_init is not None:
            rnd = s.lambda_random_init
            rows.append(_check("lambda.cold_starts_random_init", "Lambda cold starts, INIT drawn at random",
                               int(run.info["report_cold_starts"]), int(rnd.cold.sum()), client, sim_src + ", random INIT", {}))
            rows.append(_check("lambda.p99_random_init", "Lambda p99 (ms), INIT drawn at random",
                               _pct(run.latency_ms[run.ok], 99), _pct(rnd.latency_ms[rnd.latency_ms >= 0], 99),
                               client, sim_src + ", random INIT", {}))
        for q in (50, 99):
            rows.append(_check(f"lambda.p{q}", f"Lambda p{q} latency (ms)", _pct(run.latency_ms[run.ok], q),
                               _pct(served, q), client, sim_src, tol))
    if m.container_run is not None and s.container_out is not None:
        run, out = m.container_run, s.container_out
        sim_src = "simulated: kube_sim (1 pod) on the same arrivals"
        rows.append(_check("container.rejected", "Container failed/rejected", int(np.count_nonzero(~run.ok)),
                           int(np.count_nonzero(out.latency_ms < 0)), client, sim_src, tol))
        served = out.latency_ms[out.latency_ms >= 0]
        for q in (50, 99):
            rows.append(_check(f"container.p{q}", f"Container p{q} latency (ms)", _pct(run.latency_ms[run.ok], q),
                               _pct(served, q), client, sim_src, tol))
    return rows


# ---------------------------------------------------------------------------------------------- report

def _steal_text(environment: dict[str, Any]) -> str:
    shares = environment.get("steal_share") or {}
    return "".join(f", steal {share:.0%} ({name})" for name, share in shares.items())


@dataclass
class CalibrationReport:
    measurement: Measurement
    simulated: Simulated
    checks: list[Check]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def busy_reasons(self) -> list[str]:
        """Why the measurement may describe the machine rather than the stack: a starved load
        generator (p99 send lag >= BUSY_SEND_LAG_MS), a run queue over twice the cores, or the
        hypervisor's steal over STEAL_SHARE_WARN of the CPUs during a replay. A disagreement on a
        busy machine is inconclusive, not a verdict."""
        from twinbench.measure.other_work import STEAL_SHARE_WARN

        m = self.measurement
        reasons = []
        for name, share in (m.environment.get("steal_share") or {}).items():
            if share > STEAL_SHARE_WARN:
                reasons.append(f"the hypervisor took {share:.0%} of the CPUs (steal) during the {name} replay")
        for run in (m.lambda_run, m.container_run):
            if run is not None and run.generator.get("send_lag_p99_ms", 0.0) >= BUSY_SEND_LAG_MS:
                reasons.append(f"the load generator sent late against {run.name} "
                               f"(p99 send lag {run.generator['send_lag_p99_ms']:.1f} ms)")
        load, cpus = m.environment.get("load_average"), m.environment.get("cpus") or 1
        if load and load[0] > 2 * cpus:
            reasons.append(f"load average {load[0]:g} on {cpus} CPUs")
        return reasons

    def to_document(self, raw: bool = True) -> dict[str, Any]:
        m = self.measurement
        doc: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "ok": self.ok, "elapsed_s": round(self.elapsed_s, 1),
            "busy": self.busy_reasons(), "environment": m.environment, "schedule": m.schedule.describe(),
            "checks": [c.to_dict() for c in self.checks],
            "simulation_parameters": jsonable(self.simulated.parameters, RAW_DIGITS),
            "targets": {}, "not_checkable": list(NOT_CHECKABLE),
        }
        for run in (m.lambda_run, m.container_run):
            if run is not None:
                doc["targets"][run.name] = run.to_dict() if raw else {"info": jsonable(run.info, RAW_DIGITS),
                                                                       "errors": run.errors,
                                                                       "generator": run.generator}
        if raw:
            doc["schedule"]["arrivals_s"] = [round(float(v), 6) for v in m.schedule.arrivals_s]
        return doc

    def render_text(self) -> str:
        m = self.measurement
        sch = m.schedule
        load = m.environment.get("load_average")
        sim_keep = (self.simulated.parameters.get("lambda") or {}).get("keep_alive_s", sch.keep_alive_s)
        keep = (f"keep-alive {sch.keep_alive_s:g} s on both sides" if sim_keep == sch.keep_alive_s else
                f"keep-alive {sch.keep_alive_s:g} s in the emulator but {sim_keep:g} s in the model (deliberately wrong)")
        lines = [f"calibration: {sch.arrivals_s.size} requests over {sch.duration_s:.0f} s (seed {sch.seed}), "
                 f"{keep}; {m.environment['cpus']} CPUs"
                 f"{f', load {load[0]:g}' if load else ''}{_steal_text(m.environment)}, {m.environment['date_utc']}, "
                 f"{self.elapsed_s:.0f} s wall", ""]
        head = f"{'figure':<44} {'measured':>10} {'simulated':>10}  {'tolerance':<14} {'verdict':<8}"
        lines += [head, "-" * len(head)]

        def fmt(v: float | None) -> str:
            if v is None:
                return "-"
            return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"

        for c in self.checks:
            verdict = "info" if c.ok is None else ("ok" if c.ok else "DIFFERS")
            lines.append(f"{c.label:<44} {fmt(c.measured):>10} {fmt(c.simulated):>10}  "
                         f"{c.tolerance.text() if c.tolerance else '':<14} {verdict:<8}")
        lines += ["", "where the figures come from:",
                  "  measured  = replayed open-loop on this machine (latency from the intended send time, 2xx only);",
                  "              Lambda: the local Lambda (awslambdaric processes), x-twinserve-cold and REPORT lines;",
                  "              container: gunicorn under the pod limits, 1 pod",
                  "  simulated = the simulator on the same arrivals (simulate/replay.py), inputs from the same run:"]
        p = self.simulated.parameters
        if "lambda" in p:
            lam = p["lambda"]
            lines.append(f"              Lambda duration {lam['duration']['source']} (n={lam['duration']['n']}, "
                         f"p50 {lam['duration']['p50_ms']:.1f} ms), INIT {lam['init']['source']} "
                         f"(n={lam['init']['n']}, p50 {lam['init']['p50_ms']:.0f} ms, {lam['init_order']}),")
            lines.append(f"              Lambda arrivals {lam['arrivals']}")
        if "kubernetes" in p:
            k = p["kubernetes"]
            lines.append(f"              pod: {k['workers']} workers, capacity {k['pod_capacity_rps']:g} req/s "
                         f"(best of 2 closed-loop probes), service {k['service']['source']} (p50 {k['service']['p50_ms']:.2f} ms), "
                         f"stretch x{k['service_stretch']:g}")
        lines += ["", "tolerances:"]
        lines += [f"  {key}: {t.text()} - {t.why}" for key, t in TOLERANCES.items()]
        busy = self.busy_reasons()
        if busy:
            lines.append("warning: the machine was busy (" + "; ".join(busy) + "): measured figures include "
                         "other work's scheduling delays, a disagreement is inconclusive")
        lines += ["", "cannot be checked here:"] + [f"  - {x}" for x in NOT_CHECKABLE]
        failed = self.failed()
        if not failed:
            verdict = "verdict: the simulator agrees with the local stack within every tolerance"
        else:
            verdict = ("verdict: INCONCLUSIVE (busy machine), differs on " if busy else "verdict: DISAGREES on ") \
                + ", ".join(c.key for c in failed)
        lines += ["", verdict]
        return "\n".join(lines)


def calibrate(short: bool = False, seed: int = 7, concurrency: int = 8, keep_alive_s: float | None = None,
              sim_keep_alive_s: float | None = None, targets: tuple[str, ...] = ("lambda", "container"),
              progress: Any = None) -> CalibrationReport:
    """Schedule, measure, simulate, compare. Raises CalibrationError (missing prerequisites)."""
    started = time.perf_counter()
    if not 1 <= concurrency <= 64:
        raise CalibrationError(f"concurrency must be within 1..64, got {concurrency}")
    shape = dict(SHORT if short else FULL)
    if keep_alive_s is not None:
        shape["keep_alive_s"] = keep_alive_s
    schedule = bursty_schedule(seed=seed, **shape)
    m = measure(schedule, concurrency, targets, progress)
    s = simulate_measurement(m, concurrency, sim_keep_alive_s, seed)
    return CalibrationReport(m, s, compare(m, s), time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------- CLI

EPILOG = """\
what it does:
  Draws a seeded bursty schedule (bursts, idle gaps longer and shorter than the keep-alive, one
  spike), replays it open-loop against the local Lambda (real awslambdaric processes, idle reaping
  = the keep-alive, reserved concurrency = --concurrency) and against gunicorn under the pod limits,
  then runs the simulator on the same arrivals (Lambda's as its environment pool saw them) with the
  service times and INIT durations measured in that replay, and compares cold starts, 429s/503s and
  p50/p99 within stated tolerances.

examples:
  twinbench calibrate                  # ~4 min: 6 bursts, keep-alive 10 s, both targets
  twinbench calibrate --short          # ~50 s: what the test runs
  twinbench calibrate --sim-keep-alive-s 100   # a deliberately wrong model parameter: must disagree
  twinbench calibrate --json --out calibration.json

needs: make lambda-runtime package-lambda model (the runtime venv, the built package, the model).
exit codes: 0 the simulator agrees within every tolerance, 1 it disagrees (the verdict says
INCONCLUSIVE when the machine was too busy to tell: rerun on a quiet machine), 2 bad input or a
missing prerequisite (one line on stderr).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="Check the simulator against the real local stack: the same bursty arrivals through "
        "the local Lambda and gunicorn and through the model; cold starts, 429s and p50/p99 within tolerances",
        description="Replay one bursty arrival schedule through the local Lambda and gunicorn under the pod "
        "limits, and through the simulator with inputs measured in that replay; compare.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the short schedule the test runs (~20 s per target)")
    parser.add_argument("--seed", type=int, default=7, help="schedule seed (default 7)")
    parser.add_argument("--keep-alive-s", type=float, help="keep-alive on both sides, s (default 10, --short 4)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="the local Lambda's reserved concurrency and the model's (default 8)")
    parser.add_argument("--sim-keep-alive-s", type=float,
                        help="give the model another keep-alive than the emulator's (shows the check can fail)")
    parser.add_argument("--targets", default="lambda,container", help="lambda, container or both (default both)")
    parser.add_argument("--json", action="store_true", help="print the document instead of the table")
    parser.add_argument("--out", metavar="JSON", help="also write the document with every request's record here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
        if not targets or any(t not in ("lambda", "container") for t in targets):
            raise CalibrationError("--targets takes lambda, container or both, comma-separated")
        for name in ("keep_alive_s", "sim_keep_alive_s"):
            v = getattr(args, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise CalibrationError(f"--{name.replace('_', '-')} must be finite and > 0, got {v}")
        if args.out and not Path(args.out).resolve().parent.is_dir():
            raise CalibrationError(f"--out {args.out}: no such directory")
        report = calibrate(args.short, args.seed, args.concurrency, args.keep_alive_s, args.sim_keep_alive_s,
                           targets, progress=lambda msg: print(f"calibrate: {msg}", file=sys.stderr, flush=True))
    except SimulationError as exc:
        print(f"twinbench calibrate: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.out:
        try:
            Path(args.out).write_text(json.dumps(report.to_document(raw=True)), encoding="utf-8")
        except OSError as exc:
            print(f"twinbench calibrate: error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    print(json.dumps(report.to_document(raw=False), indent=1) if args.json else report.render_text())
    return 0 if report.ok else EXIT_DISAGREE
