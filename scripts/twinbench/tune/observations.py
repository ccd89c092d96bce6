"""What one memory size produced (raw, as measured), and the CPU the measuring itself used.

Local and remote runs fill the same :class:`SizeRun`, so the summaries, the picks, the document
and the report never care where the numbers came from. Raw samples are kept (results are data);
summaries are computed from them in :mod:`twinbench.tune.document`.
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import psutil

__all__ = ["ColdObservation", "CpuMeter", "SizeRun"]


@dataclass(slots=True)
class ColdObservation:
    """One forced cold start: the REPORT line's Init Duration and Billed Duration (which includes INIT).

    ``verified_cold`` is the handler's own cold flag (``None`` when the answer had none, e.g. an
    error); ``status`` the HTTP status the function answered with (0 = no answer).
    """

    request_id: str | None
    status: int
    init_duration_ms: float | None
    duration_ms: float | None
    billed_duration_ms: int | None
    verified_cold: bool | None
    restore_duration_ms: float | None = None  # a SnapStart restore's (no Init Duration then)


@dataclass
class SizeRun:
    """Everything measured at one memory size. Durations in ms, CPU in seconds.

    ``warm_billed_ms`` / ``warm_duration_ms`` are the warm invocations' REPORT Billed Duration and
    Duration, in the order they ran, warm-ups excluded. ``unexpected_cold`` counts warm-phase
    invocations that reported an Init Duration (a new environment: kept out of the warm figures);
    ``misclassified_cold`` forced cold starts the handler called warm (kept out of the cold ones).
    """

    memory_mb: int
    cold: list[ColdObservation] = field(default_factory=list)
    warm_billed_ms: list[int] = field(default_factory=list)
    warm_duration_ms: list[float] = field(default_factory=list)
    warmup_discarded: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    misclassified_cold: int = 0
    unexpected_cold: int = 0
    missing_reports: int = 0
    max_memory_used_mb: int | None = None
    wall_s: float = 0.0
    cpu: dict[str, object] = field(default_factory=dict)
    cpu_quota: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def fail(self, status: int | str) -> None:
        key = str(status)
        self.failures[key] = self.failures.get(key, 0) + 1

    def raw(self) -> dict[str, object]:
        return {"cold": [asdict(c) for c in self.cold], "warm_billed_ms": list(self.warm_billed_ms),
                "warm_duration_ms": [round(d, 3) for d in self.warm_duration_ms]}


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pid_cpu_s(process: psutil.Process | None) -> float | None:
    if process is None:
        return None
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return times.user + times.system
    return None


class CpuMeter:
    """CPU used, phase by phase, by this process (the load generator: ``getrusage``) and by a helper
    process such as the emulator's front (``psutil``, that process alone, not its children)::

        meter = CpuMeter("sequential http.client", helper_pid=pid, helper="emulator front")
        with meter.phase("cold"):
            ...
        with meter.phase("warm"):
            ...
        meter.result   # {"generator": ..., "measure": ..., "helper": ..., "phases": {"cold": {...}, "warm": {...}}}

    Why: a figure measured while the generator or the emulator starved the function of CPU on a
    2-core machine is not the function's figure; the report prints these next to each size.
    """

    def __init__(self, generator: str, helper_pid: int | None = None, helper: str | None = None) -> None:
        self.generator = generator
        self.helper = helper
        self._proc: psutil.Process | None = None
        if helper_pid is not None:
            with contextlib.suppress(psutil.Error):
                self._proc = psutil.Process(helper_pid)
        self.phases: dict[str, dict[str, float | None]] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Measure the block as phase ``name`` (recorded also when the block raises)."""
        t0 = time.perf_counter()
        cpu0 = _self_cpu_s()
        helper0 = _pid_cpu_s(self._proc)
        try:
            yield
        finally:
            wall = max(1e-9, time.perf_counter() - t0)
            cpu = max(0.0, _self_cpu_s() - cpu0)
            figures: dict[str, float | None] = {"wall_s": round(wall, 3), "generator_cpu_s": round(cpu, 3),
                                                "generator_cores": round(cpu / wall, 4)}
            if self.helper is not None:
                helper1 = _pid_cpu_s(self._proc)
                used = None if helper1 is None or helper0 is None else max(0.0, helper1 - helper0)
                figures.update(helper_cpu_s=None if used is None else round(used, 3),
                               helper_cores=None if used is None else round(used / wall, 4))
            self.phases[name] = figures

    @property
    def result(self) -> dict[str, object]:
        return {"generator": self.generator, "measure": "getrusage(RUSAGE_SELF) user+system for the generator"
                + ("; psutil cpu_times for the helper" if self.helper else ""),
                "helper": self.helper, "phases": dict(self.phases)}
