"""Crash accounting for gunicorn: which workers booted, and whether any died or was killed.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from twinbench.reliability.fuzz.settings import GUNICORN_BOOT, GUNICORN_CRASH


def gunicorn_workers(log_path: Path) -> list[int]:
    """Worker PIDs gunicorn booted so far, from its log."""
    with contextlib.suppress(OSError):
        return [int(pid) for pid in GUNICORN_BOOT.findall(log_path.read_text(errors="replace"))]
    return []


def stable_workers(log_path: Path, settle_s: float = 1.0, max_s: float = 15.0) -> list[int]:
    """Worker PIDs once no new worker booted for ``settle_s`` (ready != every worker booted)."""
    deadline = time.monotonic() + max_s
    workers = gunicorn_workers(log_path)
    while time.monotonic() < deadline:
        time.sleep(settle_s)
        now = gunicorn_workers(log_path)
        if now == workers:
            break
        workers = now
    return workers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return True


def gunicorn_crashes(log_path: Path, booted: list[int]) -> tuple[int, list[str]]:
    """(workers that died or were replaced since ``booted``, log lines telling of a crash)."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    lines = [line for line in text.splitlines() if GUNICORN_CRASH.search(line)]
    replaced = max(0, len(gunicorn_workers(log_path)) - len(booted))
    dead = sum(1 for pid in booted if not _alive(pid))
    return max(replaced, dead), lines[:5]
