"""``python -m twinserve.cli``: register models, and call a deployed endpoint.

  train       fit a default model on breast_cancer and register it (make model)
  import      register your own fitted estimator from a joblib/pickle/skops file (make model-import)
  predict     send rows to a deployment (one row, a JSON or CSV file; batches, retries, SigV4)

Measuring the core (bench-core, bench-load) is the bench's job: ``twinbench bench-core``.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

from twinserve.cli_parser import OneLineParser
from twinserve.errors import TwinserveError

EXIT_USAGE = 2

# A name is a path segment of the V2 routes (/v2/models/{name}) and a label in metadata.json:
# letters, digits, '.', '_' and '-', starting with a letter or digit (so never '', '.' or '..').
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _usage_error(command: str, message: str) -> int:
    """One line on stderr, the usage exit code: bad input is never a traceback."""
    prefix = "twinserve predict: error: " if command == "predict" else "error: "
    print(prefix + message, file=sys.stderr)
    return EXIT_USAGE


def _folder_problem(out: Path) -> str | None:
    """Why ``out`` cannot be (re)written as a model folder, or None: it, or a folder on its path, is a file."""
    for path in (out, *out.parents):
        if path.exists() or path.is_symlink():
            return None if path.is_dir() else (
                f"--out {out} is a file, not a folder" if path == out else f"--out {out}: {path} is a file, not a folder")
    return None


def _write_problem(out: Path, exc: OSError) -> str:
    """One line for a model folder that could not be written."""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"--out {out}: cannot write the model folder: {exc.strerror or exc}{where}"


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a model, or None."""
    if _MODEL_NAME.fullmatch(name):
        return None
    return (f"model name {name!r} is not allowed: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it is a path segment of /v2/models/{name})")


def _train(args: argparse.Namespace) -> int:
    from twinserve.registration import print_summary
    from twinserve.training import train

    problem = _folder_problem(args.out)
    if problem:
        return _usage_error("train", problem)
    try:
        document = train(args.model, args.out, seed=args.seed, source_format=args.format)
    except OSError as exc:  # the model folder cannot be written there (read-only, a pseudo-filesystem)
        return _usage_error("train", _write_problem(args.out, exc))
    print_summary(document, args.out)
    return 0


def _import(args: argparse.Namespace) -> int:
    from twinserve.errors import RegistrationError
    from twinserve.registration import import_estimator, print_summary

    name = args.name if args.name is not None else args.src.stem
    problem = _folder_problem(args.out)
    if problem is None and (bad_name := _name_problem(name)):
        problem = bad_name if args.name is not None else f"{bad_name}; {args.src.name} gives it: pass --name"
    if problem:
        return _usage_error("import", problem)
    try:
        document, notes = import_estimator(args.src, args.out, name=name, sample_path=args.sample,
                                           text_column=args.text_column)
    except RegistrationError as exc:
        return _usage_error("import", exc.message)
    except OSError as exc:  # the model folder cannot be written there (read-only, a pseudo-filesystem)
        return _usage_error("import", _write_problem(args.out, exc))
    print_summary(document, args.out, notes)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from twinserve.client.command import run_predict  # needs requests (and botocore for SigV4)

    if args.out is not None and args.out.is_dir():  # refused before anything is sent
        return _usage_error("predict", f"--out {args.out} is a folder; give a file name")
    if args.out is not None and not args.out.parent.is_dir():
        folder = args.out.parent
        return _usage_error("predict", f"--out {args.out}: " + (
            f"{folder} is a file, not a folder" if folder.exists() else f"folder {folder} does not exist"))
    return run_predict(args)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, not {text!r}")
    return value


IMPORT_HELP = """\
Register your own fitted scikit-learn estimator (a joblib/pickle file you trust: loading it runs
its code; or a .skops file, every type in it trusted) with a sample of your data, so the service
knows what each feature takes. A search (GridSearchCV), calibrated, voting, stacking or
multi-output model is registered as fitted, its inner pipeline's encoders read as the pipeline's.

From the estimator (feature_names_in_, encoders' categories_) and the sample, the registrar
writes an input schema into metadata.json: per feature its name, kind (number, integer, string,
boolean), whether it takes null (where the sample has missing values) and the categories it knows.
It re-writes the model as skops (printing any type beyond the reviewed trust list, recorded in
metadata.json), keeps an ONNX form only where it equals scikit-learn on the sample rows plus rows
drawn from the schema, and keeps up to 100 sample rows (samples.json) for checks and benchmarks.
Other SAMPLE columns (a label, say) are ignored and listed. Without --sample it still works, with
a warning: the checks run on rows drawn from what the estimator learned.

Exit status: 0 registered; 2 the model or sample cannot be registered (one line says why: not
fitted, SAMPLE lacks columns or TEXT_COLUMN, the model fails on the sample, an unreadable file or
one that is not a joblib/pickle/skops model, a library the servers do not ship such as xgboost,
or code of your own script), or --out is a file or cannot be written, or the name is not 1-128
letters, digits, '.', '_' or '-' starting with a letter or digit (a path segment of
/v2/models/{name}).

Example:
  twinserve import --src model.joblib --sample rows.csv --out model
"""

PREDICT_HELP = """\
Send rows to a deployed twinserve endpoint (HTTP API, IAM Function URL, container) and write the
predictions in input order.

Input (one of):
  --row 1.5,2,3      one row of numbers by position (a leading minus needs --row=-1.5,2,3)
  --json FILE        a list of rows, {"instances": [...]}, {"features": row} or one row; a row is a
                     list of values by position or an object by feature name
  --csv FILE         one row per line; if the first line is not all numbers it is a header of
                     feature names (columns matched by name, any order), otherwise rows are by
                     position. Blank lines are skipped. FILE may be - (standard input).
Values (models fitted on DataFrames with string categories or missing values, text models):
  --json             any JSON scalar - a number, a string, true/false or null - sent as given;
                     the server says if one does not fit its feature. NaN, Infinity, numbers too
                     large for a float and arrays or objects as values are refused here.
  --csv with header  a cell that is a finite number (12, -0.5, 1e3) is sent as a number, an empty
                     cell as null, anything else as a string (quoted as the csv module reads it).
                     Digits are always a number: send a code such as "02134" as a string with --json.
  --csv without header, --row
                     finite numbers only.
The file and row of the first bad value are reported before anything is sent.

Batches: at most the server's row limit per request (read from its /openapi.json when served,
else 1,000 = the server's default MAX_ROWS; --batch-rows lowers it) and under --max-body-bytes.
Retries: 429, 5xx, connection errors and timeouts, exponential backoff with jitter, Retry-After
obeyed (at most 60 s); other 4xx are not retried. Progress goes to stderr when more than one
request is needed.

Output: JSON in the server's shape ({"predictions", "probabilities", "classes", "model"}) or CSV:
row,prediction,probability_<class>... for a classifier, row,prediction for a regressor,
row,prediction_0,...,prediction_<k-1> for a model with k outputs (row = 0-based input row; labels
as sent: strings, numbers, true/false, null as an empty cell). Format from --out's suffix unless
--format is given; stdout when --out is absent. Files are written whole or not at all, through a
temporary file the client creates itself in --out's folder, then renamed over --out.
Server text printed to the terminal (error messages, CSV labels) has escape sequences and control
characters removed.

SigV4 (--sigv4): for Function URLs with IAM auth. Needs an https:// URL (plain http only to
127.0.0.1, ::1 or localhost): anything else is refused with exit 2 before anything is signed.
Every attempt, retries included, is signed afresh with its own date. Credentials from botocore's
default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN], AWS_PROFILE or
--profile, ~/.aws, instance/container roles); the region from --region, else the Function URL's
host, else AWS_REGION / AWS_DEFAULT_REGION / the profile's region. The caller needs
lambda:InvokeFunctionUrl.

Exit status:
  0  every row was answered and written
  1  the server refused a request (a 4xx other than 429; the message gives its code and text),
     answered something that is not a prediction, or every attempt failed ("gave up after N
     attempts: ..." with the last status or connection error)
  2  bad usage or input (a bad file, row, URL or flag; no AWS credentials or region; --sigv4
     over plain http to another machine; --out's folder missing or not writable)

Examples:
  twinserve predict --url https://<api>.execute-api.eu-west-1.amazonaws.com --row 17.99,10.38,...
  twinserve predict --url https://<id>.lambda-url.eu-west-1.on.aws --sigv4 --csv rows.csv --out preds.csv
"""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="twinserve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train and register a default model",
                           description="Fit a default model on breast_cancer and register it in --out.\n\n"
                           "Exit status: 0 registered; 2 --out is a file (or a file is on its path) or cannot be written; "
                           "1 registration failed.")
    train.add_argument("--model", choices=("rf", "logreg"), default="rf", help="rf: RandomForest, 100 trees (default); logreg: StandardScaler + LogisticRegression")
    train.add_argument("--out", type=Path, default=Path("model"), help="model directory to (re)write (default: model/)")
    train.add_argument("--seed", type=int, default=0, help="random seed for the split and the estimator")
    train.add_argument("--format", choices=("skops", "joblib"), default="skops", help="source artefact format (joblib runs code on load; serving it needs MODEL_FORMAT=joblib)")
    train.set_defaults(func=_train)

    imp = sub.add_parser("import", help="register your own fitted estimator (joblib/pickle file you trust, or skops)",
                         description=IMPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("--src", type=Path, required=True, help="path to the fitted estimator (.joblib / .pkl / .skops)")
    imp.add_argument("--sample", type=Path, help="CSV or Parquet rows of your data, columns named as the model was fitted")
    imp.add_argument("--text-column", help="for a text pipeline: the SAMPLE column holding the documents")
    imp.add_argument("--out", type=Path, default=Path("model"), help="model directory to (re)write (default: model/)")
    imp.add_argument("--name", help="model name (default: the file's stem)")
    imp.set_defaults(func=_import)

    pred = sub.add_parser("predict", help="send rows to a deployed endpoint (batches, retries, SigV4)",
                          description=PREDICT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pred.add_argument("--url", required=True, help="the deployment's base URL (a trailing /predict is accepted)")
    source = pred.add_mutually_exclusive_group(required=True)
    source.add_argument("--row", help="one row: comma-separated numbers, by position")
    source.add_argument("--json", metavar="FILE", help="JSON file of rows (- for stdin)")
    source.add_argument("--csv", metavar="FILE", help="CSV file of rows, header optional (- for stdin)")
    pred.add_argument("--out", type=Path, help="output file (default: stdout)")
    pred.add_argument("--format", choices=("csv", "json"), help="output format (default: from --out's suffix, else json)")
    pred.add_argument("--timeout-s", type=_positive_seconds, default=10.0,
                      help="per attempt: to connect, and for each wait for bytes (default 10)")
    pred.add_argument("--retries", type=int, default=4, help="extra attempts on 429, 5xx, connection errors, timeouts (default 4)")
    pred.add_argument("--batch-rows", type=int, help="rows per request (default: the server's limit, else 1000)")
    pred.add_argument("--max-body-bytes", type=int, default=1_048_576,
                      help="largest request body; bigger batches are split (default 1048576 = the server's MAX_BODY_BYTES)")
    pred.add_argument("--sigv4", action="store_true", help="sign requests (IAM-authenticated Function URL)")
    pred.add_argument("--region", help="SigV4 region (default: from the Function URL's host, else AWS_REGION or the profile's)")
    pred.add_argument("--profile", help="AWS profile for SigV4 credentials (default: AWS_PROFILE or the default chain)")
    pred.add_argument("--quiet", action="store_true", help="no progress on stderr")
    pred.set_defaults(func=_predict)

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
