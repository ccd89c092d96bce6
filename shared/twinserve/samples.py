"""Rows of the user's own data, kept beside the model (``samples.json``, pinned in metadata).

The registrar writes them from the SAMPLE file (or draws them from the input schema when there
was none); the service self-tests on them at start, ``/openapi.json`` shows them as examples, and
the bench sends them as its payloads, so every figure is measured on the inputs the model will
really see rather than on a row of zeros.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twinserve.errors import ModelLoadError
from twinserve.integrity import read_verified
from twinserve.metadata import ModelMetadata, read_metadata

SAMPLES_FILE = "samples.json"
# How many rows the registrar keeps: enough to vary the bench's payloads, small enough for a
# Lambda package and an image layer not to notice.
KEPT_ROWS = 100


def load_samples(model_dir: Path, metadata: ModelMetadata) -> list[dict[str, Any]]:
    """The registered sample rows (by feature name), hash-checked; empty for an older model."""
    if metadata.samples is None:
        return []
    data = read_verified(model_dir / metadata.samples.path, metadata.samples.sha256)
    try:
        rows = json.loads(data)["rows"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{metadata.samples.path} is not a samples file: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ModelLoadError(f"{metadata.samples.path}: rows must be objects by feature name")
    return rows


def payload_row(row: dict[str, Any], metadata: ModelMetadata) -> list[Any] | dict[str, Any]:
    """A sample row as a client sends it: by position for an all-number model (as clients of
    such models do, and the shortest body), by name otherwise."""
    schema = metadata.schema
    if schema.numeric_matrix:
        return [row[name] for name in schema.names]
    return {name: row[name] for name in schema.names}


def example_rows(metadata: ModelMetadata, samples: list[dict[str, Any]]) -> list[list[Any] | dict[str, Any]]:
    """Rows the model is known to accept: the registered samples, else metadata's example row,
    else zeros (a model registered before samples existed)."""
    if samples:
        return [payload_row(row, metadata) for row in samples]
    example = metadata.extra.get("example_row")
    return [list(example) if example else [0.0] * metadata.n_features]


def example_bodies(metadata: ModelMetadata, samples: list[dict[str, Any]]) -> list[bytes]:
    """``POST /predict`` bodies of one row each, in the samples' order."""
    return [json.dumps({"features": row}).encode() for row in example_rows(metadata, samples)]


def request_bodies(model_dir: Path, rows_per_request: int = 1) -> list[bytes]:
    """The bench's payloads: the registered rows, ``rows_per_request`` per body, round-robin.

    Raises ModelNotFound when ``model_dir`` holds no model (run `make model`)."""
    metadata = read_metadata(model_dir)
    rows = example_rows(metadata, load_samples(model_dir, metadata))
    if rows_per_request <= 1:
        return [json.dumps({"features": row}).encode() for row in rows]
    bodies = []
    for start in range(0, len(rows), rows_per_request):
        batch = [rows[(start + i) % len(rows)] for i in range(rows_per_request)]
        bodies.append(json.dumps({"instances": batch}).encode())
    return bodies
