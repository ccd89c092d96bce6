"""``twinbench report RESULTS_DIR``: re-render report.md and the plots from a results.json.

The report is a view of the data: this command never measures anything, so a report can be
regenerated after the renderer improves, or after collector JSON (cloudwatch.json, kubectl.json)
was added to the folder. Exit codes: 0 rendered, 2 no/invalid results.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twinbench.results import document as results

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="Re-render report.md and plots from results/<ts>/results.json",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="a results folder (results/<timestamp>) or its results.json")
    p.add_argument("--validate", action="store_true", help="also validate results.json against its schema")
    p.add_argument("--print", dest="print_table", action="store_true", help="print the summary table too")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from twinbench.report.markdown import render_folder, summary_table

    try:
        doc = results.load(args.folder)
        if args.validate:
            results.validate(doc)
    except results.ResultsError as exc:
        print(f"twinbench report: {exc}", file=sys.stderr)
        return 2
    folder = args.folder if args.folder.is_dir() else args.folder.parent
    try:
        path = render_folder(folder, doc)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        # A document the renderer cannot read: its schema says why in one line; if the schema
        # finds nothing wrong, the renderer has a bug and the traceback is the right answer.
        try:
            results.validate(doc)
        except results.ResultsError as invalid:
            print(f"twinbench report: {invalid}".replace("\n", "; "), file=sys.stderr)
            return 2
        raise exc from None
    if args.print_table:
        print(summary_table(doc))
    print(f"report: {path}")
    return 0
