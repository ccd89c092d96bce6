"""Prediction: validated rows in, labels + probabilities + model identity out."""

from __future__ import annotations

from typing import Any

import numpy as np

from twinserve.contract import InputSpec, parse_body
from twinserve.model_store import LoadedModel
from twinserve.responses import json_bytes
from twinserve.settings import Settings


class Predictor:
    """Holds the loaded model and answers prediction bodies. Safe to share across threads."""

    def __init__(self, model: LoadedModel, settings: Settings) -> None:
        self.model = model
        meta = model.metadata
        self.spec = InputSpec(
            feature_names=meta.feature_names,
            max_rows=settings.max_rows,
            max_body_bytes=settings.max_body_bytes,
            dtype=model.backend.input_dtype,
            float32_range=model.backend.float32_inputs,
        )
        self._backend = model.backend
        self._classes = list(meta.classes)
        self._model_info = meta.describe()

    def predict_rows(self, rows: np.ndarray) -> dict[str, Any]:
        labels, proba = self._backend.predict(rows)
        answer: dict[str, Any] = {"predictions": labels}
        if proba is not None:
            # In the backend's own dtype: responses.json_bytes prints the shortest digits that
            # round-trip it (ONNX's float32 0.95 stays 0.95, as scikit-learn shows it).
            answer["probabilities"] = proba
            answer["classes"] = self._classes
        answer["model"] = self._model_info
        return answer

    def predict_body(self, body: bytes) -> bytes:
        """The hot path. Raises ClientError subclasses for anything wrong with ``body``."""
        return json_bytes(self.predict_rows(parse_body(body, self.spec)))

    def predict_raw(self, rows: np.ndarray) -> tuple[list[Any], np.ndarray | None]:
        """The backend's answer for validated ``rows``: (labels, probabilities in its own dtype or None)."""
        return self._backend.predict(rows)

    def example_rows(self) -> np.ndarray:
        """One row the model is known to accept (metadata's example, else zeros), in its input dtype."""
        example = self.model.metadata.extra.get("example_row") or [0.0] * self.spec.n_features
        return np.asarray([example], dtype=self.spec.dtype)

    def self_test(self) -> None:
        """One real prediction through the whole path; raises if the model cannot answer."""
        example = self.model.metadata.extra.get("example_row") or [0.0] * self.spec.n_features
        self.predict_body(json_bytes({"features": example}))
