"""``twinbench bench-core`` and ``twinbench bench-load``: what the prediction core costs.

bench-core: per-row latency of the core's predict path next to the raw ``estimator.predict``;
bench-load: the cold-start cost of loading the model per artefact format, in fresh processes.
Both train their own models in a work folder, so they never touch ``model/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twinbench.cli.arg_types import positive_int

__all__ = ["register"]




def _bench_core(args: argparse.Namespace) -> int:
    from twinbench.measure.core_latency import run_bench_core, run_bench_registered

    if args.model_dir:
        return run_bench_registered(args.model_dir, args.repeats)
    return run_bench_core(args.models, args.repeats, args.work_dir)


def _bench_load(args: argparse.Namespace) -> int:
    from twinbench.measure.model_loading import run_bench_load

    return run_bench_load(args.models, args.repeats, args.work_dir)


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench-core", help="core predict path vs raw estimator.predict, per row",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--models", nargs="+", choices=("rf", "logreg"), default=["rf", "logreg"])
    bench.add_argument("--repeats", type=positive_int, default=300, help="timed calls per measurement (after 30 warm-up calls)")
    bench.add_argument("--work-dir", type=Path, default=Path("build/bench-core"), help="where the models are trained")
    bench.add_argument("--model-dir", type=Path, action="append",
                       help="a registered model (make model-import) to measure on its own sample rows instead of the "
                            "default models, with its handler's cold start; repeat for several")
    bench.set_defaults(func=_bench_core)

    load = subparsers.add_parser("bench-load", help="cold-start cost of loading the model per artefact format (fresh processes)",
                                 description="Trains each model twice (skops and joblib source), then times fresh Python "
                                 "processes loading it as ONNX, skops and joblib: imports, first load, reload.")
    load.add_argument("--models", nargs="+", choices=("rf", "logreg"), default=["rf", "logreg"])
    load.add_argument("--repeats", type=positive_int, default=5, help="fresh processes per model and format")
    load.add_argument("--work-dir", type=Path, default=Path("build/bench-load"), help="where the models are trained")
    load.set_defaults(func=_bench_load)
