"""How long Python's collector held the emulator's event loop.

Every request crosses this one process (HTTP front, Runtime API), so a stall here queues
requests that then arrive at once and can exceed the concurrency cap — 429s that real Lambda
would not give. The figures are in ``/_local_lambda/stats`` so a run can show the emulator was
not the cause of what it measured.
"""

from __future__ import annotations

import gc
import time


class GcPauses:
    """Counts full (generation 2) collections and keeps the longest pause, while installed."""

    def __init__(self) -> None:
        self.full_collections = 0
        self.max_pause_ms = 0.0
        self.total_pause_ms = 0.0
        self._started: float | None = None

    def _callback(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            pause_ms = (time.perf_counter() - self._started) * 1000.0
            self._started = None
            self.full_collections += 1
            self.total_pause_ms += pause_ms
            self.max_pause_ms = max(self.max_pause_ms, pause_ms)

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        while self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def figures(self) -> dict[str, float]:
        return {"gc_full_collections": self.full_collections, "gc_max_pause_ms": round(self.max_pause_ms, 2),
                "gc_total_pause_ms": round(self.total_pause_ms, 1)}
