"""The default models: fit a RandomForest or a LogisticRegression on breast_cancer (it ships
inside scikit-learn: no download) and register it like any user's model.

This module needs scikit-learn, skops and skl2onnx; the serving path never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from twinserve.registration import register, sample_records
from twinserve.schema import InputSchema

DEFAULT_MODELS = ("rf", "logreg")
EQUIVALENCE_ROWS = 10_000


def build_estimator(kind: str, seed: int = 0) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "rf":
        return RandomForestClassifier(n_estimators=100, random_state=seed)
    if kind == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5_000, random_state=seed))
    raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(DEFAULT_MODELS)}")


def load_dataset(seed: int = 0) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """breast_cancer, which ships inside scikit-learn (no download): names, X_train, X_test, y_train, y_test."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=seed, stratify=data.target
    )
    return tuple(str(n) for n in data.feature_names), X_train, X_test, y_train, y_test


def equivalence_rows(reference: np.ndarray, n_rows: int = EQUIVALENCE_ROWS, seed: int = 1) -> np.ndarray:
    """Rows that look like real traffic: real rows with multiplicative noise, so many sit near
    decision boundaries where a compiled model would disagree first."""
    rng = np.random.default_rng(seed)
    picks = reference[rng.integers(0, len(reference), n_rows)]
    return picks * rng.normal(1.0, 0.15, size=picks.shape)


def train(kind: str, out_dir: Path, seed: int = 0, source_format: str = "skops") -> dict[str, Any]:
    names, X_train, X_test, y_train, y_test = load_dataset(seed)
    estimator = build_estimator(kind, seed).fit(X_train, y_train)
    metrics = {
        "train_accuracy": float(estimator.score(X_train, y_train)),
        "heldout_accuracy": float(estimator.score(X_test, y_test)),
        "train_rows": int(len(X_train)),
        "heldout_rows": int(len(X_test)),
    }
    import pandas as pd

    schema = InputSchema.numbers(names)
    check_rows = pd.DataFrame(equivalence_rows(np.vstack([X_train, X_test])), columns=list(names))
    # The held-out rows are the model's sample: real rows it was not fitted on.
    held_out = pd.DataFrame(X_test, columns=list(names))
    return register(
        estimator,
        out_dir,
        name=f"breast_cancer-{kind}",
        schema=schema,
        check_rows=check_rows,
        sample_rows=sample_records(held_out, schema),
        samples_source="breast_cancer held-out rows",
        metrics=metrics,
        source_format=source_format,
    )
