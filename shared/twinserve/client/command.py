"""``twinserve predict``: what the CLI does with its arguments (the parser lives in twinserve.cli)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import TextIO

from twinserve.client.api import DEFAULT_MAX_ROWS, BatchDone, PredictClient
from twinserve.client.batches import STDIN, CsvRows, Rows, Schema, row_from_arg, rows_from_csv, rows_from_json
from twinserve.client.errors import EXIT_OK, CallError, UsageError
from twinserve.client.http import RetryPolicy
from twinserve.client.output import format_for, write


class BatchProgress:
    """One line per batch on a pipe or file; one line rewritten in place on a terminal.

    Shown only when the input needs more than one request (a single call stays silent).
    """

    def __init__(self, stream: TextIO, total: int, batch_rows: int, enabled: bool) -> None:
        self.stream = stream
        self.total = total
        self.batches = max(1, math.ceil(total / batch_rows))
        self.enabled = enabled and self.batches > 1
        self.tty = stream.isatty()
        self.t0 = time.perf_counter()

    def __call__(self, done: BatchDone) -> None:
        if not self.enabled:
            return
        retried = f", {done.answer.attempts} attempts" if done.answer.attempts > 1 else ""
        line = (f"batch {done.index + 1}/{self.batches}: rows {done.batch.start}-{done.batch.start + done.batch.rows - 1} "
                f"in {done.answer.elapsed_s:.2f} s{retried} ({done.rows_done}/{self.total} rows, "
                f"{time.perf_counter() - self.t0:.1f} s)")
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, requests: int, attempts: int) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\n")
        self.stream.write(f"{self.total} rows in {requests} requests ({attempts} attempts), "
                          f"{time.perf_counter() - self.t0:.1f} s\n")
        self.stream.flush()


def _reader(args: argparse.Namespace) -> Callable[[Schema], Rows | CsvRows]:
    """Reads the input against a schema, as often as needed (stdin is read once, here)."""
    if args.row is not None:
        return lambda schema: row_from_arg(args.row, schema)
    path, parse = (args.json, rows_from_json) if args.json is not None else (args.csv, rows_from_csv)
    text = sys.stdin.read() if path == STDIN else None
    return lambda schema: parse(path, schema, text)


def run_predict(args: argparse.Namespace) -> int:
    """Exit status: 0 ok, 2 bad input/usage, 1 refused or gave up; one line on stderr, never a traceback."""
    try:
        return _run(args)
    except CallError as exc:
        print(f"twinserve predict: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("twinserve predict: interrupted; nothing written", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.region and not args.sigv4:
        raise UsageError("--region only applies with --sigv4")
    if args.batch_rows is not None and args.batch_rows < 1:
        raise UsageError(f"--batch-rows must be >= 1, not {args.batch_rows}")
    policy = RetryPolicy(retries=args.retries)
    fmt = format_for(args.out, args.format)
    read = _reader(args)
    read(Schema())  # every value checked before the first request: a bad file is exit 2, whatever the server
    with PredictClient(args.url, timeout_s=args.timeout_s, policy=policy, sigv4=args.sigv4, region=args.region,
                       profile=args.profile, max_body_bytes=args.max_body_bytes) as client:
        schema = client.schema()
        limit = schema.max_rows
        if args.batch_rows is not None and limit is not None and args.batch_rows > limit:
            raise UsageError(f"--batch-rows {args.batch_rows} is above the server's limit of {limit} rows per request")
        batch_rows = args.batch_rows or limit or DEFAULT_MAX_ROWS
        rows = read(schema)  # again with the server's names: lengths, names, and rows by name put in its order
        progress = BatchProgress(sys.stderr, rows.total, batch_rows, enabled=not args.quiet)
        result = client.predict_rows(rows, total=rows.total, batch_rows=batch_rows, on_batch=progress)
        progress.finish(result.requests, result.attempts)
    write(result, fmt, args.out)
    return EXIT_OK
