"""Prediction: validated rows in; predictions (+ probabilities and classes for a classifier) and
the identity of the served model out."""

from __future__ import annotations

from typing import Any

import numpy as np

from twinserve.backends import Outputs
from twinserve.contract import Batch, InputSpec, parse_body
from twinserve.model_store import LoadedModel
from twinserve.model_warnings import silence_repeating
from twinserve.responses import json_bytes
from twinserve.samples import example_bodies
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
            schema=meta.schema,
        )
        self._backend = model.backend
        self._classifier = meta.task == "classification"
        self._classes = list(meta.classes)
        self._model_info = model.describe()

    def predict_rows(self, rows: Batch) -> dict[str, Any]:
        predictions, proba = self._backend.predict(rows)
        answer: dict[str, Any] = {"predictions": predictions}
        if proba is not None:
            # In the backend's own dtype: responses.json_bytes prints the shortest digits that
            # round-trip it (ONNX's float32 0.95 stays 0.95, as scikit-learn shows it).
            answer["probabilities"] = proba
        if self._classifier and self._classes:
            answer["classes"] = self._classes
        answer["model"] = self._model_info
        return answer

    def predict_body(self, body: bytes) -> bytes:
        """The hot path. Raises ClientError subclasses for anything wrong with ``body``."""
        return json_bytes(self.predict_rows(parse_body(body, self.spec)))

    def predict_raw(self, rows: Batch) -> Outputs:
        """The backend's answer for validated ``rows``: (predictions, probabilities in its own dtype or None)."""
        return self._backend.predict(rows)

    def example_batch(self) -> Batch:
        """One row the model is known to accept (the registered sample's first), validated."""
        return parse_body(example_bodies(self.model.metadata, self.model.samples)[0], self.spec)

    def self_test(self) -> list[str]:
        """One real prediction per example body through the whole path; raises if the model cannot
        answer. Warnings the model raises there are logged once and silenced (returned)."""
        def run() -> None:
            for body in example_bodies(self.model.metadata, self.model.samples)[:4]:
                self.predict_body(body)

        return silence_repeating(run)


def as_matrix(batch: Batch) -> np.ndarray:
    """A float matrix view of an all-number batch (for the V2 surface's numeric tensors)."""
    return batch if isinstance(batch, np.ndarray) else np.column_stack(batch.arrays)
