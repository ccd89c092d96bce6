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

METADATA_FILE = "metadata.json"
METADATA_SCHEMA = 1


@dataclass(frozen=True)
class Artefact:
    """One file of a model: path relative to the model directory, format, pinned SHA-256."""

    path: str
    format: str
    sha256: str
    input_dtype: str | None = None  # ONNX only: "float32" or "float64"
    round_inputs_to_float32: bool = False  # ONNX only: reproduce scikit-learn trees' float32 inputs


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

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def sha256(self) -> str:
        """The identity of the model is its source artefact's hash."""
        return self.source.sha256

    def describe(self) -> dict[str, str]:
        """What every prediction says about the model that made it."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


def _artefact(raw: dict[str, Any] | None) -> Artefact | None:
    if raw is None:
        return None
    return Artefact(
        path=raw["path"],
        format=raw["format"],
        sha256=raw["sha256"],
        input_dtype=raw.get("input_dtype"),
        round_inputs_to_float32=bool(raw.get("round_inputs_to_float32", False)),
    )


def read_metadata(model_dir: Path) -> ModelMetadata:
    """Read ``metadata.json``; raises ModelNotFound / ModelLoadError with the path in the message."""
    path = model_dir / METADATA_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFound(
            f"no model at {model_dir}: {METADATA_FILE} is missing (run `make model`, or set MODEL_PATH)"
        ) from None
    except (OSError, ValueError) as exc:
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
        )
    except (KeyError, TypeError, AssertionError) as exc:
        raise ModelLoadError(f"{path}: missing or malformed field {exc}") from None
