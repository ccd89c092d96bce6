"""One cgroup module: the core reads a CPU limit (twinserve.cgroup_cpus), the bench creates them
(twinserve_support.process.cgroup); a limit the bench creates is the one the reader sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from twinserve import cgroup_cpus
from twinserve_support.process import cgroup


def test_parse_cpu_max_and_cfs():
    assert cgroup_cpus.parse_cpu_max("150000 100000\n") == 1.5
    assert cgroup_cpus.parse_cpu_max("max 100000") is None
    assert cgroup_cpus.parse_cfs_quota("-1", "100000") is None
    assert cgroup_cpus.parse_cfs_quota("50000\n", "100000\n") == 0.5
    with pytest.raises(ValueError):
        cgroup_cpus.parse_cpu_max("garbage")


def test_own_cgroups_v1_and_v2():
    text = "4:memory:/a\n3:cpu,cpuacct:/user.slice\n0::/user.slice/session-1.scope\n"
    own = cgroup_cpus.own_cgroups(text)
    assert own["cpu"] == own["cpuacct"] == "/user.slice" and own["memory"] == "/a"
    assert own[""] == "/user.slice/session-1.scope"
    assert cgroup_cpus.own_cgroups("0::/\n") == {"": "/"}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v2_tightest_quota_on_the_path_to_the_root(tmp_path: Path):
    _write(tmp_path / "cgroup.controllers", "cpu memory")
    _write(tmp_path / "pod" / "cpu.max", "200000 100000")
    _write(tmp_path / "pod" / "ctr" / "cpu.max", "max 100000")
    assert cgroup_cpus.cpu_quota_cores(tmp_path, "0::/pod/ctr\n") == 2.0
    _write(tmp_path / "cpu.max", "150000 100000")  # a container's namespaced root (the pod limit)
    assert cgroup_cpus.cpu_quota_cores(tmp_path, "0::/\n") == 1.5
    assert cgroup_cpus.available_cpus(tmp_path, "0::/\n") == min(2, len(os.sched_getaffinity(0)))


def test_v1_cfs_quota_and_no_quota(tmp_path: Path):
    _write(tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1")
    _write(tmp_path / "cpu,cpuacct" / "cpu.cfs_period_us", "100000")
    _write(tmp_path / "cpu,cpuacct" / "job" / "cpu.cfs_quota_us", "50000")
    _write(tmp_path / "cpu,cpuacct" / "job" / "cpu.cfs_period_us", "100000")
    assert cgroup_cpus.cpu_quota_cores(tmp_path, "2:cpu,cpuacct:/job\n") == 0.5
    assert cgroup_cpus.available_cpus(tmp_path, "2:cpu,cpuacct:/job\n") == 1
    assert cgroup_cpus.cpu_quota_cores(tmp_path, "2:cpu,cpuacct:/\n") is None
    assert cgroup_cpus.cpu_quota_cores(tmp_path / "nothing", "0::/\n") is None


def test_creator_never_raises_where_not_allowed(tmp_path: Path):
    limit = cgroup.CgroupLimit("x", cpus=1.0, memory_mb=256, root=tmp_path / "no-cgroupfs")
    assert not limit.applied and limit.describe()["reason_not_applied"]
    assert limit.attach(1) is False and limit.pids() == set() and limit.memory_peak_mb() is None
    limit.close()
    assert cgroup.CgroupLimit("x", cpus=1.0, enabled=False).describe()["reason_not_applied"] == "disabled"


def test_a_limit_the_bench_creates_is_what_the_core_reads():
    """gunicorn.conf.py sizes its workers from the reader; the local container sets the limit."""
    with cgroup.CgroupLimit("reader", cpus=0.5, memory_mb=256) as limit:
        if not limit.cpu_applied:
            pytest.skip(f"no writable cgroup here: {limit.describe()['reason_not_applied']}")
        code = ("import json; from twinserve.cgroup_cpus import available_cpus, cpu_quota_cores; "
                "print(json.dumps([cpu_quota_cores(), available_cpus()]))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             preexec_fn=limit.preexec, timeout=60).stdout
        assert json.loads(out) == [0.5, 1]
        name = limit.name
    assert name.startswith("twinbench-reader-") and not limit.dirs


def test_per_environment_quota_children_and_cleanup():
    quota = cgroup.CpuQuota(1024 / 1769)
    if not quota.applied:
        pytest.skip(f"no writable cgroup here: {quota.reason}")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert quota.attach("env-1", proc.pid)
        assert "twinbench-lambda-" in Path(f"/proc/{proc.pid}/cgroup").read_text()
        assert quota.describe()["cpu_quota_us_per_period"] == 57886
    finally:
        proc.kill()
        proc.wait()
    quota.close()
    assert quota.applied and quota.describe()["cpu_quota_applied"] is True  # what ran, for the results
