"""``twinbench bench-limit``: the container next to the HTTP limit of its own server.

Starts, in interleaved rounds, a no-op WSGI app under exactly twinserve's arrangement
(gunicorn.conf.py: nginx in front of sync workers, the image's WEB_CONCURRENCY, no log, no
metrics), twinserve as its image runs it (JSON access log, Prometheus metrics) and the edge it
replaced (a git worktree of BENCH_LIMIT_OLD_COMMIT), and measures each with wrk, once with
keep-alive clients and once with closing ones. The breakdown (--no-breakdown skips it) adds
twinserve without the log, without log and metrics, and without nginx. Prints throughput and p99
ratios; writes results/bench-limit-<time>/limit.json.

Targets: twinserve >= 0.85 of the no-op's throughput with p99 <= 1.3x, each client kind; against
the replaced edge, as fast with keep-alive clients and at most 10 % slower with closing ones.
Exit codes: 0 measured (target met, or missed without --check), 1 target missed with --check, a
server or wrk failure, or any error wrk saw (socket errors, non-2xx answers), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twinbench.cli.arg_types import positive_float, positive_int

__all__ = ["register"]


def _bench_limit(args: argparse.Namespace) -> int:
    from twinbench.measure.http_limit import LimitBenchError, LimitConfig, render, run_limit

    config = LimitConfig(rounds=args.rounds, duration_s=args.duration, warmup_s=args.warmup,
                         concurrency=args.concurrency, workers=args.workers, breakdown=not args.no_breakdown,
                         model_path=args.model_path, out=args.out)
    try:
        document = run_limit(config)
    except LimitBenchError as exc:
        print(f"bench-limit: {exc}", file=sys.stderr)
        return 1
    print(render(document))
    failed = {name: row["errors"] for name, row in document["summary"]["servers"].items() if row["errors"]}
    if failed:  # a socket error or a non-2xx answer: the figures are not a measurement of serving
        shown = ", ".join(f"{name} {count}" for name, count in failed.items())
        print(f"bench-limit: wrk saw errors ({shown}); see the server logs beside {document['path']}", file=sys.stderr)
        return 1
    return 1 if args.check and not document["summary"]["target"]["met"] else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench-limit", help="the container vs a no-op WSGI app on the same edge, and vs the replaced edge (wrk)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=positive_int, default=9,
                        help="interleaved rounds (default 9: each round starts every server afresh, and fresh servers "
                             "here differ by up to 25 %%; 9 rounds give the median ratio a 95%% CI)")
    parser.add_argument("--duration", type=positive_float, default=5.0,
                        help="seconds of wrk per server and round (default 5: windows of one running server differ "
                             "by under 10 %%, so more rounds buy more than longer ones)")
    parser.add_argument("--warmup", type=positive_float, default=1.0, help="discarded wrk seconds before each run (default 1)")
    parser.add_argument("--concurrency", type=positive_int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="gunicorn workers of every server (default: the image's WEB_CONCURRENCY, from the "
                             "k8s/base ConfigMap that the Dockerfile's ENV repeats)")
    parser.add_argument("--no-breakdown", action="store_true", help="only the no-op app and twinserve as shipped")
    parser.add_argument("--model-path", type=Path, default=None, help="model folder (default MODEL_PATH or model/)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON result")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.set_defaults(func=_bench_limit)
