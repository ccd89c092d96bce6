"""``make chaos``: the arithmetic of a fault window, the leftover checks, the settings, the per-pid
memory limit, and the local Lambda's answer to a crashed runtime — each shown able to fail."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from twinbench.local_lambda.environments import exit_error_message
from twinbench.local_lambda.errors import FunctionTimeout, RuntimeExited
from twinbench.local_lambda.front import error_response
from twinbench.measure.loadgen import Outcome
from twinbench.reliability import chaos
from twinbench.reliability.chaos.lambda_faults import package_without_model
from twinserve_support.process.cgroup import ProcessMemoryLimit
from twinserve_support.process.wait import wait_until


def _o(sent_s: float, service_ms: float, status: int = 200, lag_ms: float = 0.0) -> Outcome:
    """An outcome sent at ``sent_s`` (intended ``lag_ms`` earlier) answered ``service_ms`` later."""
    done = sent_s + service_ms / 1000
    return Outcome(status=status, latency_ms=service_ms + lag_ms, service_ms=service_ms, send_lag_ms=lag_ms,
                   done_s=done, error=None if status else "ServerDisconnectedError")


def _stream(rate: float, duration_s: float, latency_ms: float = 2.0) -> list[Outcome]:
    return [_o(i / rate, latency_ms) for i in range(int(rate * duration_s))]


def test_a_failure_in_flight_at_the_kill_is_counted_in_the_window_and_as_held():
    outcomes = _stream(100, 10)
    outcomes.append(_o(4.995, 20.0, status=0))  # sent just before the kill at 5 s, reset by it
    figures = chaos.analyse(outcomes, t_fault_s=5.0, duration_s=10.0)
    assert figures["failed"] == 1 and figures["failed_by_status"] == {"ServerDisconnectedError": 1}
    assert figures["failed_in_flight_at_fault"] == 1 and figures["in_flight_at_fault"] >= 1
    assert figures["baseline"]["errors"] == 0 and figures["baseline"]["p99_ms"] == pytest.approx(2.0, abs=0.05)
    assert figures["recovery_s"] == 0.0  # nothing else was disturbed


def test_a_failure_sent_after_the_kill_is_not_held_in_flight():
    outcomes = _stream(100, 10) + [_o(5.5, 1.0, status=0)]
    figures = chaos.analyse(outcomes, t_fault_s=5.0, duration_s=10.0)
    # the container check (failed == failed held in flight) would fail on this stream
    assert figures["failed"] == 1 and figures["failed_in_flight_at_fault"] == 0
    assert figures["failed_sent_s"] == [pytest.approx(0.5)]


def test_recovery_is_the_first_of_two_good_bins_after_a_disturbance():
    outcomes = _stream(100, 5) + [_o(5 + i / 100, 2.0 if i >= 250 else 80.0) for i in range(500)]
    figures = chaos.analyse(outcomes, t_fault_s=5.0, duration_s=10.0)
    assert figures["recovery_s"] == pytest.approx(3.0)  # slow until 7.5 s: bin [7, 8) is still bad
    assert figures["recovery"]["bins"][0]["good"] is False


def test_no_recovery_within_the_window_is_none():
    outcomes = _stream(100, 5) + [_o(5 + i / 100, 2.0, status=502) for i in range(500)]
    assert chaos.analyse(outcomes, t_fault_s=5.0, duration_s=10.0)["recovery_s"] is None


def test_a_throughput_dip_delays_recovery_even_with_low_latency():
    # no answer completes in [5, 7): queued requests complete at 7 s with the service time they had
    outcomes = _stream(100, 5) + [_o(max(5 + i / 100, 7.0), 1.0) for i in range(500)]
    rec = chaos.recovery(outcomes, 5.0, 10.0, baseline_p99_ms=2.0, baseline_rps=100.0)
    assert rec["bins"][0]["completed_rps"] == 0 and rec["recovery_s"] is not None and rec["recovery_s"] >= 2.0


def test_leftovers_sees_a_live_process_and_a_listening_port_and_forgets_them_once_gone():
    seen = chaos.Leftovers()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    seen.add([proc.pid], [port])
    assert chaos.leftovers(seen) == {"pids": [proc.pid], "ports": [port]}
    proc.kill()
    wait_until(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE, 10.0, what="the killed child a zombie")
    assert chaos.leftovers(seen)["pids"] == [proc.pid]  # a zombie nobody reaped is still left running
    proc.wait()
    sock.close()
    assert chaos.leftovers(seen) == {"pids": [], "ports": []}


def test_settings_refuse_unknown_faults_and_non_finite_lengths():
    with pytest.raises(ValueError, match="unknown fault"):
        chaos.ChaosSettings(faults=("worker-sigkill", "meteor"))
    with pytest.raises(ValueError, match="pre_s"):
        chaos.ChaosSettings(pre_s=float("nan"))
    with pytest.raises(ValueError, match="rps"):
        chaos.ChaosSettings(rps=-1.0)
    assert chaos.ChaosSettings(faults=("env-timeout", "worker-stall")).targets() == ["lambda", "container"]


@pytest.mark.parametrize("argv", [["--faults", "meteor"], ["--pre-s", "nan"], ["--rps", "x"], ["--window-s", "-1"]])
def test_chaos_cli_bad_input_is_one_line_and_exit_2(argv: list[str]):
    done = subprocess.run([sys.executable, "-m", "twinbench", "chaos", *argv], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip()


def test_pod_gunicorn_timeout_comes_from_the_config(tmp_path: Path):
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text('timeout = _int("GUNICORN_TIMEOUT", 45)\n')
    assert chaos.pod_gunicorn_timeout_s(conf) == 45
    assert chaos.pod_gunicorn_timeout_s(tmp_path / "missing.py") == 30
    assert chaos.pod_gunicorn_timeout_s() >= 1


def test_a_crashed_runtime_is_a_502_runtime_exit_error_with_api_gateways_body():
    response = error_response(RuntimeExited(exit_error_message(-signal.SIGKILL)), "req-1")
    assert response.status == 502
    assert response.headers["x-local-lambda-error"] == "Runtime.ExitError"
    assert json.loads(response.body) == {"message": "Internal Server Error"}
    assert exit_error_message(-signal.SIGKILL) == "Runtime exited with error: signal: killed"
    assert exit_error_message(1) == "Runtime exited with error: exit status 1"
    timeout = error_response(FunctionTimeout("Task timed out after 2.00 seconds"), "req-2")
    assert timeout.status == 504 and timeout.headers["x-local-lambda-error"] == "Sandbox.Timedout"


def test_package_without_model_links_the_libraries_and_copies_the_core(tmp_path: Path):
    pkg = tmp_path / "pkg"
    (pkg / "model").mkdir(parents=True)
    (pkg / "model" / "metadata.json").write_text("{}")
    (pkg / "twinserve").mkdir()
    (pkg / "twinserve" / "settings.py").write_text("")
    (pkg / "numpy").mkdir()
    (pkg / "handler.py").write_text("")
    copy = package_without_model(pkg, tmp_path / "copy")
    assert not (copy / "model").exists()
    assert (copy / "numpy").is_symlink() and not (copy / "twinserve").is_symlink()
    assert (copy / "handler.py").is_file() and not (copy / "handler.py").is_symlink()
    with pytest.raises(chaos.FaultError):
        package_without_model(tmp_path / "nothing", tmp_path / "copy2")


@pytest.mark.slow
def test_a_process_over_its_lowered_memory_limit_is_oom_killed_by_the_kernel():
    # Negative control first: the same process under a limit it stays within lives on.
    code = "import sys, time\nsys.stdin.readline()\nx = bytearray(int(sys.argv[1]))\nprint('alive', flush=True)\ntime.sleep(5)"
    for alloc_kb, killed in ((64, False), (65536, True)):
        proc = subprocess.Popen([sys.executable, "-c", code, str(alloc_kb * 1024)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        with ProcessMemoryLimit(proc.pid, 16384) as limit:
            if not limit.applied:
                proc.kill()
                proc.wait()
                pytest.skip(f"no writable memory cgroup here: {limit.reason}")
            proc.stdin.write("go\n")
            proc.stdin.flush()
            # "alive" once it holds its allocation; end of output (no line) once the kernel killed it
            said = proc.stdout.readline().strip()
            oom = limit.oom_kills()
        proc.kill()
        proc.wait()
        if killed:
            assert said == "" and proc.returncode == -signal.SIGKILL and oom == 1
        else:
            assert said == "alive" and oom == 0


def test_memory_limit_refuses_nonsense():
    with pytest.raises(ValueError):
        ProcessMemoryLimit(os.getpid(), 0)
