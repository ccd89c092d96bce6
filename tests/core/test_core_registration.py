"""Registration from a model and a sample of the user's data: the schema it writes, and every
failure as one line with exit 2 (never a traceback)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from twinserve.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from model_shapes import write_shape  # noqa: E402


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_shape("dataframe-pipeline", tmp_path_factory.mktemp("pipeline"))


def _register(capsys, *args: str) -> tuple[int, str]:
    code = main(["import", *args])
    return code, capsys.readouterr().err


def test_the_schema_says_kind_nullable_and_categories_per_feature(pipeline, tmp_path, capsys):
    src, sample = pipeline
    code, err = _register(capsys, "--src", str(src), "--sample", str(sample), "--out", str(tmp_path / "m"))
    assert code == 0, err
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    features = {f["name"]: f for f in meta["input_schema"]["features"]}
    assert meta["input_schema"]["layout"] == "dataframe"
    assert features["age"] == {"name": "age", "kind": "number", "nullable": True}  # the sample has gaps
    assert features["fare"]["nullable"] is False
    assert features["sex"]["kind"] == "string" and features["sex"]["categories"] == ["female", "male"]
    assert features["sex"]["closed"] is False  # handle_unknown="ignore": the model takes new values
    assert features["pclass"]["kind"] == "integer" and features["pclass"]["categories"] == [1, 2, 3]
    assert "survived" in err and "ignored" in err  # the label column is listed
    rows = json.loads((tmp_path / "m" / "samples.json").read_text())["rows"]
    assert len(rows) == 100 and set(rows[0]) == set(features)
    assert any(r["age"] is None for r in rows)  # missing values kept as null, never NaN


def test_an_encoder_that_refuses_unknown_values_makes_the_feature_closed(tmp_path, capsys):
    src, sample = write_shape("strict-categories", tmp_path / "src")
    code, err = _register(capsys, "--src", str(src), "--sample", str(sample), "--out", str(tmp_path / "m"))
    assert code == 0, err
    features = {f["name"]: f for f in json.loads((tmp_path / "m" / "metadata.json").read_text())["input_schema"]["features"]}
    assert features["sex"]["closed"] is True and features["embarked"]["closed"] is True


def test_without_a_sample_it_warns_and_checks_on_rows_drawn_from_what_the_model_learned(pipeline, tmp_path, capsys):
    src, _ = pipeline
    code, err = _register(capsys, "--src", str(src), "--out", str(tmp_path / "m"))
    assert code == 0, err
    assert "warning: no SAMPLE given" in err
    rows = json.loads((tmp_path / "m" / "samples.json").read_text())["rows"]
    fares = [r["fare"] for r in rows if r["fare"] is not None]
    assert np.median(fares) > 100  # the scaler's learned mean (~3,000), not N(0, 1)
    # Known categories, the odd unseen one (the encoder ignores them) and null (it takes a missing value).
    assert {r["sex"] for r in rows} <= {"female", "male", "__twinserve_unseen__", None}


def _one_line_exit_2(capsys, *args: str) -> str:
    code, err = _register(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_an_unfitted_model_is_one_line_exit_2(tmp_path, capsys):
    from sklearn.linear_model import LogisticRegression

    joblib.dump(LogisticRegression(), tmp_path / "m.joblib")
    assert "not fitted" in _one_line_exit_2(capsys, "--src", str(tmp_path / "m.joblib"), "--out", str(tmp_path / "o"))


def test_a_sample_without_the_models_columns_names_them(pipeline, tmp_path, capsys):
    src, sample = pipeline
    pd.read_csv(sample).drop(columns=["sex", "pclass"]).to_csv(tmp_path / "s.csv", index=False)
    line = _one_line_exit_2(capsys, "--src", str(src), "--sample", str(tmp_path / "s.csv"), "--out", str(tmp_path / "o"))
    assert "SAMPLE lacks column(s) sex, pclass" in line


def test_a_model_that_fails_on_the_sample_gives_its_own_message(pipeline, tmp_path, capsys):
    src, sample = pipeline
    frame = pd.read_csv(sample)
    frame["fare"] = "not a number"
    frame.to_csv(tmp_path / "s.csv", index=False)
    line = _one_line_exit_2(capsys, "--src", str(src), "--sample", str(tmp_path / "s.csv"), "--out", str(tmp_path / "o"))
    assert "the model fails on the sample rows" in line


@pytest.mark.parametrize("bad", ["missing.joblib", "not-a-model.joblib"])
def test_an_unreadable_model_file_is_one_line_exit_2(tmp_path, capsys, bad):
    if bad == "not-a-model.joblib":
        (tmp_path / bad).write_text("hello")
    _one_line_exit_2(capsys, "--src", str(tmp_path / bad), "--out", str(tmp_path / "o"))


def test_an_unreadable_sample_is_one_line_exit_2(pipeline, tmp_path, capsys):
    src, _ = pipeline
    (tmp_path / "s.parquet").write_bytes(b"not parquet")
    _one_line_exit_2(capsys, "--src", str(src), "--sample", str(tmp_path / "s.parquet"), "--out", str(tmp_path / "o"))


def _times_two(values):
    return values * 2


def _with_function(function) -> tuple[object, pd.DataFrame]:
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 1.0, 0.0, 2.0]})
    return make_pipeline(FunctionTransformer(function), LinearRegression()).fit(frame, frame.a), frame


def test_a_function_of_the_users_own_is_refused_in_one_line_exit_2(tmp_path, capsys):
    # skops stores a reference to the function, never its code; no server has the user's module.
    model, frame = _with_function(_times_two)
    joblib.dump(model, tmp_path / "m.joblib")
    frame.to_csv(tmp_path / "s.csv", index=False)
    line = _one_line_exit_2(capsys, "--src", str(tmp_path / "m.joblib"), "--sample", str(tmp_path / "s.csv"),
                            "--out", str(tmp_path / "o"))
    assert "your own code" in line and "_times_two" in line
    assert not (tmp_path / "o").exists()


def test_a_lambda_is_refused_and_a_numpy_function_is_served(tmp_path):
    from twinserve.errors import RegistrationError
    from twinserve.registration import register, sample_records
    from twinserve.schema import Feature, InputSchema

    schema = InputSchema((Feature("a"), Feature("b")), "dataframe")
    model, frame = _with_function(lambda values: values * 2)
    with pytest.raises(RegistrationError, match="<lambda>"):
        register(model, tmp_path / "o", name="m", schema=schema, check_rows=frame,
                 sample_rows=sample_records(frame, schema), samples_source="test")
    model, frame = _with_function(np.log1p)
    document = register(model, tmp_path / "o", name="m", schema=schema, check_rows=frame,
                        sample_rows=sample_records(frame, schema), samples_source="test")
    assert document["backend"] == "scikit-learn" and document["trusted_types"] == []


def test_a_searched_model_closes_its_encoders_without_a_sample_too(tmp_path, capsys):
    # The strict encoder sits inside GridSearchCV's best pipeline; rows drawn before the model is
    # asked hold no unseen value it would refuse.
    src, _ = write_shape("searched-strict-categories", tmp_path / "src")
    code, err = _register(capsys, "--src", str(src), "--out", str(tmp_path / "m"))
    assert code == 0, err
    features = {f["name"]: f for f in json.loads((tmp_path / "m" / "metadata.json").read_text())["input_schema"]["features"]}
    assert features["sex"]["kind"] == "string" and features["sex"]["closed"] is True


def test_a_voting_model_without_a_sample_is_registered(tmp_path, capsys):
    # Its members are a linear model and a forest (itself a sequence of trees), side by side.
    from sklearn.ensemble import RandomForestClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 2)), columns=["a", "b"])
    model = VotingClassifier([("lr", LogisticRegression()), ("rf", RandomForestClassifier(3, random_state=0))])
    joblib.dump(model.fit(frame, frame.a > 0), tmp_path / "m.joblib")
    code, err = _register(capsys, "--src", str(tmp_path / "m.joblib"), "--out", str(tmp_path / "m"))
    assert code == 0, err


def test_a_skops_file_is_registered_as_a_joblib_one_is(pipeline, tmp_path, capsys):
    import skops.io as sio

    src, sample = pipeline
    sio.dump(joblib.load(src), tmp_path / "m.skops")
    code, err = _register(capsys, "--src", str(tmp_path / "m.skops"), "--sample", str(sample), "--out", str(tmp_path / "m"))
    assert code == 0, err
    assert json.loads((tmp_path / "m" / "metadata.json").read_text())["name"] == "m"


class _Elsewhere:
    """Pickled as a class of a module that the registering machine does not have."""

    def predict(self, rows):
        return np.zeros(len(rows))


def test_a_model_needing_a_module_not_installed_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    import pickle

    monkeypatch.setattr(_Elsewhere, "__module__", "twinserve_absent_library")
    monkeypatch.setitem(sys.modules, "twinserve_absent_library", sys.modules[__name__])
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(_Elsewhere()))
    monkeypatch.delitem(sys.modules, "twinserve_absent_library")
    line = _one_line_exit_2(capsys, "--src", str(tmp_path / "m.pkl"), "--out", str(tmp_path / "o"))
    assert "'twinserve_absent_library', which is not installed here" in line


def test_codes_an_encoder_learned_as_strings_stay_strings_though_the_csv_reads_numbers(tmp_path, capsys):
    # Postal codes: the CSV reader makes 02134 the number 2134; the encoder knows the string "02134".
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"zip": ["02134", "10115", "80331", "02134"] * 10, "x": np.arange(40.0)})
    model = make_pipeline(ColumnTransformer([("zip", OneHotEncoder(), ["zip"])], remainder="passthrough"),
                          LogisticRegression()).fit(frame, np.arange(40) % 2)
    joblib.dump(model, tmp_path / "m.joblib")
    frame.to_csv(tmp_path / "s.csv", index=False)
    code, err = _register(capsys, "--src", str(tmp_path / "m.joblib"), "--sample", str(tmp_path / "s.csv"),
                          "--out", str(tmp_path / "m"))
    assert code == 0, err
    features = {f["name"]: f for f in json.loads((tmp_path / "m" / "metadata.json").read_text())["input_schema"]["features"]}
    assert features["zip"]["kind"] == "string" and features["zip"]["closed"] is True
    rows = json.loads((tmp_path / "m" / "samples.json").read_text())["rows"]
    assert rows[0]["zip"] == "02134"


def test_whole_numbers_in_the_sample_make_a_number_feature_unless_an_encoder_knows_them(pipeline, tmp_path, capsys):
    # The sample's fares are whole; the model scales them and takes 12.5 as well.
    src, sample = pipeline
    frame = pd.read_csv(sample)
    frame.assign(fare=frame.fare.round().astype(int)).to_csv(tmp_path / "s.csv", index=False)
    code, err = _register(capsys, "--src", str(src), "--sample", str(tmp_path / "s.csv"), "--out", str(tmp_path / "m"))
    assert code == 0, err
    features = {f["name"]: f for f in json.loads((tmp_path / "m" / "metadata.json").read_text())["input_schema"]["features"]}
    assert features["fare"]["kind"] == "number"
    assert features["pclass"]["kind"] == "integer"  # one-hot encoded: its values are a vocabulary


def test_a_model_saved_with_another_scikit_learn_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    # Pickled from a module path scikit-learn has since moved (an old release's private module).
    import pickle
    import types

    old_path = "sklearn.linear_model.logistic"
    module = types.ModuleType(old_path)
    monkeypatch.setattr(_Elsewhere, "__module__", old_path)
    module._Elsewhere = _Elsewhere  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, old_path, module)
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(_Elsewhere()))
    monkeypatch.delitem(sys.modules, old_path)
    line = _one_line_exit_2(capsys, "--src", str(tmp_path / "m.pkl"), "--out", str(tmp_path / "o"))
    assert "saved with another version of scikit-learn" in line and old_path in line


def test_an_encoder_behind_an_imputer_closes_its_features_with_the_imputers_names(tmp_path, capsys):
    # The encoder was fitted on the imputer's array (no names of its own): the most common way to
    # one-hot a string column with gaps, and OneHotEncoder refuses unknown values by default.
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"city": ["a", "b", None, "a"] * 10, "x": np.arange(40.0)})
    model = make_pipeline(ColumnTransformer([("city", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                                                    OneHotEncoder()), ["city"])],
                                            remainder="passthrough"), LogisticRegression())
    joblib.dump(model.fit(frame, np.arange(40) % 2), tmp_path / "m.joblib")
    frame.to_csv(tmp_path / "s.csv", index=False)
    code, err = _register(capsys, "--src", str(tmp_path / "m.joblib"), "--sample", str(tmp_path / "s.csv"),
                          "--out", str(tmp_path / "m"))
    assert code == 0, err
    features = {f["name"]: f for f in json.loads((tmp_path / "m" / "metadata.json").read_text())["input_schema"]["features"]}
    assert features["city"] == {"name": "city", "kind": "string", "nullable": True, "categories": ["a", "b"], "closed": True}


def test_a_model_refusing_values_no_encoder_lists_is_served_by_scikit_learn(tmp_path):
    from twinserve.schema import Feature, InputSchema
    from twinserve.schema_infer import unlisted_closed

    class Strict:  # a wrapper the registrar cannot read into: it knows "a" and "b" only
        def predict(self, rows):
            if not rows["city"].isin(["a", "b"]).all():
                raise ValueError("unknown city")
            return np.zeros(len(rows))

    schema = InputSchema((Feature("city", "string"),), "dataframe")
    assert unlisted_closed(Strict(), schema, pd.DataFrame({"city": ["a", "b"]})) == ["city"]
