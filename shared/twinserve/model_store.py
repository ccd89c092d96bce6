"""Load a registered model: read metadata, verify the chosen artefact's hash, build its backend."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from twinserve.backends import Backend, build_backend
from twinserve.errors import ModelLoadError
from twinserve.integrity import parse_sha256, read_verified
from twinserve.metadata import Artefact, ModelMetadata, read_metadata
from twinserve.settings import ENV_MODEL_SHA256, Settings


@dataclass(frozen=True)
class LoadedModel:
    metadata: ModelMetadata
    backend: Backend
    artefact: Artefact
    load_ms: float


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
    MODEL_SHA256 does not match), UntrustedModel or ModelLoadError (also for a malformed pin).

    The deployment's pin, when set, replaces metadata.json's for the chosen artefact: both
    files of the model folder can be replaced together, the deployment's configuration cannot.
    """
    started = time.perf_counter()
    model_dir = Path(settings.model_path)
    # A malformed pin is refused before any file is read.
    pinned = parse_sha256(settings.model_sha256, ENV_MODEL_SHA256) if settings.model_sha256 else None
    metadata = read_metadata(model_dir)
    artefact = choose_artefact(metadata, settings)
    data = read_verified(model_dir / artefact.path, pinned or artefact.sha256,
                         pinned_by_deployment=pinned is not None)
    backend = build_backend(data, artefact, metadata)
    return LoadedModel(metadata, backend, artefact, (time.perf_counter() - started) * 1000.0)
