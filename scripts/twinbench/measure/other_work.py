"""What else the machine did while a load step ran.

The 1-minute load average cannot say: the benchmark's own load generator and server make a load
of about four on two cores, so a warning on it fires on every run. Instead a step records the CPU
time the whole machine was busy (user, system, interrupts and softirqs), less the load generator's
and the server's own, and the hypervisor's steal time (CPU the VM was owed but another guest got).
Both are shares of all CPUs over the step's wall time. The interrupt and softirq time counts on
both sides: the kernel charges it to whichever process was running (without it the benchmark's
own processes appeared to use more CPU than the machine had busy; see docs/measurements.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil

# Above these shares a step's figures are likely disturbed: other work or steal would then take
# a tenth (or a twentieth) of the machine the servers compete for.
OTHER_CPU_SHARE_WARN = 0.10
STEAL_SHARE_WARN = 0.05


@dataclass(frozen=True)
class CpuSnapshot:
    at_s: float
    busy_s: float  # user + nice + system + irq + softirq, all CPUs
    steal_s: float


def snapshot() -> CpuSnapshot:
    times = psutil.cpu_times()
    busy = times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
    return CpuSnapshot(time.perf_counter(), busy, getattr(times, "steal", 0.0))


@dataclass(frozen=True)
class OtherWork:
    other_cpu_share: float  # of all CPUs, used by neither the load generator nor the server
    steal_share: float  # of all CPUs, taken by the hypervisor

    def disturbed(self) -> bool:
        return self.other_cpu_share > OTHER_CPU_SHARE_WARN or self.steal_share > STEAL_SHARE_WARN

    def as_dict(self) -> dict[str, float]:
        return {"other_cpu_share": round(self.other_cpu_share, 4), "steal_share": round(self.steal_share, 4)}


def other_work(before: CpuSnapshot, after: CpuSnapshot, own_cpu_s: float, cpus: int) -> OtherWork:
    """The step's other work, given the CPU seconds the benchmark's own processes used in it."""
    capacity = max(after.at_s - before.at_s, 1e-9) * max(cpus, 1)
    other = max(0.0, (after.busy_s - before.busy_s) - own_cpu_s)
    return OtherWork(other / capacity, max(0.0, after.steal_s - before.steal_s) / capacity)
