"""Faults under load: ``python -m twinbench chaos`` / ``make chaos``.

A steady open-loop stream (:class:`~twinbench.measure.loadgen.LoadGenerator`, coordinated-omission
corrected) at ``load_fraction`` of each target's saturation runs while one fault at a time is
injected: ``pre_s`` of quiet stream (the baseline), the fault, then ``window_s`` to watch the target
recover. Per fault: requests sent in the fault window, failed (by status), time to recover to the
pre-fault p99 and throughput, what was replaced, and whether anything was left running (checked with
``psutil``). The faults themselves are listed in :mod:`.settings`; the figures of the last run are in
docs/reliability.md.

The modules: :mod:`.settings` (fault names, settings, fixed rules), :mod:`.stream` (one fault step),
:mod:`.recovery` (the figures of a step), :mod:`.leftovers` (what is left running),
:mod:`.container_faults`, :mod:`.lambda_faults`, :mod:`.interrupt`, :mod:`.runner` (the run) and
:mod:`.summary` (the printed table).
"""

from __future__ import annotations

from twinbench.reliability.chaos.lambda_faults import lost_by_status
from twinbench.reliability.chaos.leftovers import Leftovers, leftovers
from twinbench.reliability.chaos.recovery import analyse, recovery
from twinbench.reliability.chaos.runner import run
from twinbench.reliability.chaos.settings import (
    ALL_FAULTS,
    BENCH_FAULTS,
    CONTAINER_FAULTS,
    LAMBDA_FAULTS,
    ChaosSettings,
    FaultError,
    pod_gunicorn_timeout_s,
)
from twinbench.reliability.chaos.summary import summary_lines
from twinbench.results.documents import ChaosResults

__all__ = [
    "CONTAINER_FAULTS", "LAMBDA_FAULTS", "BENCH_FAULTS", "ALL_FAULTS", "ChaosResults", "ChaosSettings",
    "FaultError", "Leftovers", "analyse", "leftovers", "lost_by_status", "pod_gunicorn_timeout_s", "recovery", "run",
    "summary_lines",
]
