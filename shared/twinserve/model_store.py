"""Load a registered model: read metadata, verify the chosen artefact's hash, build its backend.

The deployment's pin (MODEL_SHA256) is the SHA-256 of ``metadata.json``, which in turn pins every
artefact's hash, the input schema and the recorded trust list: with the pin set, nothing in the
model folder can change without the start being refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinserve.backends import Backend, build_backend
from twinserve.errors import ModelLoadError, ModelPinMismatch
from twinserve.integrity import parse_sha256, read_verified, sha256_bytes
from twinserve.metadata import METADATA_FILE, Artefact, ModelMetadata, parse_metadata, read_metadata_bytes
from twinserve.samples import load_samples
from twinserve.settings import ENV_MODEL_SHA256, Settings


@dataclass(frozen=True)
class LoadedModel:
    metadata: ModelMetadata
    backend: Backend
    artefact: Artefact
    load_ms: float
    samples: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, str]:
        """What every answer says about the model that made it: the hash of what is served."""
        return {"name": self.metadata.name, "version": self.metadata.version, "sha256": self.artefact.sha256}


def choose_artefact(metadata: ModelMetadata, settings: Settings) -> Artefact:
    """ONNX when present (unless told otherwise); the source artefact otherwise.

    A joblib source is only accepted when the operator opted in with MODEL_FORMAT=joblib:
    unpickling runs whatever code the file contains.
    """
    backend = settings.serving_backend
    if backend not in {"auto", "onnx", "sklearn"}:
        raise ModelLoadError(f"SERVING_BACKEND must be auto, onnx or sklearn, not {backend!r}")
    if backend in {"auto", "onnx"} and metadata.serving is not None:
        return metadata.serving
    if backend == "onnx":
        raise ModelLoadError(f"model {metadata.name} has no ONNX serving artefact (SERVING_BACKEND=onnx)")
    source = metadata.source
    if source.format == "joblib" and settings.model_format != "joblib":
        raise ModelLoadError(
            f"{source.path} is a joblib (pickle) artefact, which runs code when loaded; "
            "re-register it as skops (`make model-import`) or opt in with MODEL_FORMAT=joblib"
        )
    return source


def load_model(settings: Settings) -> LoadedModel:
    """Raises ModelNotFound, ModelIntegrityError (ModelPinMismatch when the deployment's
    MODEL_SHA256 does not match metadata.json), UntrustedModel or ModelLoadError (also for a
    malformed pin).

    The deployment's pin, when set, must match metadata.json's bytes: the files of the model
    folder can be replaced together, the deployment's configuration cannot.
    """
    started = time.perf_counter()
    model_dir = Path(settings.model_path)
    # A malformed pin is refused before any file is read.
    pinned = parse_sha256(settings.model_sha256, ENV_MODEL_SHA256) if settings.model_sha256 else None
    raw = read_metadata_bytes(model_dir)
    if pinned is not None and sha256_bytes(raw) != pinned:
        raise ModelPinMismatch(str(model_dir / METADATA_FILE), pinned, sha256_bytes(raw))
    metadata = parse_metadata(raw, model_dir / METADATA_FILE)
    artefact = choose_artefact(metadata, settings)
    data = read_verified(model_dir / artefact.path, artefact.sha256)
    backend = build_backend(data, artefact, metadata)
    samples = load_samples(model_dir, metadata)
    return LoadedModel(metadata, backend, artefact, (time.perf_counter() - started) * 1000.0, samples)
