"""Rows in (one ``--row``, a JSON file, a CSV file), checked here, and cut into request bodies.

Everything is checked before anything is sent (file, line and column of the first bad value);
rows given by feature name are sent by position in the server's order when its ``/openapi.json``
names them. A CSV file is streamed (read twice, never held in memory); ``-`` reads stdin once.

Details (input forms, how values are read): docs/deploy.md, 'The client's modules'.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinserve.client.errors import BadInput, UsageError

Scalar = float | int | str | bool | None
Row = list[Scalar] | dict[str, Scalar]

STDIN = "-"


@dataclass(frozen=True)
class Schema:
    """What the server says it accepts; ``None`` = unknown (the server does not publish it)."""

    max_rows: int | None = None
    feature_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Constant:
    """``NaN``, ``Infinity`` or ``-Infinity`` as parsed: kept until the row it sits in is known."""

    token: str


def _kind(value: Any) -> str:
    if isinstance(value, _Constant):
        return value.token
    return "null" if value is None else type(value).__name__


def _value(value: Any, where: str) -> Scalar:
    """A JSON value as sent: any scalar; NaN/Infinity, float overflow and nesting raise :class:`BadInput`."""
    if isinstance(value, _Constant):
        raise BadInput(f"{where} is {value.token}, which is not a JSON number; every number must be finite")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInput(f"{where} is a number too large for a float")
    if isinstance(value, list | dict):
        kind = "an array" if isinstance(value, list) else "an object"
        raise BadInput(f"{where} is {kind}; a value must be a number, a string, true/false or null")
    scalar: Scalar = value  # what json.loads gives that is neither a list, a dict nor a non-finite number
    return scalar


_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*", re.ASCII)
_INTEGER = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)


def _typed_cell(text: str) -> Scalar:
    """A CSV cell under a header: a finite number, null when empty or blank, else the string itself."""
    if not text.strip():
        return None
    if _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # past Python's 4,300-digit conversion limit: no model's number
            return text
    if _NUMBER.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    return text


def _cell(text: str, where: str) -> float:
    cell = text.strip()
    try:
        number = float(cell)
    except ValueError:
        raise BadInput(f"{where} is {cell!r:.40}; expected a number") from None
    if not math.isfinite(number):
        raise BadInput(f"{where} is {cell!r}; expected a finite number")
    return number


class _Shaper:
    """Checks rows against the server's schema and puts rows by name into its order."""

    def __init__(self, schema: Schema) -> None:
        self.names = schema.feature_names
        self._index = {n: i for i, n in enumerate(self.names)} if self.names else None

    def positional(self, row: list[Scalar], where: str) -> list[Scalar]:
        if self.names is not None and len(row) != len(self.names):
            raise BadInput(f"{where} has {len(row)} values; the server's model expects {len(self.names)}")
        return row

    def named(self, row: dict[str, Scalar], where: str) -> Row:
        if self.names is None:
            return row
        self.check_names(list(row), where)
        return [row[n] for n in self.names]

    def check_names(self, names: Sequence[str], where: str) -> None:
        assert self.names is not None and self._index is not None
        unknown = [n for n in names if n not in self._index]
        if unknown:
            raise BadInput(f"{where} has unknown feature name(s) {', '.join(map(repr, unknown[:5]))}; "
                           f"the server's model has {len(self.names)} features")
        missing = [n for n in self.names if n not in set(names)]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise BadInput(f"{where} is missing feature(s) {', '.join(map(repr, missing[:5]))}{more}")


@dataclass
class Rows:
    """Checked rows held in memory (``--row``, JSON, CSV from stdin)."""

    rows: list[Row]
    source: str

    @property
    def total(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


def row_from_arg(text: str, schema: Schema) -> Rows:
    """``--row 1,2,3``: one row by position."""
    cells = [c for c in text.split(",")]
    row: list[Scalar] = [_cell(c, f"--row value {i + 1}") for i, c in enumerate(cells)]
    return Rows([_Shaper(schema).positional(row, "--row")], "--row")


def _read_text(path: str) -> str:
    if path == STDIN:
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory") from None
    except PermissionError:
        raise BadInput(f"{path}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise BadInput(f"{path}: {exc.strerror or exc}") from None


def rows_from_json(path: str, schema: Schema, text: str | None = None) -> Rows:
    """A JSON file (see the module docstring), or ``text`` already read from it (stdin can be read once).

    Raises :class:`BadInput` saying what is wrong and where.
    """
    name = "stdin" if path == STDIN else path
    text = _read_text(path) if text is None else text
    try:
        doc = json.loads(text, parse_constant=_Constant)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
        raise BadInput(f"{name}: {exc}") from None
    except RecursionError:
        raise BadInput(f"{name}: nested too deeply to be rows") from None
    if isinstance(doc, dict):
        if "instances" in doc and "features" not in doc:
            doc = doc["instances"]
            key = "instances"
        elif "features" in doc and "instances" not in doc:
            doc, key = [doc["features"]], "features"
        else:
            raise BadInput(f'{name}: an object must hold exactly one of "instances" (rows) or "features" (one row)')
    else:
        key = "rows"
    if not isinstance(doc, list):
        raise BadInput(f"{name}: {key} must be a list of rows, not {_kind(doc)}")
    if doc and not any(isinstance(v, list | dict) for v in doc):
        doc = [doc]  # one row given as a bare list of values
    if not doc:
        raise BadInput(f"{name}: no rows")
    shaper = _Shaper(schema)
    rows: list[Row] = []
    for i, row in enumerate(doc):
        where = f"{name}: row {i}"
        if isinstance(row, list):
            rows.append(shaper.positional([_value(v, f"{where}[{j}]") for j, v in enumerate(row)], where))
        elif isinstance(row, dict):
            checked = {str(k): _value(v, f"{where}[{k!r}]") for k, v in row.items()}
            rows.append(shaper.named(checked, where))
        else:
            raise BadInput(f"{where} is {_kind(row)}; expected a list of values or an object by feature name")
    return Rows(rows, name)


Records = Callable[[], Iterator[tuple[int, list[str]]]]


def _file_records(path: str) -> Records:
    def records() -> Iterator[tuple[int, list[str]]]:
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                yield from _non_blank(csv.reader(handle), path)
        except FileNotFoundError:
            raise BadInput(f"{path}: no such file") from None
        except IsADirectoryError:
            raise BadInput(f"{path}: is a directory") from None
        except PermissionError:
            raise BadInput(f"{path}: permission denied") from None
        except UnicodeDecodeError as exc:
            raise BadInput(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return records


def _text_records(text: str, name: str) -> Records:
    return lambda: _non_blank(csv.reader(io.StringIO(text)), name)


def _non_blank(reader: Any, name: str) -> Iterator[tuple[int, list[str]]]:
    try:
        for record in reader:
            if record and any(cell.strip() for cell in record):
                yield reader.line_num, record
    except csv.Error as exc:
        raise BadInput(f"{name}: not a readable CSV file ({exc})") from None


class CsvRows:
    """CSV rows read in two passes: :meth:`check` (checks, counts), then iteration (streams)."""

    def __init__(self, source: str, schema: Schema, records: Records) -> None:
        self.source = source
        self._records = records
        self._shaper = _Shaper(schema)
        self.total = 0

    def _parse(self) -> Iterator[Row]:
        header: list[str] | None = None
        width = 0
        for n, (line, record) in enumerate(self._records()):
            if n == 0:
                width = len(record)
                if not all(_is_number(c) for c in record):
                    header = [c.strip() for c in record]
                    self._check_header(header, f"{self.source}:{line} (header)")
                    continue
            where = f"{self.source}:{line}"
            if len(record) != width:
                raise BadInput(f"{where} has {len(record)} cells; the first line has {width}")
            if header is None:
                yield self._shaper.positional([_cell(c, f"{where} column {j + 1}") for j, c in enumerate(record)], where)
            else:
                named = {h: _typed_cell(c) for h, c in zip(header, record, strict=True)}
                yield self._shaper.named(named, where)

    def _check_header(self, header: list[str], where: str) -> None:
        empty = [i + 1 for i, h in enumerate(header) if not h]
        if empty:
            raise BadInput(f"{where} has an empty name in column {empty[0]}")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise BadInput(f"{where} names {dupes[0]!r} twice")
        if self._shaper.names is not None:
            self._shaper.check_names(header, where)

    def check(self) -> CsvRows:
        """Read everything once; raises :class:`BadInput` at the first bad line, or when there is no data."""
        self.total = sum(1 for _ in self._parse())
        if self.total == 0:
            raise BadInput(f"{self.source}: no data rows")
        return self

    def __iter__(self) -> Iterator[Row]:
        return self._parse()


def _is_number(text: str) -> bool:
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def rows_from_csv(path: str, schema: Schema, text: str | None = None) -> CsvRows:
    """A CSV file (see the module docstring), checked; or ``text`` already read from it (stdin)."""
    if path == STDIN or text is not None:
        name = "stdin" if path == STDIN else path
        return CsvRows(name, schema, _text_records(sys.stdin.read() if text is None else text, name)).check()
    return CsvRows(path, schema, _file_records(path)).check()


@dataclass(frozen=True)
class Batch:
    """Rows ``start .. start+len(rows)-1`` of the input and the request body that carries them."""

    start: int
    rows: int
    body: bytes


def encode(rows: Sequence[Row]) -> bytes:
    """The request body for ``rows``; :class:`BadInput` for rows given in code that JSON cannot carry
    (NaN, infinities, objects that are not JSON): files and flags were checked when read."""
    try:
        return json.dumps({"instances": list(rows)}, separators=(",", ":"), allow_nan=False).encode()
    except (ValueError, TypeError) as exc:
        raise BadInput(f"rows cannot be sent as JSON: {exc}") from None


def batches(rows: Iterable[Row], batch_rows: int, max_body_bytes: int) -> Iterator[Batch]:
    """Cut rows into bodies of at most ``batch_rows`` rows and ``max_body_bytes`` bytes, in order.

    A batch whose body is too large is halved until it fits (wide rows, a low body limit).
    Raises :class:`UsageError` when a single row alone is over the byte limit.
    """
    if batch_rows < 1:
        raise UsageError(f"batch rows must be >= 1, not {batch_rows}")
    start = 0
    pending: list[Row] = []
    for row in rows:
        pending.append(row)
        if len(pending) == batch_rows:
            yield from _fit(pending, start, max_body_bytes)
            start += len(pending)
            pending = []
    if pending:
        yield from _fit(pending, start, max_body_bytes)


def _fit(rows: list[Row], start: int, max_body_bytes: int) -> Iterator[Batch]:
    body = encode(rows)
    if len(body) <= max_body_bytes:
        yield Batch(start, len(rows), body)
        return
    if len(rows) == 1:
        raise UsageError(f"row {start} alone is {len(body)} bytes of JSON; the body limit is {max_body_bytes}")
    half = len(rows) // 2
    yield from _fit(rows[:half], start, max_body_bytes)
    yield from _fit(rows[half:], start + half, max_body_bytes)
