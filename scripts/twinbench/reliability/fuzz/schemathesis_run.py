"""schemathesis against the container and the WSGI Lambda, run from ``.venv-fuzz`` as a separate process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from twinserve_support.paths import REPO  # noqa: E402

from twinbench.measure.progress import Progress
from twinbench.reliability.fuzz.oracle import COUNTS_ENV
from twinbench.reliability.fuzz.settings import FuzzSettings, WrapperReport


def _read_counts(path: Path) -> dict:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text())
    return {}


def run_schemathesis(report: WrapperReport, schema_url: str, base_url: str, settings: FuzzSettings,
                     out_dir: Path, progress: Progress, max_rounds: int = 6) -> None:
    """Run ``schemathesis run`` (separate process, own venv) until ``settings.n`` requests were sent.

    Each round uses another seed; the tally comes from :mod:`twinbench.reliability.fuzz_st_hooks`. A round that
    fails its checks (5xx, non-JSON 4xx) is a problem; its log stays in ``out_dir``.
    """
    if not settings.schemathesis.exists():
        raise FileNotFoundError(f"{settings.schemathesis} not found: run `make fuzz` (it creates .venv-fuzz)")
    started = time.monotonic()
    bad_examples: list[str] = []  # the first answers without the error body, for the report
    for round_no in range(max_rounds):
        remaining = settings.n - report.requests
        budget_s = settings.max_s_per_wrapper - (time.monotonic() - started)
        if remaining <= 0 or budget_s < 5:
            break
        counts_path = out_dir / f"schemathesis-{report.name}-{round_no}.counts.json"
        log_path = out_dir / f"schemathesis-{report.name}-{round_no}.log"
        argv = [str(settings.schemathesis), "run", schema_url, "--url", base_url,
                "--max-examples", str(remaining), "--seed", str(settings.seed + round_no),
                "--checks", "not_a_server_error,json_error_body", "--continue-on-failure",
                "--phases", "examples,coverage,fuzzing", "--mode", "all",
                # Not --max-time: with it schemathesis keeps fuzzing until the time is spent, whatever -n.
                "--request-timeout", "30",
                "--generation-database", "none", "--suppress-health-check", "all",
                "--no-color", "--report", "junit", "--report-junit-path",
                str(out_dir / f"schemathesis-{report.name}-{round_no}.junit.xml")]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "twinbench.reliability.fuzz_st_hooks", COUNTS_ENV: str(counts_path),
               "PYTHONPATH": str(REPO / "scripts")}
        before = report.requests
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out_dir,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                while proc.poll() is None:
                    if time.monotonic() - started > settings.max_s_per_wrapper:
                        raise TimeoutError(f"schemathesis ran past {settings.max_s_per_wrapper:.0f} s")
                    sent = before + int(_read_counts(counts_path).get("requests", 0))
                    progress.update(f"{sent}/{settings.n} requests (round {round_no + 1})")
                    time.sleep(1.0)
            finally:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
        counts = _read_counts(counts_path)
        report.requests += int(counts.get("requests", 0))
        report.statuses.update(counts.get("statuses", {}))
        report.network_errors += int(counts.get("network_errors", 0))
        report.bad_error_bodies += int(counts.get("bad_error_bodies", 0))
        bad_examples.extend(counts.get("examples", []))
        if proc.returncode != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-25:]
            report.problems.append(f"schemathesis round {round_no} exited {proc.returncode} (log: {log_path}): "
                                   + " | ".join(line for line in tail if line.strip())[:1500])
            break
        if report.requests == before:
            report.problems.append(f"schemathesis round {round_no} sent no request (log: {log_path})")
            break
    if report.requests < settings.n and not report.problems:
        report.problems.append(f"only {report.requests} of {settings.n} requests within "
                               f"{settings.max_s_per_wrapper:.0f} s")
    if report.network_errors:
        report.problems.append(f"{report.network_errors} requests got no HTTP answer")
    if report.server_errors:
        report.problems.append(f"{report.server_errors} responses >= 500")
    if report.bad_error_bodies:
        report.problems.append(f"{report.bad_error_bodies} 4xx answers without the JSON error body: {bad_examples[:3]}")
