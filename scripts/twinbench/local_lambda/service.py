"""The local Lambda service: invoke a function the way Lambda does and account for it.

:class:`LambdaService` ties the pieces together on one event loop: the environment pool, the
Runtime API, the CPU quota, the idle reaper, and the log (``START`` / function output / ``END`` /
``REPORT`` lines, REPORT in Lambda's exact format via :mod:`twinbench.aws.report_line`).

Timing (``time.perf_counter``): *Init Duration* = runtime process spawn -> its first ``GET /next``;
*Duration* = invocation handed over by ``/next`` -> ``/response`` (or ``/error``) received;
*Billed Duration* = Duration rounded up to 1 ms, plus Init Duration on a cold start, since Lambda
bills the INIT phase of managed runtimes from 2025-08-01 on.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields

from twinserve_support.process.cgroup import CpuQuota

from twinbench.aws.report_line import LambdaReport, format_report_line, parse_report_line

from .environments import REGION, EnvironmentPool, ExecutionEnvironment, Invocation
from .errors import FunctionError, FunctionTimeout, InvokeError, RouteThrottled, RuntimeExited
from .gc_pauses import GcPauses
from .runtime_api import RuntimeApiServer
from .settings import LambdaSettings
from .throttle import RouteThrottle

INIT_PHASE_BILLED = True  # Lambda bills INIT for ZIP/managed runtimes since 2025-08-01
RUNTIME_VERSION = "python:3.12.local (awslambdaric)"


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """A successful invocation: the function's raw JSON result and how it ran."""

    request_id: str
    payload: bytes
    cold: bool
    report: LambdaReport


_REPORT_FIELDS = tuple(f.name for f in fields(LambdaReport))


class LambdaService:
    """Async core of the local Lambda. ``await start()``, ``await invoke(...)``, ``await stop()``."""

    def __init__(self, settings: LambdaSettings, log: Callable[[str], None] = lambda line: None) -> None:
        self.settings = settings
        self._log = log
        arn = f"arn:aws:lambda:{REGION}:123456789012:function:{settings.function_name}"
        self.runtime_api = RuntimeApiServer(settings.host, function_arn=arn)
        self.quota = CpuQuota(settings.vcpu, enabled=settings.cpu_quota)
        self.pool = EnvironmentPool(settings, self._spawn, log)
        # One record per invocation, kept for the whole run (the bench reads them back). As plain
        # tuples of str/float/int/None, which Python's gc stops tracking: as LambdaReport objects,
        # hundreds of thousands of them made each full collection stall the event loop long enough
        # for requests to pile up past the concurrency cap (bursts of 429s in a 10-minute soak).
        self._report_rows: list[tuple] = []
        # (request id, cold, ms the environment was held: from the pool handing it out to taking it
        # back, None when throttled, CLOCK_MONOTONIC s when the invocation reached the pool). The hold
        # is longer than REPORT's Duration (it adds the Runtime API hand-offs) and shorter than a
        # client's latency (no front, no return trip); the arrival is later than the client's send
        # by the front's own delay, which bunches arrivals when its event loop is busy. Both are
        # what a model of the concurrency limit needs: when each invocation asked, and how long it held.
        self._busy_rows: list[tuple[str, bool, float | None, float]] = []
        self.counts = {"invocations": 0, "cold_starts": 0, "throttles": 0, "route_throttles": 0, "timeouts": 0,
                       "function_errors": 0, "runtime_exits": 0, "reaped": 0, "quota_attach_failures": 0}
        # API Gateway's route throttling, ahead of every invocation (here so that stats count it).
        self.route_throttle = (RouteThrottle(settings.throttle_rate_rps, settings.throttle_burst)
                               if settings.throttle_rate_rps is not None and settings.throttle_burst is not None else None)
        self._tasks: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None
        self._stopping = False
        self.gc_pauses = GcPauses()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.settings.python.exists():
            raise FileNotFoundError(f"Lambda runtime interpreter not found: {self.settings.python} "
                                    "(run `make .venv-lambda/.stamp`)")
        if not (self.settings.package_dir / (self.settings.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")).exists():
            self._log(f"warning: handler module for {self.settings.handler!r} not found in {self.settings.package_dir}")
        await self.runtime_api.start()
        self.gc_pauses.install()
        self._reaper = asyncio.create_task(self._reap_loop(), name="local-lambda-reaper")

    async def stop(self) -> None:
        """Stop every environment and the Runtime API; waits for each process to exit."""
        self._stopping = True
        self.gc_pauses.remove()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        envs = self.pool.take_everything()
        await asyncio.gather(*(self._retire(env) for env in envs), return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.runtime_api.stop()
        self.quota.close()

    # -- environments ---------------------------------------------------------------------------

    def _spawn(self, env: ExecutionEnvironment) -> asyncio.Task:
        self._log(f"INIT_START Runtime Version: {RUNTIME_VERSION}\tenvironment: {env.env_id}")
        task = asyncio.create_task(self._run_environment(env), name=f"{env.env_id}-life")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_environment(self, env: ExecutionEnvironment) -> None:
        """Start ``env`` and clean up after its process exits, however that happens."""
        try:
            address = await self.runtime_api.open(env)
            await env.start(address, self.quota.attach)
            if self.quota.applied and not env.cpu_quota_applied:
                self.counts["quota_attach_failures"] += 1
            await asyncio.shield(env.exited)
        except (OSError, asyncio.CancelledError) as exc:
            if not env.initialized.done():
                env.initialized.set_exception(RuntimeExited(f"cannot start runtime: {exc}"))
                env.initialized.exception()
            env.kill()
        finally:
            self.pool.discard(env)
            await self.runtime_api.close(env)
            self.quota.detach(env.env_id)

    async def _retire(self, env: ExecutionEnvironment) -> None:
        await env.stop()

    async def _reap_loop(self) -> None:
        period = min(1.0, max(0.05, self.settings.idle_s / 4))
        while True:
            await asyncio.sleep(period)
            for env in self.pool.take_expired():
                self.counts["reaped"] += 1
                await self._retire(env)

    async def reap_all(self) -> int:
        """Stop every idle environment now (busy ones after their invocation); returns how many."""
        envs = self.pool.take_all_idle()
        self.counts["reaped"] += len(envs)
        await asyncio.gather(*(self._retire(env) for env in envs), return_exceptions=True)
        return len(envs)

    # -- invoking -------------------------------------------------------------------------------

    def admit(self, route: str) -> None:
        """API Gateway's route throttling for ``route`` ("METHOD /path"); raises :class:`RouteThrottled`.

        A throttled request is never invoked: no id, no REPORT, nothing billed.
        """
        if self.route_throttle is not None and not self.route_throttle.admit(route):
            self.counts["route_throttles"] += 1
            raise RouteThrottled()

    async def invoke(self, payload: bytes) -> InvokeResult:
        """Run one synchronous invocation (RequestResponse).

        Raises :class:`Throttled` (no capacity), :class:`FunctionTimeout`, :class:`FunctionError`
        (handler raised or init failed) or :class:`RuntimeExited`.
        """
        if self._stopping:
            raise RuntimeExited("the local Lambda is shutting down")
        self.counts["invocations"] += 1
        request_id = str(uuid.uuid4())
        try:
            return await self._invoke(request_id, payload)
        except InvokeError as exc:
            exc.request_id = request_id  # Lambda gives a throttled or failed invoke an id too
            raise

    async def _invoke(self, request_id: str, payload: bytes) -> InvokeResult:
        arrived_s = time.monotonic()
        try:
            env, cold = self.pool.acquire()
        except InvokeError:
            self.counts["throttles"] += 1
            self._busy_rows.append((request_id, False, None, arrived_s))
            raise
        acquired_at = time.perf_counter()
        if cold:
            self.counts["cold_starts"] += 1
        inv = Invocation(request_id, payload, self.settings.timeout_s)
        env.submit(inv)
        self._log(f"START RequestId: {request_id} Version: $LATEST")
        status = error_type = None
        try:
            init_budget_s = self.settings.init_timeout_s + self.settings.timeout_s if cold else self.settings.timeout_s
            await asyncio.wait_for(asyncio.shield(inv.dispatched), init_budget_s)
            remaining = self.settings.timeout_s - (time.perf_counter() - (inv.dispatched_at or time.perf_counter()))
            result = await asyncio.wait_for(asyncio.shield(inv.done), max(0.0, remaining))
            return InvokeResult(request_id, result, cold, self._report(env, inv, cold))
        except TimeoutError:
            status, error_type = "timeout", "Sandbox.Timedout"
            self.counts["timeouts"] += 1
            inv.abandon()
            env.kill()  # Lambda destroys the environment of a timed-out invocation
            self._log(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z {request_id} "
                      f"Task timed out after {self.settings.timeout_s:.2f} seconds")
            raise FunctionTimeout(f"Task timed out after {self.settings.timeout_s:.2f} seconds") from None
        except FunctionError as exc:
            self.counts["function_errors"] += 1
            if env.init_error is not None:
                status, error_type = "error", exc.error_type
            raise
        except RuntimeExited as exc:
            self.counts["runtime_exits"] += 1
            status, error_type = "error", exc.error_type
            raise
        finally:
            self._log(f"END RequestId: {request_id}")
            if status is not None:
                self._report(env, inv, cold, status=status, error_type=error_type)
            self.pool.release(env)
            self._busy_rows.append((request_id, cold, round((time.perf_counter() - acquired_at) * 1000.0, 3), arrived_s))

    def _report(self, env: ExecutionEnvironment, inv: Invocation, cold: bool, *,
                status: str | None = None, error_type: str | None = None) -> LambdaReport:
        """Log the REPORT line and keep it parsed (the parse proves the format round-trips)."""
        if inv.dispatched_at is not None:
            end = inv.finished_at or time.perf_counter()
            duration_ms = (end - inv.dispatched_at) * 1000
        else:  # never reached the handler (init failed or timed out)
            duration_ms = 0.0 if status != "timeout" else self.settings.timeout_s * 1000
        init_ms = env.init_duration_ms if cold else None
        billed = duration_ms + (init_ms or 0.0) if INIT_PHASE_BILLED else duration_ms
        line = format_report_line(
            request_id=inv.request_id,
            duration_ms=duration_ms,
            billed_duration_ms=max(1, math.ceil(billed)),
            memory_size_mb=self.settings.memory_mb,
            max_memory_used_mb=env.max_memory_used_mb(),
            init_duration_ms=init_ms,
        )
        if status is not None:
            line += f"Status: {status}\t" + (f"Error Type: {error_type}\t" if error_type else "")
        self._log(line)
        report = parse_report_line(line)
        assert report is not None, line
        self._report_rows.append(tuple(getattr(report, name) for name in _REPORT_FIELDS))
        return report

    @property
    def reports(self) -> list[LambdaReport]:
        """Every REPORT record so far, oldest first (built anew on each call)."""
        return [LambdaReport(*row) for row in self._report_rows]

    @property
    def occupancy(self) -> list[dict[str, object]]:
        """Every finished invocation in the order it ended: request_id, cold, busy_ms (the environment's
        hold; None when throttled), arrived_s (``time.monotonic()`` when it reached the pool: CLOCK_MONOTONIC,
        the same clock in every process of the machine)."""
        return [{"request_id": rid, "cold": cold, "busy_ms": ms, "arrived_s": at} for rid, cold, ms, at in self._busy_rows]

    @property
    def last_report(self) -> LambdaReport | None:
        """The newest REPORT record, without building the others."""
        return LambdaReport(*self._report_rows[-1]) if self._report_rows else None

    # -- observation ----------------------------------------------------------------------------

    @property
    def cpu_quota_applied(self) -> bool:
        """True when the cgroup quota was set up and every environment so far was placed in it."""
        return self.quota.applied and self.counts["quota_attach_failures"] == 0

    def stats(self) -> dict[str, object]:
        envs = self.pool.environments
        by_state: dict[str, int] = {}
        for env in envs:
            by_state[env.state.value] = by_state.get(env.state.value, 0) + 1
        s = self.settings
        return {
            "settings": {"memory_mb": s.memory_mb, "reserved_concurrency": s.reserved_concurrency,
                         "concurrency_limit": s.concurrency_limit, "throttle_rate_rps": s.throttle_rate_rps,
                         "throttle_burst": s.throttle_burst, "idle_s": s.idle_s,
                         "timeout_s": s.timeout_s, "init_timeout_s": s.init_timeout_s,
                         "handler": s.handler, "package_dir": str(s.package_dir), "python": str(s.python)},
            "environments": len(envs),
            "environments_by_state": by_state,
            "peak_environments": self.pool.peak_environments,
            "environment_pids": [env.pid for env in envs if env.pid],
            "environment_invocations": {str(env.pid): env.invocations for env in envs if env.pid},
            # Per process: which one holds an invocation right now (a fault injector stalls that one).
            "environment_states": {str(env.pid): env.state.value for env in envs if env.pid},
            # Seconds since each idle one was released: the pool hands out the most recent first.
            "environment_idle_s": {str(env.pid): round(time.monotonic() - env.last_used, 4)
                                   for env in envs if env.pid and env.state.value == "idle"},
            **self.counts,
            "reports": len(self._report_rows),
            **self.gc_pauses.figures(),
            "cpu_quota": {**self.quota.describe(), "cpu_quota_applied": self.cpu_quota_applied},
            "runtime_api_tcp_nodelay": self.runtime_api.tcp_nodelay,
            "init_phase_billed": INIT_PHASE_BILLED,
        }
