"""Registering a model: fit (or import) an estimator, write the trusted artefact, compile it for
serving, prove the compiled form predicts the same, and pin everything in ``metadata.json``.

This module needs scikit-learn, skops and skl2onnx; the serving path never imports it.
"""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from twinserve.integrity import sha256_bytes
from twinserve.metadata import METADATA_FILE, METADATA_SCHEMA

DEFAULT_MODELS = ("rf", "logreg")
EQUIVALENCE_ROWS = 10_000
PROBA_TOLERANCE = 1e-6
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "skops", "skl2onnx", "onnx", "onnxruntime", "joblib")


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


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            versions[name] = importlib_metadata.version(name)
    return versions


def compile_to_onnx(estimator: Any, rows: np.ndarray) -> tuple[bytes, str, bool, dict[str, Any]] | None:
    """Compile to ONNX and keep the first variant whose labels match exactly and whose
    probabilities match within PROBA_TOLERANCE on ``rows``; None when no variant does."""
    import onnxruntime as ort
    from skl2onnx import to_onnx

    expected_labels = estimator.predict(rows)
    has_proba = hasattr(estimator, "predict_proba")
    expected_proba = estimator.predict_proba(rows) if has_proba else None
    report: dict[str, Any] = {"rows": int(len(rows)), "tried": []}
    # (graph dtype, round inputs through float32 first). scikit-learn's trees compare float32
    # inputs with float64 thresholds: a float64 graph fed float32-rounded inputs reproduces that
    # exactly, where a float32 graph (thresholds rounded) or raw float64 inputs do not.
    for dtype, round_f32 in ((np.float32, False), (np.float64, True), (np.float64, False)):
        label = np.dtype(dtype).name + ("+f32-inputs" if round_f32 else "")
        try:
            onx = to_onnx(estimator, rows[:1].astype(dtype), options={"zipmap": False})
        except Exception as exc:  # skl2onnx raises many kinds for unsupported estimators
            report["tried"].append({"variant": label, "error": str(exc)[:300]})
            continue
        data = onx.SerializeToString()
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        fed = rows.astype(np.float32).astype(dtype) if round_f32 else rows.astype(dtype)
        outputs = session.run(None, {session.get_inputs()[0].name: fed})
        mismatches = int(np.sum(outputs[0] != expected_labels))
        max_diff = float(np.max(np.abs(outputs[1] - expected_proba))) if has_proba else 0.0
        attempt = {"variant": label, "label_mismatches": mismatches, "max_proba_abs_diff": max_diff}
        report["tried"].append(attempt)
        if mismatches == 0 and max_diff <= PROBA_TOLERANCE:
            report.update(attempt)
            return data, np.dtype(dtype).name, round_f32, report
    return None


def register(
    estimator: Any,
    out_dir: Path,
    *,
    name: str,
    feature_names: tuple[str, ...],
    reference_rows: np.ndarray,
    example_row: list[float],
    metrics: dict[str, float] | None = None,
    source_format: str = "skops",
) -> dict[str, Any]:
    """Write artefacts + metadata into ``out_dir`` atomically (a half-written model never serves)."""
    import skops.io as sio

    if source_format == "skops":
        source_bytes, source_name = sio.dumps(estimator), "model.skops"
    elif source_format == "joblib":
        import io

        import joblib

        buffer = io.BytesIO()
        joblib.dump(estimator, buffer)
        source_bytes, source_name = buffer.getvalue(), "model.joblib"
    else:
        raise ValueError(f"source_format must be skops or joblib, not {source_format!r}")

    compiled = compile_to_onnx(estimator, equivalence_rows(reference_rows))
    source_sha = sha256_bytes(source_bytes)
    created = datetime.now(UTC)
    artefacts: dict[str, Any] = {"source": {"path": source_name, "format": source_format, "sha256": source_sha}}
    if compiled is not None:
        onnx_bytes, dtype, round_f32, equivalence = compiled
        artefacts["serving"] = {
            "path": "model.onnx",
            "format": "onnx",
            "sha256": sha256_bytes(onnx_bytes),
            "input_dtype": dtype,
            "round_inputs_to_float32": round_f32,
        }
    else:
        onnx_bytes, equivalence = None, {"error": "no ONNX form matched the estimator; serving scikit-learn"}
    classes = getattr(estimator, "classes_", None)
    document = {
        "schema": METADATA_SCHEMA,
        "name": name,
        "version": f"{created:%Y%m%d%H%M%S}-{source_sha[:8]}",
        "estimator": type(estimator).__name__
        if not hasattr(estimator, "steps")
        else "Pipeline(" + ",".join(type(s).__name__ for _, s in estimator.steps) + ")",
        "feature_names": list(feature_names),
        "n_features": len(feature_names),
        "classes": [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else [],
        "has_proba": hasattr(estimator, "predict_proba"),
        "sha256": source_sha,
        "artefacts": artefacts,
        "metrics": metrics or {},
        "equivalence": equivalence,
        "libraries": _library_versions(),
        "created_at": created.isoformat(),
        "example_row": [float(v) for v in example_row],
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=out_dir.parent))
    (staging / source_name).write_bytes(source_bytes)
    if onnx_bytes is not None:
        (staging / "model.onnx").write_bytes(onnx_bytes)
    (staging / METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return document


def train(kind: str, out_dir: Path, seed: int = 0, source_format: str = "skops") -> dict[str, Any]:
    names, X_train, X_test, y_train, y_test = load_dataset(seed)
    estimator = build_estimator(kind, seed).fit(X_train, y_train)
    metrics = {
        "train_accuracy": float(estimator.score(X_train, y_train)),
        "heldout_accuracy": float(estimator.score(X_test, y_test)),
        "train_rows": int(len(X_train)),
        "heldout_rows": int(len(X_test)),
    }
    return register(
        estimator,
        out_dir,
        name=f"breast_cancer-{kind}",
        feature_names=names,
        reference_rows=np.vstack([X_train, X_test]),
        example_row=X_test[0].tolist(),
        metrics=metrics,
        source_format=source_format,
    )


def import_estimator(src: Path, out_dir: Path, name: str | None = None) -> dict[str, Any]:
    """Register a user's fitted estimator from a joblib/pickle file.

    Loading it runs whatever code it holds — acceptable here only because it is the user's
    own file on their own machine; the registered copy is re-written as skops.
    """
    import joblib

    estimator = joblib.load(src)
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None:
        raise ValueError(f"{src} holds {type(estimator).__name__}, which is not fitted (no n_features_in_)")
    names_in = getattr(estimator, "feature_names_in_", None)
    names = tuple(str(n) for n in names_in) if names_in is not None else tuple(f"x{i}" for i in range(n_features))
    rng = np.random.default_rng(0)
    # With no training data at hand, probe the compiled model on standard-normal rows.
    reference = rng.normal(size=(1_000, n_features))
    return register(
        estimator,
        out_dir,
        name=name or src.stem,
        feature_names=names,
        reference_rows=reference,
        example_row=[0.0] * n_features,
        metrics={},
    )


def print_summary(document: dict[str, Any], out_dir: Path) -> None:
    serving = document["artefacts"].get("serving")
    print(f"registered {document['name']} {document['version']} in {out_dir}", file=sys.stderr)
    print(f"  estimator: {document['estimator']}, {document['n_features']} features, classes {document['classes']}", file=sys.stderr)
    if document["metrics"]:
        print(f"  accuracy: train {document['metrics']['train_accuracy']:.4f}, held-out {document['metrics']['heldout_accuracy']:.4f}", file=sys.stderr)
    print(f"  source: {document['artefacts']['source']['path']} sha256 {document['sha256']}", file=sys.stderr)
    if serving:
        eq = document["equivalence"]
        print(f"  serving: model.onnx ({eq['variant']}), {eq['rows']} rows checked: "
              f"{eq['label_mismatches']} label mismatches, max |dp| {eq['max_proba_abs_diff']:.2e}", file=sys.stderr)
    else:
        print("  serving: scikit-learn (no equivalent ONNX form)", file=sys.stderr)
