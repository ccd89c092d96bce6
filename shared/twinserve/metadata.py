"""The metadata that travels with a model artefact: what it expects, what it answers, its hashes.

Written once at registration (``twinserve.training``) and read at every start. The SHA-256
values pinned here are what makes loading safe to attempt at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinserve.errors import ModelLoadError, ModelNotFound
from twinserve.schema import InputSchema

METADATA_FILE = "metadata.json"
METADATA_SCHEMA = 1
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Artefact:
    """One file of a model: path relative to the model directory, format, pinned SHA-256."""

    path: str
    format: str
    sha256: str
    input_dtype: str | None = None  # ONNX only: "float32" or "float64"
    round_inputs_to_float32: bool = False  # ONNX only: reproduce scikit-learn trees' float32 inputs
    # ONNX only: "matrix" (one [N, F] tensor) or "columns" (one [N, 1] tensor per feature, by name)
    inputs: str = "matrix"


def classes_per_output(classes: Any) -> bool:
    """Whether ``classes`` come one list per output (a multi-output classifier: MultiOutputClassifier,
    a forest fitted on a 2-D y), whose label is an [N, outputs] row and which is served labels only."""
    return bool(classes) and all(isinstance(c, list) for c in classes)


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    version: str
    estimator: str
    feature_names: tuple[str, ...]
    classes: tuple[Any, ...]
    source: Artefact
    serving: Artefact | None
    has_proba: bool
    extra: dict[str, Any] = field(default_factory=dict)
    input_schema: InputSchema | None = None
    task: str = "classification"
    # skops types beyond the reviewed base list that the registrar listed and recorded.
    trusted_types: tuple[str, ...] = ()
    samples: Artefact | None = None  # rows of the user's data (or schema-drawn), for checks and the bench

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def sha256(self) -> str:
        """The source artefact's hash (the registered estimator itself)."""
        return self.source.sha256

    @property
    def schema(self) -> InputSchema:
        """The input schema; a model registered before schemas takes finite numbers by position."""
        return self.input_schema or InputSchema.numbers(self.feature_names)


def _artefact(raw: dict[str, Any] | None) -> Artefact | None:
    if raw is None:
        return None
    return Artefact(
        path=raw["path"],
        format=raw["format"],
        sha256=raw["sha256"],
        input_dtype=raw.get("input_dtype"),
        round_inputs_to_float32=bool(raw.get("round_inputs_to_float32", False)),
        inputs=raw.get("inputs", "matrix"),
    )


def _task(value: Any) -> str:
    if value not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {value!r}")
    return str(value)


def read_metadata_bytes(model_dir: Path) -> bytes:
    """The bytes of ``metadata.json`` (hashed by the deployment's pin before they are parsed)."""
    path = model_dir / METADATA_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelNotFound(
            f"no model at {model_dir}: {METADATA_FILE} is missing (run `make model`, or set MODEL_PATH)"
        ) from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None


def read_metadata(model_dir: Path) -> ModelMetadata:
    """Read ``metadata.json``; raises ModelNotFound / ModelLoadError with the path in the message."""
    return parse_metadata(read_metadata_bytes(model_dir), model_dir / METADATA_FILE)


def parse_metadata(data: bytes, path: Path | str = METADATA_FILE) -> ModelMetadata:
    """``metadata.json``'s bytes as metadata; raises ModelLoadError naming ``path`` when malformed."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None
    try:
        if raw.get("schema") != METADATA_SCHEMA:
            raise ModelLoadError(f"{path}: unsupported metadata schema {raw.get('schema')!r}")
        source = _artefact(raw["artefacts"]["source"])
        assert source is not None
        return ModelMetadata(
            name=raw["name"],
            version=raw["version"],
            estimator=raw["estimator"],
            feature_names=tuple(raw["feature_names"]),
            classes=tuple(raw["classes"]),
            source=source,
            serving=_artefact(raw["artefacts"].get("serving")),
            has_proba=bool(raw.get("has_proba", False)),
            extra={k: v for k, v in raw.items() if k not in {"artefacts"}},
            input_schema=InputSchema.from_dict(raw["input_schema"]) if "input_schema" in raw else None,
            task=_task(raw.get("task", "classification")),
            trusted_types=tuple(str(t) for t in raw.get("trusted_types", ())),
            samples=_artefact(raw["artefacts"].get("samples")),
        )
    except (KeyError, TypeError, ValueError, AssertionError, AttributeError) as exc:
        raise ModelLoadError(f"{path}: missing or malformed field {exc}") from None
