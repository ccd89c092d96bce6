"""``python -m twinserve.cli``: register models and measure the core.

  train       fit a default model on breast_cancer and register it (make model)
  import      register your own fitted estimator from a joblib file (make model-import)

Measuring the core (bench-core, bench-load) is the bench's job: ``twinbench bench-core``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twinserve.errors import TwinserveError


def _train(args: argparse.Namespace) -> int:
    from twinserve.training import print_summary, train

    document = train(args.model, args.out, seed=args.seed, source_format=args.format)
    print_summary(document, args.out)
    return 0


def _import(args: argparse.Namespace) -> int:
    from twinserve.training import import_estimator, print_summary

    if not args.src.exists():
        print(f"error: {args.src} does not exist", file=sys.stderr)
        return 2
    document = import_estimator(args.src, args.out, name=args.name)
    print_summary(document, args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twinserve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train and register a default model")
    train.add_argument("--model", choices=("rf", "logreg"), default="rf", help="rf: RandomForest, 100 trees (default); logreg: StandardScaler + LogisticRegression")
    train.add_argument("--out", type=Path, default=Path("model"), help="model directory to (re)write (default: model/)")
    train.add_argument("--seed", type=int, default=0, help="random seed for the split and the estimator")
    train.add_argument("--format", choices=("skops", "joblib"), default="skops", help="source artefact format (joblib runs code on load; serving it needs MODEL_FORMAT=joblib)")
    train.set_defaults(func=_train)

    imp = sub.add_parser("import", help="register your own fitted estimator (joblib/pickle file you trust)")
    imp.add_argument("--src", type=Path, required=True, help="path to the fitted estimator (.joblib / .pkl)")
    imp.add_argument("--out", type=Path, default=Path("model"), help="model directory to (re)write (default: model/)")
    imp.add_argument("--name", help="model name (default: the file's stem)")
    imp.set_defaults(func=_import)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TwinserveError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
