"""Loading: integrity before deserialisation, typed refusals, both backends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from twinserve.errors import ModelIntegrityError, ModelLoadError, ModelNotFound, UntrustedModel
from twinserve.model_store import load_model
from twinserve.predictor import Predictor
from twinserve.service import Service
from twinserve.settings import Settings


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    return dst


def _flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("artefact", ["model.onnx", "model.skops"])
def test_tampered_artefact_is_refused_naming_both_hashes(rf_dir, tmp_path, artefact):
    model = _copy(rf_dir, tmp_path)
    meta = json.loads((model / "metadata.json").read_text())
    _flip_byte(model / artefact)
    backend = "onnx" if artefact.endswith("onnx") else "sklearn"
    with pytest.raises(ModelIntegrityError) as info:
        Service.start(Settings(model_path=model, serving_backend=backend))
    expected = meta["artefacts"]["serving" if backend == "onnx" else "source"]["sha256"]
    assert expected in info.value.message and info.value.actual_sha256 in info.value.message
    assert info.value.actual_sha256 != expected


def test_missing_model_says_how_to_fix(tmp_path):
    with pytest.raises(ModelNotFound, match="make model"):
        load_model(Settings(model_path=tmp_path))


def test_unknown_backend_and_missing_onnx(rf_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="SERVING_BACKEND"):
        load_model(Settings(model_path=rf_dir, serving_backend="gpu"))
    model = _copy(rf_dir, tmp_path)
    meta = json.loads((model / "metadata.json").read_text())
    del meta["artefacts"]["serving"]
    (model / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="no ONNX"):
        load_model(Settings(model_path=model, serving_backend="onnx"))
    assert load_model(Settings(model_path=model)).backend.name == "scikit-learn"


def test_joblib_source_needs_explicit_opt_in(tmp_path):
    from twinserve.training import train

    out = tmp_path / "jl"
    train("logreg", out, source_format="joblib")
    with pytest.raises(ModelLoadError, match="MODEL_FORMAT=joblib"):
        load_model(Settings(model_path=out, serving_backend="sklearn"))
    loaded = load_model(Settings(model_path=out, serving_backend="sklearn", model_format="joblib"))
    assert loaded.backend.name == "scikit-learn"


def _knn_model(tmp_path):
    import pandas as pd
    from sklearn.neighbors import KNeighborsClassifier
    from twinserve.registration import register, sample_records
    from twinserve.schema import InputSchema

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    out = tmp_path / "knn"
    schema = InputSchema.numbers(("a", "b", "c"))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    register(KNeighborsClassifier(3).fit(X, y), out, name="knn", schema=schema, check_rows=frame,
             sample_rows=sample_records(frame, schema), samples_source="test")
    return out


def test_the_registrar_records_the_types_beyond_the_base_list_and_the_loader_takes_exactly_those(tmp_path):
    import skops.io as sio

    out = _knn_model(tmp_path)
    needed = sio.get_untrusted_types(file=out / "model.skops")  # KNN holds a KDTree skops does not trust
    metadata = json.loads((out / "metadata.json").read_text())
    assert needed and set(needed) <= set(metadata["trusted_types"])
    assert load_model(Settings(model_path=out, serving_backend="sklearn")).backend.name == "scikit-learn"
    # Without the record, the same artefact is refused as before.
    metadata["trusted_types"] = []
    (out / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(UntrustedModel, match="trust list"):
        load_model(Settings(model_path=out, serving_backend="sklearn"))


@pytest.mark.parametrize("kind", ["rf", "logreg"])
def test_backends_agree(model_dirs, kind):
    onnx = Predictor(load_model(Settings(model_path=model_dirs[kind])), Settings(model_path=model_dirs[kind]))
    sk_settings = Settings(model_path=model_dirs[kind], serving_backend="sklearn")
    sklearn = Predictor(load_model(sk_settings), sk_settings)
    assert onnx.model.backend.name == "onnxruntime" and sklearn.model.backend.name == "scikit-learn"
    row = json.loads((model_dirs[kind] / "metadata.json").read_text())["example_row"]
    body = json.dumps({"instances": [row, [v * 0.9 for v in row]]}).encode()
    a, b = json.loads(onnx.predict_body(body)), json.loads(sklearn.predict_body(body))
    assert a["predictions"] == b["predictions"]
    assert np.allclose(a["probabilities"], b["probabilities"], atol=1e-6)
