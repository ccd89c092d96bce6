"""Predictions out, in input order: the server's JSON shape, or one CSV line per row.

JSON is one server answer for all the rows at once; CSV is ``row``, the prediction(s), then the
probabilities when the model gives them. A file is written whole or not at all (a temporary
file this process creates, then a rename).

Details (CSV columns, how labels are written): docs/deploy.md, 'The client's modules'.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinserve.client.api import Predictions
from twinserve.client.errors import UnexpectedAnswer, UsageError
from twinserve.client.printable import printable

FORMATS = ("json", "csv")


def format_for(out: Path | None, explicit: str | None) -> str:
    """``--format`` if given, else ``csv`` for an ``--out`` ending in ``.csv``, else ``json``."""
    if explicit:
        return explicit
    return "csv" if out is not None and out.suffix.lower() == ".csv" else "json"


def render(result: Predictions, fmt: str, terminal: bool = False) -> str:
    """The output text; ``terminal``: CSV text cells made printable (JSON is ASCII-escaped anyway).

    Raises :class:`UsageError` for an unknown format and :class:`UnexpectedAnswer` for predictions
    CSV cannot lay out (rows of different widths).
    """
    if fmt == "json":
        return json.dumps(result.document(), separators=(",", ":")) + "\n"
    if fmt != "csv":
        raise UsageError(f"unknown output format {fmt!r}; choose from {', '.join(FORMATS)}")
    return _csv(result, printable if terminal else str)


def _width(predictions: list[Any]) -> int | None:
    """``None`` for one value per row; ``k`` when every row's prediction is a list of k values."""
    width = len(predictions[0]) if predictions and isinstance(predictions[0], list) else None
    for i, prediction in enumerate(predictions):
        got = len(prediction) if isinstance(prediction, list) else None
        if got != width:
            shape = "one value" if got is None else f"{got} values"
            first = "one value" if width is None else f"{width} values"
            raise UnexpectedAnswer(f"row {i}'s prediction has {shape} but row 0's has {first}; "
                                   f"CSV needs one width: use --format json")
    return width


def _cell(value: Any, text: Callable[[str], str]) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value  # the csv module writes repr(): the shortest form that reads back the same
    if isinstance(value, str):
        return text(value)
    return text(json.dumps(value, separators=(",", ":")))


def _csv(result: Predictions, text: Callable[[str], str]) -> str:
    width = _width(result.predictions)
    probabilities = result.probabilities
    classes = result.classes if isinstance(result.classes, list) else []
    per_class = bool(classes) and not any(isinstance(c, list | dict) for c in classes)
    header: list[Any] = ["row"]
    header += ["prediction"] if width is None else [f"prediction_{j}" for j in range(width)]
    if probabilities is not None:
        header += [f"probability_{_cell(c, str)}" for c in classes] if per_class else ["probabilities"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_cell(h, text) for h in header])
    for i, prediction in enumerate(result.predictions):
        line = [i, *(_cell(v, text) for v in (prediction if width is not None else [prediction]))]
        if probabilities is not None:
            given = probabilities[i]
            line += [_cell(p, text) for p in given] if per_class and isinstance(given, list) else [_cell(given, text)]
        writer.writerow(line)
    return buffer.getvalue()


def _umask() -> int:
    mask = os.umask(0o077)  # read it: os.umask only reads by setting; restored on the next line
    os.umask(mask)
    return mask


def write(result: Predictions, fmt: str, out: Path | None) -> None:
    """To ``out`` atomically, or to standard output when ``out`` is ``None`` or ``-``.

    The temporary file is one this call creates (``mkstemp``: ``O_CREAT | O_EXCL``, a random name,
    mode 0600 while written), so a file or symlink planted in the folder is never opened or
    followed; it is flushed to disk, given the mode a new file would get (0666 less the umask) and
    renamed over ``out`` (``os.replace``: a symlink at ``out`` is replaced, not followed).
    Raises :class:`UsageError` when the folder is missing or not writable; nothing is left behind.
    """
    text = render(result, fmt, terminal=(out is None or str(out) == "-") and sys.stdout.isatty())
    if out is None or str(out) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    folder = out.parent
    if not folder.is_dir():
        raise UsageError(f"--out {out}: folder {folder} does not exist")
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create a file in {folder}: {exc.strerror or exc}") from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), 0o666 & ~_umask())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None
    except BaseException:  # interrupted: no temporary file left behind either
        tmp.unlink(missing_ok=True)
        raise
