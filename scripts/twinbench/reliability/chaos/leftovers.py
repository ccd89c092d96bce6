"""What is left running after a fault: processes and listening ports, checked with ``psutil``."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil
from twinserve_support.process.pids import pid_alive


@dataclass
class Leftovers:
    """Every pid and port a target ever had, to check at the end that none is alive or listening."""

    pids: set[int] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    # psutil identity (pid, create_time): a pid the kernel reuses for someone else's process is not ours.
    _created: dict[int, float] = field(default_factory=dict)

    def add(self, pids: Iterable[int | None] = (), ports: Iterable[int | None] = ()) -> None:
        for pid in pids:
            if pid and pid not in self._created:
                with contextlib.suppress(psutil.Error):
                    self._created[pid] = psutil.Process(pid).create_time()
                    self.pids.add(pid)
        self.ports.update(p for p in ports if p)

    def alive(self, pids: Iterable[int] | None = None) -> list[int]:
        """Pids of ours still running (zombies count: nobody reaped them)."""
        found = []
        for pid in sorted(self.pids if pids is None else pids):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.create_time() == self._created.get(pid, proc.create_time()):
                    found.append(pid)
        return found


def listening(ports: Iterable[int]) -> list[int]:
    """Which of ``ports`` some process listens on (TCP, any address)."""
    wanted = set(ports)
    if not wanted:
        return []
    with contextlib.suppress(psutil.Error, OSError):
        return sorted({c.laddr.port for c in psutil.net_connections(kind="tcp")
                       if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in wanted})
    return []


def leftovers(seen: Leftovers, pids: Iterable[int] | None = None) -> dict[str, list[int]]:
    """``{"pids": alive, "ports": listening}`` among what ``seen`` recorded (or only ``pids``)."""
    return {"pids": seen.alive(pids), "ports": listening(seen.ports) if pids is None else []}


def wait_gone(pids: Iterable[int], timeout_s: float, cancel: threading.Event | None = None, *,
               zombies_gone: bool = False) -> float | None:
    """Seconds until none of ``pids`` exists; ``None`` after ``timeout_s``.

    A zombie still exists (nobody reaped it) unless ``zombies_gone``: our own child, which we reap
    when we stop it, has exited once it is a zombie.
    """
    t0 = time.perf_counter()
    pids = list(pids)
    while time.perf_counter() - t0 < timeout_s and not (cancel and cancel.is_set()):
        alive = [p for p in pids if pid_alive(p, zombies_gone)]
        if not alive:
            return time.perf_counter() - t0
        time.sleep(0.01)
    return None
