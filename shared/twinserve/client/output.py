"""Predictions out, in input order: the server's JSON shape, or one CSV line per row.

JSON: ``{"predictions", "probabilities", "classes", "model"}`` exactly as one server answer would
be for all the rows at once. CSV: ``row,prediction,probability_<class>...`` with ``row`` the
0-based index of the input row (data rows only; a CSV header is not counted), so the output
joins back to the input by position. Floats are written as the server sent them (shortest
round-trip form). A file is written whole or not at all (temporary file, then rename).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

from twinserve.client.api import Predictions
from twinserve.client.errors import UsageError

FORMATS = ("json", "csv")


def format_for(out: Path | None, explicit: str | None) -> str:
    """``--format`` if given, else ``csv`` for an ``--out`` ending in ``.csv``, else ``json``."""
    if explicit:
        return explicit
    return "csv" if out is not None and out.suffix.lower() == ".csv" else "json"


def render(result: Predictions, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result.document(), separators=(",", ":")) + "\n"
    if fmt != "csv":
        raise UsageError(f"unknown output format {fmt!r}; choose from {', '.join(FORMATS)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    classes = result.classes or []
    writer.writerow(["row", "prediction", *(f"probability_{c}" for c in classes)])
    probabilities = result.probabilities
    for i, label in enumerate(result.predictions):
        writer.writerow([i, label, *(probabilities[i] if probabilities is not None else [])])
    return buffer.getvalue()


def write(result: Predictions, fmt: str, out: Path | None) -> None:
    """To ``out`` atomically, or to standard output when ``out`` is ``None`` or ``-``."""
    text = render(result, fmt)
    if out is None or str(out) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None
