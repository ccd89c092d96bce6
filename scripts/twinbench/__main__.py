"""``python -m twinbench <command>``: one CLI, one subcommand per module.

Each command lives in its own module exposing ``register(subparsers)``, which adds a
subparser whose ``func`` attribute runs it and returns an exit code. Listing them here
(instead of discovering them) keeps ``--help`` ordered the way a user reads it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES: tuple[str, ...] = (
    "twinbench.cli.bench",
    "twinbench.cli.tune",
    "twinbench.cli.serve_lambda",
    "twinbench.cli.cost",
    "twinbench.simulate.cli",
    "twinbench.cli.collect",
    "twinbench.cli.report",
    "twinbench.cli.peers",
    "twinbench.cli.core",
    "twinbench.cli.limit",
    "twinbench.cli.reliability",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twinbench",
        description="Benchmark one model served as AWS Lambda and as a Kubernetes container: "
        "cold start, warm latency, scalability and monthly cost, side by side.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module: say so
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
