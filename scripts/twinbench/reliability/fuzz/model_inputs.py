"""What the fuzz knows of the registered model: its features (kind, nullability) and its own rows as
a client sends them, and the hostile values each feature gets, derived from its kind.

A number feature gets the numeric edge cases (NaN, Infinity, overflow, underflow, negative zero,
huge integers, an integer where a float is expected), a string feature hostile strings, a nullable
feature null; so a model with typed inputs is fuzzed as hard as an all-number one. Values are raw
JSON text, so tokens Python's ``json`` would never write (``NaN``, a 100,000-digit integer) are
sent exactly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinserve_support.paths import REPO

# Expected answers: the service must take it, or refuse it with a 4xx in its JSON error shape.
OK = frozenset({200})
CLIENT = frozenset({400, 413, 415, 422})
OK_OR_CLIENT = OK | CLIENT


@dataclass(frozen=True)
class FuzzFeature:
    name: str
    kind: str  # number, integer, string, boolean (twinserve.schema.KINDS)
    nullable: bool


@dataclass(frozen=True)
class FuzzModel:
    """The served model as the fuzz sees it. ``rows``: the registered rows as a client sends them
    (by position for an all-number model, by name otherwise); ``positional`` says which."""

    name: str
    version: str
    features: tuple[FuzzFeature, ...]
    rows: tuple[Any, ...]
    positional: bool

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def row(self) -> Any:
        return self.rows[0]

    def with_value(self, feature: FuzzFeature, raw_json: str) -> bytes:
        """``{"features": row}`` for the first registered row with ``feature`` set to ``raw_json``."""
        row = self.row
        index = self.names.index(feature.name)
        if self.positional:
            items = [json.dumps(v) for v in row]
            items[index] = raw_json
            return ('{"features": [' + ", ".join(items) + "]}").encode()
        items = [f"{json.dumps(k)}: {raw_json if k == feature.name else json.dumps(v)}" for k, v in row.items()]
        return ('{"features": {' + ", ".join(items) + "}}").encode()


def model_dir() -> Path:
    return Path(os.environ.get("MODEL_PATH") or REPO / "model")


def load_fuzz_model(folder: Path | None = None) -> FuzzModel:
    """The model at ``folder`` (default ``MODEL_PATH`` or ``model/``). Raises twinserve's ModelError
    when it holds no readable model."""
    from twinserve.metadata import read_metadata
    from twinserve.samples import example_rows, load_samples

    folder = folder or model_dir()
    metadata = read_metadata(folder)
    schema = metadata.schema
    rows = example_rows(metadata, load_samples(folder, metadata))
    return FuzzModel(name=metadata.name, version=metadata.version,
                     features=tuple(FuzzFeature(f.name, f.kind, f.nullable) for f in schema.features),
                     rows=tuple(rows), positional=schema.numeric_matrix)


_HUGE_INT = "9" * 100_000
# (label, raw JSON, expected statuses) per kind; each feature of that kind may get them.
_NUMBER = (
    ("NaN token", "NaN", CLIENT),
    ("Infinity token", "Infinity", CLIENT),
    ("-Infinity token", "-Infinity", CLIENT),
    ("1e400 (overflows float64)", "1e400", CLIENT),
    ("3.5e38 (overflows float32)", "3.5e38", OK_OR_CLIENT),
    ("1e308 (near float64's max)", "1e308", OK_OR_CLIENT),
    ("-1e-400 (underflows)", "-1e-400", OK_OR_CLIENT),
    ("negative zero", "-0.0", OK),
    ("integer with 100k digits", _HUGE_INT, CLIENT),
    ("integer past int64", "123456789012345678901234567890", OK_OR_CLIENT),
    ("a number as a string", '"3.5"', CLIENT),
    ("true", "true", OK_OR_CLIENT),
    ("a list", "[1.0]", CLIENT),
)
_INTEGER_EXTRA = (
    ("an integer written as a float", "2.0", OK_OR_CLIENT),
    ("a fraction", "2.5", OK_OR_CLIENT),
)
_STRING = (
    ("empty string", '""', OK_OR_CLIENT),
    ("100k-character string", json.dumps("x" * 100_000), OK_OR_CLIENT),
    ("right-to-left override and emoji", json.dumps("a\u202eb\U0001F600"), OK_OR_CLIENT),
    ("lone surrogate escape", '"\\ud800"', OK_OR_CLIENT),
    ("NUL character", '"a\\u0000b"', OK_OR_CLIENT),
    ("a number instead of a string", "3.5", OK_OR_CLIENT),
    ("NaN instead of a string", "NaN", CLIENT),
    ("an object instead of a string", '{"a": 1}', CLIENT),
)
_BOOLEAN = (
    ("a boolean as a string", '"true"', OK_OR_CLIENT),
    ("1 instead of true", "1", OK_OR_CLIENT),
    ("NaN instead of a boolean", "NaN", CLIENT),
)


def hostile_values(feature: FuzzFeature) -> list[tuple[str, str, frozenset[int]]]:
    """(label, raw JSON, expected statuses) for ``feature``: by its kind, and null (taken when the
    feature is nullable, refused otherwise)."""
    by_kind = {"number": _NUMBER, "integer": _NUMBER + _INTEGER_EXTRA, "string": _STRING, "boolean": _BOOLEAN}
    values = list(by_kind.get(feature.kind, _NUMBER))
    values.append(("null", "null", OK if feature.nullable else CLIENT))
    return values


def fuzzed_features(model: FuzzModel) -> list[FuzzFeature]:
    """The features the per-value edge cases go to: the first of each kind and every nullable
    one (each kind's handling is one code path; a 30-column numeric model needs no 30 copies)."""
    chosen: list[FuzzFeature] = []
    kinds: set[str] = set()
    for feature in model.features:
        if feature.kind not in kinds or feature.nullable:
            chosen.append(feature)
            kinds.add(feature.kind)
    return chosen
