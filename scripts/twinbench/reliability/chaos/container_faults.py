"""Container faults: gunicorn exactly as the image runs it; kill, OOM, stall and master kill of its processes, and the target vanishing mid-step."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil
from twinserve_support.process.pids import pid_alive

from twinbench.measure.progress import Progress
from twinbench.reliability.chaos.leftovers import Leftovers, leftovers, wait_gone
from twinbench.reliability.chaos.recovery import status_counts_of
from twinbench.reliability.chaos.settings import (
    CLIENT_TIMEOUT_S,
    CONTAINER_FAULTS,
    OOM_BATCH_ROWS,
    SENT_GRACE_S,
    STALL_LIMIT_EXTRA_S,
    ChaosSettings,
    FaultError,
    pod_gunicorn_timeout_s,
)
from twinbench.reliability.chaos.stream import (
    fault_record,
    judge,
    measure_rate,
    one_line,
    post,
    stream_with_fault,
)


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
        """The master's gunicorn workers (not nginx nor the side listener, its other children)."""
        try:
            found = [p.pid for p in psutil.Process(self.master).children()
                     if p.status() != psutil.STATUS_ZOMBIE and _is_gunicorn(p)]
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


def _container_fault(fault: str, pod: _Pod, body: Sequence[bytes], rate: float, settings: ChaosSettings,
                     progress: Progress) -> dict[str, Any]:
    duration = settings.pre_s + settings.window_s
    if fault == "worker-stall":
        duration = settings.pre_s + max(settings.window_s, pod.timeout_s + 8.0)
    if fault == "master-sigkill":
        duration = settings.pre_s + max(settings.window_s, orphan_limit_s(pod) + 2.0)
    expected = pod.expected_workers()
    batch = None
    if fault == "worker-oom":
        row = json.loads(body[0])["features"]
        batch = json.dumps({"instances": [row] * OOM_BATCH_ROWS}).encode()

    def inject(now_s: Callable[[], float], cancel: threading.Event) -> dict[str, Any]:
        if fault == "master-sigkill":
            master, old = pod.master, pod.workers()
            t = now_s()
            os.kill(master, signal.SIGKILL)
            exited = wait_gone(old, orphan_limit_s(pod), cancel)
            orphans = [p for p in old if pid_alive(p)]
            old_server = pod.server
            old_server.stop()  # the cgroup and anything left in the group; a kubelet would do the same
            t_restart = now_s()
            pod.start()
            return {"t_fault_s": t, "killed_pid": master, "old_workers": old,
                    "workers_exited_s": round(exited, 3) if exited is not None else None,
                    "orphans_after_limit": orphans, "orphan_limit_s": orphan_limit_s(pod), "restarted_at_s": round(t_restart - t, 3),
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
            gone = wait_gone([victim], pod.timeout_s + 10.0, cancel)
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
            while pid_alive(victim) and time.perf_counter() < deadline and not cancel.is_set():
                status, _, _, ms = post(pod.url + "/predict", batch)
                batches.append({"at_s": round(now_s() - t, 3), "status": status, "ms": round(ms, 1)})
                time.sleep(0.05)
            t_dead = now_s()
            dead = not pid_alive(victim)
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
        stream_with_fault(pod.url, body, rate, duration, settings.pre_s, inject))
    record = fault_record("container", fault, rate, duration, outcomes, generator, facts, settings.pre_s)
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
        checks.append(("old workers exited on their own", not facts.get("orphans_after_limit"),
                       f"workers exited {facts.get('workers_exited_s')} s after the master; "
                       f"left after {facts.get('orphan_limit_s')} s: {facts.get('orphans_after_limit')}"))
    checks.append(("nothing of the fault left running", not left["pids"], f"alive: {left['pids']}"))
    return judge(record, checks)




def _target_vanishes(pod: _Pod, body: Sequence[bytes], rate: float, settings: ChaosSettings, progress: Progress) -> dict:
    """SIGKILL the container's whole group mid-step: the step ends on time, every failure counted."""
    duration = settings.pre_s + min(settings.window_s, 8.0)

    def inject(now_s: Callable[[], float], cancel: threading.Event) -> dict[str, Any]:
        pids = [pod.master, *pod.workers()]
        t = now_s()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pod.master, signal.SIGKILL)
        gone = wait_gone(pids, 5.0, cancel, zombies_gone=True)
        return {"t_fault_s": t, "killed_group": pod.master, "pids": pids,
                "gone_s": round(gone, 3) if gone is not None else None}

    progress.phase(f"bench: the target vanishes mid-step at {rate:.0f} rps")
    t0 = time.perf_counter()
    outcomes, generator, facts = asyncio.run(stream_with_fault(pod.url, body, rate, duration, settings.pre_s, inject))
    step_wall = time.perf_counter() - t0
    pod.stop()
    record = fault_record("bench", "target-vanishes", rate, duration, outcomes, generator, facts, settings.pre_s)
    record["step_wall_s"] = round(step_wall, 3)
    record["left_running"] = leftovers(pod.seen)
    bound = duration + CLIENT_TIMEOUT_S + 2.0
    answered = record["sent"] - record["failed"]
    return judge(record, [
        ("step ended in bounded time", step_wall <= bound, f"{step_wall:.1f} s (planned {duration:.0f} s, bound {bound:.0f} s)"),
        ("every request counted", len(outcomes) == int(rate * duration),
         f"{len(outcomes)} outcomes for {int(rate * duration)} scheduled"),
        ("failures counted", record["failed"] > 0, f"{record['failed']} failed, {answered} answered after the kill"),
        ("nothing left running", not record["left_running"]["pids"] and not record["left_running"]["ports"],
         f"{record['left_running']}"),
    ])


def run_container_faults(settings: ChaosSettings, body: Sequence[bytes], folder_logs: Path, seen: Leftovers, progress: Progress,
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
        rate, source = measure_rate(pod.url, body, settings, progress)
        progress.done(f"{rate:.0f} rps")
        targets["container"] = {"offered_rps": rate, "rate": source, "server": pod.describe()}
        for fault in faults:
            if fault == "target-vanishes":
                record = _target_vanishes(pod, body, rate, settings, progress)
            else:
                record = _container_fault(fault, pod, body, rate, settings, progress)
            progress.done(one_line(record))
            emit(record)
    finally:
        pod.stop()
    targets["container"]["left_running"] = leftovers(seen)


def _is_gunicorn(process: psutil.Process) -> bool:
    try:
        return "gunicorn" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def orphan_limit_s(pod: Any) -> float:
    """How long a worker whose master died may take to exit: an idle sync worker notices on its next
    wake-up (at most half of gunicorn's timeout, 15 s), a gthread worker within a second and then
    finishes its connections for up to the graceful timeout (20 s), as on SIGTERM."""
    graceful = float(pod.server.server_env.get("GUNICORN_GRACEFUL_TIMEOUT") or 20)
    return graceful + 5.0
