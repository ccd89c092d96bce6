"""CPU quota of memory/1769 vCPU per execution environment, through a cgroup when the machine allows it.

cgroup v1 (a ``cpu`` hierarchy, as on this machine) or v2 (the unified hierarchy with the ``cpu``
controller delegable). A parent group ``twinserve-lambda-<pid>`` is made under this process's own
group, one child per environment inside it. Nothing here raises: when the quota cannot be applied
(read-only cgroupfs, no delegation, not root) :attr:`CpuQuota.applied` stays ``False`` with a
reason, and environments simply run unthrottled.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def quota_us(vcpu: float, period_us: int = PERIOD_US) -> int:
    """CFS quota per ``period_us`` for ``vcpu`` CPUs (at least 1 ms, the kernel's minimum)."""
    return max(1000, round(vcpu * period_us))


def _own_cgroups(proc_cgroup: str) -> tuple[str | None, str | None]:
    """(v1 cpu path, v2 path) of this process from the text of /proc/self/cgroup."""
    v1 = v2 = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v1, v2


class CpuQuota:
    """Creates per-environment cgroups with a CPU quota; :meth:`close` removes them."""

    def __init__(self, vcpu: float, *, enabled: bool = True, root: Path = CGROUP_ROOT) -> None:
        self.vcpu = vcpu
        self.quota_us = quota_us(vcpu)
        self.applied = False
        self.reason = "disabled" if not enabled else ""
        self.version: int | None = None
        self._parent: Path | None = None
        self._children: dict[str, Path] = {}
        if enabled:
            self._setup(root)

    def _setup(self, root: Path) -> None:
        try:
            v1, v2 = _own_cgroups(Path("/proc/self/cgroup").read_text())
        except OSError as exc:
            self.reason = f"cannot read /proc/self/cgroup: {exc}"
            return
        name = f"twinserve-lambda-{os.getpid()}"
        attempts: list[str] = []
        if v1 is not None:
            base = root / "cpu" if (root / "cpu" / "cpu.cfs_quota_us").exists() else root / "cpu,cpuacct"
            if self._try_make(base / v1.lstrip("/") / name, version=1, attempts=attempts):
                return
        if v2 is not None:
            base = root / v2.lstrip("/")
            if (root / "unified" / "cgroup.controllers").exists() and not (root / "cgroup.controllers").exists():
                base = root / "unified" / v2.lstrip("/")
            if self._try_make(base / name, version=2, attempts=attempts):
                return
        self.reason = "; ".join(attempts) or "no cgroup cpu controller found"

    @classmethod
    def _remove_stale(cls, base: Path) -> None:
        """Remove empty groups left by an emulator that was SIGKILLed (its pid no longer exists)."""
        for stale in base.glob("twinserve-lambda-*"):
            pid = stale.name.rsplit("-", 1)[-1]
            if not pid.isdigit() or Path(f"/proc/{pid}").exists():
                continue
            for child in stale.iterdir():
                if child.is_dir():
                    cls._rmdir(child)
            cls._rmdir(stale)

    def _try_make(self, parent: Path, *, version: int, attempts: list[str]) -> bool:
        with contextlib.suppress(OSError):
            self._remove_stale(parent.parent)
        try:
            if version == 2:
                controllers = (parent.parent / "cgroup.controllers").read_text().split()
                if "cpu" not in controllers:
                    attempts.append(f"v2: cpu controller not delegated to {parent.parent}")
                    return False
                subtree = parent.parent / "cgroup.subtree_control"
                if "cpu" not in subtree.read_text().split():
                    subtree.write_text("+cpu")
            parent.mkdir(exist_ok=True)
            if version == 2:
                (parent / "cgroup.subtree_control").write_text("+cpu")
        except OSError as exc:
            attempts.append(f"v{version}: {exc}")
            with contextlib.suppress(OSError):
                parent.rmdir()
            return False
        self._parent, self.version, self.applied = parent, version, True
        self.reason = f"cgroup v{version} at {parent}"
        return True

    def attach(self, env_id: str, pid: int) -> bool:
        """Move ``pid`` into its own group limited to :attr:`vcpu`; ``False`` if that failed."""
        if not self.applied or self._parent is None:
            return False
        group = self._parent / env_id
        try:
            group.mkdir(exist_ok=True)
            if self.version == 2:
                (group / "cpu.max").write_text(f"{self.quota_us} {PERIOD_US}")
            else:
                (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (group / "cpu.cfs_quota_us").write_text(str(self.quota_us))
            (group / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            self.reason = f"attach failed: {exc}"
            self._rmdir(group)
            return False
        self._children[env_id] = group
        return True

    def detach(self, env_id: str) -> None:
        """Remove the group of an environment whose process has exited."""
        group = self._children.pop(env_id, None)
        if group is not None:
            self._rmdir(group)

    def close(self) -> None:
        for env_id in list(self._children):
            self.detach(env_id)
        if self._parent is not None:
            self._rmdir(self._parent)

    @staticmethod
    def _rmdir(path: Path) -> None:
        # Still holding a (dying) process, or already gone: nothing more to do.
        with contextlib.suppress(OSError):
            path.rmdir()

    def describe(self) -> dict[str, object]:
        return {
            "cpu_quota_applied": self.applied,
            "cpu_quota_vcpu": round(self.vcpu, 4),
            "cpu_quota_us_per_period": self.quota_us if self.applied else None,
            "cpu_period_us": PERIOD_US,
            "cgroup_version": self.version,
            "detail": self.reason,
        }
