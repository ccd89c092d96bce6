"""results.json: write, read and validate against the versioned schema (``results_schema.json``).

The schema version is ``SCHEMA_VERSION``; a reader refuses a document of another major version
rather than misreading it. Validation needs ``jsonschema``; without it :func:`validate` raises
:class:`ResultsError` saying so (the benchmark then still writes the file and warns).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["SCHEMA_PATH", "SCHEMA_VERSION", "ResultsError", "load", "schema", "validate", "write"]

SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "results.schema.json"
RESULTS_NAME = "results.json"


class ResultsError(Exception):
    """A results document is missing, unreadable, of another schema version, or invalid."""


def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _clean(value: object) -> object:
    """NaN/inf are not JSON: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def validate(document: dict) -> None:
    """Raise :class:`ResultsError` listing the first violations of the schema."""
    try:
        import jsonschema
    except ImportError as exc:
        raise ResultsError("jsonschema is not installed; cannot validate results.json") from exc
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:10]]
        raise ResultsError(f"results.json violates its schema ({len(errors)} errors):\n" + "\n".join(lines))


def write(document: dict, folder: Path) -> Path:
    """Write ``folder/results.json`` (compact: it holds raw samples) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULTS_NAME
    path.write_text(json.dumps(_clean(document), separators=(",", ":"), allow_nan=False))
    return path


def load(folder_or_file: Path) -> dict:
    """Read a results document from a results folder or a path to results.json."""
    path = folder_or_file / RESULTS_NAME if folder_or_file.is_dir() else folder_or_file
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ResultsError(f"{path} not found") from exc
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not JSON: {exc}") from exc
    version = str(document.get("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ResultsError(f"{path} has schema version {version!r}; this twinbench reads {SCHEMA_VERSION}")
    return document
