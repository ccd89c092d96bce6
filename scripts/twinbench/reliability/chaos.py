"""Faults under load: ``python -m twinbench chaos`` / ``make chaos``.

A steady open-loop stream (:class:`~twinbench.measure.loadgen.LoadGenerator`, coordinated-omission
corrected) at ``load_fraction`` of each target's saturation runs while one fault at a time is
injected, each in its own step: ``pre_s`` of quiet stream (the baseline p99 and throughput), the
fault, then ``window_s`` of stream to watch the target recover. Everything listens on 127.0.0.1;
every process started is stopped, and checked with ``psutil`` (no pid alive, no port listening).

Container (gunicorn exactly as the image runs it, under the pod's CPU/memory limits):

* ``worker-sigkill`` — SIGKILL one worker; gunicorn's arbiter forks a replacement.
* ``worker-oom`` — one worker is moved into a memory group of its own
  (:class:`~twinserve_support.process.cgroup.ProcessMemoryLimit`) and sent large but valid batches
  until the kernel's OOM killer ends it: a worker over its memory limit, killed by the kernel.
* ``worker-stall`` — SIGSTOP one worker past gunicorn's ``timeout``: the arbiter's heartbeat check
  must kill (SIGABRT, which a stopped process keeps pending; gunicorn.conf.py's ``when_ready`` hook
  adds SIGCONT so it is taken at once) and replace it.
* ``master-sigkill`` — SIGKILL the master. Nothing inside the pod restarts it: the workers notice
  their parent is gone and exit, and the kubelet restarts the container (with its own back-off).
  The bench stands in for the kubelet by starting a new gunicorn on the same port at once, so
  "recovery" here is a container restart without back-off or image pull.

Local Lambda (real ``awslambdaric`` processes, ``LAMBDA_TIMEOUT_S``-style short function timeout):

* ``env-sigkill`` — one execution environment is SIGSTOPped until it has been handed an
  invocation, then SIGKILLed: the caller gets what API Gateway returns for a crashed runtime
  (502, ``Runtime.ExitError``); the environment is discarded and a new one starts cold when needed.
* ``init-failure`` — a copy of the package without ``model/`` (links to the rest): every request
  is a cold start whose init fails; the function's error (502) comes back, never a hang.
* ``env-timeout`` — one environment is SIGSTOPped and left: the invocation it holds runs past the
  function timeout, gets 504, and the environment is destroyed.

The bench itself:

* ``target-vanishes`` — the container's whole process group is SIGKILLed mid-step: the step must
  end on time with every failure counted (connection refused), and the run goes on.
* ``interrupt-sigint`` / ``interrupt-sigterm`` — a child ``twinbench chaos`` is interrupted mid-run:
  it must exit 130 with its partial ``chaos.json`` marked ``interrupted``, leaving nothing running.

Per fault: requests sent in the fault window, failed (by status), time to recover to the pre-fault
p99 and throughput (:func:`recovery`), what was replaced, and whether anything was left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from twinserve_support.paths import REPO

from twinbench.measure.loadgen import LoadGenerator, Outcome, status_counts
from twinbench.measure.progress import Progress
from twinbench.measure.stats import summarize
from twinbench.results import formats
from twinbench.results.documents import ChaosResults

__all__ = [
    "CONTAINER_FAULTS", "LAMBDA_FAULTS", "BENCH_FAULTS", "ALL_FAULTS", "ChaosResults", "ChaosSettings",
    "FaultError", "Leftovers", "analyse", "leftovers", "lost_by_status", "pod_gunicorn_timeout_s", "recovery", "run",
    "summary_lines",
]

RESULTS = REPO / "results"
CONTAINER_FAULTS = ("worker-sigkill", "worker-oom", "worker-stall", "master-sigkill")
LAMBDA_FAULTS = ("env-sigkill", "init-failure", "env-timeout")
BENCH_FAULTS = ("target-vanishes", "interrupt-sigint", "interrupt-sigterm")
ALL_FAULTS = CONTAINER_FAULTS + LAMBDA_FAULTS + BENCH_FAULTS
TARGET_OF = {**{f: "container" for f in CONTAINER_FAULTS}, **{f: "lambda" for f in LAMBDA_FAULTS},
             **{f: "bench" for f in BENCH_FAULTS}}

# A failed request counts as "held in flight" by the process killed when it was sent before the
# kill, or within this grace after it: the client learns that a kept-alive connection is dead
# only when its FIN/RST is processed by the event loop.
SENT_GRACE_S = 0.05
# Recovery: 1-s bins by intended send time; recovered at the first of RECOVERED_BINS bins in a row
# with no error, p99 <= P99_FACTOR x baseline + P99_SLACK_MS, and >= THROUGHPUT_FRACTION of the
# baseline throughput completed.
BIN_S = 1.0
RECOVERED_BINS = 2
P99_FACTOR = 1.5
P99_SLACK_MS = 2.0
THROUGHPUT_FRACTION = 0.9
# gunicorn's arbiter checks heartbeats once per loop (1 s) and sends a timed-out worker SIGABRT
# (SIGKILL one loop later). A SIGSTOPped worker keeps SIGABRT pending; gunicorn.conf.py's
# `when_ready` hook sends SIGCONT right after the abort, so it exits at once. The stall is thus
# seen, and the worker killed, within timeout + one loop (the worst phase: the last check before
# the timeout just missed it). The margin covers exit, reap and fork (20-80 ms measured on 2 shared
# cores) and the arbiter's loop running a few ms past each second, with room for a loaded host.
ARBITER_LOOP_S = 1.0
STALL_MARGIN_S = 0.25
STALL_LIMIT_EXTRA_S = ARBITER_LOOP_S + STALL_MARGIN_S
# A large, valid batch: what makes a worker allocate past a lowered limit.
OOM_BATCH_ROWS = 1000
OOM_LIMIT_KB = 256
SATURATION_LEVELS = (2, 8)
RATE_CHECK_S = 4.0
RATE_CHECKS = 4
RATE_BACKOFF = 0.7
SATURATION_STEP_S = 3.0
CLIENT_TIMEOUT_S = 10.0
GUNICORN_CONF = REPO / "services" / "predict-container" / "gunicorn.conf.py"


class FaultError(RuntimeError):
    """A fault could not be injected as described (no worker to pick, no cgroup...); the message says why."""


@dataclass(frozen=True)
class ChaosSettings:
    """What ``make chaos`` runs. Durations in seconds, rates in requests/s."""

    faults: tuple[str, ...] = ALL_FAULTS
    rps: float | None = None
    """Offered rate for every target; ``None`` measures each target's saturation (closed loop, a
    few seconds) and offers ``load_fraction`` of it."""
    load_fraction: float = 0.5
    pre_s: float = 5.0
    """Quiet stream before each fault: the baseline, and the interval between two faults."""
    window_s: float = 15.0
    """Stream after each fault (the stall gets at least gunicorn's timeout + 8 s)."""
    gunicorn_timeout_s: int | None = None
    """``GUNICORN_TIMEOUT`` for the container; ``None`` = the pod's (gunicorn.conf.py's default)."""
    lambda_timeout_s: float = 2.0
    """The local Lambda's function timeout (the deployed one is longer; a short one keeps the
    run bounded, and a prediction takes milliseconds)."""
    lambda_environments: int = 16
    """Cap on local execution environments: real Lambda starts another environment where the
    default local cap (cores / vCPU) would answer 429 while one environment is stalled."""
    oom_limit_kb: int = OOM_LIMIT_KB
    package_dir: Path = REPO / "build" / "lambda" / "pkg"
    out_dir: Path | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(ALL_FAULTS))
        if unknown or not self.faults:
            raise ValueError(f"unknown fault(s) {unknown or list(self.faults)}; choose from {', '.join(ALL_FAULTS)}")
        for name in ("pre_s", "window_s", "lambda_timeout_s", "load_fraction"):
            value = getattr(self, name)
            if not (value > 0 and value == value and value != float("inf")):
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        if self.rps is not None and not (0 < self.rps < 1e6):
            raise ValueError(f"rps must be within (0, 1e6), got {self.rps}")
        if self.gunicorn_timeout_s is not None and not 1 <= self.gunicorn_timeout_s <= 3600:
            raise ValueError(f"gunicorn_timeout_s must be within 1..3600, got {self.gunicorn_timeout_s}")
        if self.oom_limit_kb <= 0 or self.lambda_environments < 2:
            raise ValueError("oom_limit_kb must be > 0 and lambda_environments >= 2")

    def targets(self) -> list[str]:
        return list(dict.fromkeys(TARGET_OF[f] for f in self.faults))


def pod_gunicorn_timeout_s(conf: Path = GUNICORN_CONF) -> int:
    """gunicorn's ``timeout`` as the pod runs it: ``GUNICORN_TIMEOUT``'s default in gunicorn.conf.py
    (the ConfigMap does not set it). 30 (gunicorn's own default) when the file cannot be read."""
    with contextlib.suppress(OSError):
        found = re.search(r'_int\("GUNICORN_TIMEOUT",\s*(\d+)\)', conf.read_text())
        if found:
            return int(found.group(1))
    return 30


# -- what is left running ----------------------------------------------------------------------

@dataclass
class Leftovers:
    """Every pid and port a target ever had, to check at the end that none is alive or listening."""

    pids: set[int] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    # psutil identity (pid, create_time): a pid the kernel reuses for someone else's process is not ours.
    _created: dict[int, float] = field(default_factory=dict)

    def add(self, pids: Iterable[int | None] = (), ports: Iterable[int | None] = ()) -> None:
        for pid in pids:
            if pid and pid not in self._created:
                with contextlib.suppress(psutil.Error):
                    self._created[pid] = psutil.Process(pid).create_time()
                    self.pids.add(pid)
        self.ports.update(p for p in ports if p)

    def alive(self, pids: Iterable[int] | None = None) -> list[int]:
        """Pids of ours still running (zombies count: nobody reaped them)."""
        found = []
        for pid in sorted(self.pids if pids is None else pids):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.create_time() == self._created.get(pid, proc.create_time()):
                    found.append(pid)
        return found


def listening(ports: Iterable[int]) -> list[int]:
    """Which of ``ports`` some process listens on (TCP, any address)."""
    wanted = set(ports)
    if not wanted:
        return []
    with contextlib.suppress(psutil.Error, OSError):
        return sorted({c.laddr.port for c in psutil.net_connections(kind="tcp")
                       if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in wanted})
    return []


def leftovers(seen: Leftovers, pids: Iterable[int] | None = None) -> dict[str, list[int]]:
    """``{"pids": alive, "ports": listening}`` among what ``seen`` recorded (or only ``pids``)."""
    return {"pids": seen.alive(pids), "ports": listening(seen.ports) if pids is None else []}


def _wait_gone(pids: Iterable[int], timeout_s: float, cancel: threading.Event | None = None, *,
               zombies_gone: bool = False) -> float | None:
    """Seconds until none of ``pids`` exists; ``None`` after ``timeout_s``.

    A zombie still exists (nobody reaped it) unless ``zombies_gone``: our own child, which we reap
    when we stop it, has exited once it is a zombie.
    """
    t0 = time.perf_counter()
    pids = list(pids)
    while time.perf_counter() - t0 < timeout_s and not (cancel and cancel.is_set()):
        alive = [p for p in pids if _exists(p, zombies_gone)]
        if not alive:
            return time.perf_counter() - t0
        time.sleep(0.01)
    return None


def _exists(pid: int, zombies_gone: bool = False) -> bool:
    gone = (psutil.STATUS_DEAD, psutil.STATUS_ZOMBIE) if zombies_gone else (psutil.STATUS_DEAD,)
    try:
        return psutil.Process(pid).status() not in gone
    except psutil.Error:
        return False


# -- figures -------------------------------------------------------------------------------------

def _sent_s(o: Outcome) -> float:
    return o.done_s - o.service_ms / 1000.0


def _intended_s(o: Outcome) -> float:
    return o.done_s - o.latency_ms / 1000.0


def recovery(outcomes: list[Outcome], t_fault_s: float, end_s: float, baseline_p99_ms: float | None,
             baseline_rps: float | None) -> dict[str, Any]:
    """When the stream was back to its pre-fault p99 and throughput after ``t_fault_s``.

    1-s bins from the fault to ``end_s`` (the last intended send): a bin is good with no failed
    request sent in it, p99 (of the requests sent in it, latency from the intended send) within
    ``P99_FACTOR`` x baseline + ``P99_SLACK_MS``, and at least ``THROUGHPUT_FRACTION`` of the
    baseline throughput completed in it. Recovered at the first of ``RECOVERED_BINS`` good bins in
    a row after the last bin with a failure; ``recovery_s`` is that bin's start minus the fault
    (0: never disturbed), ``None``: not within the window.
    """
    if baseline_p99_ms is None or not baseline_rps:
        return {"recovery_s": None, "bins": [], "note": "no baseline"}
    p99_limit = baseline_p99_ms * P99_FACTOR + P99_SLACK_MS
    count = max(1, int((end_s - t_fault_s) // BIN_S))
    sent_in: list[list[Outcome]] = [[] for _ in range(count)]
    done_ok = [0] * count
    for o in outcomes:
        i = int((_intended_s(o) - t_fault_s) // BIN_S)
        if 0 <= i < count:
            sent_in[i].append(o)
        j = int((o.done_s - t_fault_s) // BIN_S)
        if o.ok and 0 <= j < count:
            done_ok[j] += 1
    bins = []
    for i in range(count):
        ok = [o.latency_ms for o in sent_in[i] if o.ok]
        p99 = summarize(ok).get("p99_ms") if ok else None
        errors = len(sent_in[i]) - len(ok)
        rps = done_ok[i] / BIN_S
        good = (errors == 0 and p99 is not None and p99 <= p99_limit and rps >= THROUGHPUT_FRACTION * baseline_rps)
        bins.append({"start_s": round(i * BIN_S, 2), "sent": len(sent_in[i]), "errors": errors,
                     "p99_ms": p99, "completed_rps": rps, "good": good})
    # Not before the last bin with a failed request: a target that still answers for a while after
    # the fault (a killed master's workers) and then fails has not recovered in between.
    last_error = max((i for i, b in enumerate(bins) if b["errors"]), default=-1)
    recovered = None
    for i in range(last_error + 1, count - RECOVERED_BINS + 1):
        if all(b["good"] for b in bins[i:i + RECOVERED_BINS]):
            recovered = round(i * BIN_S, 2)
            break
    return {"recovery_s": recovered, "p99_limit_ms": round(p99_limit, 3),
            "throughput_limit_rps": round(THROUGHPUT_FRACTION * baseline_rps, 1), "bins": bins}


def analyse(outcomes: list[Outcome], t_fault_s: float, duration_s: float) -> dict[str, Any]:
    """The figures of one fault step: baseline, the fault window, which failures were in flight."""
    # Baseline: sent after the first second and answered before the fault. The window: every
    # request not finished when the fault came (those in flight at it, and all sent after).
    baseline = [o for o in outcomes if _intended_s(o) >= 1.0 and o.done_s < t_fault_s]
    base_ok = [o for o in baseline if o.ok]
    base_p99 = summarize([o.latency_ms for o in base_ok]).get("p99_ms") if base_ok else None
    span = t_fault_s - 1.0
    base_rps = len([o for o in outcomes if o.ok and 1.0 <= o.done_s < t_fault_s]) / span if span > 0 else None
    window = [o for o in outcomes if o.done_s >= t_fault_s]
    failed = [o for o in window if not o.ok]
    in_flight = [o for o in outcomes if _sent_s(o) <= t_fault_s <= o.done_s]
    before_window_failed = [o for o in baseline if not o.ok]
    rec = recovery(outcomes, t_fault_s, duration_s, base_p99, base_rps)
    return {
        "t_fault_s": round(t_fault_s, 3),
        "baseline": {"sent": len(baseline), "errors": len(before_window_failed), "p99_ms": base_p99,
                     "throughput_rps": round(base_rps, 1) if base_rps is not None else None},
        "sent": len(window),
        "failed": len(failed),
        "failed_by_status": status_counts(failed),
        "in_flight_at_fault": len(in_flight),
        "failed_in_flight_at_fault": sum(1 for o in failed if _sent_s(o) <= t_fault_s + SENT_GRACE_S),
        "failed_sent_s": sorted(round(_sent_s(o) - t_fault_s, 3) for o in failed)[:200],
        "latency_window": summarize([o.latency_ms for o in window if o.ok]),
        "recovery_s": rec["recovery_s"],
        "recovery": rec,
    }


# -- the stream with one fault -------------------------------------------------------------------

Inject = Callable[[Callable[[], float], threading.Event], dict[str, Any]]
"""``inject(now_s, cancel)``: runs in a thread while the stream flows; ``now_s()`` is the step's clock;
returns facts including ``t_fault_s``. It must return soon after ``cancel`` is set."""


async def _stream_with_fault(url: str, body: bytes, rate: float, duration_s: float, pre_s: float,
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


def _measure_rate(url: str, body: bytes, settings: ChaosSettings, progress: Progress) -> tuple[float, dict]:
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


async def _hold_rate(url: str, body: bytes, rate: float, progress: Progress) -> list[dict]:
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


def _fault_record(target: str, fault: str, rate: float, duration_s: float, outcomes: list[Outcome],
                  generator: dict, facts: dict, pre_s: float) -> dict[str, Any]:
    t_fault = facts.get("t_fault_s")
    figures = analyse(outcomes, t_fault if t_fault is not None else pre_s, duration_s)
    return {"target": target, "fault": fault, "offered_rps": rate, "duration_s": duration_s,
            "pre_s": pre_s, **figures, "generator": generator, "facts": facts}


def _judge(record: dict[str, Any], checks: list[tuple[str, bool, str]]) -> dict[str, Any]:
    record["checks"] = [{"name": n, "ok": bool(ok), "detail": d} for n, ok, d in checks]
    record["ok"] = all(c["ok"] for c in record["checks"])
    return record


def _post(url: str, body: bytes, timeout_s: float = CLIENT_TIMEOUT_S) -> tuple[int, dict[str, str], bytes, float]:
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


# -- container -----------------------------------------------------------------------------------

class _Pod:
    """The container under test; replaced by a new gunicorn on the same port after a master kill."""

    def __init__(self, settings: ChaosSettings, logs: Path, seen: Leftovers) -> None:
        from twinserve_support.local_container import LocalContainer

        self._make = LocalContainer
        self.timeout_s = settings.gunicorn_timeout_s or pod_gunicorn_timeout_s()
        self.logs = logs
        self.seen = seen
        self.generation = 0
        self.server = None
        self.port = 0

    def start(self) -> None:
        self.generation += 1
        self.server = self._make(port=self.port, env={"GUNICORN_TIMEOUT": str(self.timeout_s)},
                                 log_path=self.logs / f"container-chaos-{self.generation}.log")
        self.server.__enter__()
        self.port = self.server.port
        self.seen.add([self.master], [self.port])
        self.wait_workers(self.expected_workers(), 30.0)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def master(self) -> int:
        return self.server.process.pid

    def expected_workers(self) -> int:
        return int(self.server.server_env.get("WEB_CONCURRENCY") or 2)

    def workers(self) -> list[int]:
        try:
            found = [p.pid for p in psutil.Process(self.master).children() if p.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:
            return []
        self.seen.add(found)
        return sorted(found)

    def wait_workers(self, count: int, timeout_s: float, cancel: threading.Event | None = None,
                     without: int | None = None) -> float | None:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout_s and not (cancel and cancel.is_set()):
            current = self.workers()
            if len(current) >= count and without not in current:
                return time.perf_counter() - t0
            time.sleep(0.01)
        return None

    def describe(self) -> dict[str, Any]:
        return {**self.server.describe(), "gunicorn_timeout_s": self.timeout_s, "port": self.port,
                "workers": self.expected_workers()}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def _pick_worker(pod: _Pod) -> int:
    workers = pod.workers()
    if len(workers) < 2:
        raise FaultError(f"need at least 2 gunicorn workers to take one away, found {workers}")
    return workers[0]


def _container_fault(fault: str, pod: _Pod, body: bytes, rate: float, settings: ChaosSettings,
                     progress: Progress) -> dict[str, Any]:
    duration = settings.pre_s + settings.window_s
    if fault == "worker-stall":
        duration = settings.pre_s + max(settings.window_s, pod.timeout_s + 8.0)
    if fault == "master-sigkill":
        duration = settings.pre_s + max(settings.window_s, 12.0)
    expected = pod.expected_workers()
    batch = None
    if fault == "worker-oom":
        row = json.loads(body)["features"]
        batch = json.dumps({"instances": [row] * OOM_BATCH_ROWS}).encode()

    def inject(now_s: Callable[[], float], cancel: threading.Event) -> dict[str, Any]:
        if fault == "master-sigkill":
            master, old = pod.master, pod.workers()
            t = now_s()
            os.kill(master, signal.SIGKILL)
            exited = _wait_gone(old, 10.0, cancel)
            orphans = [p for p in old if _exists(p)]
            old_server = pod.server
            old_server.stop()  # the cgroup and anything left in the group; a kubelet would do the same
            t_restart = now_s()
            pod.start()
            return {"t_fault_s": t, "killed_pid": master, "old_workers": old,
                    "workers_exited_s": round(exited, 3) if exited is not None else None,
                    "orphans_after_10s": orphans, "restarted_at_s": round(t_restart - t, 3),
                    "replaced_s": round(now_s() - t, 3), "new_master": pod.master,
                    "restart_to_ready_ms": pod.server.timings.get("spawn_to_ready_ms")}
        victim = _pick_worker(pod)
        if fault == "worker-sigkill":
            t = now_s()
            os.kill(victim, signal.SIGKILL)
            replaced = pod.wait_workers(expected, 10.0, cancel, without=victim)
            return {"t_fault_s": t, "killed_pid": victim,
                    "replaced_s": round(now_s() - t, 3) if replaced is not None else None}
        if fault == "worker-stall":
            t = now_s()
            os.kill(victim, signal.SIGSTOP)
            gone = _wait_gone([victim], pod.timeout_s + 10.0, cancel)
            t_gone = now_s()
            replaced = pod.wait_workers(expected, 10.0, cancel, without=victim) if gone is not None else None
            if gone is None:  # never killed: continue it so it can be stopped normally
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGCONT)
            return {"t_fault_s": t, "stopped_pid": victim,
                    "killed_after_s": round(t_gone - t, 3) if gone is not None else None,
                    "replaced_s": round(now_s() - t, 3) if replaced is not None else None,
                    "gunicorn_timeout_s": pod.timeout_s}
        # worker-oom
        from twinserve_support.process.cgroup import ProcessMemoryLimit

        t = now_s()
        limit = ProcessMemoryLimit(victim, settings.oom_limit_kb)
        batches: list[dict] = []
        try:
            if not limit.applied:
                return {"t_fault_s": t, "limited_pid": victim, "memory_limit": limit.describe(), "oom_kills": None,
                        "error": f"memory limit not applied: {limit.reason}"}
            deadline = time.perf_counter() + min(settings.window_s, 10.0)
            while _exists(victim) and time.perf_counter() < deadline and not cancel.is_set():
                status, _, _, ms = _post(pod.url + "/predict", batch)
                batches.append({"at_s": round(now_s() - t, 3), "status": status, "ms": round(ms, 1)})
                time.sleep(0.05)
            t_dead = now_s()
            dead = not _exists(victim)
            replaced = pod.wait_workers(expected, 10.0, cancel, without=victim) if dead else None
            return {"t_fault_s": t, "limited_pid": victim, "memory_limit": limit.describe(),
                    "oom_kills": limit.oom_kills(), "killed_after_s": round(t_dead - t, 3) if dead else None,
                    "replaced_s": round(now_s() - t, 3) if replaced is not None else None,
                    "batches_sent": len(batches), "batch_rows": OOM_BATCH_ROWS, "batch_statuses":
                    status_counts_of(b["status"] for b in batches)}
        finally:
            limit.close()

    progress.phase(f"container: {fault} at {rate:.0f} rps ({settings.pre_s:.0f} s before, {duration - settings.pre_s:.0f} s after)")
    outcomes, generator, facts = asyncio.run(
        _stream_with_fault(pod.url, body, rate, duration, settings.pre_s, inject))
    record = _fault_record("container", fault, rate, duration, outcomes, generator, facts, settings.pre_s)
    victim = facts.get("killed_pid") or facts.get("stopped_pid") or facts.get("limited_pid")
    left = leftovers(pod.seen, [p for p in [victim, *facts.get("old_workers", [])] if p])
    record["left_running"] = left
    record["workers_after"] = pod.workers()
    checks: list[tuple[str, bool, str]] = [
        ("fault injected", facts.get("t_fault_s") is not None and not facts.get("error"), facts.get("error") or "")]
    if fault in ("worker-sigkill", "worker-oom", "worker-stall"):
        checks.append(("replaced", facts.get("replaced_s") is not None,
                       f"{len(record['workers_after'])} workers after, expected {expected}"))
    if fault == "worker-sigkill":
        checks.append(("only requests in flight at the fault failed",
                       record["failed"] == record["failed_in_flight_at_fault"],
                       f"{record['failed']} failed, {record['failed_in_flight_at_fault']} of them sent before the "
                       f"kill (+{SENT_GRACE_S * 1000:.0f} ms); {record['in_flight_at_fault']} in flight at the kill"))
    if fault == "worker-oom":
        kills = facts.get("oom_kills")
        checks.append(("killed by the kernel's OOM killer", bool(kills), f"oom_kill count {kills}"))
        # The worker dies while it reads or answers a batch; stream requests it held fail with it.
        t_dead = facts.get("killed_after_s")
        late = [s for s in record["failed_sent_s"] if t_dead is not None and s > t_dead + SENT_GRACE_S]
        checks.append(("only requests in flight at the OOM kill failed", not late,
                       f"{len(late)} failed requests sent after the worker died"))
    if fault == "worker-stall":
        limit = pod.timeout_s + STALL_LIMIT_EXTRA_S
        killed = facts.get("killed_after_s")
        checks.append((f"stalled worker killed within timeout + {STALL_LIMIT_EXTRA_S:g} s",
                       killed is not None and killed <= limit,
                       f"killed {killed} s after SIGSTOP (timeout {pod.timeout_s} s)"))
    if fault == "master-sigkill":
        checks.append(("old workers exited on their own", not facts.get("orphans_after_10s"),
                       f"workers exited {facts.get('workers_exited_s')} s after the master; "
                       f"left after 10 s: {facts.get('orphans_after_10s')}"))
    checks.append(("nothing of the fault left running", not left["pids"], f"alive: {left['pids']}"))
    return _judge(record, checks)


def status_counts_of(statuses: Iterable[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    return counts


def _target_vanishes(pod: _Pod, body: bytes, rate: float, settings: ChaosSettings, progress: Progress) -> dict:
    """SIGKILL the container's whole group mid-step: the step ends on time, every failure counted."""
    duration = settings.pre_s + min(settings.window_s, 8.0)

    def inject(now_s: Callable[[], float], cancel: threading.Event) -> dict[str, Any]:
        pids = [pod.master, *pod.workers()]
        t = now_s()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pod.master, signal.SIGKILL)
        gone = _wait_gone(pids, 5.0, cancel, zombies_gone=True)
        return {"t_fault_s": t, "killed_group": pod.master, "pids": pids,
                "gone_s": round(gone, 3) if gone is not None else None}

    progress.phase(f"bench: the target vanishes mid-step at {rate:.0f} rps")
    t0 = time.perf_counter()
    outcomes, generator, facts = asyncio.run(_stream_with_fault(pod.url, body, rate, duration, settings.pre_s, inject))
    step_wall = time.perf_counter() - t0
    pod.stop()
    record = _fault_record("bench", "target-vanishes", rate, duration, outcomes, generator, facts, settings.pre_s)
    record["step_wall_s"] = round(step_wall, 3)
    record["left_running"] = leftovers(pod.seen)
    bound = duration + CLIENT_TIMEOUT_S + 2.0
    answered = record["sent"] - record["failed"]
    return _judge(record, [
        ("step ended in bounded time", step_wall <= bound, f"{step_wall:.1f} s (planned {duration:.0f} s, bound {bound:.0f} s)"),
        ("every request counted", len(outcomes) == int(rate * duration),
         f"{len(outcomes)} outcomes for {int(rate * duration)} scheduled"),
        ("failures counted", record["failed"] > 0, f"{record['failed']} failed, {answered} answered after the kill"),
        ("nothing left running", not record["left_running"]["pids"] and not record["left_running"]["ports"],
         f"{record['left_running']}"),
    ])


def _run_container(settings: ChaosSettings, body: bytes, folder_logs: Path, seen: Leftovers, progress: Progress,
                   emit: Callable[[dict], None], targets: dict) -> None:
    faults = [f for f in settings.faults if f in CONTAINER_FAULTS or f == "target-vanishes"]
    # master-sigkill replaces the server: last of the container's own faults; target-vanishes ends it.
    faults.sort(key=lambda f: (f == "target-vanishes", f == "master-sigkill"))
    pod = _Pod(settings, folder_logs, seen)
    progress.phase("container: starting gunicorn under the pod's limits")
    try:
        pod.start()
        progress.done(f"{pod.url}, gunicorn timeout {pod.timeout_s} s")
        progress.phase("container: offered rate")
        rate, source = _measure_rate(pod.url, body, settings, progress)
        progress.done(f"{rate:.0f} rps")
        targets["container"] = {"offered_rps": rate, "rate": source, "server": pod.describe()}
        for fault in faults:
            if fault == "target-vanishes":
                record = _target_vanishes(pod, body, rate, settings, progress)
            else:
                record = _container_fault(fault, pod, body, rate, settings, progress)
            progress.done(_one_line(record))
            emit(record)
    finally:
        pod.stop()
    targets["container"]["left_running"] = leftovers(seen)


# -- local Lambda --------------------------------------------------------------------------------

class _Lambda:
    """The local Lambda emulator in its own process, with a short function timeout."""

    def __init__(self, settings: ChaosSettings, package_dir: Path, log: Path, seen: Leftovers) -> None:
        from twinbench.targets.lambda_process import LambdaProcess

        self.seen = seen
        self.proc = LambdaProcess(package_dir, timeout_s=settings.lambda_timeout_s, log_path=log,
                                  env={"LAMBDA_ACCOUNT_CONCURRENCY": str(settings.lambda_environments)})

    def __enter__(self) -> _Lambda:
        self.proc.__enter__()
        self.seen.add([self.proc.process.pid], [self.proc.port])
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.__exit__(*exc)

    @property
    def url(self) -> str:
        return self.proc.url

    def stats(self) -> dict:
        stats = self.proc.stats()
        self.seen.add(stats.get("environment_pids", []))
        return stats

    def reports_since(self, index: int) -> list[dict]:
        return list(self.proc.reports)[index:]


def _next_environments(lam: _Lambda) -> list[int]:
    """Environment pids in the order the next invocations reach them: first those holding one now
    (stopped, they keep it), then the idle ones, most recently released first (the pool takes from
    the top of a LIFO stack). A busy environment released after this snapshot goes back on top of
    that stack, so an idle-only order would keep stalling one the pool then passes over."""
    stats = lam.stats()
    busy = [int(pid) for pid, state in stats.get("environment_states", {}).items() if state == "busy"]
    idle = {int(k): float(v) for k, v in stats.get("environment_idle_s", {}).items()}
    if not busy and not idle:
        raise FaultError("no execution environment to stall: the stream has not started one")
    return busy + sorted(idle, key=lambda pid: idle[pid])


def _wait_handed_invocation(lam: _Lambda, pid: int, timeout_s: float, cancel: threading.Event) -> bool:
    """Wait until the (stopped) environment ``pid`` holds an invocation: it was busy when stopped,
    or the pool handed it the next one."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s and not cancel.is_set():
        if lam.stats().get("environment_states", {}).get(str(pid)) == "busy":
            return True
        time.sleep(0.02)  # the emulator's one event loop also serves the stream: poll gently
    return False


def lost_by_status(record: dict[str, Any]) -> dict[str, int]:
    """A fault window's failures that lost an invocation, by status. A 429 is the emulator's
    concurrency cap throttling a burst while an environment restarts (Lambda throttles the same
    way): an answer, not a lost invocation."""
    return {status: n for status, n in record["failed_by_status"].items() if status != "429"}


def _lambda_fault(fault: str, lam: _Lambda, body: bytes, rate: float, settings: ChaosSettings,
                  progress: Progress) -> dict[str, Any]:
    duration = settings.pre_s + max(settings.window_s, settings.lambda_timeout_s + 6.0)
    marks: dict[str, Any] = {}

    def inject(now_s: Callable[[], float], cancel: threading.Event) -> dict[str, Any]:
        stats = lam.stats()
        marks.update(reports=int(stats.get("reports", 0)), before=stats)
        # Stall the environment next in line; if another got the invocations meanwhile, let it
        # go on and stall the next candidate (bounded: a few candidates, 1 s each).
        handed, tried = False, []
        for pid in _next_environments(lam)[:4]:
            t_stop = now_s()
            os.kill(pid, signal.SIGSTOP)
            tried.append(pid)
            handed = _wait_handed_invocation(lam, pid, 1.0, cancel)
            if handed or cancel.is_set():
                break
            os.kill(pid, signal.SIGCONT)
        t_handed = now_s()
        facts: dict[str, Any] = {"environment_pid": pid, "candidates_tried": tried, "stopped_at_s": round(t_stop, 3),
                                 "handed_an_invocation": handed, "handed_after_s": round(t_handed - t_stop, 3)}
        if fault == "env-sigkill":
            t = now_s()
            os.kill(pid, signal.SIGKILL)
            gone = _wait_gone([pid], 5.0, cancel)
            return {**facts, "t_fault_s": t, "gone_s": round(gone, 3) if gone is not None else None}
        # env-timeout: the emulator must give up on the invocation and destroy the environment
        gone = _wait_gone([pid], settings.lambda_timeout_s + 5.0, cancel)
        if gone is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        return {**facts, "t_fault_s": t_handed,
                "destroyed_after_s": round(now_s() - t_handed, 3) if gone is not None else None}

    progress.phase(f"lambda: {fault} at {rate:.0f} rps (function timeout {settings.lambda_timeout_s:g} s)")
    outcomes, generator, facts = asyncio.run(_stream_with_fault(lam.url, body, rate, duration, settings.pre_s, inject))
    after = lam.stats()
    before = marks.get("before", {})
    deltas = {k: int(after.get(k, 0)) - int(before.get(k, 0))
              for k in ("runtime_exits", "timeouts", "function_errors", "cold_starts", "throttles")}
    errors = [r for r in lam.reports_since(marks.get("reports", 0)) if r.get("status")]
    record = _fault_record("lambda", fault, rate, duration, outcomes, generator, facts, settings.pre_s)
    t_fault = facts.get("t_fault_s") or settings.pre_s
    record["emulator_counts"] = deltas
    record["error_reports"] = [{"status": r.get("status"), "error_type": r.get("error_type"),
                                "duration_ms": r.get("duration_ms")} for r in errors]
    record["cold_after_fault"] = sum(1 for o in outcomes if o.cold and _intended_s(o) >= t_fault - 5.0)
    record["environments_after"] = after.get("environments")
    pid = facts.get("environment_pid")
    record["left_running"] = leftovers(lam.seen, [pid] if pid else [])
    expected_status, expected_type = ("502", "Runtime.ExitError") if fault == "env-sigkill" else ("504", "Sandbox.Timedout")
    checks = [
        ("the stalled environment was handed an invocation", facts.get("handed_an_invocation"),
         f"after {facts.get('handed_after_s')} s"),
        (f"exactly its own invocation lost ({expected_status})",
         lost_by_status(record) == {expected_status: 1},
         f"failed {record['failed_by_status']} (all statuses of the window; 429s are throttles, not losses)"),
        (f"REPORT says {expected_type}", [r["error_type"] for r in record["error_reports"]] == [expected_type],
         f"{record['error_reports']}"),
        ("environment gone", not record["left_running"]["pids"], f"alive: {record['left_running']['pids']}"),
    ]
    if fault == "env-timeout":
        destroyed = facts.get("destroyed_after_s")
        checks.append(("504 at the function timeout, environment destroyed",
                       destroyed is not None and destroyed <= settings.lambda_timeout_s + 1.0,
                       f"destroyed {destroyed} s after it was handed the invocation (timeout {settings.lambda_timeout_s:g} s)"))
    return _judge(record, checks)


def package_without_model(package_dir: Path, dest: Path) -> Path:
    """A copy of the Lambda package without ``model/``: links to its libraries, the handler and the
    core copied (the core finds ``model/`` beside its *resolved* location, so a link would find the
    real one)."""
    import shutil

    if not (package_dir / "handler.py").exists():
        raise FaultError(f"no Lambda package at {package_dir} (make package-lambda)")
    dest.mkdir(parents=True, exist_ok=True)
    for entry in package_dir.iterdir():
        target = dest / entry.name
        if entry.name == "model" or target.exists() or target.is_symlink():
            continue
        if entry.suffix == ".py" or entry.name in ("twinserve", "twinserve_flask"):
            if entry.is_dir():
                shutil.copytree(entry, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(entry, target)
        else:
            target.symlink_to(entry.resolve())
    return dest


def _init_failure(settings: ChaosSettings, body: bytes, work: Path, seen: Leftovers, progress: Progress) -> dict:
    """Every request to a function whose init fails: the function's error, quickly, no hang."""
    progress.phase("lambda: init-failure (package without model/)")
    package = package_without_model(settings.package_dir, work / "package-without-model")
    requests = []
    with _Lambda(settings, package, work / "logs" / "lambda-init-failure.log", seen) as lam:
        for _ in range(5):
            status, headers, answer, ms = _post(lam.url + "/predict", body, timeout_s=30.0)
            requests.append({"status": status, "error_type": headers.get("x-local-lambda-error"),
                             "body": answer.decode(errors="replace")[:200], "ms": round(ms, 1)})
        stats = lam.stats()
        reports = [{"status": r.get("status"), "error_type": r.get("error_type"),
                    "init_duration_ms": r.get("init_duration_ms")} for r in lam.reports_since(0)]
    left = leftovers(seen)
    statuses = status_counts_of(r["status"] for r in requests)
    record = {"target": "lambda", "fault": "init-failure", "offered_rps": None, "duration_s": None, "pre_s": None,
              "t_fault_s": 0.0, "sent": len(requests), "failed": sum(1 for r in requests if not 200 <= r["status"] < 300),
              "failed_by_status": statuses, "recovery_s": None, "requests": requests,
              "emulator_counts": {k: stats.get(k) for k in ("cold_starts", "function_errors", "runtime_exits", "timeouts")},
              "error_reports": reports, "left_running": left,
              "facts": {"package_dir": str(package), "note": "no recovery without a package that has its model; "
                        "each request starts a new environment whose init fails, as Lambda retries init per invoke"}}
    slowest = max(r["ms"] for r in requests)
    return _judge(record, [
        ("every request answered 502", statuses == {"502": len(requests)}, f"{statuses}"),
        ("the function's own init error named", all(r["error_type"] for r in requests),
         f"{sorted({r['error_type'] for r in requests if r['error_type']})}"),
        ("API Gateway's body", all(json.loads(r["body"] or "{}").get("message") == "Internal Server Error"
                                   for r in requests if r["status"] == 502), requests[0]["body"]),
        ("no hang", slowest < 10_000, f"slowest {slowest:.0f} ms (INIT limit 10 s)"),
        ("each request a new cold environment", stats.get("cold_starts") == len(requests),
         f"{stats.get('cold_starts')} cold starts"),
        ("nothing left running", not left["pids"] and not left["ports"], f"{left}"),
    ])


def _run_lambda(settings: ChaosSettings, body: bytes, folder: Path, seen: Leftovers, progress: Progress,
                emit: Callable[[dict], None], targets: dict) -> None:
    faults = [f for f in settings.faults if f in LAMBDA_FAULTS and f != "init-failure"]
    if faults:
        progress.phase("lambda: starting the local emulator")
        with _Lambda(settings, settings.package_dir, folder / "logs" / "lambda-chaos.log", seen) as lam:
            progress.done(lam.url)
            progress.phase("lambda: offered rate")
            rate, source = _measure_rate(lam.url, body, settings, progress)
            progress.done(f"{rate:.0f} rps")
            targets["lambda"] = {"offered_rps": rate, "rate": source, "emulator": lam.stats().get("settings")}
            for fault in faults:
                record = _lambda_fault(fault, lam, body, rate, settings, progress)
                progress.done(_one_line(record))
                emit(record)
    if "init-failure" in settings.faults:
        record = _init_failure(settings, body, folder, seen, progress)
        progress.done(_one_line(record))
        emit(record)
    targets.setdefault("lambda", {})["left_running"] = leftovers(seen)


# -- the bench interrupted -----------------------------------------------------------------------

def _interrupt(signum: int, settings: ChaosSettings, folder: Path, seen: Leftovers, progress: Progress) -> dict:
    """A child ``twinbench chaos`` interrupted mid-stream: exit 130, partial chaos.json, nothing left."""
    name = signal.Signals(signum).name
    fault = "interrupt-sigint" if signum == signal.SIGINT else "interrupt-sigterm"
    out = folder / f"child-{name.lower()}"
    argv = [sys.executable, "-m", "twinbench", "chaos", "--faults", "worker-sigkill", "--rps", str(settings.rps or 50),
            "--pre-s", "30", "--window-s", "30", "--out", str(out), "--quiet"]
    progress.phase(f"bench: {name} to a running `twinbench chaos`")
    log = (folder / "logs" / f"child-{name.lower()}.log").open("wb")
    t0 = time.perf_counter()
    child = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    mine = Leftovers()
    mine.add([child.pid])
    facts: dict[str, Any] = {"argv": argv[1:]}
    try:
        # Interrupt once the stream flows: gunicorn is up and answering, then 2 s more.
        deadline = time.perf_counter() + 60.0
        streaming_since = None
        while time.perf_counter() < deadline and child.poll() is None:
            with contextlib.suppress(psutil.Error):
                kids = psutil.Process(child.pid).children(recursive=True)
                mine.add([k.pid for k in kids])
                for k in kids:
                    with contextlib.suppress(psutil.Error):
                        mine.add(ports=[c.laddr.port for c in k.net_connections(kind="tcp")
                                        if c.status == psutil.CONN_LISTEN])
                if any("gunicorn" in " ".join(k.cmdline()) for k in kids if k.is_running()) and mine.ports:
                    streaming_since = streaming_since or time.perf_counter()
            if streaming_since and time.perf_counter() - streaming_since > 4.0:
                break
            time.sleep(0.1)
        facts["signalled_after_s"] = round(time.perf_counter() - t0, 2)
        t_sig = time.perf_counter()
        os.kill(child.pid, signum)
        try:
            code = child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        facts["exit_s"] = round(time.perf_counter() - t_sig, 2) if code is not None else None
        facts["exit_code"] = code
    finally:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        log.close()
    time.sleep(0.2)
    left = leftovers(mine)
    seen.add(mine.pids, mine.ports)
    doc = {}
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((out / formats.CHAOS.file_name).read_text())
    facts["document"] = {k: doc.get(k) for k in ("format", "interrupted", "ok")} | {"faults": len(doc.get("faults", []))}
    served = 0
    with contextlib.suppress(OSError):
        served = sum(log.read_text(errors="replace").count('"path":"/predict"') for log in (out / "logs").glob("container-*.log"))
    facts["requests_served_before_the_signal"] = served
    facts["processes_seen"] = len(mine.pids)
    facts["ports_seen"] = sorted(mine.ports)
    record = {"target": "bench", "fault": fault, "offered_rps": settings.rps or 50, "duration_s": None, "pre_s": None,
              "t_fault_s": facts["signalled_after_s"], "sent": None, "failed": None, "failed_by_status": {},
              "recovery_s": None, "left_running": left, "facts": facts}
    return _judge(record, [
        ("exit 130", facts["exit_code"] == 130, f"exit {facts['exit_code']} after {facts['exit_s']} s"),
        ("partial chaos.json marked interrupted", doc.get("interrupted") is True and doc.get("ok") is False,
         f"{facts['document']}"),
        ("nothing left running", not left["pids"] and not left["ports"],
         f"{left} of {len(mine.pids)} processes and ports {sorted(mine.ports)} seen"),
        ("the stream was running when signalled", served > 0 and len(mine.pids) >= 3,
         f"{served} requests served by the child's gunicorn, {len(mine.pids)} processes seen"),
    ])


# -- the run ---------------------------------------------------------------------------------------

def _one_line(record: dict) -> str:
    status = "ok" if record.get("ok") else "FAIL"
    return (f"{record['fault']}: sent {record.get('sent')}, failed {record.get('failed_by_status')}, "
            f"recovery {record.get('recovery_s')} s, {status}")


def run(settings: ChaosSettings, progress: Progress | None = None) -> dict:
    """Inject every fault of ``settings``; returns the document also written to ``<folder>/chaos.json``.

    Interrupted (Ctrl-C, SIGTERM), it writes the faults finished so far, marked
    ``"interrupted": true``, stops everything it started, then re-raises the ``KeyboardInterrupt``.
    """
    from twinbench.results.run_folder import RunFolder
    from twinbench.targets import request_body

    progress = progress or Progress()
    body = request_body(Path(os.environ.get("MODEL_PATH") or REPO / "model"))
    folder = (RunFolder(formats.CHAOS, path=settings.out_dir, logs=True) if settings.out_dir
              else RunFolder(formats.CHAOS, root=RESULTS, prefix="chaos", logs=True))
    seen = Leftovers()
    with folder:
        payload = ChaosResults(settings=_settings_dict(settings), path=str(folder.path / formats.CHAOS.file_name))
        started = time.perf_counter()

        def write() -> dict:
            payload.wall_s = round(time.perf_counter() - started, 1)
            payload.leftovers = leftovers(seen)
            done = {f["fault"] for f in payload.faults}
            payload.ok = (not folder.interrupted and done == set(settings.faults)
                          and all(f["ok"] for f in payload.faults)
                          and not payload.leftovers["pids"] and not payload.leftovers["ports"])
            document = folder.document(payload)
            folder.write(document, indent=2)
            return document.to_dict()

        def emit(record: dict) -> None:
            payload.faults.append(record)
            write()

        try:
            targets = settings.targets()
            if "container" in targets or "target-vanishes" in settings.faults:
                _run_container(settings, body, folder.logs, seen, progress, emit, payload.targets)
            if "lambda" in targets:
                _run_lambda(settings, body, folder.path, seen, progress, emit, payload.targets)
            for signum, fault in ((signal.SIGINT, "interrupt-sigint"), (signal.SIGTERM, "interrupt-sigterm")):
                if fault in settings.faults:
                    record = _interrupt(signum, settings, folder.path, seen, progress)
                    progress.done(_one_line(record))
                    emit(record)
        except KeyboardInterrupt:
            folder.mark_interrupted()
            write()
            progress.note(f"interrupted: partial results in {folder.path / formats.CHAOS.file_name}")
            raise
        written = write()
    return written


def _settings_dict(settings: ChaosSettings) -> dict[str, Any]:
    return {"faults": list(settings.faults), "rps": settings.rps, "load_fraction": settings.load_fraction,
            "pre_s": settings.pre_s, "window_s": settings.window_s,
            "gunicorn_timeout_s": settings.gunicorn_timeout_s or pod_gunicorn_timeout_s(),
            "lambda_timeout_s": settings.lambda_timeout_s, "lambda_environments": settings.lambda_environments,
            "oom_limit_kb": settings.oom_limit_kb, "package_dir": str(settings.package_dir),
            "recovery_rule": {"bin_s": BIN_S, "consecutive_bins": RECOVERED_BINS, "p99_factor": P99_FACTOR,
                              "p99_slack_ms": P99_SLACK_MS, "throughput_fraction": THROUGHPUT_FRACTION},
            "sent_grace_s": SENT_GRACE_S}


def _fmt_status(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}:{v}" for k, v in sorted(counts.items())) or "-"


def summary_lines(document: dict) -> list[str]:
    """The table printed at the end of ``make chaos``."""
    lines = [f"{'target':9s} {'fault':18s} {'rps':>5s} {'sent':>6s} {'failed':>6s} {'by status':28s} "
             f"{'recover':>8s} {'replaced':>9s} {'left':>5s} check"]
    for f in document["faults"]:
        facts = f.get("facts", {})
        replaced = facts.get("replaced_s", facts.get("destroyed_after_s", facts.get("gone_s")))
        left = f.get("left_running", {})
        left_n = len(left.get("pids", [])) + len(left.get("ports", []))
        rec = f.get("recovery_s")
        lines.append(
            f"{f['target']:9s} {f['fault']:18s} {f.get('offered_rps') or 0:5.0f} {f.get('sent') if f.get('sent') is not None else '-':>6} "
            f"{f.get('failed') if f.get('failed') is not None else '-':>6} {_fmt_status(f.get('failed_by_status') or {})[:28]:28s} "
            f"{(f'{rec:.1f} s' if rec is not None else '-'):>8s} {(f'{replaced:.2f} s' if replaced is not None else '-'):>9s} "
            f"{left_n:5d} {'ok' if f['ok'] else 'FAIL'}")
        for check in f["checks"]:
            if not check["ok"]:
                lines.append(f"  FAIL {f['fault']}: {check['name']}: {check['detail']}")
    for f in document["faults"]:
        if f["fault"] == "master-sigkill":
            facts = f["facts"]
            lines.append(f"  master-sigkill: workers exited {facts.get('workers_exited_s')} s after their master; "
                         f"a new gunicorn (standing in for the kubelet's restart, no back-off) ready in "
                         f"{(facts.get('restart_to_ready_ms') or 0) / 1000:.2f} s; restarting the pod is Kubernetes' job")
        if f["fault"] == "worker-stall":
            lines.append(f"  worker-stall: gunicorn timeout {f['facts'].get('gunicorn_timeout_s')} s, killed "
                         f"{f['facts'].get('killed_after_s')} s after SIGSTOP (arbiter: SIGABRT, then SIGKILL a loop later)")
    left = document.get("leftovers", {})
    lines.append(f"left running at the end: {len(left.get('pids', []))} processes, {len(left.get('ports', []))} ports "
                 f"listening")
    lines.append("recovery: first of 2 one-second bins in a row with no error, p99 <= 1.5 x pre-fault p99 + 2 ms "
                 "and >= 90 % of the pre-fault throughput; '-' = not within the window")
    lines.append(f"chaos: {'PASS' if document['ok'] else 'FAIL'} in {document['wall_s']:.0f} s -> {document['path']}")
    return lines
