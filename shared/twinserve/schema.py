"""What a model takes as input, feature by feature: the contract the registrar writes and every
wrapper enforces.

A model fitted on a numpy array takes a matrix of numbers; one fitted on a pandas DataFrame takes
named, typed columns (strings, integers, numbers, booleans, missing values where it copes with
them); a text pipeline takes a list of documents. The schema says which, so the core can refuse a
wrong value with a message naming the feature instead of letting the model fail deep inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

Kind = Literal["number", "integer", "string", "boolean"]
Layout = Literal["array", "dataframe", "documents"]
KINDS: tuple[Kind, ...] = ("number", "integer", "string", "boolean")
LAYOUTS: tuple[Layout, ...] = ("array", "dataframe", "documents")


@dataclass(frozen=True)
class Feature:
    """One input column.

    ``categories``: the values the model knows (from its encoders), or None. ``closed``: the
    model refuses any other value (an encoder without ``handle_unknown='ignore'``), so the core
    refuses it first with a 422 naming the feature.
    """

    name: str
    kind: Kind = "number"
    nullable: bool = False
    categories: tuple[Any, ...] | None = None
    closed: bool = False

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "kind": self.kind, "nullable": self.nullable}
        if self.categories is not None:
            doc["categories"] = list(self.categories)
            doc["closed"] = self.closed
        return doc

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Feature:
        kind = raw.get("kind", "number")
        if kind not in KINDS:
            raise ValueError(f"feature {raw.get('name')!r} has unknown kind {kind!r}")
        categories = raw.get("categories")
        return cls(name=str(raw["name"]), kind=kind, nullable=bool(raw.get("nullable", False)),
                   categories=tuple(categories) if categories is not None else None,
                   closed=bool(raw.get("closed", False)))


@dataclass(frozen=True)
class InputSchema:
    """The model's inputs. ``layout`` is what the model is called with: a float matrix
    (``array``), a DataFrame with these column names and dtypes (``dataframe``), or a 1-D list
    of strings (``documents``, a text pipeline's single feature)."""

    features: tuple[Feature, ...]
    layout: Layout = "array"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @cached_property
    def numeric_matrix(self) -> bool:
        """Every feature a non-missing number: the fast matrix path serves it, rows by position too.
        Cached: every request asks it."""
        return self.layout != "documents" and all(
            f.kind in ("number", "integer") and not f.nullable for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        return {"layout": self.layout, "features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> InputSchema:
        layout = raw.get("layout", "array")
        if layout not in LAYOUTS:
            raise ValueError(f"unknown input layout {layout!r}")
        return cls(features=tuple(Feature.from_dict(f) for f in raw["features"]), layout=layout)

    @classmethod
    def numbers(cls, names: tuple[str, ...]) -> InputSchema:
        """The schema of a model registered before schemas existed: finite numbers by position."""
        return cls(features=tuple(Feature(n) for n in names))
