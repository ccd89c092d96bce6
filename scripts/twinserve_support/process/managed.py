"""One way to run a server the bench depends on: spawn, wait until ready, stop, and say why it failed.

Every local runtime (gunicorn under the pod's limits, the local Lambda emulator, serverless-offline,
the image under ``podman run``, the peer servers) is a :class:`ManagedProcess`:

* spawned in its own process group (``start_new_session``), so one signal reaches every worker;
  optionally inside a CPU/memory cgroup (:class:`~twinserve_support.process.cgroup.CgroupLimit`, joined
  before exec so every forked worker is inside); stdout and stderr to one log file;
* ready when a probe says so (:func:`http_probe` or any callable), timed from spawn with
  ``perf_counter`` (:attr:`ManagedProcess.ready_ms`); an exit or a timeout first raises
  :class:`ProcessNotReady` (or the caller's subclass) ending with the log's last lines;
* stopped with SIGTERM to the group, up to a grace period, then SIGKILL to the group and to any
  descendant that left it (``psutil``), bounded waits until nothing of it is left; the cgroup is
  emptied and removed. The context manager does this on success, failure and Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

import psutil

from twinserve_support.process.cgroup import CgroupLimit
from twinserve_support.process.logtail import log_tail
from twinserve_support.process.net import http_status
from twinserve_support.process.wait import poll_until

__all__ = ["ManagedProcess", "ManagedServer", "ProcessNotReady", "http_probe"]


class ProcessNotReady(RuntimeError):
    """A managed process could not be spawned, exited, or did not become ready in time.

    The message names the process and ends with its log's last lines. Each target's start error
    (``ContainerStartError``, ``LambdaStartError`` ...) is a subclass.
    """


def http_probe(port: int, path: str, *, method: str = "GET", body: bytes | None = None,
               status: int | None = 200, timeout_s: float = 1.0) -> Callable[[], bool]:
    """A readiness probe: one request to 127.0.0.1:``port``; ready on ``status`` (any answer when ``None``)."""

    def probe() -> bool:
        got = http_status(port, path, method, body, timeout_s=timeout_s)
        return got is not None if status is None else got == status

    probe.__doc__ = f"{method} 127.0.0.1:{port}{path} -> {status if status is not None else 'any answer'}"
    return probe


class ManagedProcess:
    """``argv`` in its own process group, optionally under ``cpus`` / ``memory_mb``; see the module docstring.

    ``env`` replaces the environment (``None`` inherits this one); ``log_path`` gets stdout and
    stderr (``None`` discards them). ``ready`` is polled every ``poll_s`` until it returns True,
    for at most ``ready_timeout_s`` after spawn (no ``ready``: ready once spawned). ``grace_s`` is
    the SIGTERM-to-SIGKILL wait of :meth:`stop`. ``error`` is the exception type raised when it
    does not become ready (a subclass of :class:`ProcessNotReady`).
    """

    def __init__(self, argv: Sequence[str], *, name: str, env: Mapping[str, str] | None = None,
                 cwd: Path | str | None = None, log_path: Path | None = None, cpus: float | None = None,
                 memory_mb: int | None = None, ready: Callable[[], bool] | None = None,
                 ready_timeout_s: float = 60.0, poll_s: float = 0.05, grace_s: float = 10.0,
                 error: type[ProcessNotReady] = ProcessNotReady, log_lines: int = 15) -> None:
        self.argv = [str(a) for a in argv]
        self.name = name
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_path = Path(log_path) if log_path else None
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.ready = ready
        self.ready_timeout_s = ready_timeout_s
        self.poll_s = poll_s
        self.grace_s = grace_s
        self.error = error
        self.log_lines = log_lines
        self.cgroup: CgroupLimit | None = None
        self.spawned_at: float | None = None  # perf_counter() seconds
        self.ready_ms: float | None = None
        self.stop_ms: float | None = None
        self.returncode: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | int | None = None

    # -- facts
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def pgid(self) -> int | None:
        """The process group (= the leader's pid: it was started in a new session)."""
        return self.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _tree(self) -> list[psutil.Process]:
        if self._proc is None:
            return []
        try:
            leader = psutil.Process(self._proc.pid)
            return [leader, *leader.children(recursive=True)]
        except psutil.Error:
            return []

    def children(self) -> list[psutil.Process]:
        """Every live descendant (workers, handler processes), from ``psutil``."""
        return self._tree()[1:]

    def rss_bytes(self) -> int:
        """Resident memory of the process and its descendants, bytes (shared pages counted per process)."""
        total = 0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """user+system CPU seconds of the live process tree (threads included; exited children not)."""
        total = 0.0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def group_alive(self) -> bool:
        """Whether any process (a zombie included) of the group still exists."""
        if self._proc is None:
            return False
        try:
            os.killpg(self._proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def memory_peak_mb(self) -> float | None:
        """Peak memory of the cgroup, MiB; ``None`` without one."""
        return self.cgroup.memory_peak_mb() if self.cgroup is not None else None

    def log_text(self) -> str:
        if self.log_path is None:
            return ""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def log_tail(self, lines: int | None = None) -> str:
        """The log's last lines as a message suffix; a hint when there is no log."""
        if self.log_path is None:
            return " (no log: pass log_path to see its output)"
        return log_tail(self.log_path, f"{self.name} log", lines or self.log_lines)

    # -- lifecycle
    def start(self) -> None:
        """Spawn (does not wait; see :meth:`wait_ready`). Raises :attr:`error` when it cannot be spawned."""
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already started")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        else:
            self._log = subprocess.DEVNULL
        preexec = None
        if self.cpus is not None or self.memory_mb is not None:
            self.cgroup = CgroupLimit(self.name.split()[0], self.cpus, self.memory_mb)
            preexec = self.cgroup.preexec
        self.spawned_at = time.perf_counter()
        try:
            self._proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
                                          preexec_fn=preexec)
        except OSError as exc:
            self._release()
            raise self.error(f"cannot start {self.name}: {exc}") from exc

    def wait_ready(self) -> float:
        """Poll :attr:`ready` until True; returns ms since spawn. Raises :attr:`error` on exit or timeout."""
        if self._proc is None or self.spawned_at is None:
            raise RuntimeError(f"{self.name}: start() first")
        deadline = self.spawned_at + self.ready_timeout_s
        while self.ready is not None:
            if self._proc.poll() is not None:
                raise self.error(f"{self.name} exited with {self._proc.returncode} before it was ready"
                                 f"{self.log_tail()}")
            if self.ready():
                break
            if time.perf_counter() > deadline:
                what = f" ({self.ready.__doc__})" if self.ready.__doc__ else ""
                raise self.error(f"{self.name} not ready after {self.ready_timeout_s:g} s{what}{self.log_tail()}")
            time.sleep(self.poll_s)
        self.ready_ms = (time.perf_counter() - self.spawned_at) * 1000.0
        return self.ready_ms

    def stop(self, grace_s: float | None = None) -> None:
        """SIGTERM the group, SIGKILL it after ``grace_s`` (default :attr:`grace_s`); nothing is left after.

        Descendants that moved to their own session are SIGKILLed too if still alive after the
        grace period; the cgroup (if any) is emptied and removed. Safe to call twice.
        """
        grace = self.grace_s if grace_s is None else grace_s
        proc, self._proc = self._proc, None
        if proc is not None:
            started = time.perf_counter()
            try:
                tree = psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                tree = []
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
            # Workers that outlive their leader still share its group; handler processes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            for child in tree:  # psutil checks the pid still names the same process
                with contextlib.suppress(psutil.Error):
                    child.kill()
            psutil.wait_procs(tree, timeout=5)
            self._wait_group_gone(proc.pid, timeout_s=5.0)
            self.returncode = proc.returncode
            self.stop_ms = (time.perf_counter() - started) * 1000.0
        self._release()

    @staticmethod
    def _wait_group_gone(pgid: int, timeout_s: float) -> bool:
        """Wait (bounded) until no process of group ``pgid`` exists; orphans are reaped by init."""

        def settled() -> str:  # "" while some process of the group is alive
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return "gone"
            except PermissionError:
                return "not ours to see"
            return ""

        return poll_until(settled, timeout_s) == "gone"

    def _release(self) -> None:
        if self.cgroup is not None:
            self.cgroup.close()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()  # type: ignore[union-attr]
        self._log = None

    def __enter__(self) -> ManagedProcess:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop(grace_s=min(self.grace_s, 5.0))
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ManagedServer:
    """Base of a server class built on one :class:`ManagedProcess` (:attr:`process`).

    ``with server:`` runs :meth:`open` (by default :meth:`start`, which spawns and waits until
    ready); if that fails or is interrupted, the process is stopped with :attr:`abort_grace_s`
    before the error propagates. Leaving the block calls :meth:`stop`.
    """

    process: ManagedProcess | None = None
    abort_grace_s: float = 2.0

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def open(self) -> None:
        self.start()

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            if self.process is not None:
                self.process.stop(grace_s=self.abort_grace_s)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
