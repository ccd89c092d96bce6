"""Power-tuning the local Lambda: one emulator per memory size, under that size's CPU quota.

Per size, a fresh ``serve-lambda`` process (:class:`twinbench.targets.lambda_process.LambdaProcess`)
with ``--memory-mb`` and a concurrency cap of 1: ``cold`` forced cold samples, then ``warmup``
discarded and ``warm`` measured invocations, priced on their REPORT lines' Billed Duration.

Details (the steps, what the durations include): docs/benchmark.md, 'Local tuning (tune/local.py)'.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from twinserve.headers import parse_cold_flag

from twinbench.local_lambda.events import LOCAL_REQUEST_ID_HEADER as REQUEST_ID_HEADER
from twinbench.tune.errors import TuneRunError
from twinbench.tune.observations import ColdObservation, CpuMeter, SizeRun
from twinbench.tune.profiles import TuneProfile

__all__ = ["GENERATOR", "LocalTuneConfig", "run_local"]

IDLE_S = 3600.0  # the reaper must not end an environment mid-run: cold starts are forced explicitly
REQUEST_TIMEOUT_S = 60.0
GENERATOR = "twinbench bench-tune: sequential http.client requests from the tuner's own process"


@dataclass(frozen=True)
class LocalTuneConfig:
    """What to run: the unzipped package, the request bodies (sent round-robin: the model's registered
    rows), the profile, the pause between warm calls."""

    package_dir: Path
    bodies: Sequence[bytes]
    profile: TuneProfile
    memory_mb: Sequence[int]
    gap_ms: float = 0.0
    log_dir: Path | None = None
    path: str = "/predict"


class _Connection:
    """One kept-alive HTTP connection to the emulator's front; reopened after any error."""

    def __init__(self, url: str) -> None:
        host_port = url.split("://", 1)[1]
        host, _, port = host_port.partition(":")
        self.host, self.port = host, int(port)
        self._conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> tuple[int, dict[str, str]]:
        """(status, lower-cased headers); status 0 when no answer came."""
        for attempt in range(2):  # a kept-alive connection the server closed fails once, then reopens
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
            try:
                self._conn.request("POST", path, body=body, headers={"content-type": "application/json"})
                resp = self._conn.getresponse()
                resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    return 0, {}
        return 0, {}

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None




def _measure_size(config: LocalTuneConfig, memory_mb: int, progress: Callable[[str], None]) -> SizeRun:
    from twinbench.targets.lambda_process import LambdaProcess, LambdaStartError

    run = SizeRun(memory_mb=memory_mb)
    profile = config.profile
    log = config.log_dir / f"lambda-{memory_mb}mb.log" if config.log_dir else None
    started = time.perf_counter()
    try:
        lam = LambdaProcess(config.package_dir, memory_mb=memory_mb, idle_s=IDLE_S, log_path=log,
                            env={"LAMBDA_ACCOUNT_CONCURRENCY": "1"})
        lam.__enter__()
    except LambdaStartError as exc:
        raise TuneRunError(f"the local Lambda did not start at {memory_mb} MB: {exc}") from exc
    try:
        stats = lam.stats()
        run.cpu_quota = dict(stats.get("cpu_quota", {}))
        conn = _Connection(lam.url)
        bodies = itertools.cycle(config.bodies)  # every size gets the same sequence of rows
        cold_ids: list[tuple[str | None, int, bool | None]] = []
        warm_ids: list[str] = []
        meter = CpuMeter(GENERATOR, helper_pid=lam.process.pid,
                         helper="local Lambda front + Runtime API (the serve-lambda process; environments excluded)")
        with meter.phase("cold"):
            for i in range(profile.cold):
                lam.reap_all()
                conn.close()  # a cold start comes with a new connection, as after an idle period
                status, headers = conn.post(config.path, next(bodies))
                cold_ids.append((headers.get(REQUEST_ID_HEADER), status, parse_cold_flag(headers)))
                progress(f"{memory_mb} MB: cold {i + 1}/{profile.cold}")
        with meter.phase("warm"):
            for i in range(profile.warmup + profile.warm):
                status, headers = conn.post(config.path, next(bodies))
                if i >= profile.warmup:
                    if 200 <= status < 300 and headers.get(REQUEST_ID_HEADER):
                        warm_ids.append(headers[REQUEST_ID_HEADER])
                    else:
                        run.fail(status)
                if config.gap_ms > 0:
                    time.sleep(config.gap_ms / 1000.0)
        run.warmup_discarded = profile.warmup
        progress(f"{memory_mb} MB: warm {profile.warm}/{profile.warm}")
        conn.close()
        run.cpu = meter.result
        reports = {r.get("request_id"): r for r in lam.reports}
        final = lam.stats()
        run.cpu_quota = dict(final.get("cpu_quota", run.cpu_quota))
    finally:
        lam.__exit__(None, None, None)
    _fill(run, cold_ids, warm_ids, reports)
    run.wall_s = round(time.perf_counter() - started, 3)
    return run


def _fill(run: SizeRun, cold_ids: list[tuple[str | None, int, bool | None]], warm_ids: list[str],
          reports: dict[str | None, dict]) -> None:
    """Join the answers with their REPORT records: cold samples, warm billed durations, the counts."""
    peak = 0
    for request_id, status, verified in cold_ids:
        report = reports.get(request_id) if request_id else None
        if not 200 <= status < 300:
            run.fail(status)
        if verified is False:
            run.misclassified_cold += 1
            continue
        if report is None:
            run.missing_reports += 1
            continue
        peak = max(peak, int(report.get("max_memory_used_mb") or 0))
        run.cold.append(ColdObservation(request_id=request_id, status=status,
                                        init_duration_ms=report.get("init_duration_ms"),
                                        duration_ms=report.get("duration_ms"),
                                        billed_duration_ms=report.get("billed_duration_ms"),
                                        verified_cold=verified))
    for request_id in warm_ids:
        report = reports.get(request_id)
        if report is None:
            run.missing_reports += 1
            continue
        peak = max(peak, int(report.get("max_memory_used_mb") or 0))
        if report.get("init_duration_ms") is not None:
            run.unexpected_cold += 1  # a new environment in the warm phase: not a warm figure
            continue
        run.warm_billed_ms.append(int(report["billed_duration_ms"]))
        run.warm_duration_ms.append(float(report["duration_ms"]))
    run.max_memory_used_mb = peak or None


def run_local(config: LocalTuneConfig, into: list[SizeRun], progress: Callable[[str], None] = lambda s: None) -> None:
    """Measure every size of ``config`` in turn, appending each finished :class:`SizeRun` to ``into``.

    Appending as it goes keeps the finished sizes when Ctrl-C / SIGTERM ends the run early.
    Raises :class:`TuneRunError` when an emulator does not start.
    """
    for memory_mb in config.memory_mb:
        into.append(_measure_size(config, memory_mb, progress))
