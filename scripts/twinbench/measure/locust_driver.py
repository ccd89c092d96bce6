"""Open-loop steps from Locust (master + workers) instead of the built-in generator.

Why: one Python process can send only so many requests a second (figure in docs/measurements.md);
Locust's workers spread the sending over processes and machines, which a deployed Lambda needs.
``LocustDriver.run_plan(steps)`` starts a headless master and ``workers`` local workers (each in its
own process group, stopped on every exit path), walks the plan (:mod:`twinbench.measure.locustfile`)
and returns one record per step in the built-in generator's shape
(:func:`twinbench.measure.loadgen.step_result`): samples from the locustfile's own export, Locust's
per-step figures from its ``--csv`` file, nothing read off the screen. Remote workers: start each
with :meth:`LocustDriver.worker_command`, once per plan (a worker quits with its master).
"""

from __future__ import annotations

import csv
import json
import math
import sys
import tempfile
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

from twinserve_support.process.managed import ManagedProcess, ProcessNotReady
from twinserve_support.process.net import free_port
from twinserve_support.process.wait import poll_until

from twinbench.measure.loadgen import CPU_BOTTLENECK_FRACTION, SEND_LAG_BOTTLENECK_MS, Outcome, step_result

__all__ = ["LOCUST_VERSION", "LOCUSTFILE", "LocustDriver", "LocustError", "LocustResult", "LocustStep"]

LOCUST_VERSION = "2.47.0"  # pinned: the CSV columns and the messaging API this module reads
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PER_USER_RPS = 5.0  # one user's pace: late (closed-loop) only when an answer takes > 1 / 5 s = 200 ms
MAX_USERS = 500
DRAIN_S = 1.5  # after a step's end: answers in flight, then the workers' last flush


class LocustError(ProcessNotReady):
    """Locust is missing, a process did not start, or the run did not finish in time (message says which)."""


@dataclass(frozen=True)
class LocustStep:
    """One open-loop step: ``rate`` req/s for ``duration_s`` against ``url`` (full URL), after ``pause_s``."""

    url: str
    rate: float
    duration_s: float
    pause_s: float = 0.0
    label: str = ""


@dataclass
class LocustResult:
    """One step: the results.json record, its outcomes and their intended offsets (s from the step start)."""

    record: dict
    outcomes: list[Outcome]
    offsets: list[float]


def users_for(max_rate: float, workers: int) -> int:
    """Users so each paces <= PER_USER_RPS, at least two per worker, at most MAX_USERS."""
    return max(2 * workers, min(MAX_USERS, math.ceil(max_rate / PER_USER_RPS)))


def locust_available() -> str | None:
    """Locust's version, or None when it is not installed in this interpreter."""
    try:
        from importlib.metadata import version

        return version("locust")
    except Exception:
        return None


@dataclass(eq=False)
class LocustDriver:
    """Runs plans of open-loop steps on a Locust master and ``workers`` local workers.

    ``port`` 0 picks a free one per plan; ``timeout_s`` is added to each plan's own duration
    budget; ``log_dir`` keeps each process's log (``None``: discarded).
    """

    body: bytes
    _: KW_ONLY
    workers: int = 2
    remote_workers: int = 0
    log_dir: Path | None = None
    bind_host: str = "127.0.0.1"
    port: int = 0
    timeout_s: float = 10.0
    plans_run: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.workers < 0 or self.remote_workers < 0 or self.workers + self.remote_workers < 1:
            raise ValueError("Locust needs at least one worker (--locust-workers / --locust-remote-workers)")

    def worker_command(self, port: int) -> str:
        """What to run on another machine to join the master."""
        return (f"pip install locust=={LOCUST_VERSION} psutil && locust -f locustfile.py --worker "
                f"--master-host {self.bind_host} --master-port {port}   # locustfile: {LOCUSTFILE}")

    def run_plan(self, steps: list[LocustStep], on_note=None) -> list[LocustResult]:
        """Run ``steps`` in order; returns one result each (its record in ``step_result`` shape + Locust's figures).

        Raises :class:`LocustError` when Locust is missing, a process does not start, or the plan
        does not finish within its duration + 60 s (everything started is stopped either way).
        """
        if locust_available() is None:
            raise LocustError(f"locust is not installed: pip install locust=={LOCUST_VERSION}")
        self.plans_run += 1
        users = users_for(max(s.rate for s in steps), self.workers + self.remote_workers)
        port = self.port or free_port()
        with tempfile.TemporaryDirectory(prefix="twinbench-locust-") as tmp:
            work = Path(tmp)
            plan = {"users": users, "body": self.body.decode(), "drain_s": DRAIN_S,
                    "headers": {"content-type": "application/json"},
                    "steps": [{"url": s.url, "rate": s.rate, "duration_s": s.duration_s, "pause_s": s.pause_s}
                              for s in steps]}
            (work / "plan.json").write_text(json.dumps(plan))
            out = work / "samples.json"
            env = {**_environ(), "TWINBENCH_LOCUST_PLAN": str(work / "plan.json"), "TWINBENCH_LOCUST_OUT": str(out)}
            log = (lambda name: self.log_dir / f"locust-{self.plans_run}-{name}.log") if self.log_dir else (lambda name: None)
            expected = self.workers + self.remote_workers
            master = ManagedProcess(
                [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--master", "--headless",
                 "--master-bind-host", self.bind_host, "--master-bind-port", str(port),
                 "--expect-workers", str(expected), "--expect-workers-max-wait", "60",
                 "-u", str(users), "-r", str(max(users, 100)), "--host", steps[0].url,
                 "--csv", str(work / "stats"), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2"],
                name="locust master", env=env, log_path=log("master"), grace_s=5.0, error=LocustError)
            workers = [ManagedProcess(
                [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host",
                 "127.0.0.1" if self.bind_host in ("0.0.0.0", "::") else self.bind_host, "--master-port", str(port),
                 "--loglevel", "WARNING"],
                name=f"locust worker {i}", env=env, log_path=log(f"worker{i}"), grace_s=5.0, error=LocustError)
                for i in range(self.workers)]
            if self.remote_workers and on_note:
                on_note(f"Locust master waits for {self.remote_workers} remote worker(s): {self.worker_command(port)}")
            budget = sum(s.pause_s + s.duration_s + DRAIN_S + 1.0 for s in steps) + 60.0 + self.timeout_s
            try:
                master.start()
                for w in workers:
                    w.start()
                # the master quits by itself once the plan is walked and the samples written
                if not poll_until(lambda: not master.running, budget, poll_s=0.1):
                    raise LocustError(f"the Locust run did not finish within {budget:.0f} s{master.log_tail()}")
                if not out.exists():
                    raise LocustError(f"the Locust master wrote no samples{master.log_tail()}")
            finally:
                master.stop()
                for w in workers:
                    w.stop()
            data = json.loads(out.read_text())
            stats = _read_stats_csv(work / "stats_stats.csv")
        return [self._step_record(i, step, data, stats.get(f"step{i}"), users) for i, step in enumerate(steps)]

    def _step_record(self, index: int, step: LocustStep, data: dict, stats: dict | None, users: int) -> LocustResult:
        rows = sorted((s for s in data["samples"] if s[0] == index), key=lambda s: s[1])
        outcomes = [Outcome(status=int(status), latency_ms=float(lat), service_ms=float(svc), send_lag_ms=float(lag),
                            done_s=float(offset) + float(lat) / 1000.0, cold=cold,
                            error=None if status else "connection")
                    for _, offset, lat, svc, lag, status, cold in rows]
        cpu_fractions, cores = _cpu(index, data)
        lags = sorted(o.send_lag_ms for o in outcomes)
        p99_lag = lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else 0.0
        worst = max(cpu_fractions, default=0.0)
        reasons = []
        if worst >= CPU_BOTTLENECK_FRACTION:
            reasons.append(f"a Locust process used {worst:.0%} of a core")
        if p99_lag >= SEND_LAG_BOTTLENECK_MS:
            reasons.append(f"p99 send lag {p99_lag:.1f} ms (users late: answers slower than one pacing interval, "
                           "or workers short of CPU)")
        generator = {
            "name": "locust", "version": locust_available(), "workers": len(data.get("workers", [])), "users": users,
            "cpu_fraction": round(worst, 3), "cpu_cores_used": round(cores, 3),
            "send_lag_p99_ms": round(p99_lag, 3), "send_lag_max_ms": round(lags[-1], 3) if lags else 0.0,
            "bottleneck": bool(reasons), "bottleneck_reason": "; ".join(reasons) or None,
            "open_loop": f"{users} users paced at {step.rate / users:.3g} req/s each; open loop while answers take "
                         f"< {users / step.rate * 1000:.0f} ms; latency from the intended send time",
            "locust_stats": stats,
        }
        record = step_result(outcomes, generator, offered_rps=step.rate, duration_s=step.duration_s)
        return LocustResult(record, outcomes, [float(r[1]) for r in rows])


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def _cpu(index: int, data: dict) -> tuple[list[float], float]:
    """Per-process CPU fraction of one core over the step, and the cores used by all of them together."""
    fractions: list[float] = []
    marks = [data.get("master_cpu", {}).get(str(index))] + [w.get(str(index)) for w in data.get("worker_cpu", {}).values()]
    for mark in marks:
        if not mark or "start" not in mark or "end" not in mark:
            continue
        (t0, c0), (t1, c1) = mark["start"], mark["end"]
        if t1 > t0:
            fractions.append(max(0.0, (c1 - c0) / (t1 - t0)))
    return fractions, sum(fractions)


def _read_stats_csv(path: Path) -> dict[str, dict]:
    """Locust's ``<prefix>_stats.csv``: per request name, its own count, failures, rate and percentiles (ms).

    Locust rounds response times (to the ms below 100 ms, to 10 ms below 1 s) and measures from the
    actual send, so these are kept beside the exact samples, not used for the figures.
    """
    if not path.exists():
        return {}
    out: dict[str, dict] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            def num(key: str, row: dict[str, str] = row) -> float | None:
                try:
                    return float(row[key])
                except (KeyError, TypeError, ValueError):
                    return None

            out[row.get("Name", "")] = {
                "requests": int(num("Request Count") or 0), "failures": int(num("Failure Count") or 0),
                "requests_per_s": num("Requests/s"), "median_ms": num("Median Response Time"),
                "mean_ms": num("Average Response Time"), "p99_ms": num("99%"), "max_ms": num("Max Response Time"),
            }
    return out
