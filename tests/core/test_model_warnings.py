"""A model that warns on every prediction is logged once at start, then silent per request."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from twinserve.cli import main
from twinserve.model_warnings import silence_repeating
from twinserve.service import Service
from twinserve.settings import Settings


def test_each_distinct_warning_is_logged_once_and_then_silenced(caplog):
    def run() -> None:
        for _ in range(3):
            warnings.warn("the same words, test one", UserWarning, stacklevel=1)
        warnings.warn("other words", RuntimeWarning, stacklevel=1)

    with warnings.catch_warnings():
        with caplog.at_level(logging.WARNING, logger="twinserve"):
            logged = silence_repeating(run)
        assert logged == ["UserWarning: the same words, test one", "RuntimeWarning: other words"]
        assert len(caplog.records) == 2
        with warnings.catch_warnings(record=True) as later:
            run()
            warnings.warn("a new warning still shows", UserWarning, stacklevel=1)
        assert [str(w.message) for w in later] == ["a new warning still shows"]
        caplog.clear()
        assert silence_repeating(run) == [] and not caplog.records  # a second self-test logs nothing new


def _imputer_over_an_empty_column(folder: Path) -> tuple[Path, Path]:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60), "empty": np.nan})
    label = (frame["a"] > 0).astype(int)
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(frame, label)
    joblib.dump(model, folder / "model.joblib")
    frame.to_csv(folder / "sample.csv", index=False)
    return folder / "model.joblib", folder / "sample.csv"


def test_a_model_warning_at_every_prediction_is_logged_at_start_not_per_request(tmp_path, caplog, capsys):
    source, sample = _imputer_over_an_empty_column(tmp_path)
    assert main(["import", "--src", str(source), "--sample", str(sample), "--out", str(tmp_path / "model")]) == 0
    capsys.readouterr()
    with warnings.catch_warnings():
        with caplog.at_level(logging.WARNING, logger="twinserve"):
            service = Service.start(Settings.from_env({"MODEL_PATH": str(tmp_path / "model")}))
        assert any("Skipping features without any observed values" in r.getMessage() for r in caplog.records)
        with warnings.catch_warnings(record=True) as per_request:
            for _ in range(3):
                reply = service.predict("application/json", b'{"features": {"a": 0.5, "b": -1.0, "empty": null}}')
                assert reply.status == 200, reply.body
        assert per_request == []


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([__file__]))
