"""Faults under load: ``python -m twinbench chaos`` / ``make chaos``.

A steady open-loop stream (:class:`~twinbench.measure.loadgen.LoadGenerator`, coordinated-omission
corrected) at ``load_fraction`` of each target's saturation runs while one fault at a time is
injected, each in its own step: ``pre_s`` of quiet stream (the baseline p99 and throughput), the
fault, then ``window_s`` of stream to watch the target recover. Everything listens on 127.0.0.1;
every process started is stopped, and checked with ``psutil`` (no pid alive, no port listening).

Container (gunicorn exactly as the image runs it, under the pod's CPU/memory limits):

* ``worker-sigkill`` — SIGKILL one worker; gunicorn's arbiter forks a replacement.
* ``worker-oom`` — one worker is moved into a memory group of its own
  (:class:`~twinserve_support.process.cgroup.ProcessMemoryLimit`) and sent large but valid batches
  until the kernel's OOM killer ends it: a worker over its memory limit, killed by the kernel.
* ``worker-stall`` — SIGSTOP one worker past gunicorn's ``timeout``: the arbiter's heartbeat check
  must kill (SIGABRT, which a stopped process keeps pending; gunicorn.conf.py's ``when_ready`` hook
  adds SIGCONT so it is taken at once) and replace it.
* ``master-sigkill`` — SIGKILL the master. Nothing inside the pod restarts it: the workers notice
  their parent is gone and exit, and the kubelet restarts the container (with its own back-off).
  The bench stands in for the kubelet by starting a new gunicorn on the same port at once, so
  "recovery" here is a container restart without back-off or image pull.

Local Lambda (real ``awslambdaric`` processes, ``LAMBDA_TIMEOUT_S``-style short function timeout):

* ``env-sigkill`` — one execution environment is SIGSTOPped until it has been handed an
  invocation, then SIGKILLed: the caller gets what API Gateway returns for a crashed runtime
  (502, ``Runtime.ExitError``); the environment is discarded and a new one starts cold when needed.
* ``init-failure`` — a copy of the package without ``model/`` (links to the rest): every request
  is a cold start whose init fails; the function's error (502) comes back, never a hang.
* ``env-timeout`` — one environment is SIGSTOPped and left: the invocation it holds runs past the
  function timeout, gets 504, and the environment is destroyed.

The bench itself:

* ``target-vanishes`` — the container's whole process group is SIGKILLed mid-step: the step must
  end on time with every failure counted (connection refused), and the run goes on.
* ``interrupt-sigint`` / ``interrupt-sigterm`` — a child ``twinbench chaos`` is interrupted mid-run:
  it must exit 130 with its partial ``chaos.json`` marked ``interrupted``, leaving nothing running.

Per fault: requests sent in the fault window, failed (by status), time to recover to the pre-fault
p99 and throughput (:func:`recovery`), what was replaced, and whether anything was left running.

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
