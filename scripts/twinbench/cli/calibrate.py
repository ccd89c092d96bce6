"""``twinbench calibrate``: arguments, exit codes (0 agrees, 1 disagrees, 2 bad input) and output."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from twinbench.cli.arg_types import non_negative_int, positive_int
from twinbench.simulate.calibrate.report import calibrate
from twinbench.simulate.calibrate.schedule import CalibrationError
from twinbench.simulate.errors import SimulationError

EXIT_DISAGREE = 1
EXIT_BAD_INPUT = 2


EPILOG = """\
what it does:
  Draws a seeded bursty schedule (bursts, idle gaps longer and shorter than the keep-alive, one
  spike), replays it open-loop against the local Lambda (real awslambdaric processes, idle reaping
  = the keep-alive, reserved concurrency = --concurrency) and against gunicorn under the pod limits,
  then runs the simulator on the same arrivals (Lambda's as its environment pool saw them) with the
  service times and INIT durations measured in that replay, and compares cold starts, 429s/503s and
  p50/p99 within stated tolerances.

examples:
  twinbench calibrate                  # ~4 min: 6 bursts, keep-alive 10 s, both targets
  twinbench calibrate --short          # ~50 s: what the test runs
  twinbench calibrate --sim-keep-alive-s 100   # a deliberately wrong model parameter: must disagree
  twinbench calibrate --json --out calibration.json

needs: make lambda-runtime package-lambda model (the runtime venv, the built package, the model).
exit codes: 0 the simulator agrees within every tolerance, 1 it disagrees (the verdict says
INCONCLUSIVE when the machine was too busy to tell: rerun on a quiet machine), 2 bad input or a
missing prerequisite (one line on stderr).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="Check the simulator against the real local stack: the same bursty arrivals through "
        "the local Lambda and gunicorn and through the model; cold starts, 429s and p50/p99 within tolerances",
        description="Replay one bursty arrival schedule through the local Lambda and gunicorn under the pod "
        "limits, and through the simulator with inputs measured in that replay; compare.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the short schedule the test runs (~20 s per target)")
    parser.add_argument("--seed", type=non_negative_int, default=7, help="schedule seed (default 7)")
    parser.add_argument("--keep-alive-s", type=float, help="keep-alive on both sides, s (default 10, --short 4)")
    parser.add_argument("--concurrency", type=positive_int, default=8,
                        help="the local Lambda's reserved concurrency and the model's (default 8)")
    parser.add_argument("--sim-keep-alive-s", type=float,
                        help="give the model another keep-alive than the emulator's (shows the check can fail)")
    parser.add_argument("--targets", default="lambda,container", help="lambda, container or both (default both)")
    parser.add_argument("--json", action="store_true", help="print the document instead of the table")
    parser.add_argument("--out", metavar="JSON", help="also write the document with every request's record here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
        if not targets or any(t not in ("lambda", "container") for t in targets):
            raise CalibrationError("--targets takes lambda, container or both, comma-separated")
        for name in ("keep_alive_s", "sim_keep_alive_s"):
            v = getattr(args, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise CalibrationError(f"--{name.replace('_', '-')} must be finite and > 0, got {v}")
        if args.out and not Path(args.out).resolve().parent.is_dir():
            raise CalibrationError(f"--out {args.out}: no such directory")
        if args.out and Path(args.out).is_dir():
            raise CalibrationError(f"--out {args.out} is a directory; give a file name")
        report = calibrate(args.short, args.seed, args.concurrency, args.keep_alive_s, args.sim_keep_alive_s,
                           targets, progress=lambda msg: print(f"calibrate: {msg}", file=sys.stderr, flush=True))
    except SimulationError as exc:
        print(f"twinbench calibrate: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.out:
        try:
            Path(args.out).write_text(json.dumps(report.to_document(raw=True)), encoding="utf-8")
        except OSError as exc:
            print(f"twinbench calibrate: error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    print(json.dumps(report.to_document(raw=False), indent=1) if args.json else report.render_text())
    return 0 if report.ok else EXIT_DISAGREE
