"""Reading a model's input schema off the fitted estimator and a sample of the user's data.

Registration-time only (needs scikit-learn and pandas). What the estimator knows (its
``feature_names_in_``, its encoders' ``categories_``, its scalers' means, its trees' thresholds)
decides names, kinds and known values; the sample decides dtypes and realistic values; what the
model *accepts* (a missing value, an unseen category) is asked of the model itself, one probe per
feature, because no attribute says it reliably across estimators.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from twinserve.errors import RegistrationError
from twinserve.schema import Feature, InputSchema, Kind

UNSEEN_STRING = "__twinserve_unseen__"
_TEXT_NAME = "text"


def read_sample(path: Path, string_columns: tuple[str, ...] = ()) -> Any:
    """A CSV or Parquet file as a DataFrame; RegistrationError (one line) when it cannot be read.
    ``string_columns`` are read from a CSV as written (a code "02134" keeps its zero)."""
    import pandas as pd

    if not path.exists():
        raise RegistrationError(f"SAMPLE {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            try:
                frame = pd.read_parquet(path)
            except ImportError:
                raise RegistrationError("reading Parquet needs pyarrow (pip install pyarrow); or give a CSV") from None
        else:
            frame = pd.read_csv(path, dtype={c: str for c in string_columns} or None)
    except RegistrationError:
        raise
    except Exception as exc:  # pandas raises many kinds for a malformed file
        raise RegistrationError(f"cannot read SAMPLE {path}: {str(exc).splitlines()[0][:200]}") from None
    if frame.empty:
        raise RegistrationError(f"SAMPLE {path} holds no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _steps_with_names(estimator: Any, inherited: list[str] | None) -> list[tuple[Any, list[str] | None]]:
    """Each sub-estimator with the feature names its columns carry: its own ``feature_names_in_``,
    else the names it was handed (a ColumnTransformer's column list, or the step before it in a
    pipeline when the widths agree: a scaler behind an imputer sees the imputer's columns)."""
    own = getattr(estimator, "feature_names_in_", None)
    names = [str(n) for n in own] if own is not None else inherited
    width = getattr(estimator, "n_features_in_", None)
    if names is not None and width is not None and len(names) != width:
        names = None
    found = [(estimator, names)]
    for inner in _same_input_estimators(estimator):
        found += _steps_with_names(inner, names)
    for _, step in getattr(estimator, "steps", []) or []:
        found += _steps_with_names(step, names)
    for _, transformer, columns in getattr(estimator, "transformers_", []) or []:
        if isinstance(transformer, str):
            continue
        given = [str(c) for c in columns] if isinstance(columns, list | tuple) and all(
            isinstance(c, str) for c in columns) else None
        found += _steps_with_names(transformer, given)
    return found


# Where a meta-estimator keeps the fitted estimators it hands its own input to, unchanged: a
# search's best pipeline, a calibrated, voting, stacking, one-vs-rest, multi-output or bagging
# model's members, a target transformer's regressor, a feature union's parts. A member fitted on
# a subset of the columns is caught by the width check in _steps_with_names.
_SAME_INPUT_ATTRIBUTES = ("best_estimator_", "regressor_", "estimator_", "estimators_", "calibrated_classifiers_",
                          "transformer_list", "estimator")  # estimator: FrozenEstimator's (a template elsewhere)


def _flat(value: Any) -> list[Any]:
    """The objects in a list or array of estimators, nested or not (gradient boosting keeps a 2-D
    array of trees). Not np.ravel: a forest is itself a sequence, and numpy would descend into it."""
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    if isinstance(value, list):
        return [item for part in value for item in _flat(part)]
    return [value]


def _same_input_estimators(estimator: Any) -> list[Any]:
    """The fitted estimators inside a meta-estimator that see the same columns it does."""
    found: list[Any] = []
    for attribute in _SAME_INPUT_ATTRIBUTES:
        value = getattr(estimator, attribute, None)
        if value is None or isinstance(value, str):
            continue
        for member in _flat(value):
            if isinstance(member, tuple) and len(member) == 2:  # a feature union's (name, transformer)
                member = member[1]
            if attribute == "calibrated_classifiers_":  # a wrapper holding the fitted member
                member = getattr(member, "estimator", None)
            if member is not None and not isinstance(member, str) and hasattr(member, "get_params"):
                found.append(member)
    return found


def _is_text_model(estimator: Any) -> bool:
    """A pipeline whose first step turns raw documents into features (Count/Tfidf/Hashing
    vectorizer), also inside a meta-estimator (a grid search over the pipeline, say)."""
    first = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
    if hasattr(first, "build_analyzer"):
        return True
    inner = _same_input_estimators(first)
    return bool(inner) and _is_text_model(inner[0])


def _known_categories(estimator: Any) -> dict[str, list[Any]]:
    """Feature name -> the categories an encoder fitted on that column knows (NaN/None dropped)."""
    known: dict[str, list[Any]] = {}
    for step, names in _steps_with_names(estimator, None):  # an encoder behind an imputer: the imputer's names
        categories = getattr(step, "categories_", None)
        if names is None or categories is None or isinstance(categories, str):
            continue
        for name, values in zip(names, categories, strict=False):
            kept = [v.item() if hasattr(v, "item") else v for v in values
                    if v is not None and not (isinstance(v, float) and v != v)]
            known[str(name)] = kept
    return known


def _kind_of_values(values: list[Any]) -> Kind:
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return "boolean"
    if values and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        return "integer"
    if values and all(isinstance(v, int | float | np.number) for v in values):
        return "number"
    return "string"


def _kind_of_dtype(dtype: Any) -> Kind:
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "number"
    return "string"


def _kind_of_column(column: Any) -> Kind:
    """A sample column's kind. A true/false column with gaps reads back from CSV as objects
    (True, False, NaN): it is a boolean feature, not a string one."""
    kind = _kind_of_dtype(column.dtype)
    if kind == "string":
        present = column.dropna()
        if len(present) and all(isinstance(v, bool | np.bool_) for v in present):
            return "boolean"
    return kind


def _names(estimator: Any, sample: Any, text_column: str | None) -> tuple[tuple[str, ...], str, list[str]]:
    """(feature names, layout, sample columns the model does not use)."""
    columns = [] if sample is None else list(sample.columns)
    names_in = getattr(estimator, "feature_names_in_", None)
    if names_in is not None:
        names = tuple(str(n) for n in names_in)
        return names, "dataframe", [c for c in columns if c not in names]
    if _is_text_model(estimator):
        if text_column is None and sample is not None:
            strings = [c for c in columns if _kind_of_dtype(sample[c].dtype) == "string"]
            if not strings:
                raise RegistrationError("the model takes one text column, but SAMPLE has no string column")
            # A label is a handful of values; the documents are the column with the most distinct ones.
            text_column = max(strings, key=lambda c: sample[c].nunique())
        elif text_column is not None and sample is not None and text_column not in columns:
            raise RegistrationError(f"SAMPLE has no column {text_column!r} (TEXT_COLUMN)")
        name = text_column or _TEXT_NAME
        return (name,), "documents", [c for c in columns if c != name]
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None:
        raise RegistrationError(f"cannot tell what {type(estimator).__name__} takes: it has no n_features_in_ "
                                "or feature_names_in_ (is it fitted?)")
    generic = tuple(f"x{i}" for i in range(n_features))
    if sample is None or all(n in columns for n in generic):
        return generic, "array", [c for c in columns if c not in generic]
    numeric = [c for c in columns if _kind_of_dtype(sample[c].dtype) in ("number", "integer")]
    if len(numeric) >= n_features:
        # Fitted on an unnamed array: the sample's first numeric columns, in order.
        return tuple(numeric[:n_features]), "array", [c for c in columns if c not in numeric[:n_features]]
    raise RegistrationError(f"the model takes {n_features} unnamed numbers but SAMPLE has {len(numeric)} numeric "
                            f"columns; name them x0..x{n_features - 1} or give at least {n_features}")


def check_fitted(estimator: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(estimator, "predict"):
        raise RegistrationError(f"{type(estimator).__name__} has no predict(): not a model twinserve can serve")
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise RegistrationError(f"{type(estimator).__name__} is not fitted; fit it before registering") from None
    except TypeError:  # not an estimator scikit-learn recognises: let the sample probe decide
        pass


def infer_schema(estimator: Any, sample: Any, text_column: str | None = None) -> tuple[InputSchema, list[str]]:
    """The schema (kinds and categories; nullability and closedness come from :func:`probe`) and
    the sample's columns the model does not use. RegistrationError when the sample lacks some."""
    names, layout, unused = _names(estimator, sample, text_column)
    if sample is not None:
        missing = [n for n in names if n not in sample.columns]
        if missing:
            raise RegistrationError(f"SAMPLE lacks column(s) {', '.join(missing[:10])}"
                                    + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
    known = _known_categories(estimator)
    features = []
    for name in names:
        categories = known.get(name)
        if layout == "documents":
            kind: Kind = "string"
        elif sample is not None:
            kind = _kind_of_column(sample[name])
        elif categories is not None:
            kind = _kind_of_values(categories)
        else:
            kind = "number"
        if kind in ("number", "integer") and categories and all(isinstance(c, str) for c in categories):
            kind = "string"  # codes an encoder learned as strings ("10115"), which a CSV reads as numbers
        elif kind == "integer" and categories is None:
            # Whole numbers in the sample, but nothing in the model keeps to them (a scaler, a tree):
            # 41.5 is as good an age as 41, so the contract takes any number.
            kind = "number"
        if kind == "number" and categories is not None:
            categories = None  # a float column through an encoder: its values are not a vocabulary
        nullable = sample is not None and bool(sample[name].isna().any())
        features.append(Feature(name, kind, nullable, tuple(categories) if categories is not None else None))
    return InputSchema(tuple(features), layout), unused  # type: ignore[arg-type]


def _numeric_ranges(estimator: Any, names: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """Per feature (mean, spread) from what the estimator learned: scalers' mean_/scale_, imputers'
    statistics_, trees' split thresholds. Used to draw realistic rows when there is no sample."""
    ranges: dict[str, tuple[float, float]] = {}
    for step, step_names in _steps_with_names(estimator, list(names)):
        if step_names is None:
            continue
        mean, scale = getattr(step, "mean_", None), getattr(step, "scale_", None)
        if mean is not None and scale is not None and len(mean) == len(step_names):
            for name, m, s in zip(step_names, mean, scale, strict=True):
                ranges.setdefault(name, (float(m), float(s) or 1.0))
        trees = getattr(step, "estimators_", None)
        trees = [step] if hasattr(step, "tree_") else (_flat(trees) if trees is not None else [])
        thresholds: dict[int, list[float]] = {}
        for tree in trees:
            structure = getattr(tree, "tree_", None)
            if structure is None:
                continue
            for feature, threshold in zip(structure.feature, structure.threshold, strict=True):
                if feature >= 0:
                    thresholds.setdefault(int(feature), []).append(float(threshold))
        for index, values in thresholds.items():
            if index < len(step_names):
                low, high = min(values), max(values)
                ranges.setdefault(step_names[index], ((low + high) / 2, max((high - low) / 2, abs(low) * 0.1, 1e-3)))
    return ranges


def synthetic_rows(schema: InputSchema, estimator: Any, sample: Any, n_rows: int, seed: int = 1,
                   unseen: bool = True) -> Any:
    """Rows drawn from the schema: numbers near the sample's values (or the estimator's learned
    ranges), known categories, missing values where the model takes them, and unseen categories
    where it ignores them (``unseen=False``: none, for rows drawn before :func:`probe` has asked
    the model which features refuse them). A DataFrame with the schema's column names."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    ranges = _numeric_ranges(estimator, schema.names) if sample is None else {}
    columns: dict[str, Any] = {}
    for feature in schema.features:
        name = feature.name
        observed = sample[name].dropna() if sample is not None else None
        if feature.kind in ("number", "integer"):
            if observed is not None and len(observed):
                values = observed.to_numpy(dtype=np.float64)[rng.integers(0, len(observed), n_rows)]
                values = values * rng.normal(1.0, 0.15, n_rows)  # near real rows, many near boundaries
            elif feature.categories:
                values = np.asarray(feature.categories, dtype=np.float64)[rng.integers(0, len(feature.categories), n_rows)]
            else:
                mean, spread = ranges.get(name, (0.0, 1.0))
                values = rng.normal(mean, spread, n_rows)
            if feature.kind == "integer":
                values = np.rint(values)
            column: Any = values
            if feature.nullable:
                column = np.where(rng.random(n_rows) < 0.05, np.nan, values)
            elif feature.kind == "integer":
                column = values.astype(np.int64)
            columns[name] = column
        elif feature.kind == "boolean":
            columns[name] = rng.random(n_rows) < 0.5
        else:
            pool = list(feature.categories or [])
            if not pool and observed is not None and len(observed):
                pool = [str(v) for v in observed.unique()[:1000]]
            if not pool:
                pool = ["a", "b", "c"]
            values = [pool[i] for i in rng.integers(0, len(pool), n_rows)]
            if schema.layout == "documents" and len(pool) > 1:  # new documents from known words
                words = " ".join(pool).split()
                values = [" ".join(words[j] for j in rng.integers(0, len(words), rng.integers(1, 12)))
                          for _ in range(n_rows)]
            if unseen and feature.categories and not feature.closed:
                values = [UNSEEN_STRING if rng.random() < 0.02 else v for v in values]
            if feature.nullable:  # NaN, as pandas reads a missing string and the server hands it on
                values = [np.nan if rng.random() < 0.05 else v for v in values]
            columns[name] = np.array(values, dtype=object)
    return pd.DataFrame(columns, columns=list(schema.names))


def _accepts(estimator: Any, schema: InputSchema, frame: Any) -> bool:
    from twinserve.registration import call_model

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call_model(estimator, schema, frame)
        return True
    except Exception:  # any refusal at all means: not accepted
        return False


def unlisted_closed(estimator: Any, schema: InputSchema, base: Any) -> list[str]:
    """String features the model refuses an unseen value of, though no encoder found says which
    values it knows (an encoder inside a wrapper the registrar cannot read): the core cannot
    refuse those values first, so only scikit-learn itself may serve the model."""
    if schema.layout != "dataframe":
        return []
    found = []
    for feature in schema.features:
        if feature.kind == "string" and feature.categories is None:
            trial = base.head(16).copy()
            trial[feature.name] = UNSEEN_STRING
            if not _accepts(estimator, schema, trial):
                found.append(feature.name)
    return found


def probe(estimator: Any, schema: InputSchema, base: Any, ask_missing: bool) -> InputSchema:
    """Ask the model, feature by feature, whether it refuses an unseen category (then the core
    refuses it first, naming the feature) and, with ``ask_missing``, whether it takes a missing
    value. With a sample, a feature takes null where the sample shows missing values: a model that
    merely tolerates NaN where it never saw one would answer something nobody checked."""
    rows = base.head(16).copy()
    features = []
    for feature in schema.features:
        nullable = feature.nullable
        if ask_missing and not nullable:
            trial = rows.copy()  # NaN: the missing value the server hands a DataFrame model
            trial[feature.name] = np.nan
            if feature.kind in ("string", "boolean"):
                trial[feature.name] = trial[feature.name].astype(object)
            nullable = _accepts(estimator, schema, trial)
        closed = False
        if feature.categories is not None:
            trial = rows.copy()
            unseen: Any = UNSEEN_STRING if feature.kind == "string" else max(
                (c for c in feature.categories if isinstance(c, int | float)), default=0) + 1000
            with contextlib.suppress(TypeError, ValueError):
                trial[feature.name] = unseen
            closed = not _accepts(estimator, schema, trial)
        features.append(Feature(feature.name, feature.kind, nullable, feature.categories, closed))
    return InputSchema(tuple(features), schema.layout)
