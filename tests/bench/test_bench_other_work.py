"""The step's "other work": CPU used by neither the load generator nor the server, and steal.
Measured for real with a busy child process: counted as other work unless it is declared own."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest
from twinbench.measure.http_limit import render, summarise
from twinbench.measure.other_work import CpuSnapshot, OtherWork, other_work, snapshot

# A fixed amount of CPU, not of wall time: on a loaded machine a second of wall time may be a
# third of a second of CPU.
_BURN = "import time\nwhile time.process_time() < 1.0: pass\n"


def _burn_one_cpu_second() -> float:
    """Spin in a child until it has used one CPU second; returns the child's CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", _BURN], check=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_a_busy_process_is_other_work_unless_it_is_our_own():
    cpus = os.cpu_count() or 1
    before = snapshot()
    burned = _burn_one_cpu_second()
    after = snapshot()
    capacity = (after.at_s - before.at_s) * cpus  # CPU seconds the machine had over the step
    assert burned >= 1.0
    foreign = other_work(before, after, own_cpu_s=0.0, cpus=cpus)
    own = other_work(before, after, own_cpu_s=burned, cpus=cpus)
    # The child's CPU seconds are in the machine's busy time (ticks of 10 ms: a small margin) ...
    assert foreign.other_cpu_share * capacity >= 0.9 * burned
    # ... and declared own, they leave it (whatever else the machine was doing meanwhile).
    assert (foreign.other_cpu_share - own.other_cpu_share) * capacity >= 0.9 * burned


def test_shares_are_of_all_cpus_and_never_negative():
    before, after = CpuSnapshot(0.0, 100.0, 5.0), CpuSnapshot(10.0, 112.0, 6.0)
    work = other_work(before, after, own_cpu_s=10.0, cpus=2)
    assert work.other_cpu_share == pytest.approx(0.1) and work.steal_share == pytest.approx(0.05)
    assert other_work(before, after, own_cpu_s=50.0, cpus=2).other_cpu_share == 0.0
    assert not OtherWork(0.10, 0.05).disturbed() and OtherWork(0.11, 0.0).disturbed() and OtherWork(0.0, 0.051).disturbed()


def _step(server: str, round_: int, rps: float, other: float, steal: float = 0.0) -> dict:
    return {"server": server, "round": round_, "rps": rps, "p99_ms": 5.0, "load_avg_1m": 4.5,
            "other_cpu_share": other, "steal_share": steal,
            "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}}


def _document(runs: list[dict]) -> dict:
    names = ["noop", "twinserve"]
    return {"settings": {"rounds": 1, "concurrency": 32, "duration_s": 10.0, "model": "m", "answer_bytes": 219,
                         "connections": "closed"},
            "environment": {"cpus": 2}, "variants": {n: n for n in names}, "runs": runs,
            "summary": summarise(runs, names), "path": "limit.json"}


def test_the_report_warns_on_other_work_not_on_its_own_load():
    quiet = render(_document([_step("noop", 1, 8000.0, 0.02), _step("twinserve", 1, 6000.0, 0.03)]))
    assert "WARNING" not in quiet  # a load average of 4.5 is the benchmark's own
    busy = render(_document([_step("noop", 1, 8000.0, 0.02), _step("twinserve", 1, 6000.0, 0.25, 0.01)]))
    assert "WARNING: other work or the hypervisor took CPU in 1 of 2 steps (worst: twinserve round 1, other work 25%" in busy
