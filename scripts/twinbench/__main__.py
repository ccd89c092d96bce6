"""``python -m twinbench <command>``: one CLI, one subcommand per module.

Each command lives in its own module exposing ``register(subparsers)``, which adds a
subparser whose ``func`` attribute runs it and returns an exit code. The commands are listed
here with their one-line help, so ``twinbench --help`` imports none of them (their imports —
numpy, numba, aiohttp — take about a second); only the module of the command being run is
imported and registered. The order is the order a user reads ``--help`` in.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from twinserve.cli_parser import OneLineParser

# (command, module that registers it, its one-line help: kept equal to the module's by a test)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("bench", "twinbench.cli.bench",
     "Compare the Lambda and the container: cold start, warm latency, scalability, burst, cost"),
    ("bench-tune", "twinbench.cli.tune",
     "memory power-tuning: duration and cost per memory size, cost/speed/balanced picks "
     "(local Lambda, or a deployed function)"),
    ("serve-lambda", "twinbench.cli.serve_lambda",
     "run the local Lambda (awslambdaric per environment + HTTP API front) in the foreground"),
    ("cost", "twinbench.cli.cost",
     "Monthly cost of Lambda vs EKS vs Fargate for a traffic profile, and the break-even rate"),
    ("simulate", "twinbench.cli.simulate",
     "Per-request simulation of a traffic profile on Lambda and Kubernetes: cold starts, 429/503s, "
     "latency, scaling and monthly cost"),
    ("recommend", "twinbench.cli.recommend",
     "Cheapest configuration meeting an SLO on Lambda and on Kubernetes, searched by simulation"),
    ("calibrate", "twinbench.cli.calibrate",
     "Check the simulator against the real local stack: the same bursty arrivals through the local "
     "Lambda and gunicorn and through the model; cold starts, 429s and p50/p99 within tolerances"),
    ("collect-cloudwatch", "twinbench.cli.collect",
     "Lambda + HTTP API metrics and parsed REPORT lines for a time window, as JSON"),
    ("collect-kubectl", "twinbench.cli.collect",
     "Pod startup phases, restarts, top CPU/memory, HPA replicas and events (+ --watch timeline), as JSON"),
    ("report", "twinbench.cli.report", "Re-render report.md and plots from results/<ts>/results.json"),
    ("bench-peers", "twinbench.cli.peers",
     "twinserve vs the naive blog template and MLServer, interleaved, PASS/FAIL per target"),
    ("bench-core", "twinbench.cli.core", "core predict path vs raw estimator.predict, per row"),
    ("bench-load", "twinbench.cli.core",
     "cold-start cost of loading the model per artefact format (fresh processes)"),
    ("bench-limit", "twinbench.cli.limit", "the container vs a no-op WSGI app on the same edge, and vs the replaced edge (wrk)"),
    ("fuzz", "twinbench.cli.reliability",
     "hostile input against the container, the WSGI Lambda and the native handler"),
    ("soak", "twinbench.cli.reliability",
     "long open-loop run at 70%% of saturation: errors, p99 drift, RSS growth"),
    ("chaos", "twinbench.cli.reliability",
     "faults under load: kill, starve and cut the container and the local Lambda, count what is lost"),
)
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for _, module, _ in COMMANDS))


def _register(subparsers: argparse._SubParsersAction, module_name: str) -> bool:
    """Import ``module_name`` and let it add its commands; False when the module is not installed."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:  # a real missing dependency inside the module: say so
            raise
        return False
    module.register(subparsers)
    return True


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the module of the command it names is imported.

    Without ``argv`` every command module is imported and registered (the full parser).
    """
    parser = OneLineParser(
        prog="twinbench",
        description="Benchmark one model served as AWS Lambda and as a Kubernetes container: "
        "cold start, warm latency, scalability and monthly cost, side by side.",
        epilog="exit codes: 0 done, 2 bad input (one line on stderr), 130 interrupted; "
        "each command's --help lists the rest of its own.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if argv is None:
        for module_name in COMMAND_MODULES:
            _register(subparsers, module_name)
        return parser
    named = next((a for a in argv if not a.startswith("-")), None)
    wanted = next((module for command, module, _ in COMMANDS if command == named), None)
    registered = False
    for command, module_name, help_text in COMMANDS:
        if module_name == wanted:
            if not registered:
                registered = True
                if _register(subparsers, module_name):
                    continue
                wanted = None  # not installed: its commands are listed like the others
            else:
                continue
        if module_name != wanted:
            # A stand-in that only lists the command in --help; naming it registers the real one.
            subparsers.add_parser(command, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # commands that own their cleanup catch it first; the rest stop here
        print(f"twinbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
