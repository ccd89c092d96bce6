"""The CPU each memory size gets: AWS's rule, and how much of it this machine can reproduce.

AWS allots CPU in proportion to memory (:func:`twinbench.local_lambda.settings.lambda_vcpu`); the
local Lambda turns it into a CFS quota per execution environment
(:class:`twinserve_support.process.cgroup.CpuQuota`). This module says, for each size, what that
quota cannot reproduce, so the tuning table carries its caveats.

Details (the four limits): docs/benchmark.md, 'CPU share (tune/cpu_share.py)'.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from twinserve_support.process.cgroup import CFS_PERIOD_US

from twinbench.local_lambda.settings import MB_PER_VCPU, lambda_vcpu

__all__ = ["CpuShare", "machine_cores", "share_for"]

AWS_MAX_VCPU = 6
AWS_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"


def machine_cores() -> int:
    """CPUs this process may run on (its affinity mask), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class CpuShare:
    """One size's CPU: what AWS gives, what the quota here allows, what it can actually get."""

    memory_mb: int
    aws_vcpu: float
    quota_vcpu: float
    effective_vcpu: float
    machine_cores: int
    capped_by_machine: bool
    note: str | None

    def to_dict(self) -> dict[str, object]:
        return {"aws_vcpu": round(self.aws_vcpu, 4), "quota_vcpu": round(self.quota_vcpu, 4),
                "effective_vcpu": round(self.effective_vcpu, 4), "machine_cores": self.machine_cores,
                "capped_by_machine": self.capped_by_machine, "period_us": CFS_PERIOD_US, "note": self.note}


def share_for(memory_mb: int, cores: int | None = None) -> CpuShare:
    """The CPU share of ``memory_mb`` here; ``cores`` defaults to :func:`machine_cores`."""
    cores = cores or machine_cores()
    aws = min(float(AWS_MAX_VCPU), lambda_vcpu(memory_mb))
    effective = min(aws, float(cores))
    capped = aws > cores
    note = None
    if capped:
        note = (f"AWS gives {aws:.2f} vCPU at {memory_mb} MB; this machine has {cores} cores, so the quota "
                f"({aws:.2f} vCPU) is never reached: capped by the machine at {cores}")
    elif aws > 1.0:
        note = (f"{aws:.2f} vCPU above 1 (from {MB_PER_VCPU} MB): a single-threaded handler uses at most one; "
                "only helper threads gain")
    return CpuShare(memory_mb, aws, aws, effective, cores, capped, note)
