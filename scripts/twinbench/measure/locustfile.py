"""The Locust side of ``twinbench bench --generator locust``: a plan of open-loop steps, paced per user.

Self-contained (standard library, locust, psutil): a worker on another machine needs only this
file and ``pip install locust==2.47.0``::

    locust -f locustfile.py --worker --master-host <bench machine> --master-port <port>

Why paced users: the union of users each on its own schedule is an open-loop arrival process
while answers take less than one pacing interval, and every latency is measured from the
**intended** send time (wrk2's correction), as the built-in generator does. Samples and CPU
seconds travel by Locust's own messaging to the master, which writes ``TWINBENCH_LOCUST_OUT``.
The plan, the messages and the pacing rules: docs/benchmark.md, "Locust workers".
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import gevent
import psutil
from locust import FastHttpUser, events, task
from locust.runners import MasterRunner, WorkerRunner

PLAN_ENV = "TWINBENCH_LOCUST_PLAN"
OUT_ENV = "TWINBENCH_LOCUST_OUT"
COLD_HEADER = "x-twinserve-cold"
FLUSH_S = 0.5
LEAD_S = 0.5  # between sending a step and its start: the message reaches every worker first

_state: dict[str, Any] = {"step": None, "samples": [], "cpu": {}, "plan": None}
_collected: dict[str, Any] = {"samples": {}, "cpu": {}, "workers": set()}


def _cpu_s() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def _now() -> float:
    return time.time()


class PlanUser(FastHttpUser):
    """One paced user; see the module docstring. ``host`` is unused: the step carries absolute URLs."""

    host = "http://127.0.0.1"

    def wait_time(self) -> float:  # pacing is done inside the task
        return 0.0

    def on_start(self) -> None:
        self._index = -1
        self._next = 0.0
        self._interval = 1.0
        self._rng = random.Random()

    @task
    def paced(self) -> None:
        step = _state["step"]
        if step is None or _now() >= step["end"]:
            gevent.sleep(0.05)
            return
        if step["index"] != self._index:  # a new step: this user's own schedule
            self._index = step["index"]
            self._interval = step["users"] / step["rate"]
            self._next = step["start"] + self._rng.uniform(0.0, self._interval)
        intended = self._next
        if intended >= step["end"]:
            gevent.sleep(min(0.05, max(0.0, step["end"] - _now())))
            return
        self._next += self._interval
        delay = intended - _now()
        if delay > 0:
            gevent.sleep(delay)
        sent_wall = _now()
        sent = time.perf_counter()
        status, cold = 0, None
        try:
            with self.client.request("POST", step["url"], data=step["body"], headers=step["headers"],
                                     name=f"step{step['index']}", catch_response=True) as resp:
                status = resp.status_code or 0
                raw = resp.headers.get(COLD_HEADER) if resp.headers else None
                cold = None if raw is None else raw.strip().lower() == "true"
                if 200 <= status < 300:
                    resp.success()
                else:
                    resp.failure(f"HTTP {status}")
        except Exception:  # a connection error is a failed request, as in the built-in generator
            status = 0
        service_ms = (time.perf_counter() - sent) * 1000.0
        lag_ms = max(0.0, (sent_wall - intended) * 1000.0)
        _state["samples"].append((step["index"], round(intended - step["start"], 6), round(lag_ms + service_ms, 4),
                                  round(service_ms, 4), round(lag_ms, 4), status, cold))


def _flush(runner: WorkerRunner) -> None:
    samples, _state["samples"] = _state["samples"], []
    runner.send_message("twinbench_samples", {"samples": samples, "cpu": dict(_state["cpu"])})


def _worker_loop(runner: WorkerRunner) -> None:
    while True:
        gevent.sleep(FLUSH_S)
        if _state["samples"]:
            _flush(runner)


def _on_step(environment: Any, msg: Any, **_: Any) -> None:
    """Worker: a new step; record this process's CPU seconds at its start and end."""
    step = msg.data
    _state["step"] = step
    index = str(step["index"])

    def mark(key: str, at: float) -> None:
        gevent.sleep(max(0.0, at - _now()))
        _state["cpu"].setdefault(index, {})[key] = (_now(), _cpu_s())
        if key == "end":
            gevent.sleep(step.get("drain_s", 1.0) * 0.5)
            _flush(environment.runner)

    gevent.spawn(mark, "start", step["start"])
    gevent.spawn(mark, "end", step["end"])


def _on_samples(environment: Any, msg: Any, **_: Any) -> None:
    """Master: keep every worker's samples and CPU marks."""
    _collected["workers"].add(msg.node_id)
    _collected["samples"].setdefault(msg.node_id, []).extend(msg.data["samples"])
    _collected["cpu"][msg.node_id] = msg.data["cpu"]


def _run_plan(environment: Any) -> None:
    """Master: wait for the users, walk the steps, write the samples, quit."""
    plan = _state["plan"]
    runner = environment.runner
    deadline = _now() + 60.0
    while runner.user_count < plan["users"] and _now() < deadline:
        gevent.sleep(0.1)
    master_cpu: dict[str, dict[str, tuple[float, float]]] = {}
    for index, step in enumerate(plan["steps"]):
        if step.get("pause_s"):
            gevent.sleep(step["pause_s"])
        start = _now() + LEAD_S
        message = {"index": index, "url": step["url"], "rate": step["rate"], "users": plan["users"],
                   "start": start, "end": start + step["duration_s"], "body": plan["body"],
                   "headers": plan["headers"], "drain_s": plan["drain_s"]}
        runner.send_message("twinbench_step", message)
        gevent.sleep(max(0.0, start - _now()))
        master_cpu[str(index)] = {"start": (_now(), _cpu_s())}
        gevent.sleep(max(0.0, message["end"] - _now()))
        master_cpu[str(index)]["end"] = (_now(), _cpu_s())
        gevent.sleep(plan["drain_s"])  # answers still in flight, then the workers' last flush
    out = {"users": plan["users"], "workers": sorted(_collected["workers"]), "master_cpu": master_cpu,
           "worker_cpu": _collected["cpu"], "samples": [s for v in _collected["samples"].values() for s in v],
           "user_count_reached": runner.user_count}
    with open(os.environ[OUT_ENV], "w", encoding="utf-8") as f:
        json.dump(out, f)
    runner.quit()


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        with open(os.environ[PLAN_ENV], encoding="utf-8") as f:
            _state["plan"] = json.load(f)
        runner.register_message("twinbench_samples", _on_samples)
    elif isinstance(runner, WorkerRunner):
        runner.register_message("twinbench_step", _on_step)
        gevent.spawn(_worker_loop, runner)


@events.test_start.add_listener
def _start(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        gevent.spawn(_run_plan, environment)
