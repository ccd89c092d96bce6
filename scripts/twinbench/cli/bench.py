"""``twinbench bench``: run the scenarios against both targets, write results/<ts>/, render the report.

Why one command: local and deployed targets, the simulation "at your traffic" and the quick
configuration search all read the same measured run. Options, targets, generators and exit
codes are the ``--help`` text (:data:`HELP`); docs/benchmark.md has the walkthrough. This module
parses and validates; the run itself is :mod:`twinbench.bench.run`, the rendering :mod:`twinbench.report`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from twinserve_support.paths import REPO

from twinbench.bench.at_traffic import SEARCH_BUDGET_S
from twinbench.bench.run import measure
from twinbench.cli.arg_types import non_negative_int, port_number, positive_float, positive_int
from twinbench.measure.progress import Progress
from twinbench.measure.scenarios import PROFILES, SCENARIOS
from twinbench.results import formats
from twinbench.results.run_folder import RunFolder, RunFolderError
from twinbench.targets import request_body

HELP = """``twinbench bench``: run the scenarios against both targets, write results/<ts>/, render the report.

Local by default (the emulated Lambda from the unzipped package, gunicorn under the pod's limits);
``--lambda-url`` / ``--container-url`` (or ``LAMBDA_URL`` / ``CONTAINER_URL``) measure deployed
endpoints instead; with ``--lambda-function`` and ``--aws-region`` (``LAMBDA_FUNCTION``, ``AWS_REGION``)
the cold-start scenario forces cold starts on the deployed function and restores its configuration.
``--lambda-runtime offline`` runs serverless-offline instead of the awslambdaric emulator, labelled
"serverless-offline: no init split, no throttling" in every output. Everything it starts is stopped when it returns — also on failure, Ctrl-C and
SIGTERM. Exit codes: 0 done, 1 a scenario failed, 2 bad usage/setup, 130 interrupted.

``--targets lambda,lambda-wsgi,container`` adds the WSGI function (the container's Flask app through
serverless-wsgi, ``wsgi_handler.handler``, served under ``/wsgi``) beside the native handler: the same
package, so the report compares cold start, warm latency and throughput and says which to deploy.

After measuring, the run is replayed "at your traffic" by the trace-driven simulator
(:mod:`twinbench.simulate`) with the measured service times: ``--traffic-rps`` (default: the rate the
cost is quoted at, ``--cost-rps``) as a constant or diurnal profile (``--cost-shape``), or ``--trace``
(a per-minute CSV, simulated as it is). The simulation document is stored in results.json under
``simulation``. Then a quick configuration search (``twinbench recommend --quick``'s grid, bounded by
``--search-budget-s``, default 60 s) finds each platform's cheapest configuration meeting the SLO on
the same traffic and inputs, stored under ``simulation.search``: the report's recommendation
compares the platforms at their best, never ranking on cost one that misses the SLO.

``--generator locust`` drives the open-loop steps (scalability rates, burst) of targets given as URLs
from Locust: a master and ``--locust-workers`` worker processes on this machine, plus any started on
other machines with ``--master-host`` (``--locust-remote-workers``). Cold starts, warm latency and the
closed-loop steps stay on the built-in generator; the report says which generator produced each figure.
"""

"""The ``--help`` text: what it does, step by step, and its exit codes."""

__all__ = ["register", "run"]

TARGET_NAMES = ("lambda", "lambda-wsgi", "container")
DEFAULT_TARGETS = "lambda,container"  # lambda-wsgi is opt-in: it adds ~1/3 to the run (see --help)
GENERATORS = ("builtin", "locust")
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="Compare the Lambda and the container: cold start, warm latency, scalability, burst, cost",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  twinbench bench --profile smoke                 # CI-sized, both local targets, <= 3 min\n"
        "  twinbench bench --scenarios warm,scalability    # skip cold start and burst\n"
        "  twinbench bench --lambda-url https://abc.execute-api.us-east-1.amazonaws.com \\\n"
        "                  --container-url http://a1b2.elb.amazonaws.com \\\n"
        "                  --lambda-function twinserve-dev-predict --aws-region eu-west-1  # + forced cold starts\n"
        "  twinbench bench --lambda-runtime offline --targets lambda   # serverless-offline instead of awslambdaric\n",
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default=os.environ.get("PROFILE") or "quick",
                   help="how long: smoke <= 3 min, quick ~5 min (default), full longer  [env PROFILE]")
    p.add_argument("--slo-ms", type=positive_float, default=os.environ.get("SLO_MS") or "100",
                   help="latency objective for the knee: p99 must stay under it (default 100)  [env SLO_MS]")
    p.add_argument("--targets", default=os.environ.get("TARGETS") or DEFAULT_TARGETS,
                   help="comma list of lambda,lambda-wsgi,container (default lambda,container; lambda-wsgi = the "
                   "Flask app through serverless-wsgi, same package, opt-in)  [env TARGETS]")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma list of {','.join(SCENARIOS)}")
    p.add_argument("--lambda-url", default=os.environ.get("LAMBDA_URL") or None,
                   help="measure a deployed Lambda (HTTP API / Function URL base) instead of the local one")
    p.add_argument("--container-url", default=os.environ.get("CONTAINER_URL") or None,
                   help="measure a deployed container service instead of the local one")
    p.add_argument("--lambda-wsgi-url", default=os.environ.get("LAMBDA_WSGI_URL") or None,
                   help="measure the deployed WSGI function: the base under which /predict answers (HTTP API: "
                   "<api>/wsgi; a Function URL: its URL). Default with --lambda-url: <lambda-url>/wsgi  [env LAMBDA_WSGI_URL]")
    p.add_argument("--lambda-wsgi-function", default=os.environ.get("LAMBDA_WSGI_FUNCTION") or None,
                   help="the deployed WSGI function's name for forced cold starts (default: --lambda-function + "
                   "'-wsgi', serverless's naming)  [env LAMBDA_WSGI_FUNCTION]")
    p.add_argument("--lambda-function", default=os.environ.get("LAMBDA_FUNCTION") or None,
                   help="with --lambda-url: the deployed function's name; with --aws-region, the cold-start scenario "
                   "forces cold starts through UpdateFunctionConfiguration and restores the config  [env LAMBDA_FUNCTION]")
    p.add_argument("--aws-region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
                   help="region of --lambda-function  [env AWS_REGION, AWS_DEFAULT_REGION]; AWS_ENDPOINT_URL is honoured")
    p.add_argument("--lambda-sigv4", action="store_true", default=os.environ.get("LAMBDA_SIGV4") == "1",
                   help="with --lambda-url: sign every request with SigV4 (an IAM-authenticated Function URL; "
                   "credentials from botocore's default chain, region from the URL or --aws-region)  [env LAMBDA_SIGV4=1]")
    p.add_argument("--lambda-runtime", choices=("awslambdaric", "offline"), default="awslambdaric",
                   help="local Lambda: the project's Runtime API + awslambdaric (default) or serverless-offline 14.8.2 "
                   "via osls (labelled: no init split, no throttling)")
    p.add_argument("--container-runtime", choices=("gunicorn", "podman"), default="gunicorn",
                   help="local container: gunicorn as in the image (default) or the real image under podman")
    p.add_argument("--lambda-package", type=Path, default=REPO / "build" / "lambda" / "pkg",
                   help="unzipped `sls package` output (default build/lambda/pkg)")
    p.add_argument("--model-dir", type=Path, default=Path(os.environ.get("MODEL_PATH") or REPO / "model"),
                   help="model folder whose metadata gives the request row (default $MODEL_PATH or model/)")
    p.add_argument("--out", type=Path, default=REPO / "results", help="parent folder of results/<timestamp>/")
    p.add_argument("--request-timeout-s", type=positive_float, default=10.0, help="per-request client timeout")
    p.add_argument("--max-connections", type=positive_int, default=256, help="client connection pool size per target")
    p.add_argument("--cost-rps", type=positive_float, default=os.environ.get("COST_RPS") or "10",
                   help="mean request rate the monthly cost is quoted at (default 10)  [env COST_RPS]")
    p.add_argument("--cost-shape", choices=("constant", "diurnal"), default=os.environ.get("COST_SHAPE") or "constant",
                   help="traffic shape for the cost model (default constant)  [env COST_SHAPE]")
    sim = p.add_argument_group("at your traffic (simulated after the run)")
    sim.add_argument("--traffic-rps", type=positive_float, default=os.environ.get("TRAFFIC_RPS") or None,
                     help="mean rate to simulate, req/s (default: --cost-rps), shape --cost-shape  [env TRAFFIC_RPS]")
    sim.add_argument("--trace", type=Path, default=Path(os.environ["TRACE"]) if os.environ.get("TRACE") else None,
                     help="per-minute traffic CSV (minute|timestamp, requests|count|rps) simulated as it is "
                     "(with --traffic-rps: rescaled to that mean)  [env TRACE]")
    sim.add_argument("--no-simulation", action="store_true", help="skip the simulation at your traffic")
    sim.add_argument("--search-budget-s", type=positive_float, default=os.environ.get("SEARCH_BUDGET_S") or str(SEARCH_BUDGET_S),
                     help="time for the quick configuration search at your traffic, s (default 60; skipped when "
                     "one simulation of the traffic takes more than a quarter of it)  [env SEARCH_BUDGET_S]")
    sim.add_argument("--no-search", action="store_true",
                     help="simulate the shipped settings only, without the quick configuration search")
    gen = p.add_argument_group("load generator")
    gen.add_argument("--generator", choices=GENERATORS, default=os.environ.get("GENERATOR") or "builtin",
                     help="builtin (default; aiohttp, one process) or locust (targets given as URLs only: master + "
                     "workers drive the open-loop steps)  [env GENERATOR]")
    gen.add_argument("--locust-workers", type=non_negative_int, default=os.environ.get("LOCUST_WORKERS") or "2",
                     help="Locust worker processes on this machine (default 2)  [env LOCUST_WORKERS]")
    gen.add_argument("--locust-remote-workers", type=non_negative_int, default=os.environ.get("LOCUST_REMOTE_WORKERS") or "0",
                     help="workers started on other machines that the master waits for (default 0); start each "
                     "with the command the bench prints  [env LOCUST_REMOTE_WORKERS]")
    gen.add_argument("--locust-bind-host", default=os.environ.get("LOCUST_BIND_HOST") or "127.0.0.1",
                     help="address the Locust master listens on (default 127.0.0.1; another machine's workers "
                     "need an address they reach)  [env LOCUST_BIND_HOST]")
    gen.add_argument("--locust-port", type=port_number, default=os.environ.get("LOCUST_PORT") or "0",
                     help="Locust master port (default: a free one; fix it for remote workers)  [env LOCUST_PORT]")
    p.add_argument("--no-report", action="store_true", help="write results.json only")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run)

def _split(raw: str, allowed: tuple[str, ...], what: str) -> list[str] | str:
    """The comma-separated choices, or why they are not (a usage error, exit 2)."""
    items = [s.strip() for s in raw.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        return f"unknown {what} {', '.join(bad) if bad else repr(raw)}; choose from {','.join(allowed)}"
    return items

def _check_generator(args: argparse.Namespace, chosen_targets: list[str]) -> str | None:
    """Why this generator cannot drive these targets (one line), or None."""
    if args.generator != "locust":
        return None
    urls = {"lambda": args.lambda_url, "lambda-wsgi": args.lambda_wsgi_url or args.lambda_url,
            "container": args.container_url}
    local = [t for t in chosen_targets if not urls[t]]
    if local:
        return (f"--generator locust drives targets given as URLs; {', '.join(local)} would run locally (give "
                f"{', '.join('--' + t + '-url' for t in local)}, or use the built-in generator for local runs)")
    if args.lambda_sigv4:
        return "--generator locust does not sign requests: use the built-in generator with --lambda-sigv4"
    if args.locust_workers < 0 or args.locust_remote_workers < 0 or args.locust_workers + args.locust_remote_workers < 1:
        return "--locust-workers + --locust-remote-workers must be >= 1"
    from twinbench.measure.locust_driver import LOCUST_VERSION, locust_available

    if locust_available() is None:
        return f"--generator locust: locust is not installed (pip install locust=={LOCUST_VERSION})"
    return None

def _check_trace(trace: Path) -> str | None:
    """Why --trace cannot be simulated (read now, not after the measurements), or None."""
    from twinbench.traffic.traces import TraceError, read_minute_csv

    if not trace.is_file():
        return f"--trace {trace}: no such file"
    try:
        read_minute_csv(trace)
    except TraceError as exc:
        return f"--trace: {exc}"
    return None

def _check_env_choices(args: argparse.Namespace) -> str | None:
    """argparse checks choices only on the command line: a default from the environment is checked here."""
    for option, value, allowed, env in (("--profile", args.profile, tuple(sorted(PROFILES)), "PROFILE"),
                                        ("--cost-shape", args.cost_shape, ("constant", "diurnal"), "COST_SHAPE"),
                                        ("--generator", args.generator, GENERATORS, "GENERATOR")):
        if value not in allowed:
            return f"{option} {value!r} (from ${env}?) is not one of {', '.join(allowed)}"
    return None

def run(args: argparse.Namespace) -> int:
    chosen_targets = _split(args.targets, TARGET_NAMES, "target")
    chosen = _split(args.scenarios, SCENARIOS, "scenario")
    for split in (chosen_targets, chosen):
        if isinstance(split, str):
            print(f"twinbench bench: {split}", file=sys.stderr)
            return EXIT_USAGE
    assert isinstance(chosen_targets, list) and isinstance(chosen, list)
    problem = _check_env_choices(args) or _check_generator(args, chosen_targets)
    if problem is None and args.traffic_rps is not None and not (args.traffic_rps > 0 and args.traffic_rps < 1e6):
        problem = f"--traffic-rps must be > 0 and < 1e6, got {args.traffic_rps}"
    if problem is None and not (args.search_budget_s > 0 and args.search_budget_s <= 3600):
        problem = f"--search-budget-s must be > 0 and <= 3600, got {args.search_budget_s}"
    if problem is None and args.trace is not None:
        problem = _check_trace(args.trace)
    if problem is not None:
        print(f"twinbench bench: {problem}", file=sys.stderr)
        return EXIT_USAGE
    progress = Progress(quiet=args.quiet)
    try:
        body = request_body(args.model_dir)
    except FileNotFoundError as exc:
        print(f"twinbench bench: {exc}", file=sys.stderr)
        return 2
    try:
        with RunFolder(formats.RESULTS, root=args.out, logs=True) as folder:
            exit_code, data, path = measure(folder, args, chosen_targets, chosen, body, progress)
    except RunFolderError as exc:
        print(f"twinbench bench: --out: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Rendering is a view of the data on disk: outside the run's signal handling, like before.
    if not args.no_report:
        from twinbench.report.markdown import render_folder, summary_table

        try:
            render_folder(folder.path, data)
        except Exception as exc:  # the data is safe on disk; say what failed
            print(f"twinbench bench: report rendering failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            exit_code = exit_code or 1
        print(summary_table(data))
    for warning in data["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(f"results: {path}" + ("" if args.no_report else f"\nreport:  {folder.path / 'report.md'}"))
    return exit_code
