"""Local Lambda faults: real ``awslambdaric`` environments killed, stalled past the function timeout, or failing their init."""

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

from twinbench.measure.progress import Progress
from twinbench.reliability.chaos import stream as step
from twinbench.reliability.chaos.leftovers import Leftovers, leftovers, wait_gone
from twinbench.reliability.chaos.recovery import intended_s, status_counts_of
from twinbench.reliability.chaos.settings import LAMBDA_FAULTS, ChaosSettings, FaultError


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


def _lambda_fault(fault: str, lam: _Lambda, body: Sequence[bytes], rate: float, settings: ChaosSettings,
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
            gone = wait_gone([pid], 5.0, cancel)
            return {**facts, "t_fault_s": t, "gone_s": round(gone, 3) if gone is not None else None}
        # env-timeout: the emulator must give up on the invocation and destroy the environment
        gone = wait_gone([pid], settings.lambda_timeout_s + 5.0, cancel)
        if gone is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        return {**facts, "t_fault_s": t_handed,
                "destroyed_after_s": round(now_s() - t_handed, 3) if gone is not None else None}

    progress.phase(f"lambda: {fault} at {rate:.0f} rps (function timeout {settings.lambda_timeout_s:g} s)")
    outcomes, generator, facts = asyncio.run(step.stream_with_fault(lam.url, body, rate, duration, settings.pre_s, inject))
    after = lam.stats()
    before = marks.get("before", {})
    deltas = {k: int(after.get(k, 0)) - int(before.get(k, 0))
              for k in ("runtime_exits", "timeouts", "function_errors", "cold_starts", "throttles")}
    errors = [r for r in lam.reports_since(marks.get("reports", 0)) if r.get("status")]
    record = step.fault_record("lambda", fault, rate, duration, outcomes, generator, facts, settings.pre_s)
    t_fault = facts.get("t_fault_s") or settings.pre_s
    record["emulator_counts"] = deltas
    record["error_reports"] = [{"status": r.get("status"), "error_type": r.get("error_type"),
                                "duration_ms": r.get("duration_ms")} for r in errors]
    record["cold_after_fault"] = sum(1 for o in outcomes if o.cold and intended_s(o) >= t_fault - 5.0)
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
    return step.judge(record, checks)


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


def _init_failure(settings: ChaosSettings, body: Sequence[bytes], work: Path, seen: Leftovers, progress: Progress) -> dict:
    """Every request to a function whose init fails: the function's error, quickly, no hang."""
    progress.phase("lambda: init-failure (package without model/)")
    package = package_without_model(settings.package_dir, work / "package-without-model")
    requests = []
    with _Lambda(settings, package, work / "logs" / "lambda-init-failure.log", seen) as lam:
        for _ in range(5):
            status, headers, answer, ms = step.post(lam.url + "/predict", body[0], timeout_s=30.0)
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
    return step.judge(record, [
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


def run_lambda_faults(settings: ChaosSettings, body: Sequence[bytes], folder: Path, seen: Leftovers, progress: Progress,
                emit: Callable[[dict], None], targets: dict) -> None:
    faults = [f for f in settings.faults if f in LAMBDA_FAULTS and f != "init-failure"]
    if faults:
        progress.phase("lambda: starting the local emulator")
        with _Lambda(settings, settings.package_dir, folder / "logs" / "lambda-chaos.log", seen) as lam:
            progress.done(lam.url)
            progress.phase("lambda: offered rate")
            rate, source = step.measure_rate(lam.url, body, settings, progress)
            progress.done(f"{rate:.0f} rps")
            targets["lambda"] = {"offered_rps": rate, "rate": source, "emulator": lam.stats().get("settings")}
            for fault in faults:
                record = _lambda_fault(fault, lam, body, rate, settings, progress)
                progress.done(step.one_line(record))
                emit(record)
    if "init-failure" in settings.faults:
        record = _init_failure(settings, body, folder, seen, progress)
        progress.done(step.one_line(record))
        emit(record)
    targets.setdefault("lambda", {})["left_running"] = leftovers(seen)
