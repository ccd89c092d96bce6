"""The two ways a verified artefact becomes something that predicts.

``OnnxBackend`` is the serving default: ONNX Runtime answers a single row in microseconds,
imports in a fraction of scikit-learn's time and needs neither scipy nor scikit-learn in the
Lambda package. ``SklearnBackend`` serves the source artefact itself, for models that have no
ONNX form; it imports scikit-learn lazily so the ONNX path never pays for it.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from twinserve.errors import InvalidValue, ModelLoadError, UntrustedModel
from twinserve.metadata import Artefact, ModelMetadata
from twinserve.trusted_types import TRUSTED_SKOPS_TYPES


class Backend(Protocol):
    name: str
    input_dtype: type[np.floating[Any]]
    float32_inputs: bool  # inputs are rounded to float32 before the model sees them

    def predict(self, rows: np.ndarray) -> tuple[list[Any], np.ndarray | None]:
        """Return (predicted labels, class probabilities or None) for a 2-D batch."""
        ...


class OnnxBackend:
    name = "onnxruntime"

    def __init__(self, data: bytes, artefact: Artefact, want_proba: bool) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread, no spinning: a request is one tiny graph run, and an intra-op thread
        # pool created before gunicorn forks would not exist in the workers.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(f"ONNX Runtime cannot load {artefact.path}: {exc}") from None
        self._input_name = self._session.get_inputs()[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        self._label_name = outputs[0]
        self._proba_name = outputs[1] if want_proba and len(outputs) > 1 else None
        self._output_names = [n for n in (self._label_name, self._proba_name) if n]
        self.input_dtype = np.float64 if artefact.input_dtype == "float64" else np.float32
        self._round_f32 = artefact.round_inputs_to_float32
        self.float32_inputs = self._round_f32 or self.input_dtype is np.float32

    def predict(self, rows: np.ndarray) -> tuple[list[Any], np.ndarray | None]:
        if self._round_f32:
            rows = rows.astype(np.float32).astype(np.float64)
        results = self._session.run(self._output_names, {self._input_name: rows})
        return results[0].tolist(), (results[1] if self._proba_name else None)


class SklearnBackend:
    name = "scikit-learn"
    input_dtype = np.float64
    float32_inputs = False  # scikit-learn itself says what it cannot take (a 422 is not ours to guess)

    def __init__(self, data: bytes, artefact: Artefact, want_proba: bool) -> None:
        self._estimator = _deserialise(data, artefact)
        self._want_proba = want_proba and hasattr(self._estimator, "predict_proba")

    def predict(self, rows: np.ndarray) -> tuple[list[Any], np.ndarray | None]:
        try:
            labels = self._estimator.predict(rows).tolist()
            proba = self._estimator.predict_proba(rows) if self._want_proba else None
        except ValueError as exc:  # scikit-learn's input validation (e.g. too large for float32)
            raise InvalidValue(f"the model rejected the input: {exc}") from None
        return labels, proba


def _deserialise(data: bytes, artefact: Artefact) -> Any:
    """Turn verified bytes into an estimator. skops only trusts the reviewed type list."""
    if artefact.format == "skops":
        import skops.io as sio

        try:
            needed = sio.get_untrusted_types(data=data)
        except Exception as exc:  # not a skops archive at all (e.g. a pickle renamed .skops)
            raise ModelLoadError(f"{artefact.path} is not a readable skops file: {exc}") from None
        untrusted = [t for t in needed if t not in TRUSTED_SKOPS_TYPES]
        if untrusted:
            raise UntrustedModel(
                f"{artefact.path} contains types outside the reviewed trust list "
                f"(twinserve/trusted_types.py): {', '.join(sorted(untrusted))}"
            )
        try:
            return sio.loads(data, trusted=sorted(TRUSTED_SKOPS_TYPES))
        except Exception as exc:  # skops raises a variety of errors for corrupt files
            raise ModelLoadError(f"cannot load {artefact.path}: {exc}") from None
    if artefact.format == "joblib":
        import io

        import joblib

        # Pickle executes code on load; we got here only because the bytes' SHA-256 matches
        # the metadata and the operator opted in with MODEL_FORMAT=joblib.
        return joblib.load(io.BytesIO(data))
    raise ModelLoadError(f"unknown artefact format {artefact.format!r} for {artefact.path}")


def build_backend(data: bytes, artefact: Artefact, metadata: ModelMetadata) -> Backend:
    if artefact.format == "onnx":
        return OnnxBackend(data, artefact, metadata.has_proba)
    return SklearnBackend(data, artefact, metadata.has_proba)
