"""The input contract: JSON body -> a validated batch, or a typed error saying what is wrong.

Accepted bodies:
  {"features": [x1, ..., xN]}                 one row, by position
  {"features": {"mean radius": x1, ...}}      one row, by feature name (all N names)
  {"instances": [[...], [...]]}               a batch (rows by position or by name)

Each value must be of its feature's kind in the model's input schema (:mod:`twinserve.schema`):
a JSON number for ``number`` (finite in the model's input dtype), an integer for ``integer``, a
string for ``string``, ``true``/``false`` for ``boolean``; ``null`` only where the model takes a
missing value. An all-number model gets a float matrix (the hot path: one orjson parse, a type
check per value, one numpy conversion); any other gets :class:`Columns`, one typed array per
feature. Other top-level keys (a client's request id, say) are ignored.
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
    clip,
)
from twinserve.schema import Feature, InputSchema

_NUMBER_TYPES = frozenset((int, float))
_NON_FINITE_TOKENS = (b"NaN", b"Infinity")


@dataclass(frozen=True)
class InputSpec:
    feature_names: tuple[str, ...]
    max_rows: int
    max_body_bytes: int
    dtype: type[np.floating[Any]]
    float32_range: bool = False  # values must also fit a float32 (the model rounds inputs to it)
    schema: InputSchema | None = None  # None: every feature a finite number (the matrix path)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def typed(self) -> bool:
        """Whether batches are typed columns rather than one float matrix."""
        return self.schema is not None and not self.schema.numeric_matrix


@dataclass(frozen=True)
class Columns:
    """A validated batch for a model with typed inputs: one array per feature, in schema order.

    Numbers are float64 (NaN where missing), integers int64 (float64 with NaN where missing),
    strings and nullable booleans object arrays (None where missing), booleans bool.
    """

    names: tuple[str, ...]
    arrays: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.arrays[0]) if self.arrays else 0


Batch = np.ndarray | Columns


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
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _row_by_name(row: dict[str, Any], spec: InputSpec, where: str) -> list[Any]:
    names = spec.feature_names
    known = set(names)
    unknown = [k for k in row if k not in known]
    if unknown:
        shown = ", ".join(clip(repr(k)) for k in unknown[:5])
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
        raise InvalidShape(f"{where} must be an array of {spec.n_features} values or an object by feature name, not {_describe(row)}")
    checked: list[Any] = row
    if len(row) != spec.n_features:
        raise InvalidShape(f"{where} has {len(row)} values; the model expects {spec.n_features}")
    if not _NUMBER_TYPES.issuperset(map(type, row)):  # in C; bool (a subclass of int) is not in the set
        for i, value in enumerate(row):
            if type(value) not in _NUMBER_TYPES:
                name = spec.feature_names[i]
                raise InvalidValue(f"{where}[{i}] ({name!r}) is {_describe(value)}; expected a finite number")
    return checked


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


_MISSING = {"number": np.nan, "integer": np.nan, "string": None, "boolean": None}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _typed_value(value: Any, feature: Feature, where: str) -> Any:
    """``value`` checked against its feature; raises InvalidValue naming the feature."""
    kind = feature.kind
    cell = f"{where}[{clip(repr(feature.name))}]"
    if value is None:
        if feature.nullable:
            return _MISSING[kind]
        raise InvalidValue(f"{cell} is null; the model takes no missing value there")
    value_type = type(value)
    if kind == "number":
        ok = value_type is float or value_type is int
    elif kind == "integer":
        ok = value_type is int or (value_type is float and value.is_integer())
    elif kind == "string":
        ok = value_type is str
    else:
        ok = value_type is bool
    if not ok:
        expected = {"number": "a finite number", "integer": "an integer", "string": "a string",
                    "boolean": "true or false"}[kind]
        raise InvalidValue(f"{cell} is {_describe(value)}; expected {expected}")
    if feature.closed and feature.categories is not None and value not in feature.categories:
        known = ", ".join(clip(repr(c), 40) for c in feature.categories[:10])
        more = f" and {len(feature.categories) - 10} more" if len(feature.categories) > 10 else ""
        raise InvalidValue(f"{cell} is {clip(repr(value))}, which the model does not "
                           f"know; known values: {known}{more}")
    return value


def _to_columns(rows: list[list[Any]], spec: InputSpec, where: str) -> Columns:
    """Typed rows -> one array per feature, in the dtypes the model was fitted with. A model that
    computes in float32 (``spec.float32_range``) refuses a number past float32's range, as the
    all-number path does: cast, it would reach the model as an infinity."""
    schema = spec.schema
    assert schema is not None
    limit = _F32_MAX if spec.float32_range or spec.dtype is np.float32 else _F64_MAX
    arrays: list[np.ndarray] = []
    for c, feature in enumerate(schema.features):
        values = [row[c] for row in rows]
        kind = feature.kind
        if kind in ("number", "integer"):
            if kind == "integer" and not any(v != v for v in values):  # no NaN: stays an integer column
                if any(not _INT64_MIN <= v <= _INT64_MAX for v in values):
                    raise InvalidValue(f"{where}: {clip(repr(feature.name))} holds an integer beyond 64 bits")
                arrays.append(np.array(values, dtype=np.int64))
                continue
            try:
                array = np.array(values, dtype=np.float64)
            except OverflowError:
                raise InvalidValue(f"{where}: {clip(repr(feature.name))} holds a number too large for a float") from None
            if np.isinf(array).any():
                raise InvalidValue(f"{where}: {clip(repr(feature.name))} holds a number too large for a float")
            if limit == _F32_MAX and (np.abs(array) > limit).any():
                raise InvalidValue(f"{where}: {clip(repr(feature.name))} holds a number that is not finite in "
                                   "the model's input precision (float32)")
            arrays.append(array)
        elif kind == "boolean" and not feature.nullable:
            arrays.append(np.array(values, dtype=bool))
        else:
            array = np.empty(len(values), dtype=object)
            array[:] = values
            arrays.append(array)
    return Columns(schema.names, tuple(arrays))


def _check_typed_row(row: Any, spec: InputSpec, where: str) -> list[Any]:
    assert spec.schema is not None
    if isinstance(row, dict):
        row = _row_by_name(row, spec, where)
    elif not isinstance(row, list):
        raise InvalidShape(f"{where} must be an object by feature name or an array of {spec.n_features} values, "
                           f"not {_describe(row)}")
    if len(row) != spec.n_features:
        raise InvalidShape(f"{where} has {len(row)} values; the model expects {spec.n_features}")
    return [_typed_value(value, feature, where)
            for value, feature in zip(row, spec.schema.features, strict=True)]


def columns_from_values(columns: list[list[Any]], spec: InputSpec) -> Columns:
    """Values given column by column (one V2 tensor per feature), checked as rows by name are."""
    assert spec.schema is not None
    checked = [[_typed_value(value, feature, "inputs") for value in column]
               for column, feature in zip(columns, spec.schema.features, strict=True)]
    return _to_columns([list(row) for row in zip(*checked, strict=True)], spec, "inputs")


def parse_body(body: bytes, spec: InputSpec) -> Batch:
    """Return a (rows, n_features) array in ``spec.dtype`` for an all-number model, else
    :class:`Columns`; raise a ClientError subclass for anything wrong with ``body``."""
    if len(body) > spec.max_body_bytes:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {spec.max_body_bytes}")
    if not body.strip():
        raise MalformedJSON('empty body; send {"features": [...]} or {"instances": [[...], ...]}')
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "infinity" in str(exc) or any(token in body for token in _NON_FINITE_TOKENS):
            raise InvalidValue("NaN and Infinity are not JSON numbers; every feature must be finite") from None
        raise MalformedJSON(f"body is not valid JSON: {clip(str(exc))}") from None
    if not isinstance(doc, dict):
        raise InvalidShape(f'body must be a JSON object with "features" or "instances", not {_describe(doc)}')
    has_features, has_instances = "features" in doc, "instances" in doc
    if has_features == has_instances:
        raise InvalidShape('give exactly one of "features" (one row) or "instances" (a batch of rows)')
    if spec.typed:
        assert spec.schema is not None
        if has_features:
            return _to_columns([_check_typed_row(doc["features"], spec, "features")], spec, "features")
    elif has_features:
        return _to_array([_check_row(doc["features"], spec, "features")], spec, "features")
    instances = doc["instances"]
    if not isinstance(instances, list):
        raise InvalidShape(f'"instances" must be an array of rows, not {_describe(instances)}')
    if not instances:
        raise InvalidShape('"instances" is empty; send at least one row')
    if len(instances) > spec.max_rows:
        raise TooManyRows(f'"instances" has {len(instances)} rows; the limit is {spec.max_rows}')
    if spec.typed:
        assert spec.schema is not None
        typed = [_check_typed_row(row, spec, f"instances[{i}]") for i, row in enumerate(instances)]
        return _to_columns(typed, spec, "instances")
    rows = [_check_row(row, spec, f"instances[{i}]") for i, row in enumerate(instances)]
    return _to_array(rows, spec, "instances")
