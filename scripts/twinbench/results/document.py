"""Read, write and validate result documents against their versioned JSON Schemas.

Each kind's schema is ``schemas/<kind>.schema.json`` (:mod:`twinbench.results.formats` names
them). A reader refuses a document of a newer version than it knows rather than misreading it,
and still reads ``results.json`` version 1 (``"schema_version": "1.0"``, validated against the
frozen ``schemas/results-1.schema.json``), so old results folders still render. Validation needs
``jsonschema``; without it :func:`validate` raises :class:`ResultsError` saying so (the benchmark
then still writes the file and warns).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twinbench.results import formats
from twinbench.results.formats import Format, UnknownFormat
from twinbench.results.run_folder import write_json_atomic

__all__ = ["RESULTS_NAME", "ResultsError", "load", "schema", "schema_path", "validate", "write"]

RESULTS_NAME = formats.RESULTS.file_name
LEGACY_SCHEMAS = {(formats.RESULTS, 1): formats.SCHEMAS / "results-1.schema.json"}


class ResultsError(Exception):
    """A results document is missing, unreadable, of an unknown kind or version, or invalid."""


def schema_path(fmt: Format = formats.RESULTS, version: int | None = None) -> Path:
    """The schema file of ``fmt`` at ``version`` (default: its current one)."""
    if version is None or version == fmt.version:
        return fmt.schema
    try:
        return LEGACY_SCHEMAS[(fmt, version)]
    except KeyError:
        raise ResultsError(f"no schema for {fmt.name} version {version}") from None


def schema(fmt: Format = formats.RESULTS, version: int | None = None) -> dict[str, Any]:
    return json.loads(schema_path(fmt, version).read_text())


def validate(document: dict[str, Any], expected: Format | None = None) -> None:
    """Raise :class:`ResultsError` listing the first violations of the document's own schema.

    The schema is chosen by the document's ``format`` and ``version`` (or its version-1 envelope);
    ``expected`` additionally requires that kind.
    """
    try:
        fmt, version = formats.identify(document)
    except UnknownFormat as exc:
        raise ResultsError(str(exc)) from None
    if expected is not None and fmt != expected:
        raise ResultsError(f"expected a {expected.name} document, got {fmt.name}")
    try:
        import jsonschema
    except ImportError as exc:
        raise ResultsError(f"jsonschema is not installed; cannot validate {fmt.file_name}") from exc
    validator = jsonschema.Draft202012Validator(schema(fmt, version))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:10]]
        raise ResultsError(f"{fmt.file_name} ({fmt.name} version {version}) violates its schema "
                           f"({len(errors)} errors):\n" + "\n".join(lines))


def write(document: dict[str, Any], folder: Path) -> Path:
    """Write ``folder/results.json`` atomically (compact: it holds raw samples) and return its path.

    Runs write through :class:`twinbench.results.run_folder.RunFolder`; this is for documents
    built elsewhere (tests, conversions).
    """
    return write_json_atomic(document, folder / RESULTS_NAME)


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: a document carrying them was edited by hand, never written here."""
    raise ValueError(f"{name} is not a number JSON allows (the bench writes null for a missing figure)")


def load(folder_or_file: Path, expected: Format | None = formats.RESULTS) -> dict[str, Any]:
    """Read a document from a results folder (its ``results.json``) or a path to a JSON file.

    Raises :class:`ResultsError`: missing, not JSON, not a known format or version, not ``expected``.
    """
    path = folder_or_file / RESULTS_NAME if folder_or_file.is_dir() else folder_or_file
    try:
        document = json.loads(path.read_text(), parse_constant=_refuse_constant)
    except FileNotFoundError as exc:
        raise ResultsError(f"{path} not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path} is unreadable: {exc}") from exc
    except ValueError as exc:  # JSONDecodeError, or NaN/Infinity refused by _refuse_constant
        raise ResultsError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ResultsError(f"{path} is not a twinbench document (not a JSON object)")
    try:
        fmt, _version = formats.identify(document)
    except UnknownFormat as exc:
        raise ResultsError(f"{path}: {exc}") from None
    if expected is not None and fmt != expected:
        raise ResultsError(f"{path} is a {fmt.name} document, not {expected.name}")
    return document
