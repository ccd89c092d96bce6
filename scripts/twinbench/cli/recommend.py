"""``twinbench recommend``: the cheapest configuration meeting an SLO on each platform, by simulation.

A thin adapter: the traffic and every platform option are ``twinbench simulate``'s (they describe
the *shipped* configuration, whose figures are shown beside the best); the search is
:mod:`twinbench.recommend`. Exit codes: 0 a recommendation (some platform meets the SLO), 1 no
platform meets it (the closest configuration and the binding constraint are printed), 2 bad input
(one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_NONE_MEETS, EXIT_BAD_INPUT = 0, 1, 2
HELP = "Cheapest configuration meeting an SLO on Lambda and on Kubernetes, searched by simulation"

EPILOG = """\
what it searches (each candidate is one simulation of the whole trace):
  Lambda      memory (times scaled by CPU share), x86_64/arm64 (arm64 as fast as x86_64 unless
              a speed factor is given: not measured here), provisioned concurrency (none, a
              constant, or an hourly UTC schedule, from the trace's concurrency), reserved
              concurrency (shipped, or (account limit - 100) / the functions serverless.yml
              reserves for), SnapStart on/off (never with provisioned concurrency)
  Kubernetes  pod CPU 500m/1/2 (capacity in proportion), workers 1/2/4, HPA min/max replicas
              and target, node instance type (x86_64 ones in prices.json), cluster-autoscaler
              or Karpenter
  coarse grid first, then the neighbours of the cheapest feasible ones until nothing cheaper
  appears; candidates whose cost floor exceeds the best, or with no more capacity than one that
  failed, are pruned. --exhaustive simulates the whole grid (to check the search).

examples:
  twinbench recommend --trace traffic.csv --slo-ms 100
  twinbench recommend --azure day1.csv --function rank:3 --slo-ms 250 --slo-pct 99.9 --out rec.json
  twinbench recommend --profile diurnal --rps 40 --minutes 1440 --slo-ms 100 --write rec/
      rec/lambda-params.json -> scripts/deploy_lambda.sh --params-file rec/lambda-params.json
      rec/k8s/               -> kubectl apply -k rec/k8s

exit codes: 0 recommended, 1 no platform meets the SLO (closest shown), 2 bad input (one line).
"""


def _doors(text: str) -> tuple[str, ...]:
    """``--front-doors``: the doors named, each deployable; a ParameterError (exit 2) otherwise."""
    from twinbench.recommend.space import FRONT_DOORS
    from twinbench.simulate.errors import ParameterError

    doors = tuple(dict.fromkeys(d.strip() for d in text.split(",") if d.strip()))
    bad = [d for d in doors if d not in FRONT_DOORS]
    if bad or not doors:
        raise ParameterError(f"--front-doors: {', '.join(bad) or repr(text)} is not one of {', '.join(FRONT_DOORS)} "
                             "(serverless.yml deploys no REST API)")
    return doors


def register(subparsers: argparse._SubParsersAction) -> None:
    from twinbench.cli.simulate import add_arguments

    parser = subparsers.add_parser("recommend", help=HELP, description=HELP + ": each platform's configuration "
                                   "space, its cheapest configuration that meets the SLO beside the shipped one, a "
                                   "Pareto plot and the verdict between the platforms at their best.",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)  # traffic, measured inputs, shipped settings, one-sided costs, the SLO
    r = parser.add_argument_group("search")
    r.add_argument("--exhaustive", action="store_true", help="simulate the whole grid (no pruning)")
    r.add_argument("--quick", action="store_true", help="a smaller grid (the bench's quick search)")
    r.add_argument("--front-doors", default="http-api", metavar="DOORS",
                   help="Lambda front doors the search may choose, comma-separated: http-api, function-url "
                   "(IAM-only: callers sign with SigV4); default http-api, the public door")
    r.add_argument("--write", metavar="DIR", help="write DIR/lambda-params.json and the overlay DIR/k8s/")
    r.add_argument("--pareto-plot", metavar="PNG", help="cost vs latency at the SLO percentile, per platform")
    parser.set_defaults(func=run)


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output path that cannot be written before the search, not after it: raises OutputError."""
    from twinbench.simulate.errors import OutputError

    for option, value in (("--out", args.out), ("--pareto-plot", args.pareto_plot)):
        if value and (Path(value).is_dir() or not Path(value).resolve().parent.is_dir()):
            raise OutputError(f"{option} {value}: {'a directory' if Path(value).is_dir() else 'no such folder'}; "
                              "give a file in an existing folder")
    if args.write and Path(args.write).exists() and not Path(args.write).is_dir():
        raise OutputError(f"--write {args.write}: a file is there; give a folder")


def run(args: argparse.Namespace) -> int:
    from twinbench.cli.simulate import build_config
    from twinbench.recommend import document, write
    from twinbench.recommend.run import recommend
    from twinbench.simulate.errors import ParameterError, ProfileError, SimulationError
    from twinbench.simulate.slo import Slo

    started = time.perf_counter()

    def progress(msg: str) -> None:
        if not args.quiet and time.perf_counter() - progress.last >= 2.0:  # type: ignore[attr-defined]
            progress.last = time.perf_counter()  # type: ignore[attr-defined]
            print(f"recommend: {msg} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    progress.last = 0.0  # type: ignore[attr-defined]
    try:
        if args.slo_ms is None:
            raise ParameterError("give the latency objective: --slo-ms MS (with --slo-pct, --error-budget)")
        slo = Slo(args.slo_ms, args.slo_pct, args.error_budget)
        _check_outputs(args)
        base = build_config(args)
        if base.profile.total < 1:  # no request can meet or miss a latency objective
            raise ProfileError(f"the traffic has no requests ({base.profile.description}): nothing to size for")
        rec = recommend(base, slo, exhaustive=args.exhaustive, quick=args.quick, platforms=base.platforms,
                        doors=_doors(args.front_doors),
                        progress=progress)
        doc = rec.doc
        if args.out:
            Path(args.out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        if args.pareto_plot:
            from twinbench.recommend.plot import plot_pareto

            plot_pareto(doc, rec.searches, args.pareto_plot)
        written = {}
        if args.write:
            chosen = {k: s.best.choice for k, s in rec.searches.items() if s.best is not None}
            written = write.write_all(doc, chosen, args.write)
    except SimulationError as exc:
        print(f"twinbench recommend: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        what = f"cannot write {exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc)
        print(f"twinbench recommend: error: {what}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print(document.render_text(doc))
        if written:
            print("\nwritten: " + ", ".join(str(p) for p in written.values()))
            kube = rec.searches["kubernetes"].best if "kubernetes" in rec.searches else None
            lam = rec.searches["lambda"].best if "lambda" in rec.searches else None
            print("deploy with:\n  " + "\n  ".join(write.deploy_commands(
                Path(args.write), written, kube.choice if kube is not None else None,  # type: ignore[arg-type]
                None if kube is None else kube.extra.get("min_nodes"),
                lam.choice if lam is not None else None)))  # type: ignore[arg-type]
    return EXIT_OK if doc["verdict"]["winner"] is not None else EXIT_NONE_MEETS
