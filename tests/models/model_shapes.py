"""Models as scikit-learn users bring them, fitted here (never committed binaries), each with a
sample of its data as a CSV file the way a user would hand it to ``make model-import``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd


def _passengers(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame({
        "age": np.where(rng.random(n) < 0.1, np.nan, rng.normal(40, 12, n)),
        "fare": rng.lognormal(3, 1, n) * 100,
        "sex": rng.choice(["male", "female"], n),
        "embarked": rng.choice(["S", "C", "Q"], n),
        "pclass": rng.integers(1, 4, n),
    })
    label = ((frame["sex"] == "female") ^ (rng.random(n) < 0.2)).astype(int).to_numpy()
    return frame, label


def dataframe_pipeline(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """ColumnTransformer(imputer + scaler on numbers, one-hot on strings and an integer class) -> LogisticRegression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, label = _passengers(400, rng)
    model = Pipeline([("prep", ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "fare"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "embarked", "pclass"]),
    ])), ("clf", LogisticRegression())]).fit(frame, label)
    return model, frame.assign(survived=label)


def strict_categories(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """An encoder that refuses unknown categories (handle_unknown='error') in front of a tree; one
    column named as spreadsheets name them (``fare (€)``), which skl2onnx renames in its graph."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder
    from sklearn.tree import DecisionTreeClassifier

    frame, label = _passengers(300, rng)
    frame = frame.drop(columns=["age"]).rename(columns={"fare": "fare (€)"})
    model = Pipeline([("prep", ColumnTransformer([("cat", OrdinalEncoder(), ["sex", "embarked"])],
                                                 remainder="passthrough")),
                      ("tree", DecisionTreeClassifier(max_depth=4, random_state=0))]).fit(frame, label)
    return model, frame


def gradient_boosting_regressor(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """HistGradientBoostingRegressor on named columns at scales of 1e3-1e5."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    n = 400
    frame = pd.DataFrame({"sqft": rng.uniform(500, 5000, n), "year": rng.integers(1900, 2020, n),
                          "lot": rng.uniform(1e3, 1e5, n)})
    price = frame.sqft * 120 + (frame.year - 1900) * 300 + rng.normal(0, 1e4, n)
    model = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(frame, price)
    return model, frame.assign(price=price)


def text_classifier(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """TfidfVectorizer + LogisticRegression fitted on a list of documents (no ONNX form here)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    good, bad = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]
    docs, labels = [], []
    for _ in range(200):
        positive = rng.random() < 0.5
        words = rng.choice(good if positive else bad, 3).tolist() + rng.choice(["movie", "plot", "cast"], 2).tolist()
        docs.append(" ".join(words))
        labels.append("pos" if positive else "neg")
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(docs, labels)
    return model, pd.DataFrame({"review": docs, "label": labels})


def multi_output_regressor(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """KNeighborsRegressor with two outputs, fitted on an unnamed array."""
    from sklearn.neighbors import KNeighborsRegressor

    X = rng.normal(size=(200, 3)) * [1, 10, 100]
    model = KNeighborsRegressor(4).fit(X, np.c_[X.sum(axis=1), X[:, 0]])
    return model, pd.DataFrame(X, columns=["x0", "x1", "x2"])


def classifier_without_proba(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """LinearSVC: labels and classes, no probabilities."""
    from sklearn.svm import LinearSVC

    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    return LinearSVC().fit(X, (X.a + X.b > 0).map({True: "yes", False: "no"})), X


def boolean_columns(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """A forest on numbers and true/false columns: compiled to one ONNX matrix, booleans as 0/1."""
    from sklearn.ensemble import RandomForestClassifier

    n = 200
    frame = pd.DataFrame({"age": rng.normal(40, 12, n), "member": rng.random(n) < 0.4, "vip": rng.random(n) < 0.2})
    label = (frame.member | (frame.vip & (frame.age > 40))).astype(int)
    return RandomForestClassifier(10, max_depth=4, random_state=0).fit(frame, label), frame


def outlier_detector(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """OneClassSVM: predict answers the labels -1 (outlier) and 1 (inlier), not numbers; its ONNX
    graph answers them as an [N, 1] column."""
    from sklearn.svm import OneClassSVM

    frame = pd.DataFrame(rng.normal(size=(200, 2)), columns=["cpu", "latency"])
    return OneClassSVM(nu=0.1).fit(frame), frame


def nullable_boolean(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """A true/false column with gaps (pandas' ``boolean`` dtype), which a CSV reads back as
    objects: still a boolean feature that takes null, served as the model was checked on it."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    n = 200
    member = np.where(rng.random(n) < 0.15, None, rng.random(n) < 0.4)
    frame = pd.DataFrame({"age": rng.normal(40, 12, n), "member": pd.array(member, dtype="boolean")})
    label = (frame.member.fillna(False).astype(bool) ^ (frame.age > 40)).astype(int)
    return HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(frame, label), frame


def searched_strict_categories(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """GridSearchCV over a pipeline whose encoder refuses unknown categories, registered as fitted
    (the search, not its best pipeline): the encoder inside still closes its features."""
    from sklearn.model_selection import GridSearchCV

    pipeline, frame = strict_categories(rng)
    search = GridSearchCV(pipeline, {"tree__max_depth": [2, 4]}, cv=2)
    return search.fit(frame, pipeline.predict(frame)), frame


def searched_text(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """GridSearchCV over a text pipeline: one document column, found through the search."""
    from sklearn.model_selection import GridSearchCV

    pipeline, frame = text_classifier(rng)
    search = GridSearchCV(pipeline, {"logisticregression__C": [1.0, 10.0]}, cv=2)
    return search.fit(list(frame.review), frame.label), frame


def multi_output_classifier(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """MultiOutputClassifier: one label per output per row, classes per output, no probabilities
    (its predict_proba answers one matrix per output)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier

    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    labels = np.c_[(X.a > 0).astype(int), np.digitize(X.b, [-0.5, 0.5])]
    return MultiOutputClassifier(LogisticRegression()).fit(X, labels), X


def missing_strings_calibrated(rng: np.random.Generator) -> tuple[object, pd.DataFrame]:
    """CalibratedClassifierCV over a pipeline that fills missing strings with the most frequent
    one (a CSV's empty cells, NaN as pandas reads them), answering "yes"/"no"."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, label = _passengers(300, rng)
    frame["embarked"] = frame["embarked"].where(rng.random(len(frame)) > 0.15)
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "fare"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         ["sex", "embarked"]),
    ])
    model = CalibratedClassifierCV(make_pipeline(prep, LogisticRegression()), cv=3)
    return model.fit(frame, np.where(label == 1, "yes", "no")), frame


SHAPES: dict[str, Callable[[np.random.Generator], tuple[object, pd.DataFrame]]] = {
    "dataframe-pipeline": dataframe_pipeline,
    "strict-categories": strict_categories,
    "hgb-regressor": gradient_boosting_regressor,
    "text": text_classifier,
    "multi-output": multi_output_regressor,
    "no-proba": classifier_without_proba,
    "boolean-columns": boolean_columns,
    "outlier-detector": outlier_detector,
    "nullable-boolean": nullable_boolean,
    "searched-strict-categories": searched_strict_categories,
    "searched-text": searched_text,
    "multi-output-classifier": multi_output_classifier,
    "missing-strings-calibrated": missing_strings_calibrated,
}

# The backend a shape must get where the choice itself was once wrong: a regression guard, not a preference.
EXPECTED_BACKENDS = {"boolean-columns": "onnxruntime", "outlier-detector": "onnxruntime",
                     "strict-categories": "onnxruntime"}


def write_shape(name: str, folder: Path) -> tuple[Path, Path]:
    """Fit the shape and write (model.joblib, sample.csv) into ``folder``, as a user would have them."""
    model, sample = SHAPES[name](np.random.default_rng(0))
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    sample.to_csv(folder / "sample.csv", index=False)
    return folder / "model.joblib", folder / "sample.csv"
