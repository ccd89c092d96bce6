"""``python -m twinbench serve-lambda``: foreground server that stops cleanly, and the overhead figure."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from twinbench.aws.report_line import parse_report_line
from twinbench.local_lambda.settings import DEFAULT_PYTHON
from twinserve_support.paths import REPO  # noqa: E402
from twinserve_support.process.cgroup import CpuQuota
from twinserve_support.process.pids import pid_alive
from twinserve_support.process.wait import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DEFAULT_PYTHON.exists(),
                       reason=f"{DEFAULT_PYTHON} missing: run `make .venv-lambda/.stamp`"),
]

HANDLER = '''\
import json, os


def handler(event, context):
    return {"statusCode": 200, "headers": {"x-pid": str(os.getpid())}, "body": json.dumps({"ok": True})}
'''


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO / 'shared'}:{REPO / 'scripts'}", "LAMBDA_MEMORY_MB": "256"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_answer(proc: subprocess.Popen, url: str) -> requests.Response:
    """The first answer from ``url`` once the emulator listens; fails at once if it exited."""
    answers: list[requests.Response] = []

    def answered() -> bool:
        assert proc.poll() is None, f"serve-lambda exited with {proc.returncode}"
        try:
            answers.append(requests.get(url, timeout=10))
        except requests.ConnectionError:
            return False
        return True

    wait_until(answered, 30.0, what=f"serve-lambda answering {url}", poll_s=0.1)
    return answers[0]


def test_help_names_the_settings():
    out = subprocess.run([sys.executable, "-m", "twinbench", "serve-lambda", "--help"], env=_env(),
                         capture_output=True, text=True, check=True, timeout=60).stdout
    for word in ("LAMBDA_MEMORY_MB", "LAMBDA_RESERVED_CONCURRENCY", "LAMBDA_IDLE_S", "LAMBDA_TIMEOUT_S", "--overhead"):
        assert word in out


def test_missing_package_exits_2(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "twinbench", "serve-lambda", "--package", str(tmp_path / "nope")],
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_serves_prints_report_lines_and_stops_on_sigint(tmp_path: Path):
    (tmp_path / "handler.py").write_text(HANDLER)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "twinbench", "serve-lambda", "--package", str(tmp_path),
                             "--port", str(port), "--reserved-concurrency", "1"],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        answer = _first_answer(proc, url + "/hello")
        assert answer.status_code == 200 and answer.json() == {"ok": True}
        pid = int(answer.headers["x-pid"])
        stats = requests.get(url + "/_local_lambda/stats", timeout=10).json()
        assert stats["settings"]["memory_mb"] == 256 and stats["settings"]["reserved_concurrency"] == 1
        assert requests.get(url + "/_local_lambda/reports", timeout=10).json()[0]["cold_start"] is True
        assert requests.post(url + "/_local_lambda/reap", timeout=10).json() == {"reaped": 1}
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    reports = [parse_report_line(line) for line in stdout.splitlines() if line.startswith("REPORT ")]
    assert len(reports) == 1 and reports[0].memory_size_mb == 256 and reports[0].init_duration_ms is not None
    assert "CPU quota" in stderr
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_overhead_figure_prints_n_median_p99_and_writes_a_valid_document(tmp_path: Path):
    from twinbench.results import document, formats

    out = tmp_path / "overhead.json"
    done = subprocess.run([sys.executable, "-m", "twinbench", "serve-lambda", "--overhead", "-n", "40",
                           "--warmup", "5", "--json", str(out)], env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "through the emulator   n=40" in done.stdout and "handler in-process     n=40" in done.stdout
    assert "overhead: median" in done.stdout and "p99" in done.stdout
    document.validate(json.loads(out.read_text()), formats.LAMBDA_OVERHEAD)


def test_runtimes_die_with_a_sigkilled_emulator(tmp_path: Path):
    (tmp_path / "handler.py").write_text(HANDLER)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "twinbench", "serve-lambda", "--package", str(tmp_path),
                             "--port", str(port), "--quiet"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid = int(_first_answer(proc, f"http://127.0.0.1:{port}/").headers["x-pid"])
    finally:
        proc.kill()  # no chance to clean up: the kernel's parent-death signal must do it
        proc.wait()
    wait_until(lambda: not pid_alive(pid, zombies_gone=True), 10.0, what="the runtime gone after its emulator was SIGKILLed")

    # The next emulator removes the SIGKILLed one's cgroup once it is empty (a zombie keeps it busy).
    def cleaned_up() -> bool:
        CpuQuota(0.5).close()
        return not list(Path("/sys/fs/cgroup/cpu").glob(f"twinbench-lambda-{proc.pid}-*"))

    wait_until(cleaned_up, 10.0, what="the SIGKILLed emulator's cgroup removed by the next one", poll_s=0.2)
