"""``python -m twinbench fuzz``, ``soak`` and ``chaos``: hostile input, long runs, faults under load.

Both exit 0 only when every figure they gate on is at zero (fuzz: 5xx, unanswered requests, crashed
workers, 4xx without the JSON error body, edge cases, slow clients; soak: errors, RSS growth), and
print their figures at the end. Results go to ``results/fuzz-<ts>/fuzz.json`` and
``results/soak-<ts>/soak.json`` (written also when interrupted: ``"interrupted": true``, exit 130).
chaos exits 0 only when every fault met its limits and nothing was left running
(``results/chaos-<ts>/chaos.json``, same interruption rule).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from twinbench.cli.arg_types import non_negative_float, non_negative_int, positive_float, positive_int
from twinbench.measure.progress import Progress
from twinbench.results.run_folder import RunFolderError

__all__ = ["register"]


def _env(name: str, default: str) -> str:
    """The option's default from the environment, as text: argparse passes it through the option's type,
    so a bad value in the environment is a usage error (exit 2) like a bad flag."""
    return os.environ.get(name, "").strip() or default


EXIT_CODES = "exit codes: 0 every check passed, 1 a check failed or the run could not finish, 2 bad input (one line on stderr), 130 interrupted."


EXIT_INTERRUPTED = 130


def run_fuzz(args: argparse.Namespace) -> int:
    from twinbench.reliability.fuzz.runner import run, summary_lines
    from twinbench.reliability.fuzz.settings import WRAPPERS, FuzzSettings

    wrappers = tuple(w.strip() for w in args.wrappers.split(",") if w.strip())
    unknown = set(wrappers) - set(WRAPPERS)
    if unknown or not wrappers:
        print(f"fuzz: unknown wrapper(s) {sorted(unknown)}; choose from {', '.join(WRAPPERS)}", file=sys.stderr)
        return 2
    settings = FuzzSettings(
        n=args.n, seed=args.seed, wrappers=wrappers, max_s_per_wrapper=args.max_s,
        slow_clients=args.slow_clients, slow_s=args.slow_s, edge=not args.no_edge,
        package_dir=Path(args.package), out_dir=Path(args.out) if args.out else None,
    )
    started = time.perf_counter()
    try:  # the run's folder owns SIGTERM/SIGINT: both unwind, stop every server and write what ran
        reports = run(settings, Progress(quiet=args.quiet))
    except RunFolderError as exc:
        print(f"fuzz: --out: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fuzz: interrupted; every server was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in summary_lines(reports, time.perf_counter() - started):
        print(line)
    return 0 if all(r.ok for r in reports) else 1


def run_soak(args: argparse.Namespace) -> int:
    from twinbench.reliability.soak import SoakSettings, run, summary_lines

    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    unknown = sorted(set(targets) - {"container", "lambda"})
    if unknown or not targets:
        print(f"soak: unknown target(s) {unknown or args.targets!r}; choose from container, lambda", file=sys.stderr)
        return 2
    settings = SoakSettings(
        duration_s=args.duration_s, targets=targets, load_fraction=args.fraction,
        saturation_rps=args.saturation_rps, saturation_from_results=args.saturation_from_results,
        window_s=args.window_s, ramp_step_s=args.ramp_step_s,
        rss_growth_max_pct=args.rss_growth_max_pct, out_dir=Path(args.out) if args.out else None,
    )
    try:  # the run's folder owns SIGTERM/SIGINT: both unwind, stop every server and write what ran
        document = run(settings, Progress(quiet=args.quiet))
    except RunFolderError as exc:
        print(f"soak: --out: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soak: interrupted; every server was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in summary_lines(document):
        print(line)
    return 0 if document["ok"] else 1


def run_chaos(args: argparse.Namespace) -> int:
    from twinbench.reliability.chaos import ALL_FAULTS, ChaosSettings, FaultError, run, summary_lines

    faults = tuple(f.strip() for f in args.faults.split(",") if f.strip()) if args.faults else ALL_FAULTS
    package = Path(args.package)
    try:
        settings = ChaosSettings(
            faults=faults, rps=args.rps, load_fraction=args.fraction, pre_s=args.pre_s, window_s=args.window_s,
            gunicorn_timeout_s=args.gunicorn_timeout_s, lambda_timeout_s=args.lambda_timeout_s,
            lambda_environments=args.lambda_environments, oom_limit_kb=args.oom_limit_kb,
            package_dir=package, out_dir=Path(args.out) if args.out else None)
    except ValueError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    if any(f in ("env-sigkill", "init-failure", "env-timeout") for f in faults) and not (package / "handler.py").exists():
        print(f"chaos: no Lambda package at {package} (make package-lambda lambda-runtime)", file=sys.stderr)
        return 2
    try:  # the run's folder owns SIGTERM/SIGINT: both unwind, stop every server and write what ran
        document = run(settings, Progress(quiet=args.quiet))
    except RunFolderError as exc:
        print(f"chaos: --out: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chaos: interrupted; every server was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FaultError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 1
    for line in summary_lines(document):
        print(line)
    return 0 if document["ok"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    fuzz = subparsers.add_parser(
        "fuzz", help="hostile input against the container, the WSGI Lambda and the native handler",
        description="schemathesis (from /openapi.json) against the real gunicorn and against the WSGI Lambda "
        "over real HTTP (local emulator, unzipped package), hypothesis events against the native handler, "
        "then edge cases (size limits, deep nesting, huge numbers, unicode, duplicate keys) and slow clients. "
        "Fails on any response >= 500, unanswered request, crashed worker or 4xx without the JSON error body.",
        epilog=EXIT_CODES, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    fuzz.add_argument("-n", type=positive_int, default=_env("FUZZ_N", "10000"),
                      help="generated requests per wrapper (env FUZZ_N)")
    fuzz.add_argument("--seed", type=non_negative_int, default=_env("FUZZ_SEED", "20261128"), help="seed (env FUZZ_SEED)")
    fuzz.add_argument("--wrappers", default=os.environ.get("FUZZ_WRAPPERS", "container,wsgi-lambda,native-lambda"),
                      help="comma-separated subset (env FUZZ_WRAPPERS)")
    fuzz.add_argument("--max-s", type=positive_float, default=900.0, help="time cap per wrapper for the generated requests, s")
    fuzz.add_argument("--slow-clients", type=non_negative_int, default=4, help="slow sockets trickling bytes (0 = skip)")
    fuzz.add_argument("--slow-s", type=positive_float, default=_env("FUZZ_SLOW_S", "40"),
                      help="how long they trickle, s; the default outlasts gunicorn's 30 s timeout (env FUZZ_SLOW_S)")
    fuzz.add_argument("--no-edge", action="store_true", help="skip the hand-written edge cases")
    fuzz.add_argument("--package", default="build/lambda/pkg", help="unzipped Lambda package (make package-lambda)")
    fuzz.add_argument("--out", default=None, help="results folder (default results/fuzz-<utc timestamp>)")
    fuzz.add_argument("--quiet", action="store_true", help="no progress lines")
    fuzz.set_defaults(func=run_fuzz)

    soak = subparsers.add_parser(
        "soak", help="long open-loop run at 70%% of saturation: errors, p99 drift, RSS growth",
        description="Measures each target's saturation rate in place (closed-loop steps for an estimate, then "
        "20-s open-loop steps: the highest rate held with no error, the generator not the bottleneck and p99 "
        "not climbing through the step), ramps up (25/50/75 % of the soak rate) so the local Lambda scales "
        "out, then drives it open-loop at a fraction of saturation for --duration-s, sampling the RSS of the "
        "gunicorn workers / Lambda environment processes. Fails on any error (ramp included) or RSS growth "
        ">= the limit; the Lambda side is judged net of awslambdaric's per-invocation setenv retention, "
        "which is measured and printed beside it.",
        epilog=EXIT_CODES, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    soak.add_argument("--duration-s", type=positive_float, default=_env("SOAK_S", "600"),
                      help="soak length per target, s (env SOAK_S)")
    soak.add_argument("--targets", default=os.environ.get("SOAK_TARGETS", "container,lambda"),
                      help="comma-separated: container, lambda (env SOAK_TARGETS)")
    soak.add_argument("--fraction", type=positive_float, default=0.7, help="offered rate as a fraction of saturation")
    soak.add_argument("--saturation-rps", type=positive_float, default=None,
                      help="use this saturation rate for every target instead of measuring it")
    soak.add_argument("--saturation-from-results", action="store_true",
                      help="reuse the newest results/*/results.json peak (closed loop; overstates what an "
                      "open-loop stream holds when the generator shares the cores) instead of measuring")
    soak.add_argument("--ramp-step-s", type=non_negative_float, default=10.0,
                      help="length of each ramp step before the soak, s (0 = no ramp)")
    soak.add_argument("--window-s", type=positive_float, default=None,
                      help="window for p99 drift, s (default: a tenth of the duration, at least 10 s)")
    soak.add_argument("--rss-growth-max-pct", type=positive_float, default=5.0, help="RSS growth that fails the soak, %%")
    soak.add_argument("--out", default=None, help="results folder (default results/soak-<utc timestamp>)")
    soak.add_argument("--quiet", action="store_true", help="no progress lines")
    soak.set_defaults(func=run_soak)

    chaos = subparsers.add_parser(
        "chaos", help="faults under load: kill, starve and cut the container and the local Lambda, count what is lost",
        description="A steady open-loop stream at --fraction of each target's saturation (a quick closed-loop "
        "estimate, or --rps), then one fault at a time, each in its own step (--pre-s of quiet stream, the fault, "
        "--window-s after it). Container: SIGKILL a gunicorn worker, a worker OOM-killed by the kernel (its memory "
        "limit lowered through a cgroup, then a large batch), SIGSTOP a worker past gunicorn's timeout, SIGKILL the "
        "master (the bench restarts it on the same port, standing in for the kubelet). Local Lambda: an execution "
        "environment SIGKILLed mid-invocation (502 Runtime.ExitError), an init that fails (package without its "
        "model), an invocation past the function timeout (504). The bench: the target vanishing mid-step, and "
        "SIGINT/SIGTERM to a running chaos (exit 130, partial chaos.json, nothing left). Prints per fault: sent, "
        "failed by status, time to recover to the pre-fault p99 and throughput, what was replaced, what was left "
        "running. Everything on 127.0.0.1; every process is stopped and checked with psutil.",
        epilog=EXIT_CODES, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    chaos.add_argument("--faults", default=os.environ.get("CHAOS_FAULTS", ""),
                       help="comma-separated subset (default all): worker-sigkill, worker-oom, worker-stall, "
                       "master-sigkill, env-sigkill, init-failure, env-timeout, target-vanishes, interrupt-sigint, "
                       "interrupt-sigterm (env CHAOS_FAULTS)")
    # String defaults from the environment go through `type` too: a bad value is a usage error (exit 2).
    chaos.add_argument("--rps", type=float, default=os.environ.get("CHAOS_RPS") or None,
                       help="offered rate for every target instead of measuring saturation (env CHAOS_RPS)")
    chaos.add_argument("--fraction", type=float, default=0.5, help="offered rate as a fraction of saturation")
    chaos.add_argument("--pre-s", type=float, default=os.environ.get("CHAOS_PRE_S") or "5",
                       help="quiet stream before each fault (the baseline), s (env CHAOS_PRE_S)")
    chaos.add_argument("--window-s", type=float, default=os.environ.get("CHAOS_WINDOW_S") or "15",
                       help="stream after each fault, s (env CHAOS_WINDOW_S)")
    chaos.add_argument("--gunicorn-timeout-s", type=int, default=None,
                       help="GUNICORN_TIMEOUT for the container (default: the pod's, from gunicorn.conf.py)")
    chaos.add_argument("--lambda-timeout-s", type=float, default=2.0, help="the local Lambda's function timeout, s")
    chaos.add_argument("--lambda-environments", type=int, default=os.environ.get("CHAOS_LAMBDA_ENVIRONMENTS") or "16",
                       help="cap on local execution environments (env CHAOS_LAMBDA_ENVIRONMENTS)")
    chaos.add_argument("--oom-limit-kb", type=int, default=256,
                       help="memory (KiB) one worker may allocate after its limit is lowered")
    chaos.add_argument("--package", default="build/lambda/pkg", help="unzipped Lambda package (make package-lambda)")
    chaos.add_argument("--out", default=None, help="results folder (default results/chaos-<utc timestamp>)")
    chaos.add_argument("--quiet", action="store_true", help="no progress lines")
    chaos.set_defaults(func=run_chaos)
