"""The two ways a verified artefact becomes something that predicts.

``OnnxBackend`` is the serving default where the registrar proved an ONNX form equal on the
user's rows: ONNX Runtime answers a row in microseconds and needs neither scipy nor scikit-learn.
``SklearnBackend`` serves the source artefact itself, for models with no equal ONNX form; it
imports scikit-learn (and pandas, for a model fitted on a DataFrame) only when it is the one
chosen, so the ONNX path never pays for them.

Both take a validated batch (a float matrix, or :class:`~twinserve.contract.Columns`) and return
(predictions, probabilities or None): labels as a list for a classifier, numbers as an array in
the backend's own dtype for a regressor (one column per output for a multi-output regressor).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from twinserve.contract import Batch, Columns
from twinserve.errors import InvalidValue, ModelLoadError, UntrustedModel, clip
from twinserve.metadata import Artefact, ModelMetadata
from twinserve.schema import InputSchema
from twinserve.trusted_types import TRUSTED_SKOPS_TYPES

Outputs = tuple[list[Any] | np.ndarray, np.ndarray | None]


class Backend(Protocol):
    name: str
    input_dtype: type[np.floating[Any]]
    float32_inputs: bool  # inputs are rounded to float32 before the model sees them

    def predict(self, batch: Batch) -> Outputs:
        """Return (predictions, class probabilities or None) for a validated batch."""
        ...


def _as_matrix(batch: Batch) -> np.ndarray:
    if isinstance(batch, Columns):
        return np.column_stack([a.astype(np.float64) for a in batch.arrays])
    return batch


_ONNX_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
               "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": object}


def column_inputs(graph_inputs: list[Any], names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Per feature (schema order): its graph input's name and numpy dtype. skl2onnx names a
    column's input after the column, but rewrites characters it does not take (``prix €`` becomes
    ``prix__``): then the inputs are matched by position, the DataFrame's column order."""
    by_name = {i.name: i for i in graph_inputs}
    if len(graph_inputs) == len(names) and not all(n in by_name for n in names):
        matched = list(graph_inputs)
    else:
        matched = [by_name.get(n) for n in names]
    return [(i.name if i is not None else n, _ONNX_TYPES.get(i.type, np.float64) if i is not None else np.float64)
            for n, i in zip(names, matched, strict=True)]


class OnnxBackend:
    name = "onnxruntime"

    def __init__(self, data: bytes, artefact: Artefact, metadata: ModelMetadata) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread, no spinning: a request is one tiny graph run, and an intra-op thread
        # pool created before gunicorn forks would not exist in the workers.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Errors only: a multi-output regressor's graph declares one output column, and ONNX
        # Runtime would print a warning to stderr on every request that answers two.
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(f"ONNX Runtime cannot load {artefact.path}: {exc}") from None
        inputs = self._session.get_inputs()
        self._input_name = inputs[0].name
        self._columns = artefact.inputs == "columns"
        # Per feature (schema order): the graph input's name and numpy dtype.
        self._column_inputs = column_inputs(inputs, metadata.schema.names)
        outputs = [o.name for o in self._session.get_outputs()]
        self._label_name = outputs[0]
        self._proba_name = outputs[1] if metadata.has_proba and len(outputs) > 1 else None
        self._output_names = [n for n in (self._label_name, self._proba_name) if n]
        self._regression = metadata.task == "regression"
        self.input_dtype = np.float64 if artefact.input_dtype == "float64" else np.float32
        self._round_f32 = artefact.round_inputs_to_float32
        self.float32_inputs = self._round_f32 or self.input_dtype is np.float32

    def _feed(self, batch: Batch) -> dict[str, np.ndarray]:
        if not self._columns:
            rows = _as_matrix(batch)
            if self._round_f32:
                rows = rows.astype(np.float32).astype(np.float64)
            return {self._input_name: rows.astype(self.input_dtype, copy=False)}
        if not isinstance(batch, Columns):  # an all-number model compiled per column
            batch = Columns(tuple(n for n, _ in self._column_inputs), tuple(batch.T))
        return {name: array.astype(dtype, copy=False).reshape(-1, 1)
                for (name, dtype), array in zip(self._column_inputs, batch.arrays, strict=True)}

    def predict(self, batch: Batch) -> Outputs:
        results = self._session.run(self._output_names, self._feed(batch))
        if self._regression:
            return regression_answer(results[0]), None
        labels = results[0]
        if labels.ndim == 2 and labels.shape[1] == 1:  # an outlier detector's graph answers [N, 1] labels
            labels = labels[:, 0]
        return labels.tolist(), (results[1] if self._proba_name else None)


class SklearnBackend:
    name = "scikit-learn"
    input_dtype: type[np.floating[Any]] = np.float64
    float32_inputs = False  # scikit-learn itself says what it cannot take (a 422 is not ours to guess)

    def __init__(self, data: bytes, artefact: Artefact, metadata: ModelMetadata) -> None:
        self._estimator = _deserialise(data, artefact, metadata.trusted_types)
        self._want_proba = metadata.has_proba and hasattr(self._estimator, "predict_proba")
        self._schema = metadata.schema
        self._regression = metadata.task == "regression"
        if self._schema.layout == "dataframe":
            import pandas  # noqa: F401  (imported at init, not on the first request)

    def predict(self, batch: Batch) -> Outputs:
        rows = model_input(batch, self._schema)
        try:
            predictions = self._estimator.predict(rows)
            proba = self._estimator.predict_proba(rows) if self._want_proba else None
        except (ValueError, TypeError) as exc:  # scikit-learn's input validation
            raise InvalidValue(f"the model rejected the input: {clip(str(exc), 300)}") from None
        if self._regression:
            return regression_answer(np.asarray(predictions, dtype=np.float64)), None
        if proba is not None:
            check_finite(proba, "probabilities")
        return predictions.tolist(), proba


def regression_answer(values: np.ndarray) -> np.ndarray:
    """A regressor's answer as both backends give it: finite (else InvalidValue), and one number per
    row where the model answers an [N, 1] column (a regressor fitted on a one-column target frame,
    or a graph that declares its output so)."""
    check_finite(values, "prediction")
    return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values


def check_finite(values: np.ndarray, what: str) -> None:
    """Refuse an answer that is not a finite number (a target transform's exp overflowing on a
    far-out input, say): JSON would carry it as null, a number nobody can use. InvalidValue
    names the first such row."""
    finite = np.isfinite(values)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise InvalidValue(f"the model's {what} for row {row} is not a finite number: the input is outside "
                           "what it can answer")


def model_input(batch: Batch, schema: InputSchema) -> Any:
    """A validated batch as the model was fitted on it: a DataFrame with its column names and
    dtypes, a list of documents, or a float matrix."""
    if schema.layout == "documents":
        column = batch.arrays[0] if isinstance(batch, Columns) else batch[:, 0]
        return list(column)
    if schema.layout == "dataframe":
        import pandas as pd

        # Built on the batch's own arrays (copy=False): the batch is this request's alone and
        # scikit-learn does not write to its input. An all-number batch stays one float block,
        # which scikit-learn's validation reads back as a view instead of stacking columns.
        if not isinstance(batch, Columns):
            return pd.DataFrame(batch, columns=list(schema.names), copy=False)
        arrays = [_nan_for_none(a) if f.kind in ("boolean", "string") and f.nullable else a
                  for f, a in zip(schema.features, batch.arrays, strict=True)]
        return pd.DataFrame(dict(zip(schema.names, arrays, strict=True)), columns=list(schema.names), copy=False)
    return _as_matrix(batch)


def _nan_for_none(values: np.ndarray) -> np.ndarray:
    """A nullable string or boolean column as the registrar checked the model on it (NaN where
    missing): the way pandas reads such a column, and the only missing value scikit-learn's
    imputers see (SimpleImputer passes None through, to an encoder that ignores it)."""
    out = values.copy()
    out[np.fromiter((v is None for v in values), dtype=bool, count=len(values))] = np.nan
    return out


def needed_untrusted_types(data: bytes) -> list[str]:
    """The types a skops artefact holds that skops does not trust by default."""
    import skops.io as sio

    return list(sio.get_untrusted_types(data=data))


def _deserialise(data: bytes, artefact: Artefact, recorded: tuple[str, ...]) -> Any:
    """Turn verified bytes into an estimator. skops trusts the reviewed base list plus exactly the
    types recorded at registration (in metadata.json, itself pinned by the deployment)."""
    if artefact.format == "skops":
        import skops.io as sio

        accepted = TRUSTED_SKOPS_TYPES | frozenset(recorded)
        try:
            needed = needed_untrusted_types(data)
        except Exception as exc:  # not a skops archive at all (e.g. a pickle renamed .skops)
            raise ModelLoadError(f"{artefact.path} is not a readable skops file: {exc}") from None
        untrusted = [t for t in needed if t not in accepted]
        if untrusted:
            raise UntrustedModel(
                f"{artefact.path} contains types outside the reviewed trust list (twinserve/trusted_types.py) "
                f"and the list recorded in metadata.json: {', '.join(sorted(untrusted))}"
            )
        try:
            return sio.loads(data, trusted=sorted(accepted))
        except Exception as exc:  # skops raises a variety of errors for corrupt files
            raise ModelLoadError(f"cannot load {artefact.path}: {exc}") from None
    if artefact.format == "joblib":
        import io

        import joblib

        # Pickle executes code on load; we got here only because the bytes' SHA-256 matches
        # the metadata and the operator opted in with MODEL_FORMAT=joblib.
        return joblib.load(io.BytesIO(data))
    raise ModelLoadError(f"unknown artefact format {artefact.format!r} for {artefact.path}")


def build_backend(data: bytes, artefact: Artefact, metadata: ModelMetadata) -> Backend:
    if artefact.format == "onnx":
        return OnnxBackend(data, artefact, metadata)
    return SklearnBackend(data, artefact, metadata)
