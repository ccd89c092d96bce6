"""Environment metadata collected once per run (pyperf-style): machine, OS, Python, libraries, git.

Each collector degrades to ``None`` rather than raising: a missing ``git`` or an unreadable
``/proc`` must not lose a benchmark run.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

__all__ = ["collect", "git_info", "load_average"]

from twinserve_support.paths import REPO  # noqa: E402

LIBRARIES = (
    "aiohttp", "hdrhistogram", "numpy", "scipy", "scikit-learn", "onnxruntime", "flask", "gunicorn",
    "serverless-wsgi", "awslambdaric", "matplotlib", "jsonschema",
)


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _mem_total_mb() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return None


def load_average() -> list[float] | None:
    with contextlib.suppress(OSError):
        return [round(v, 2) for v in os.getloadavg()]
    return None


def git_info(repo: Path = REPO) -> dict[str, object]:
    def run(*args: str) -> str | None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)
            if out.returncode == 0:
                return out.stdout.strip()
        return None

    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": run("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def collect() -> dict[str, object]:
    """Everything about the machine and software that a reader needs to judge the numbers."""
    return {
        "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_total_mb": _mem_total_mb(),
        "load_average_1_5_15": load_average(),
        "os": platform.platform(),
        "kernel": platform.release(),
        "cgroup_version": "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1",
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "libraries": _versions(),
        "git": git_info(),
    }
