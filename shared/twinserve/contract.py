"""The input contract: JSON body -> a validated 2-D float array, or a typed error saying what is wrong.

Accepted bodies:
  {"features": [x1, ..., xN]}                 one row, by position
  {"features": {"mean radius": x1, ...}}      one row, by feature name (all N names)
  {"instances": [[...], [...]]}               a batch (rows by position or by name)
Values must be JSON numbers (not bool, null or strings) and finite in the model's input dtype.
Other top-level keys (a client's request id, say) are ignored.

This is the hot path: one orjson parse, a type check per value, one numpy conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from twinserve.errors import (
    InvalidShape,
    InvalidValue,
    MalformedJSON,
    PayloadTooLarge,
    TooManyRows,
    UnknownFeature,
    UnsupportedMediaType,
)

_NUMBER_TYPES = (int, float)
_NON_FINITE_TOKENS = (b"NaN", b"Infinity")


@dataclass(frozen=True)
class InputSpec:
    feature_names: tuple[str, ...]
    max_rows: int
    max_body_bytes: int
    dtype: type[np.floating[Any]]
    float32_range: bool = False  # values must also fit a float32 (the model rounds inputs to it)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)


def check_content_type(content_type: str | None) -> None:
    """JSON or nothing: an absent Content-Type is read as JSON (curl without -H, Function URLs)."""
    if not content_type:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {content_type!r} is not JSON; send application/json")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _row_by_name(row: dict[str, Any], spec: InputSpec, where: str) -> list[Any]:
    names = spec.feature_names
    known = set(names)
    unknown = [k for k in row if k not in known]
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:5])
        raise UnknownFeature(f"{where} has unknown feature name(s) {shown}; expected the model's {len(names)} names")
    missing = [n for n in names if n not in row]
    if missing:
        shown = ", ".join(repr(n) for n in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InvalidShape(f"{where} is missing feature(s) {shown}{more}")
    return [row[n] for n in names]


def _check_row(row: Any, spec: InputSpec, where: str) -> list[Any]:
    if isinstance(row, dict):
        row = _row_by_name(row, spec, where)
    elif not isinstance(row, list):
        raise InvalidShape(f"{where} must be an array of {spec.n_features} numbers or an object by feature name, not {_describe(row)}")
    if len(row) != spec.n_features:
        raise InvalidShape(f"{where} has {len(row)} values; the model expects {spec.n_features}")
    for i, value in enumerate(row):
        kind = type(value)
        if kind is not float and kind is not int:  # bool is a subclass of int: excluded by `is`
            name = spec.feature_names[i]
            raise InvalidValue(f"{where}[{i}] ({name!r}) is {_describe(value)}; expected a finite number")
    return row


_F32_MAX = float(np.finfo(np.float32).max)
_F64_MAX = float(np.finfo(np.float64).max)
# Up to this many rows the range check runs on the Python lists (min/max: well under a
# microsecond a row); numpy's per-call overhead (~0.5 us each, five calls) only pays off on batches.
_PYTHON_RANGE_CHECK_ROWS = 8


def _to_array(rows: list[list[Any]], spec: InputSpec, where: str) -> np.ndarray:
    limit = _F32_MAX if spec.float32_range or spec.dtype is np.float32 else _F64_MAX
    if len(rows) <= _PYTHON_RANGE_CHECK_ROWS and all(-limit <= min(row) and max(row) <= limit for row in rows):
        # The common case, checked exactly (Python compares an int with a float exactly; JSON has
        # no NaN): every value is finite in the model's input precision, so the conversion below
        # cannot fail.
        return np.array(rows, dtype=np.float64).astype(spec.dtype, copy=False)
    try:
        array = np.array(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond float range
        raise InvalidValue(f"{where} holds a number too large for a float") from None
    finite = np.isfinite(array)
    if limit == _F32_MAX:
        finite &= np.abs(array) <= limit
    if not finite.all():
        r, c = (int(i) for i in np.argwhere(~finite)[0])
        cell = f"features[{c}]" if where == "features" else f"instances[{r}][{c}]"
        raise InvalidValue(f"{cell} ({spec.feature_names[c]!r}) is not finite in the model's input precision")
    return array.astype(spec.dtype, copy=False)


def parse_body(body: bytes, spec: InputSpec) -> np.ndarray:
    """Return a (rows, n_features) array in ``spec.dtype``; raise a ClientError subclass otherwise."""
    if len(body) > spec.max_body_bytes:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {spec.max_body_bytes}")
    if not body.strip():
        raise MalformedJSON('empty body; send {"features": [...]} or {"instances": [[...], ...]}')
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "infinity" in str(exc) or any(token in body for token in _NON_FINITE_TOKENS):
            raise InvalidValue("NaN and Infinity are not JSON numbers; every feature must be finite") from None
        raise MalformedJSON(f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidShape(f'body must be a JSON object with "features" or "instances", not {_describe(doc)}')
    has_features, has_instances = "features" in doc, "instances" in doc
    if has_features == has_instances:
        raise InvalidShape('give exactly one of "features" (one row) or "instances" (a batch of rows)')
    if has_features:
        return _to_array([_check_row(doc["features"], spec, "features")], spec, "features")
    instances = doc["instances"]
    if not isinstance(instances, list):
        raise InvalidShape(f'"instances" must be an array of rows, not {_describe(instances)}')
    if not instances:
        raise InvalidShape('"instances" is empty; send at least one row')
    if len(instances) > spec.max_rows:
        raise TooManyRows(f'"instances" has {len(instances)} rows; the limit is {spec.max_rows}')
    rows = [_check_row(row, spec, f"instances[{i}]") for i, row in enumerate(instances)]
    return _to_array(rows, spec, "instances")
