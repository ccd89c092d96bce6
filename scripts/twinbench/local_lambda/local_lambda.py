"""``LocalLambda``: the local Lambda as a context manager, for benchmarks and tests.

It runs the service and its HTTP front on an event loop in a background thread, so a caller
(synchronous or with its own event loop) gets a URL to send requests to::

    with LocalLambda(Path("build/lambda/pkg"), memory_mb=1024, reserved_concurrency=2) as fn:
        requests.get(fn.url + "/predict")
        fn.reports[-1].init_duration_ms      # set on a cold start
        fn.reap_all()                        # next call is cold

Leaving the block stops every runtime process and closes every port, also on an exception or
Ctrl-C. The emulator shares the caller's process (and GIL); a load generator that must not
compete with it should run ``python -m twinbench serve-lambda`` instead and use the same
features through ``/_local_lambda/{stats,reports,reap}``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TextIO

from aiohttp import web

from twinbench.aws.report_line import LambdaReport

from .front import create_front
from .service import LambdaService
from .settings import DEFAULT_PYTHON, LambdaSettings

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 30.0


class LocalLambda:
    """One function served like Lambda behind an HTTP API; see the module docstring.

    Arguments are those of :class:`~twinbench.local_lambda.settings.LambdaSettings` (seconds,
    MB). ``log_stream`` receives every log line (START/END/REPORT and the function's output);
    the last ``log_lines_kept`` are also kept in :attr:`logs`.
    """

    def __init__(
        self,
        package_dir: Path,
        handler: str = "handler.handler",
        memory_mb: int = 1024,
        reserved_concurrency: int | None = None,
        idle_s: float = 300.0,
        timeout_s: float = 30.0,
        host: str = "127.0.0.1",
        port: int = 0,
        python: Path = DEFAULT_PYTHON,
        env: Mapping[str, str] | None = None,
        *,
        cpu_quota: bool = True,
        init_timeout_s: float | None = None,
        account_concurrency: int | None = None,
        throttle_rate_rps: float | None = None,
        throttle_burst: int | None = None,
        log_stream: TextIO | None = None,
        log_lines_kept: int = 2000,
        settings: LambdaSettings | None = None,
    ) -> None:
        if settings is None:
            extra = {k: v for k, v in {"init_timeout_s": init_timeout_s,
                                        "account_concurrency": account_concurrency}.items() if v is not None}
            settings = LambdaSettings(
                package_dir=Path(package_dir), handler=handler, memory_mb=memory_mb,
                reserved_concurrency=reserved_concurrency, throttle_rate_rps=throttle_rate_rps,
                throttle_burst=throttle_burst, idle_s=idle_s, timeout_s=timeout_s,
                host=host, port=port, python=Path(python), env=dict(env or {}), cpu_quota=cpu_quota,
                **extra,
            )
        self.settings = settings
        self.logs: collections.deque[str] = collections.deque(maxlen=log_lines_kept)
        self._log_stream = log_stream
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._service: LambdaService | None = None
        self._runner: web.AppRunner | None = None
        self._stop_event: asyncio.Event | None = None
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> LocalLambda:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the loop thread, the Runtime API and the front; raises what startup raised."""
        started: Future[str] = Future()
        self._thread = threading.Thread(target=self._thread_main, args=(started,),
                                        name="local-lambda", daemon=True)
        self._thread.start()
        try:
            self.url = started.result(timeout=START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every environment, close every port and join the thread (idempotent)."""
        if self._loop is not None and self._stop_event is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                raise RuntimeError("local Lambda did not stop within "
                                   f"{STOP_TIMEOUT_S:.0f} s; runtime processes may be left")
            self._thread = None

    def _thread_main(self, started: Future) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(started))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, started: Future) -> None:
        self._stop_event = asyncio.Event()
        service = LambdaService(self.settings, log=self._log)
        self._service = service
        try:
            await service.start()
            self._runner = web.AppRunner(create_front(service), access_log=None,
                                         handle_signals=False, shutdown_timeout=1.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.host, self.settings.port, reuse_address=True)
            await site.start()
            port = self._runner.addresses[0][1]
            started.set_result(f"http://{self.settings.host}:{port}")
            await self._stop_event.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            else:
                raise
        finally:
            if self._runner is not None:
                await self._runner.cleanup()
            await service.stop()

    def _log(self, line: str) -> None:
        self.logs.append(line)
        if self._log_stream is not None:
            print(line, file=self._log_stream, flush=True)

    def _call(self, coro_fn, timeout_s: float = STOP_TIMEOUT_S):
        if self._loop is None or self._service is None:
            raise RuntimeError("LocalLambda is not running")
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(timeout_s)

    # -- observation and control ----------------------------------------------------------------

    @property
    def reports(self) -> list[LambdaReport]:
        """Parsed REPORT records so far, oldest first (``init_duration_ms`` set on cold starts)."""
        return self._service.reports if self._service else []

    @property
    def last_report(self) -> LambdaReport | None:
        """The newest REPORT record (``None`` before the first invocation)."""
        return self._service.last_report if self._service else None

    @property
    def cpu_quota_applied(self) -> bool:
        """Whether every environment ran under the memory/1769 vCPU cgroup quota."""
        return bool(self._service and self._service.cpu_quota_applied)

    def stats(self) -> dict[str, object]:
        """Counters (invocations, cold starts, throttles, timeouts, ...), environments, quota."""
        async def read() -> dict[str, object]:
            return self._service.stats()  # type: ignore[union-attr]
        return self._call(read)

    def describe(self) -> dict[str, object]:
        """Settings, counters and the CPU quota's state, for a results file's metadata."""
        return self.stats()

    def reap_all(self) -> int:
        """Stop every idle environment now, so the next request starts cold; returns how many."""
        return self._call(self._service.reap_all)  # type: ignore[union-attr]

    def __repr__(self) -> str:
        return f"LocalLambda(url={self.url!r}, package_dir={str(self.settings.package_dir)!r})"
