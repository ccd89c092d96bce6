"""What a regressor answers, whichever backend serves it: one finite number per row. An answer
that is not finite (a target transform's exp overflowing) gets a 422 naming the row, never a 200
carrying null; a one-column target's [N, 1] answer comes back flat from both backends."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
from twinserve.cli import main
from twinserve.service import Service
from twinserve.settings import Settings


def test_an_answer_that_overflows_is_refused_naming_the_row(tmp_path, capsys):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame(np.random.default_rng(0).uniform(1, 10, size=(60, 2)), columns=["a", "b"])
    model = TransformedTargetRegressor(LinearRegression(), func=np.log, inverse_func=np.exp)
    joblib.dump(model.fit(frame, np.exp(frame.a)), tmp_path / "m.joblib")
    frame.to_csv(tmp_path / "s.csv", index=False)
    assert main(["import", "--src", str(tmp_path / "m.joblib"), "--sample", str(tmp_path / "s.csv"),
                 "--out", str(tmp_path / "m")]) == 0, capsys.readouterr().err
    service = Service.start(Settings(model_path=tmp_path / "m"))

    reply = service.predict("application/json", json.dumps({"instances": [[2.0, 1.0], [3.0, 1.0]]}).encode())
    assert reply.status == 200 and np.allclose(json.loads(reply.body)["predictions"], np.exp([2.0, 3.0]))
    reply = service.predict("application/json", json.dumps({"instances": [[2.0, 1.0], [1000.0, 1.0]]}).encode())
    assert reply.status == 422, reply.body
    assert "row 1 is not a finite number" in json.loads(reply.body)["error"]["message"]


def test_a_regressor_fitted_on_a_one_column_target_answers_one_number_per_row_on_both_backends(tmp_path, capsys):
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 2)), columns=["a", "b"])
    joblib.dump(LinearRegression().fit(frame, frame[["a"]] * 3 + 1), tmp_path / "m.joblib")  # y: a DataFrame
    frame.to_csv(tmp_path / "s.csv", index=False)
    assert main(["import", "--src", str(tmp_path / "m.joblib"), "--sample", str(tmp_path / "s.csv"),
                 "--out", str(tmp_path / "m")]) == 0, capsys.readouterr().err
    body = json.dumps({"instances": [[1.0, 2.0], [0.5, 1.0]]}).encode()
    for backend in ("auto", "sklearn"):
        service = Service.start(Settings(model_path=tmp_path / "m", serving_backend=backend))
        answer = json.loads(service.predict("application/json", body).body)["predictions"]
        assert np.allclose(answer, [4.0, 2.5]) and np.shape(answer) == (2,), (backend, answer)
