"""The fast path must predict what scikit-learn predicts: same labels, probabilities within 1e-6,
on 10,000 rows that look like traffic (real rows with noise, many near decision boundaries)."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
from twinserve.model_store import load_model
from twinserve.settings import Settings
from twinserve.training import EQUIVALENCE_ROWS, equivalence_rows, load_dataset
from twinserve.trusted_types import TRUSTED_SKOPS_TYPES


@pytest.mark.parametrize("kind", ["rf", "logreg"])
def test_onnx_serving_matches_estimator(model_dirs, kind):
    loaded = load_model(Settings(model_path=model_dirs[kind]))
    assert loaded.backend.name == "onnxruntime"
    estimator = sio.load(model_dirs[kind] / "model.skops", trusted=sorted(TRUSTED_SKOPS_TYPES))
    _, X_train, X_test, _, _ = load_dataset()
    # a different seed from the one registration used: not the rows the check was tuned on
    rows = np.vstack([X_test, equivalence_rows(np.vstack([X_train, X_test]), EQUIVALENCE_ROWS, seed=12345)])
    assert len(rows) >= 10_000
    labels, proba = loaded.backend.predict(rows.astype(loaded.backend.input_dtype))
    assert np.array_equal(np.asarray(labels), estimator.predict(rows))
    assert np.max(np.abs(proba - estimator.predict_proba(rows))) <= 1e-6
