"""Whether a process still exists: the one answer the bench's leftover checks and the tests share.

Why one place: "gone" has two meanings (a zombie has exited but still holds its pid until its
parent reaps it), and checks written apart drifted between ``os.kill(pid, 0)``, ``/proc`` and
psutil.
"""

from __future__ import annotations

import psutil

__all__ = ["pid_alive"]


def pid_alive(pid: int, zombies_gone: bool = False) -> bool:
    """True while ``pid`` exists; a zombie counts as gone only with ``zombies_gone`` (it has exited,
    only its parent has not reaped it yet)."""
    gone = (psutil.STATUS_DEAD, psutil.STATUS_ZOMBIE) if zombies_gone else (psutil.STATUS_DEAD,)
    try:
        return psutil.Process(pid).status() not in gone
    except psutil.Error:
        return False
