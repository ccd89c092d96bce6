"""``twinbench bench-tune``: memory power-tuning of the Lambda function, as AWS Lambda Power Tuning does it.

The subcommand's parser and entry point; its ``--help`` text is :data:`HELP`.
Details: docs/benchmark.md, 'Memory power-tuning (make bench-tune)'.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

__all__ = ["register"]

EXIT_INTERRUPTED = 130


def _number(text: str, low: float, high: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise argparse.ArgumentTypeError(f"{what} must be within {low:g}..{high:g}, got {text}")
    return value


def _rps(text: str) -> float:
    return _number(text, 0.0, 1_000_000.0, "--rps")


def _weight(text: str) -> float:
    return _number(text, 0.0, 1.0, "--balanced-weight")


def _discard(text: str) -> float:
    return _number(text, 0.0, 0.4, "--discard-top-bottom")


def _non_negative(text: str) -> float:
    return _number(text, 0.0, 60_000.0, "value")


def _keep_alive(text: str) -> float:
    return _number(text, 1.0, 86_400.0, "--keep-alive-s")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be within 0..100000, got {value}")
    return value


def _bench_tune(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from twinbench.results.run_folder import RunFolderError
    from twinbench.tune.errors import TuneError
    from twinbench.tune.profiles import PROFILES, parse_memory_list
    from twinbench.tune.report import render_table
    from twinbench.tune.runner import TuneRequest, run_tune

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"bench-tune: {line}", file=sys.stderr, flush=True)

    try:
        profile = PROFILES[args.profile]
        overrides = {k: v for k, v in (("cold", args.cold), ("warm", args.warm), ("warmup", args.warmup)) if v is not None}
        if overrides:
            profile = replace(profile, **overrides)  # re-checked by TuneProfile
        if args.memory is not None and not args.memory.strip():
            raise _usage("--memory is empty: give comma-separated sizes in MB, e.g. 128,512,1769")
        memory = parse_memory_list(args.memory) if args.memory else profile.memory_mb
        if args.lambda_function is not None and not args.lambda_function.strip():
            raise _usage("--lambda-function is empty: give the deployed function's name or ARN")
        if args.payload is not None and not args.lambda_function:
            raise _usage("--payload is for remote mode (--lambda-function); the local run sends the model's request")
        if args.lambda_function and not args.aws_region:
            raise _usage("remote mode needs --aws-region (AWS_REGION=) with --lambda-function")
        request = TuneRequest(profile=profile, memory_mb=memory, rps=args.rps, balanced_weight=args.balanced_weight,
                              discard_top_bottom=args.discard_top_bottom, keep_alive_s=args.keep_alive_s,
                              gap_ms=args.gap_ms, architecture=args.architecture, package_dir=args.package,
                              function_name=args.lambda_function or None, region=args.aws_region or None,
                              payload_file=args.payload, out_root=args.out, validate=args.validate)
        document, folder = run_tune(request, progress)
    except RunFolderError as exc:
        print(f"bench-tune: --out: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench-tune: interrupted; the emulator was stopped / the function restored, partial results written",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except TuneError as exc:
        print(f"bench-tune: {exc}", file=sys.stderr)
        return exc.exit_code
    print(render_table(document))
    print(f"\nwritten: {folder}/tune.json, report.md" + (", " + ", ".join(document["figures"].values())
                                                          if document["figures"] else ""))
    return 0


def _usage(message: str) -> Exception:
    from twinbench.tune.errors import TuneInputError

    return TuneInputError(message)


HELP = """``twinbench bench-tune``: memory power-tuning of the Lambda function, as AWS Lambda Power Tuning does it.

For each memory size: cold init (forced cold starts, REPORT Init Duration) and warm billed
duration (REPORT Billed Duration, rounded up to 1 ms), the cost per million invocations and per
month at --rps, and the cost / speed / balanced picks (Power Tuning's formulas, its
balancedWeight and discardTopBottom). Prints the table, writes results/tune-<ts>/ with tune.json,
report.md and tune_duration_cost.png.

Local (default): the local Lambda from build/lambda/pkg, one emulator per size under that size's
CPU quota (memory / 1769 vCPU per environment; this machine's cores cap it).
Remote (--lambda-function NAME --aws-region R): UpdateFunctionConfiguration(MemorySize) on the
deployed function, Invoke with LogType=Tail, REPORT from the log tail; the original memory and
environment are restored on exit, Ctrl-C and SIGTERM. Needs lambda:GetFunctionConfiguration,
lambda:UpdateFunctionConfiguration and lambda:InvokeFunction; use a stage no one else calls.

Exit codes: 0 measured; 1 the measurement failed (emulator, AWS, an invalid document with
--validate); 2 bad input; 130 interrupted (the partial document is written).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from twinbench.tune.profiles import DEFAULT_MEMORY_MB, PROFILES
    from twinbench.tune.runner import DEFAULT_RESULTS, TuneRequest
    from twinbench.tune.strategies import DEFAULT_BALANCED_WEIGHT, DEFAULT_DISCARD_TOP_BOTTOM

    parser = subparsers.add_parser("bench-tune", help="memory power-tuning: duration and cost per memory size, "
                                   "cost/speed/balanced picks (local Lambda, or a deployed function)",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                        help="smoke: 3 sizes x (2 cold, 20 warm); quick: 5 cold, 100 warm; full: 20 cold, 500 warm")
    parser.add_argument("--memory", default=None,
                        help="comma-separated sizes in MB, 128..10240 (default: the profile's; quick/full: "
                             f"{','.join(map(str, DEFAULT_MEMORY_MB))})")
    parser.add_argument("--rps", type=_rps, default=50.0, help="constant traffic for the monthly cost (default 50)")
    parser.add_argument("--balanced-weight", type=_weight, default=DEFAULT_BALANCED_WEIGHT,
                        help="Power Tuning's balancedWeight: 0 = speed, 1 = cost (default 0.5)")
    parser.add_argument("--discard-top-bottom", type=_discard, default=DEFAULT_DISCARD_TOP_BOTTOM,
                        help="share of billed durations dropped at each end before averaging (0..0.4, default 0.2)")
    parser.add_argument("--architecture", choices=("x86_64", "arm64"), default=None,
                        help="prices to apply (local default: serverless.yml's; remote: the function's own)")
    parser.add_argument("--keep-alive-s", type=_keep_alive, default=TuneRequest.keep_alive_s,
                        help="idle lifetime of an environment for the expected cold starts per month (default 300)")
    parser.add_argument("--gap-ms", type=_non_negative, default=0.0,
                        help="pause between warm invocations, local mode (default 0: back to back, as Power "
                             "Tuning's serial executor without its network round trip)")
    parser.add_argument("--cold", type=_count, default=None, help="forced cold starts per size (overrides the profile)")
    parser.add_argument("--warm", type=_count, default=None, help="measured warm invocations per size (>= 5)")
    parser.add_argument("--warmup", type=_count, default=None, help="discarded warm invocations per size")
    parser.add_argument("--package", type=Path, default=TuneRequest.package_dir,
                        help="unzipped Lambda package, local mode (default build/lambda/pkg)")
    parser.add_argument("--lambda-function", default=None, help="deployed function name or ARN: remote mode")
    parser.add_argument("--aws-region", default=None, help="the deployed function's region (remote mode)")
    parser.add_argument("--payload", type=Path, default=None,
                        help="remote mode: JSON event to invoke with (default: the committed HTTP API event, "
                             "POST /predict with the model's example row)")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="where tune-<ts>/ goes (default results/)")
    parser.add_argument("--validate", action="store_true", help="check tune.json against its schema (exit 1 if not)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(func=_bench_tune)
