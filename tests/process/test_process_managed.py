"""ManagedProcess: spawn in a group, ready by probe with spawn->ready timing, typed errors with the
log's tail, and a stop that leaves nothing running (the group and descendants that left it)."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from twinbench.targets.lambda_process import LambdaStartError
from twinbench.targets.serverless_offline import OfflineLambdaError
from twinserve_support.local_container import ContainerStartError
from twinserve_support.podman import PodmanStartError
from twinserve_support.process.managed import ManagedProcess, ProcessNotReady, http_probe
from twinserve_support.process.net import free_port
from twinserve_support.process.wait import wait_until

# A server with a worker in its group and a "runtime" in a session of its own (as the local
# Lambda's environments are); it answers 200 on any GET once up.
SERVER = textwrap.dedent("""
    import http.server, os, subprocess, sys, time
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    escaped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    print("pids", worker.pid, escaped.pid, flush=True)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers()
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


class DemoStartError(ProcessNotReady):
    pass


def test_every_target_start_error_is_a_process_not_ready():
    for error in (ContainerStartError, LambdaStartError, OfflineLambdaError, PodmanStartError):
        assert issubclass(error, ProcessNotReady)


def test_ready_by_url_then_stop_leaves_nothing(tmp_path: Path):
    port = free_port()
    log = tmp_path / "server.log"
    with ManagedProcess([sys.executable, "-c", SERVER, str(port)], name="demo", log_path=log,
                        ready=http_probe(port, "/"), ready_timeout_s=30, grace_s=2) as proc:
        assert proc.ready_ms is not None and 0 < proc.ready_ms < 30_000
        pids = [int(p) for p in log.read_text().split("pids", 1)[1].split()[:2]]
        assert {c.pid for c in proc.children()} >= set(pids)
        assert proc.rss_bytes() > 0 and proc.cpu_seconds() > 0
        pgid = proc.pgid
    assert proc.returncode is not None and not proc.group_alive()
    for pid in pids:  # the group's worker and the descendant in its own session
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_exit_before_ready_raises_the_callers_type_with_the_log(tmp_path: Path):
    log = tmp_path / "crash.log"
    proc = ManagedProcess([sys.executable, "-c", "print('model file missing'); raise SystemExit(3)"],
                          name="crasher", log_path=log, ready=lambda: False, error=DemoStartError)
    with pytest.raises(DemoStartError, match=r"(?s)crasher exited with 3 before it was ready.*model file missing"):
        proc.__enter__()
    assert not proc.running


def test_timeout_names_the_probe_and_stops_the_process():
    proc = ManagedProcess([sys.executable, "-c", "import time; time.sleep(60)"], name="sleeper",
                          ready=http_probe(free_port(), "/ready"), ready_timeout_s=0.5)
    t0 = time.perf_counter()
    with pytest.raises(ProcessNotReady, match=r"sleeper not ready after 0.5 s \(GET 127.0.0.1:\d+/ready -> 200\)"):
        proc.__enter__()
    # stopped by the timeout, not waited for: the sleeper would live 60 s (a generous bound for a loaded machine)
    assert time.perf_counter() - t0 < 30 and not proc.running and proc.pid is None
    assert "no log" in proc.log_tail()


def test_cannot_spawn_is_the_same_error_type():
    with pytest.raises(DemoStartError, match="cannot start ghost"):
        ManagedProcess(["/nonexistent/binary"], name="ghost", error=DemoStartError).start()


def test_sigterm_ignored_means_sigkill_after_the_grace(tmp_path: Path):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = ManagedProcess([sys.executable, "-c", code], name="stubborn", grace_s=0.5, log_path=tmp_path / "stubborn.log")
    proc.start()
    wait_until(lambda: "up" in proc.log_text(), 30.0, what="SIGTERM ignored (the child said 'up')")
    proc.stop()
    assert proc.returncode == -9 and proc.stop_ms is not None and proc.stop_ms >= 400


def test_limits_go_through_the_one_cgroup_module():
    proc = ManagedProcess([sys.executable, "-c", "import time; time.sleep(30)"], name="limited", cpus=0.5,
                          memory_mb=256)
    proc.start()
    try:
        assert proc.cgroup is not None
        if not proc.cgroup.applied:
            pytest.skip(f"no writable cgroup here: {proc.cgroup.describe()['reason_not_applied']}")
        assert proc.pid in proc.cgroup.pids()
    finally:
        proc.stop(grace_s=1)
    assert proc.cgroup.dirs == {} and proc.cgroup.describe()["cpu_quota_applied"] is True
