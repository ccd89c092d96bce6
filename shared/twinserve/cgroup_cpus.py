"""How many CPUs this process may really use: its cgroup's CPU quota, else its affinity mask.

A Kubernetes pod's ``limits.cpu`` (and ``podman --cpus``, and the bench's local limit) becomes a
CFS quota: ``cpu.max`` (``"<quota> <period>"`` or ``"max <period>"``) on cgroup v2,
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (``-1`` = none) on v1. ``os.cpu_count()`` and
``multiprocessing.cpu_count()`` see the whole node instead, so a server sized by them starts too
many workers. The kernel enforces the tightest quota on the path from the process's group up to
the root, so every level is read. Read only here; the bench creates limits elsewhere. No
dependencies and nothing read at import time (the container's ``gunicorn.conf.py`` imports it).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["available_cpus", "cpu_quota_cores", "own_cgroups", "parse_cfs_quota", "parse_cpu_max", "v1_mount"]

CGROUP_ROOT = Path("/sys/fs/cgroup")


def parse_cpu_max(text: str) -> float | None:
    """cgroup v2 ``cpu.max`` as cores (``"150000 100000"`` -> 1.5); ``None`` for ``max`` (no quota).

    Raises ``ValueError`` on anything else.
    """
    quota, period = text.split()
    if quota == "max":
        return None
    return int(quota) / int(period)


def parse_cfs_quota(quota_us: str, period_us: str) -> float | None:
    """cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` as cores; ``None`` for ``-1`` (no quota).

    Raises ``ValueError`` on anything else.
    """
    quota = int(quota_us)
    if quota < 0:
        return None
    return quota / int(period_us)


def own_cgroups(proc_cgroup: str) -> dict[str, str]:
    """A process's group per hierarchy from the text of ``/proc/<pid>/cgroup``.

    Keys are v1 controller names (``cpu``, ``cpuacct``, ``memory`` ...) and ``""`` for the v2
    (unified) hierarchy; values are paths inside that hierarchy (``/`` = its root).
    """
    groups: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            groups[controller] = parts[2]
    return groups


def v1_mount(controller: str, root: Path = CGROUP_ROOT) -> Path | None:
    """Where a cgroup v1 ``controller`` is mounted (``cpu`` or a joint ``cpu,cpuacct``), or ``None``."""
    if (root / controller).is_dir():
        return root / controller
    for joint in sorted(root.glob(f"*{controller}*")):
        if joint.is_dir() and controller in joint.name.split(","):
            return joint
    return None


def _levels(base: Path, path: str) -> list[Path]:
    """``base/path`` and each of its ancestors up to ``base`` (the mount's root)."""
    here = base / path.strip("/")
    return [here, *(p for p in here.parents if p == base or base in p.parents)]


def cpu_quota_cores(root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> float | None:
    """The tightest CPU quota on this process's cgroup and its ancestors, in cores; ``None`` = none.

    ``proc_cgroup`` is the text of ``/proc/self/cgroup`` (read when ``None``). Unreadable files
    count as no quota: the answer is never an error.
    """
    try:
        text = Path("/proc/self/cgroup").read_text() if proc_cgroup is None else proc_cgroup
    except OSError:
        text = "0::/\n"
    own = own_cgroups(text)
    quotas: list[float] = []
    if "" in own:
        for level in _levels(root, own[""]):
            try:
                quota = parse_cpu_max((level / "cpu.max").read_text())
            except (OSError, ValueError):
                continue
            if quota is not None:
                quotas.append(quota)
    mount = v1_mount("cpu", root)
    if "cpu" in own and mount is not None:
        for level in _levels(mount, own["cpu"]):
            try:
                quota = parse_cfs_quota((level / "cpu.cfs_quota_us").read_text(),
                                        (level / "cpu.cfs_period_us").read_text())
            except (OSError, ValueError):
                continue
            if quota is not None:
                quotas.append(quota)
    return min(quotas) if quotas else None


def available_cpus(root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> int:
    """Whole CPUs this process may use: the affinity mask, capped by the quota rounded up (at least 1)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota_cores(root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return cpus
