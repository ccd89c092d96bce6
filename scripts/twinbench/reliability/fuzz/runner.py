"""The fuzz run: each wrapper in turn (container, WSGI Lambda, native handler) inside one run folder, and the printed summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from twinserve_support.paths import REPO  # noqa: E402

from twinbench.measure.progress import Progress
from twinbench.reliability.fuzz.crashes import gunicorn_crashes, stable_workers
from twinbench.reliability.fuzz.edge import check_edge, edge_cases
from twinbench.reliability.fuzz.model_inputs import load_fuzz_model, model_dir
from twinbench.reliability.fuzz.native import body_limits, fuzz_native, native_edge_cases
from twinbench.reliability.fuzz.schemathesis_run import run_schemathesis
from twinbench.reliability.fuzz.settings import WSGI_PREFIX, FuzzSettings, WrapperReport
from twinbench.reliability.fuzz.slow_clients import slow_clients
from twinbench.reliability.fuzz.wire import http_request
from twinbench.targets.base import request_body


def _http_suite(report: WrapperReport, base_url: str, schema_url: str, settings: FuzzSettings, out_dir: Path,
                progress: Progress, lambda_sizes: bool) -> None:
    progress.phase(f"{report.name}: schemathesis from {schema_url}")
    t0 = time.perf_counter()
    run_schemathesis(report, schema_url, base_url, settings, out_dir, progress)
    report.duration_s = time.perf_counter() - t0
    progress.done(f"{report.requests} requests in {report.duration_s:.0f} s, 5xx {report.server_errors}, "
                  f"no answer {report.network_errors}")
    max_body, max_rows = body_limits()
    if settings.edge:
        progress.phase(f"{report.name}: edge cases")
        for case in edge_cases(load_fuzz_model(), max_body, max_rows, lambda_sizes):
            answer = http_request(base_url, "POST", "/predict", case.body, case.content_type, chunked=case.chunked)
            report.edge_cases.append(check_edge(case, answer))
        bad = [c for c in report.edge_cases if c["problem"] or c.get("finding")]
        progress.done(f"{len(report.edge_cases) - len(bad)}/{len(report.edge_cases)} as expected")
    if settings.slow_s > 0 and settings.slow_clients > 0:
        progress.phase(f"{report.name}: {settings.slow_clients} slow clients for {settings.slow_s:.0f} s")
        body = request_body(model_dir())
        report.slow_clients = slow_clients(base_url, body, settings.slow_clients, settings.slow_s,
                                           settings.slow_interval_s)
        progress.done(f"{report.slow_clients['normal_requests']} normal requests, "
                      f"{report.slow_clients['normal_failures']} failed, max {report.slow_clients['normal_max_ms']} ms")
    _collect_edge_problems(report)


def _collect_edge_problems(report: WrapperReport) -> None:
    for case in report.edge_cases:
        if case["problem"]:
            report.problems.append(f"edge case {case['case']!r}: {case['problem']}")
        elif case.get("finding"):
            report.findings.append(f"edge case {case['case']!r}: {case['finding']}")
    if report.slow_clients and report.slow_clients["problem"]:
        report.problems.append(f"slow clients: {report.slow_clients['problem']}")


def fuzz_container(settings: FuzzSettings, out_dir: Path, progress: Progress) -> WrapperReport:
    from twinserve_support.local_container import LocalContainer

    report = WrapperReport("container")
    log_path = out_dir / "gunicorn.log"
    progress.phase("container: starting gunicorn (pod config and limits)")
    with LocalContainer(log_path=log_path, env={"GUNICORN_ACCESS_LOG": ""}) as server:
        booted = stable_workers(log_path)
        progress.done(f"{server.url}, workers {booted}")
        report.notes.append(f"gunicorn {server.describe().get('cpus')} CPU limit, workers {booted}")
        _http_suite(report, server.url, server.url + "/openapi.json", settings, out_dir, progress, lambda_sizes=True)
        crashed, lines = gunicorn_crashes(log_path, booted)
        report.crashed_workers = crashed
        if crashed or lines:
            report.problems.append(f"{crashed} gunicorn workers crashed or were replaced; log: {lines}")
    return report


def fuzz_wsgi_lambda(settings: FuzzSettings, out_dir: Path, progress: Progress) -> WrapperReport:
    from twinbench.local_lambda import LocalLambda

    report = WrapperReport("wsgi-lambda")
    package = settings.package_dir
    if not (package / "wsgi_handler.py").exists():
        raise FileNotFoundError(f"no Lambda package at {package}: run `make package-lambda` first")
    progress.phase("wsgi-lambda: starting the local Lambda (awslambdaric, wsgi_handler.handler)")
    log_path = out_dir / "lambda.log"
    with open(log_path, "w", encoding="utf-8") as log, LocalLambda(
            package, handler="wsgi_handler.handler", env={"API_GATEWAY_BASE_PATH": WSGI_PREFIX.strip("/")},
            idle_s=3600.0, timeout_s=30.0, log_stream=log) as fn:
        base = fn.url + WSGI_PREFIX
        progress.done(f"{base} (package {package.relative_to(REPO) if package.is_relative_to(REPO) else package})")
        report.notes.append("over real HTTP: local HTTP API (payload 2.0) front -> awslambdaric -> serverless-wsgi -> Flask")
        report.notes.append("the local front enforces HTTP API's 10 MB request limit but not Lambda's 6 MB "
                            "invoke payload limit; bodies between them reach the app, which refuses them (413)")
        _http_suite(report, base, base + "/openapi.json", settings, out_dir, progress, lambda_sizes=True)
        stats = fn.stats()
        crashed = sum(int(stats.get(key, 0)) for key in ("function_errors", "runtime_exits", "timeouts"))
        report.crashed_workers = crashed
        report.notes.append(f"emulator counters: invocations {stats.get('invocations')}, cold starts "
                            f"{stats.get('cold_starts')}, function errors {stats.get('function_errors', 0)}, "
                            f"runtime exits {stats.get('runtime_exits', 0)}, timeouts {stats.get('timeouts', 0)}")
        if crashed:
            report.problems.append(f"{crashed} function errors / runtime exits / timeouts in the emulator")
    return report


def fuzz_native_lambda(settings: FuzzSettings, progress: Progress) -> WrapperReport:
    report = WrapperReport("native-lambda")
    progress.phase("native-lambda: hypothesis events through handler.handler (in-process)")
    t0 = time.perf_counter()
    fuzz_native(report, settings, progress)
    report.duration_s = time.perf_counter() - t0
    progress.done(f"{report.requests} events in {report.duration_s:.0f} s, raised {report.statuses.get('raised', 0)}")
    if settings.edge:
        native_edge_cases(report)
        _collect_edge_problems(report)
    return report


def run(settings: FuzzSettings, progress: Progress | None = None) -> list[WrapperReport]:
    """Every selected wrapper in turn; returns their reports (also written to ``out_dir/fuzz.json``).

    Interrupted (Ctrl-C, SIGTERM), it writes the wrappers finished so far, marked
    ``"interrupted": true``, then re-raises the ``KeyboardInterrupt``.
    """
    # Imported here, not at module level: twinbench.reliability.fuzz_st_hooks imports this module
    # inside .venv-fuzz, where only the standard library is promised.
    from twinbench.results import formats
    from twinbench.results.documents import FuzzResults
    from twinbench.results.lifecycle import RunLifecycle
    from twinbench.results.run_folder import RunFolder

    progress = progress or Progress()
    folder = (RunFolder(formats.FUZZ, path=settings.out_dir) if settings.out_dir
              else RunFolder(formats.FUZZ, root=REPO / "results", prefix="fuzz"))
    with folder:
        out_dir = folder.path
        reports: list[WrapperReport] = []
        runners: dict[str, Callable[[], WrapperReport]] = {
            "container": lambda: fuzz_container(settings, out_dir, progress),
            "wsgi-lambda": lambda: fuzz_wsgi_lambda(settings, out_dir, progress),
            "native-lambda": lambda: fuzz_native_lambda(settings, progress),
        }
        started = time.perf_counter()

        def write() -> None:
            payload = FuzzResults(
                settings={"n": settings.n, "seed": settings.seed, "slow_clients": settings.slow_clients,
                          "slow_s": settings.slow_s, "wrappers": list(settings.wrappers)},
                duration_s=round(time.perf_counter() - started, 1),
                wrappers=[r.to_dict() for r in reports],
                ok=not folder.interrupted and len(reports) == len(settings.wrappers) and all(r.ok for r in reports))
            folder.write(folder.document(payload), indent=2)

        with RunLifecycle(folder, save=write, note=progress.note):
            for name in settings.wrappers:
                try:
                    reports.append(runners[name]())
                except (OSError, RuntimeError, ValueError) as exc:
                    failed = WrapperReport(name)
                    failed.problems.append(f"could not run: {type(exc).__name__}: {exc}")
                    reports.append(failed)
                    progress.note(f"{name}: {exc}")
    return reports


def summary_lines(reports: list[WrapperReport], duration_s: float) -> Iterator[str]:
    """The figures printed at the end of ``make fuzz``."""
    yield f"{'wrapper':14s} {'requests':>9s} {'5xx':>5s} {'no-ans':>6s} {'bad-4xx':>7s} {'crashed':>7s} {'edge':>7s} " \
          f"{'slow':>5s} {'time':>6s}  statuses"
    for r in reports:
        edge_ok = sum(1 for c in r.edge_cases if not c["problem"] and not c.get("finding"))
        slow = "-" if r.slow_clients is None else ("ok" if not r.slow_clients["problem"] else "FAIL")
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items()))
        yield (f"{r.name:14s} {r.requests:9d} {r.server_errors:5d} {r.network_errors:6d} {r.bad_error_bodies:7d} "
               f"{r.crashed_workers:7d} {edge_ok:>3d}/{len(r.edge_cases):<3d} {slow:>5s} {r.duration_s:5.0f}s  {statuses}")
    for r in reports:
        for finding in r.findings:
            yield f"FINDING {r.name}: {finding}"
        for note in r.notes:
            yield f"note {r.name}: {note}"
    for r in reports:
        for problem in r.problems:
            yield f"FAIL {r.name}: {problem}"
    yield f"fuzz: {'PASS' if all(r.ok for r in reports) else 'FAIL'} in {duration_s:.0f} s"
