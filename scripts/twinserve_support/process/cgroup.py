"""The one place the bench *creates* CPU and memory limits: cgroups under this process's own group.

Why: a pod's limits and Lambda's CPU share per environment must be applied, not assumed, and
only inside our own subtree. :class:`CgroupLimit` puts a process under a pod's ``limits.cpu`` /
``limits.memory`` before it execs (every forked worker inside); :class:`CpuQuota` gives each
Lambda environment memory/1769 vCPU; :class:`ProcessMemoryLimit` moves one running process into
a small memory group so the kernel's OOM killer ends it (``twinbench chaos``). Groups are named
``twinbench-<name>-<pid>-<n>``; empty ones left by a SIGKILLed run are removed by the next.
Reading a limit is the core's job (:mod:`twinserve.cgroup_cpus`). Nothing here raises where the
machine does not allow it: ``applied`` stays ``False`` with the reason, written into the results.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

from twinserve.cgroup_cpus import own_cgroups, v1_mount

__all__ = ["CFS_PERIOD_US", "CgroupLimit", "CpuQuota", "ProcessMemoryLimit", "quota_us"]

ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000
PREFIX = "twinbench"
_serial = itertools.count(1)


def quota_us(cpus: float, period_us: int = CFS_PERIOD_US) -> int:
    """CFS quota per ``period_us`` for ``cpus`` CPUs (at least 1 ms, the kernel's minimum)."""
    return max(1000, round(cpus * period_us))


def _own_bases(controllers: tuple[str, ...], root: Path) -> tuple[int, dict[str, Path], list[str]]:
    """(cgroup version, this process's own group dir per controller, controllers not found).

    Raises OSError when no controller has a hierarchy here.
    """
    own = own_cgroups(Path("/proc/self/cgroup").read_text())
    if (root / "cgroup.controllers").exists():
        if "" not in own:
            raise OSError("cgroup v2 mounted but this process has no v2 group")
        base = root / own[""].lstrip("/")
        available = (base / "cgroup.controllers").read_text().split()
        missing = [c for c in controllers if c not in available]
        if len(missing) == len(controllers):
            raise OSError(f"v2: {', '.join(missing)} controller not delegated to {base}")
        return 2, {c: base for c in controllers if c not in missing}, missing
    bases: dict[str, Path] = {}
    for controller in controllers:
        mount = v1_mount(controller, root)
        if mount is not None and controller in own:
            bases[controller] = mount / own[controller].lstrip("/")
    missing = [c for c in controllers if c not in bases]
    if not bases:
        raise OSError(f"no cgroup hierarchy with the {', '.join(controllers)} controller under {root}")
    return 1, bases, missing


def _remove_stale(parent: Path) -> None:
    """Remove empty groups of ours whose creating process no longer exists (it was SIGKILLed)."""
    for stale in parent.glob(f"{PREFIX}-*"):
        parts = stale.name.rsplit("-", 2)
        if len(parts) != 3 or not parts[1].isdigit() or Path(f"/proc/{parts[1]}").exists():
            continue
        for child in stale.iterdir():
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
        with contextlib.suppress(OSError):
            stale.rmdir()


class CgroupLimit:
    """A cgroup with ``cpus`` CPUs and ``memory_mb`` MiB; :meth:`preexec` or :meth:`attach` put processes in.

    ``cpus=None`` / ``memory_mb=None`` leave that resource unlimited. ``controllers`` places the
    group in hierarchies without limiting them (a parent for :class:`CpuQuota`'s children, with
    ``nested=True`` so a v2 group hands its controllers down). ``parent`` makes this group a child
    of another. Use :meth:`close` (or the context manager) to kill anything still inside and remove it.
    """

    def __init__(self, name: str, cpus: float | None = None, memory_mb: int | None = None, *,
                 controllers: tuple[str, ...] | None = None, parent: CgroupLimit | None = None,
                 nested: bool = False, enabled: bool = True, root: Path = ROOT) -> None:
        self.name = name if parent is not None else f"{PREFIX}-{name}-{os.getpid()}-{next(_serial)}"
        self.cpus = cpus
        self.memory_mb = memory_mb
        limited = tuple(c for c, v in (("cpu", cpus), ("memory", memory_mb)) if v is not None)
        self.controllers = tuple(dict.fromkeys((*(controllers or ()), *limited)))
        self.dirs: dict[str, Path] = {}  # controller -> group dir (one dir for all on v2)
        self.version: int | None = None
        self.cpu_applied = False
        self.memory_applied = False
        self.reason: str | None = None if enabled else "disabled"
        if enabled and self.controllers:
            try:
                self._create(parent, nested, root)
            except OSError as exc:
                self.reason = f"{type(exc).__name__}: {exc}"
                self.close(timeout_s=0.0)
                self.cpu_applied = self.memory_applied = False

    @property
    def created(self) -> bool:
        return bool(self.dirs)

    @property
    def applied(self) -> bool:
        return (self.cpus is None or self.cpu_applied) and (self.memory_mb is None or self.memory_applied)

    def describe(self) -> dict[str, object]:
        return {
            "cgroup_version": f"v{self.version}" if self.version else None,
            "cpu_quota_applied": self.cpu_applied,
            "memory_limit_applied": self.memory_applied,
            "reason_not_applied": None if self.applied else (self.reason or "not permitted"),
        }

    def _create(self, parent: CgroupLimit | None, nested: bool, root: Path) -> None:
        if parent is not None:
            if not parent.created:
                raise OSError(f"parent group not created: {parent.reason}")
            self.version = parent.version
            bases = {c: parent.dirs[c] for c in self.controllers if c in parent.dirs}
            missing = [c for c in self.controllers if c not in bases]
        else:
            self.version, bases, missing = _own_bases(self.controllers, root)
            for base in set(bases.values()):
                with contextlib.suppress(OSError):
                    _remove_stale(base)
        if missing:
            self.reason = f"no {', '.join(missing)} controller here"
        for base in dict.fromkeys(bases.values()):
            here = [c for c, b in bases.items() if b == base]
            if self.version == 2:
                subtree = base / "cgroup.subtree_control"
                enabled = subtree.read_text().split()
                wanted = " ".join(f"+{c}" for c in here if c not in enabled)
                if wanted:
                    subtree.write_text(wanted)
            path = base / self.name
            path.mkdir(exist_ok=True)
            for controller in here:
                self.dirs[controller] = path
            if self.version == 2 and nested:
                (path / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in here))
        if self.cpus is not None and "cpu" in self.dirs:
            path = self.dirs["cpu"]
            if self.version == 2:
                (path / "cpu.max").write_text(f"{quota_us(self.cpus)} {CFS_PERIOD_US}")
            else:
                (path / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
                (path / "cpu.cfs_quota_us").write_text(str(quota_us(self.cpus)))
            self.cpu_applied = True
        if self.memory_mb is not None and "memory" in self.dirs:
            name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
            (self.dirs["memory"] / name).write_text(str(self.memory_mb * 1024 * 1024))
            self.memory_applied = True

    def _unique_dirs(self) -> list[Path]:
        return list(dict.fromkeys(self.dirs.values()))

    def preexec(self) -> None:
        """Move the calling (child, pre-exec) process into the group; for ``Popen(preexec_fn=...)``."""
        for path in self._unique_dirs():
            with contextlib.suppress(OSError):
                (path / "cgroup.procs").write_text("0")

    def attach(self, pid: int) -> bool:
        """Move ``pid`` into the group; ``False`` (with :attr:`reason`) when that failed."""
        if not self.created:
            return False
        try:
            for path in self._unique_dirs():
                (path / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            self.reason = f"attach failed: {exc}"
            return False
        return True

    def pids(self) -> set[int]:
        """Every process still inside the group."""
        found: set[int] = set()
        for path in self._unique_dirs():
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return found

    def memory_peak_mb(self) -> float | None:
        """Peak memory of the group (v1 ``max_usage_in_bytes`` / v2 ``memory.peak``), MiB."""
        for path in self._unique_dirs():
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                with contextlib.suppress(OSError, ValueError):
                    return int((path / name).read_text()) / (1024 * 1024)
        return None

    def close(self, timeout_s: float = 5.0) -> None:
        """SIGKILL whatever is left inside, then remove the group (waiting up to ``timeout_s`` for it to empty).

        ``timeout_s=0`` tries once and never blocks (an event loop's caller); a group still
        holding a dying process is then removed by the next run (see the module docstring).
        """
        deadline = time.monotonic() + timeout_s
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for path in reversed(self._unique_dirs()):
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.05)
        self.dirs = {}

    def __enter__(self) -> CgroupLimit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CpuQuota:
    """``vcpu`` CPUs for each of many processes, each in its own child group; :meth:`close` removes them.

    The local Lambda's execution environments: :meth:`attach` right after a runtime is spawned,
    :meth:`detach` once it has exited. Never blocks and never raises.
    """

    def __init__(self, vcpu: float, *, enabled: bool = True, root: Path = ROOT, name: str = "lambda") -> None:
        self.vcpu = vcpu
        self.quota_us = quota_us(vcpu)
        self._parent = CgroupLimit(name, controllers=("cpu",), nested=True, enabled=enabled, root=root)
        self._children: dict[str, CgroupLimit] = {}
        # Whether the quota could be set up at all; stays true after close() for the results.
        self.applied = "cpu" in self._parent.dirs
        self.version = self._parent.version if self.applied else None
        self.reason = (f"cgroup v{self.version} at {self._parent.dirs['cpu']}" if self.applied
                       else self._parent.reason or "no cgroup cpu controller found")

    def attach(self, env_id: str, pid: int) -> bool:
        """Move ``pid`` into its own group limited to :attr:`vcpu`; ``False`` if that failed."""
        if not self._parent.created:
            return False
        group = CgroupLimit(env_id, cpus=self.vcpu, parent=self._parent)
        if not (group.cpu_applied and group.attach(pid)):
            self.reason = group.reason or "attach failed"
            group.close(timeout_s=0.0)
            return False
        self._children[env_id] = group
        return True

    def detach(self, env_id: str) -> None:
        """Remove the group of an environment whose process has exited."""
        group = self._children.pop(env_id, None)
        if group is not None:
            group.close(timeout_s=0.0)

    def close(self) -> None:
        for env_id in list(self._children):
            self.detach(env_id)
        self._parent.close(timeout_s=0.0)

    def describe(self) -> dict[str, object]:
        return {
            "cpu_quota_applied": self.applied,
            "cpu_quota_vcpu": round(self.vcpu, 4),
            "cpu_quota_us_per_period": self.quota_us if self.applied else None,
            "cpu_period_us": CFS_PERIOD_US,
            "cgroup_version": self.version,
            "detail": self.reason,
        }


class ProcessMemoryLimit:
    """One running process in a memory group of its own, limited to ``limit_kb`` KiB of *new* memory.

    Why a new group rather than a lower limit on the process's own: lowering a limit below what a
    group already holds is refused (v1 answers EBUSY when it cannot reclaim; v2 would OOM-kill any
    process of the group, not the one chosen). Charges do not follow a process into a new group
    (v2 never moves them; v1's ``memory.move_charge_at_immigrate`` is refused by recent kernels),
    so the limit applies to what the process allocates from now on: its next allocation past
    ``limit_kb`` makes the kernel OOM-kill it, exactly as a container's limit would. The process
    keeps its CPU group (only the memory controller is touched).

    Never raises for a machine that does not allow it: :attr:`applied` is ``False`` with
    :attr:`reason`. :meth:`close` removes the group (SIGKILLing anything still inside).
    """

    def __init__(self, pid: int, limit_kb: int, *, root: Path = ROOT) -> None:
        if limit_kb <= 0:
            raise ValueError(f"limit_kb must be > 0, got {limit_kb}")
        self.pid = pid
        self.limit_kb = limit_kb
        self.applied = False
        self._group = CgroupLimit(f"mem{pid}", controllers=("memory",), root=root)
        self.reason: str | None = self._group.reason
        path = self._group.dirs.get("memory")
        if path is None:
            self.reason = self.reason or "no cgroup memory controller here"
            return
        name = "memory.max" if self._group.version == 2 else "memory.limit_in_bytes"
        try:
            (path / name).write_text(str(limit_kb * 1024))
        except OSError as exc:
            self.reason = f"cannot set {name}: {exc}"
            return
        self.applied = self._group.attach(pid)
        if not self.applied:
            self.reason = self._group.reason

    @property
    def version(self) -> int | None:
        return self._group.version

    def _read(self, v1: str, v2: str) -> str | None:
        path = self._group.dirs.get("memory")
        if path is None:
            return None
        with contextlib.suppress(OSError):
            return (path / (v2 if self._group.version == 2 else v1)).read_text()
        return None

    def oom_kills(self) -> int | None:
        """How many processes the kernel's OOM killer ended in this group (``None``: unreadable)."""
        text = self._read("memory.oom_control", "memory.events")
        for line in (text or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return None

    def usage_kb(self) -> int | None:
        """Memory charged to the group now, KiB."""
        text = self._read("memory.usage_in_bytes", "memory.current")
        with contextlib.suppress(TypeError, ValueError):
            return int(text) // 1024  # type: ignore[arg-type]
        return None

    def describe(self) -> dict[str, object]:
        return {"pid": self.pid, "limit_kb": self.limit_kb, "applied": self.applied,
                "cgroup_version": f"v{self.version}" if self.version else None, "reason_not_applied":
                None if self.applied else self.reason}

    def close(self) -> None:
        self._group.close(timeout_s=2.0)

    def __enter__(self) -> ProcessMemoryLimit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
