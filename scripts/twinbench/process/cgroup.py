"""A CPU and memory limit for a process tree through a cgroup, when the machine lets us make one.

A Kubernetes pod's ``limits.cpu`` becomes a CFS quota (``cpu.max`` on cgroup v2,
``cpu.cfs_quota_us`` on v1) and ``limits.memory`` a hard memory limit; Lambda gives
``memory / 1769`` vCPU. This module does the same to a local process: it creates a child of the
current process's own cgroup (so nothing outside our subtree is touched), sets the limits and
moves the child process in *before it execs* (``preexec``), so every worker it forks is inside.

Nothing here raises for a machine that does not allow it: :class:`CgroupLimit` records
``applied = False`` with the reason, and the benchmark writes that into its results.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

__all__ = ["CgroupLimit"]

ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000


def _own_path(controller: str | None) -> str:
    """This process's cgroup path for a v1 ``controller`` (or the v2 path for ``None``)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller is None and controllers == "":
            return path
        if controller is not None and controller in controllers.split(","):
            return path
    raise OSError(f"no cgroup for controller {controller!r}")


class CgroupLimit:
    """Create a cgroup with ``cpus`` CPUs and ``memory_mb`` MiB; :meth:`preexec` joins it.

    ``cpus=None`` / ``memory_mb=None`` leave that resource unlimited. Use :meth:`close` (or the
    context manager) to kill anything still inside and remove the cgroup.
    """

    def __init__(self, name: str, cpus: float | None, memory_mb: int | None) -> None:
        self.name = f"twinbench-{name}-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.dirs: list[Path] = []
        self.version: str | None = None
        self.cpu_applied = False
        self.memory_applied = False
        self.reason: str | None = None
        try:
            self._create()
        except OSError as exc:
            self.reason = f"{type(exc).__name__}: {exc}"
            self.close()
            self.cpu_applied = self.memory_applied = False

    @property
    def applied(self) -> bool:
        return (self.cpus is None or self.cpu_applied) and (self.memory_mb is None or self.memory_applied)

    def describe(self) -> dict[str, object]:
        return {
            "cgroup_version": self.version,
            "cpu_quota_applied": self.cpu_applied,
            "memory_limit_applied": self.memory_applied,
            "reason_not_applied": None if self.applied else (self.reason or "not permitted"),
        }

    def _mkdir(self, parent: Path) -> Path:
        path = parent / self.name
        path.mkdir()
        self.dirs.append(path)
        return path

    def _create(self) -> None:
        if (ROOT / "cgroup.controllers").exists():
            self.version = "v2"
            path = self._mkdir(ROOT / _own_path(None).lstrip("/"))
            if self.cpus is not None:
                (path / "cpu.max").write_text(f"{int(self.cpus * CFS_PERIOD_US)} {CFS_PERIOD_US}")
                self.cpu_applied = True
            if self.memory_mb is not None:
                (path / "memory.max").write_text(str(self.memory_mb * 1024 * 1024))
                self.memory_applied = True
            return
        self.version = "v1"
        if self.cpus is not None and (ROOT / "cpu").is_dir():
            path = self._mkdir(ROOT / "cpu" / _own_path("cpu").lstrip("/"))
            (path / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text(str(int(self.cpus * CFS_PERIOD_US)))
            self.cpu_applied = True
        if self.memory_mb is not None and (ROOT / "memory").is_dir():
            path = self._mkdir(ROOT / "memory" / _own_path("memory").lstrip("/"))
            (path / "memory.limit_in_bytes").write_text(str(self.memory_mb * 1024 * 1024))
            self.memory_applied = True

    def preexec(self) -> None:
        """Move the calling (child, pre-exec) process into the cgroup; for ``Popen(preexec_fn=...)``."""
        for path in self.dirs:
            with contextlib.suppress(OSError):
                (path / "cgroup.procs").write_text("0")

    def pids(self) -> set[int]:
        """Every process still inside the cgroup."""
        found: set[int] = set()
        for path in self.dirs:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return found

    def memory_peak_mb(self) -> float | None:
        """Peak memory of the group (v1 ``max_usage_in_bytes`` / v2 ``memory.peak``), MiB."""
        for path in self.dirs:
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                with contextlib.suppress(OSError, ValueError):
                    return int((path / name).read_text()) / (1024 * 1024)
        return None

    def close(self, timeout_s: float = 5.0) -> None:
        """SIGKILL whatever is left inside, then remove the cgroup directories."""
        deadline = time.monotonic() + timeout_s
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for path in reversed(self.dirs):
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
        self.dirs = []

    def __enter__(self) -> CgroupLimit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
