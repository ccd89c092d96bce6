"""``twinbench bench-core`` and ``twinbench bench-load``: what the prediction core costs.

bench-core: per-row latency of the core's predict path next to the raw ``estimator.predict``;
bench-load: the cold-start cost of loading the model per artefact format, in fresh processes.
Both train their own models in a work folder, so they never touch ``model/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twinbench.cli.arg_types import positive_int

__all__ = ["register"]


EXIT_CODES = "exit codes: 0 measured, 1 a measurement failed, 2 bad input (one line on stderr)."


def _usage_error(command: str, args: argparse.Namespace) -> str | None:
    """What is wrong with the folders given, before any model is trained or loaded; None when fine."""
    if args.work_dir.exists() and not args.work_dir.is_dir():
        return f"{command}: --work-dir {args.work_dir} exists and is not a folder"
    for model_dir in getattr(args, "model_dir", None) or []:
        if not (model_dir / "metadata.json").is_file():
            return (f"{command}: --model-dir {model_dir}: no registered model there (metadata.json is missing; "
                    "make model-import writes one)")
    return None


def _bench_core(args: argparse.Namespace) -> int:
    from twinserve.errors import TwinserveError

    from twinbench.measure.core_latency import run_bench_core, run_bench_registered

    problem = _usage_error("bench-core", args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        if args.model_dir:
            return run_bench_registered(args.model_dir, args.repeats)
        return run_bench_core(args.models, args.repeats, args.work_dir)
    except TwinserveError as exc:  # a model the core refuses to load (tampered, unreadable): the user's to fix
        print(f"bench-core: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def _bench_load(args: argparse.Namespace) -> int:
    from twinbench.measure.model_loading import run_bench_load

    problem = _usage_error("bench-load", args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return run_bench_load(args.models, args.repeats, args.work_dir)


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench-core", help="core predict path vs raw estimator.predict, per row",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog=EXIT_CODES)
    bench.add_argument("--models", nargs="+", choices=("rf", "logreg"), default=["rf", "logreg"])
    bench.add_argument("--repeats", type=positive_int, default=300, help="timed calls per measurement (after 30 warm-up calls)")
    bench.add_argument("--work-dir", type=Path, default=Path("build/bench-core"), help="where the models are trained")
    bench.add_argument("--model-dir", type=Path, action="append",
                       help="a registered model (make model-import) to measure on its own sample rows instead of the "
                            "default models, with its handler's cold start; repeat for several")
    bench.set_defaults(func=_bench_core)

    load = subparsers.add_parser("bench-load", help="cold-start cost of loading the model per artefact format (fresh processes)",
                                 description="Trains each model twice (skops and joblib source), then times fresh Python "
                                 "processes loading it as ONNX, skops and joblib: imports, first load, reload.",
                                 epilog=EXIT_CODES)
    load.add_argument("--models", nargs="+", choices=("rf", "logreg"), default=["rf", "logreg"])
    load.add_argument("--repeats", type=positive_int, default=5, help="fresh processes per model and format")
    load.add_argument("--work-dir", type=Path, default=Path("build/bench-load"), help="where the models are trained")
    load.set_defaults(func=_bench_load)
