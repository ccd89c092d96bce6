"""Execution environments: one ``awslambdaric`` process each, and the pool that scales them.

An :class:`ExecutionEnvironment` is one runtime process with its own Runtime API endpoint; it
handles one invocation at a time. The :class:`EnvironmentPool` hands a request the most recently
used idle environment (so surplus ones age out, as on Lambda), starts a new one (a cold start)
when none is idle, throttles above the concurrency cap, and reaps environments idle past
``idle_s``. All methods run on the service's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FunctionError, RuntimeExited, Throttled
from .settings import LambdaSettings

REGION = "us-east-1"
_PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 0.5  # SIGTERM, then SIGKILL after this (Lambda's SHUTDOWN phase is similar)


class EnvState(enum.Enum):
    INIT = "init"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


@dataclass(eq=False)
class Invocation:
    """One invoke: the event payload in, and futures the Runtime API resolves."""

    request_id: str
    payload: bytes
    timeout_s: float
    dispatched: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    dispatched_at: float | None = None  # perf_counter() when /next handed it to the runtime
    finished_at: float | None = None  # perf_counter() when /response or /error arrived
    deadline_epoch_ms: int = 0

    def abandon(self) -> None:
        """The caller gave up (timeout): resolve quietly so no one waits and nothing is logged."""
        for fut in (self.dispatched, self.done):
            if not fut.done():
                fut.cancel()


def _resolve_prctl():
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None, use_errno=True).prctl
    return None


# Resolved in the parent: the child must not dlopen() between fork and exec (another thread may
# hold the loader's lock at fork time).
_PRCTL = _resolve_prctl()


def _child_setup() -> None:  # runs in the child between fork and exec
    # If the emulator dies without cleaning up (SIGKILL), the kernel kills the runtime too.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def exit_error_message(returncode: int) -> str:
    """Lambda's ``Runtime.ExitError`` message for a runtime that ended with ``returncode``.

    Lambda words it the way Go's ``os.ProcessState`` does: ``signal: killed`` for a SIGKILL
    (an OOM kill included), ``exit status 1`` for ``sys.exit(1)``.
    """
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        words = {"SIGKILL": "killed", "SIGTERM": "terminated", "SIGSEGV": "segmentation fault",
                 "SIGABRT": "aborted"}.get(name, name)
        return f"Runtime exited with error: signal: {words}"
    return f"Runtime exited with error: exit status {returncode}"


def max_memory_used_mb(pid: int) -> int:
    """Peak resident memory (VmHWM) of ``pid`` in MB (MiB, rounded up); 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def runtime_environment(settings: LambdaSettings, env_id: str, runtime_api: str) -> dict[str, str]:
    """The variables a python3.12 Lambda runtime sees (function ``env`` last, as in serverless.yml)."""
    task_root = str(Path(settings.package_dir).resolve())
    base = {
        "PATH": f"{Path(settings.python).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": str(Path(settings.python).parent.parent),
        "PYTHONPATH": task_root,
        # Lambda's code filesystem is read-only: no .pyc is ever written at cold start.
        "PYTHONDONTWRITEBYTECODE": "1",
        "_HANDLER": settings.handler,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_FUNCTION_NAME": settings.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(settings.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{settings.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{env_id}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    return {**base, **{str(k): str(v) for k, v in settings.env.items()}}


class ExecutionEnvironment:
    """One ``awslambdaric`` process; the Runtime API calls its ``on_*`` methods."""

    def __init__(self, env_id: str, settings: LambdaSettings, log: Callable[[str], None]) -> None:
        self.env_id = env_id
        self.settings = settings
        self.state = EnvState.INIT
        self.pid: int | None = None
        self.spawned_at: float | None = None  # perf_counter()
        self.init_duration_ms: float | None = None
        self.last_used = time.monotonic()
        self.invocations = 0
        self.retire = False  # reap as soon as the current invocation ends
        self.cpu_quota_applied = False
        self.initialized: asyncio.Future = asyncio.get_running_loop().create_future()
        self.exited: asyncio.Future = asyncio.get_running_loop().create_future()
        self.init_error: FunctionError | None = None
        self._log = log
        self._proc: asyncio.subprocess.Process | None = None
        self._queue: asyncio.Queue[Invocation | None] = asyncio.Queue(maxsize=1)
        self._current: Invocation | None = None
        self._tasks: list[asyncio.Task] = []

    @property
    def alive(self) -> bool:
        return self.state is not EnvState.DEAD

    async def start(self, runtime_api: str, attach: Callable[[str, int], bool]) -> None:
        """Spawn the runtime (``<python> -m awslambdaric <handler>`` in the package dir).

        Raises ``OSError`` if the interpreter cannot be started.
        """
        self.spawned_at = time.perf_counter()
        self._proc = await asyncio.create_subprocess_exec(
            str(self.settings.python), "-m", "awslambdaric", self.settings.handler,
            cwd=str(self.settings.package_dir),
            env=runtime_environment(self.settings, self.env_id, runtime_api),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the emulator only; it stops the runtimes itself
            preexec_fn=_child_setup,
        )
        self.pid = self._proc.pid
        # The process runs unthrottled for the microseconds until it is moved into its group.
        self.cpu_quota_applied = attach(self.env_id, self.pid)
        self._tasks = [
            asyncio.create_task(self._pump_output(), name=f"{self.env_id}-output"),
            asyncio.create_task(self._watch_exit(), name=f"{self.env_id}-exit"),
        ]

    async def _pump_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                return
            self._log(line.decode("utf-8", "replace").rstrip("\r\n"))

    async def _watch_exit(self) -> None:
        assert self._proc is not None
        code = await self._proc.wait()
        self.state = EnvState.DEAD
        error = self.init_error or RuntimeExited(exit_error_message(code))
        if not self.initialized.done():
            self.initialized.set_exception(error)
            self.initialized.exception()  # mark retrieved: the invoker reads it from the invocation
        inv = self._current
        if inv is None and not self._queue.empty():
            inv = self._queue.get_nowait()
        if inv is not None:
            # Exactly one future carries the error, so it is always retrieved by the invoker.
            if not inv.dispatched.done():
                inv.dispatched.set_exception(error)
                inv.done.cancel()
            elif not inv.done.done():
                inv.finished_at = time.perf_counter()
                inv.done.set_exception(error)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)  # wake a /next that is still parked
        self.exited.set_result(code)

    # -- the invoker's side -------------------------------------------------------------------

    def submit(self, inv: Invocation) -> None:
        """Queue ``inv``; the runtime receives it on its (next) ``GET /next``."""
        self.state = EnvState.BUSY
        self.invocations += 1
        self._queue.put_nowait(inv)

    def release(self) -> None:
        self._current = None
        if self.alive:
            self.state = EnvState.IDLE
            self.last_used = time.monotonic()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_GRACE_S`; waits for the exit and the log pump."""
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self.exited), STOP_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
        self.state = EnvState.DEAD
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def kill(self) -> None:
        """Destroy now (timeout): SIGKILL; the exit watcher cleans up."""
        self.state = EnvState.DEAD
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    # -- the Runtime API's side ---------------------------------------------------------------

    async def on_next(self) -> Invocation | None:
        """``GET /next``: the first call ends INIT; parks until an invocation (``None`` = shutting down)."""
        if not self.initialized.done():
            self.init_duration_ms = (time.perf_counter() - (self.spawned_at or 0.0)) * 1000
            self.initialized.set_result(self.init_duration_ms)
            if self.state is EnvState.INIT:
                self.state = EnvState.IDLE
        if not self.alive:
            return None
        inv = await self._queue.get()
        if inv is None or inv.done.done():  # shutting down, or the caller already gave up
            return None
        self._current = inv
        inv.dispatched_at = time.perf_counter()
        inv.deadline_epoch_ms = int((time.time() + inv.timeout_s) * 1000)
        if not inv.dispatched.done():
            inv.dispatched.set_result(inv.dispatched_at)
        return inv

    def on_response(self, request_id: str, body: bytes) -> bool:
        return self._finish(request_id, body, None)

    def on_error(self, request_id: str, error_type: str, body: bytes) -> bool:
        return self._finish(request_id, None, FunctionError(error_type, body))

    def on_init_error(self, error_type: str, body: bytes) -> None:
        self.init_error = FunctionError(error_type or "Runtime.Unknown", body)
        if self.init_duration_ms is None and self.spawned_at is not None:
            self.init_duration_ms = (time.perf_counter() - self.spawned_at) * 1000

    def _finish(self, request_id: str, body: bytes | None, error: FunctionError | None) -> bool:
        inv = self._current
        if inv is None or inv.request_id != request_id:
            return False
        inv.finished_at = time.perf_counter()
        if not inv.done.done():
            if error is not None:
                inv.done.set_exception(error)
            else:
                inv.done.set_result(body)
        return True

    def max_memory_used_mb(self) -> int:
        return max_memory_used_mb(self.pid) if self.pid else 0


class EnvironmentPool:
    """Which environment serves a request; the concurrency cap; idle reaping."""

    def __init__(
        self,
        settings: LambdaSettings,
        spawn: Callable[[ExecutionEnvironment], asyncio.Future | asyncio.Task],
        log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self._spawn = spawn
        self._log = log
        self._envs: dict[str, ExecutionEnvironment] = {}
        self._idle: list[ExecutionEnvironment] = []  # LIFO: most recently used at the end
        self._seq = 0
        self.peak_environments = 0

    def __len__(self) -> int:
        return len(self._envs)

    @property
    def environments(self) -> list[ExecutionEnvironment]:
        return list(self._envs.values())

    def acquire(self) -> tuple[ExecutionEnvironment, bool]:
        """An idle environment (warm) or a new one (cold); raises :class:`Throttled` at the cap."""
        while self._idle:
            env = self._idle.pop()
            if env.alive and not env.retire:
                env.state = EnvState.BUSY
                return env, False
        if len(self._envs) >= self.settings.concurrency_limit:
            reason = ("ReservedFunctionConcurrentInvocationLimitExceeded"
                      if self.settings.reserved_concurrency is not None
                      else "ConcurrentInvocationLimitExceeded")
            raise Throttled(reason)
        self._seq += 1
        env = ExecutionEnvironment(f"{os.getpid():x}{self._seq:05d}", self.settings, self._log)
        self._envs[env.env_id] = env
        self.peak_environments = max(self.peak_environments, len(self._envs))
        self._spawn(env)
        return env, True

    def release(self, env: ExecutionEnvironment) -> None:
        env.release()
        if not env.alive:
            self.discard(env)
        elif env.retire:
            self.discard(env)
            asyncio.get_running_loop().create_task(env.stop())
        else:
            self._idle.append(env)

    def discard(self, env: ExecutionEnvironment) -> None:
        """Forget ``env`` (it died or is being stopped); frees its concurrency slot."""
        self._envs.pop(env.env_id, None)
        with contextlib.suppress(ValueError):
            self._idle.remove(env)

    def take_expired(self, now: float | None = None) -> list[ExecutionEnvironment]:
        """Remove and return the environments idle for at least ``idle_s``."""
        now = time.monotonic() if now is None else now
        expired = [e for e in self._idle if now - e.last_used >= self.settings.idle_s]
        for env in expired:
            self.discard(env)
        return expired

    def take_all_idle(self) -> list[ExecutionEnvironment]:
        """Remove every idle environment; busy ones retire when their invocation ends."""
        idle, self._idle = self._idle, []
        for env in idle:
            self._envs.pop(env.env_id, None)
        for env in self._envs.values():
            env.retire = True
        return idle

    def take_everything(self) -> list[ExecutionEnvironment]:
        envs = list(self._envs.values())
        self._envs.clear()
        self._idle.clear()
        return envs
