"""`make model` / `make model-import` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from twinserve.service import Service
from twinserve.settings import Settings


def test_train_metadata_is_complete(rf_metadata):
    for key in ("feature_names", "n_features", "classes", "libraries", "metrics", "created_at", "sha256", "equivalence"):
        assert key in rf_metadata
    assert rf_metadata["n_features"] == 30 and rf_metadata["estimator"] == "RandomForestClassifier"
    assert rf_metadata["metrics"]["heldout_accuracy"] > 0.9
    assert rf_metadata["libraries"]["scikit-learn"]
    assert rf_metadata["equivalence"]["label_mismatches"] == 0


def test_import_own_estimator_with_feature_names(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=["age", "income", "score", "tenure"])
    y = (frame["age"] + frame["score"] > 0).astype(int)
    src = tmp_path / "theirs.joblib"
    joblib.dump(GradientBoostingClassifier(n_estimators=20, random_state=0).fit(frame, y), src)
    out = tmp_path / "model"
    proc = subprocess.run(
        [sys.executable, "-m", "twinserve.cli", "import", "--src", str(src), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["feature_names"] == ["age", "income", "score", "tenure"] and meta["name"] == "theirs"
    service = Service.start(Settings(model_path=out))
    reply = service.predict("application/json", json.dumps({"features": {"age": 1, "income": 0, "score": 1, "tenure": 2}}).encode())
    assert reply.status == 200 and json.loads(reply.body)["predictions"] == [1]


def test_import_refuses_unfitted_and_missing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "twinserve.cli", "import", "--src", str(tmp_path / "nope.joblib")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
