"""Compiling a registered estimator to ONNX, kept only where it is proved equal on the user's rows.

Registration-time only (skl2onnx, onnxruntime, scikit-learn, pandas). Variants are tried in
order; the first whose outputs match scikit-learn's on every check row is kept:

* one ``[N, F]`` float tensor (all-number models), as float32, float64 fed float32-rounded
  inputs (scikit-learn's trees compare float32 inputs with float64 thresholds), float64;
* one ``[N, 1]`` tensor per column (a DataFrame pipeline that selects columns by name; strings
  as string tensors), numbers as float64 then float32;
* one ``[N, 1]`` string tensor (a text pipeline).

Equal means: labels exactly, probabilities within PROBA_TOLERANCE absolute, regression outputs
within REGRESSION_RTOL of the scale of scikit-learn's outputs (see :func:`regression_close`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinserve.schema import InputSchema

PROBA_TOLERANCE = 1e-6
# ONNX's tree and linear regressors compute in float32: each sum carries a relative rounding of
# about 2**-24 (6e-8) per term, so a few hundred trees stay well under 1e-5 of the output's scale;
# a difference above that is a different model, not rounding.
REGRESSION_RTOL = 1e-5


@dataclass(frozen=True)
class Compiled:
    data: bytes
    input_dtype: str  # the matrix variants' graph dtype ("float32"/"float64"); "columns" variants: "mixed"
    round_inputs_to_float32: bool
    inputs: str  # "matrix" or "columns"
    report: dict[str, Any]


def regression_close(actual: np.ndarray, expected: np.ndarray) -> tuple[bool, float]:
    """(all within tolerance, the largest relative difference). The scale is each value's
    magnitude, floored at the mean magnitude of all outputs, so outputs near zero are not held
    to a precision float32 cannot give."""
    actual = np.asarray(actual, dtype=np.float64).reshape(expected.shape)
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.maximum(np.abs(expected), max(float(np.mean(np.abs(expected))), 1e-12))
    relative = np.abs(actual - expected) / scale
    worst = float(np.max(relative)) if relative.size else 0.0
    return bool(np.all(relative <= REGRESSION_RTOL)), worst


def _matrix(frame: Any) -> np.ndarray:
    matrix: np.ndarray = frame.to_numpy(dtype=np.float64)  # frame: a pandas DataFrame (untyped)
    return matrix


def _column_feed(session: Any, frame: Any) -> dict[str, np.ndarray]:
    from twinserve.backends import column_inputs

    feed = {}
    names = tuple(str(c) for c in frame.columns)
    for column_name, (input_name, dtype) in zip(names, column_inputs(session.get_inputs(), names), strict=True):
        column = frame[column_name].to_numpy()
        if dtype is object:
            # A missing string as the server feeds it (None, see contract.Columns), never the NaN a
            # CSV gives: a graph that matched "nan" to an encoder's NaN category would be proved
            # equal here and then fail on every null the server sends it.
            column = column.astype(object)
            column[frame[column_name].isna().to_numpy()] = None
            feed[input_name] = column.reshape(-1, 1)
        else:
            feed[input_name] = column.astype(dtype).reshape(-1, 1)
    return feed


def _variants(schema: InputSchema, estimator: Any, frame: Any) -> list[tuple[str, Any, Any]]:
    """(label, build the ONNX model, the feed for ``frame``) per variant, in order of preference."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType

    variants: list[tuple[str, Any, Any]] = []
    options = {"zipmap": False} if hasattr(estimator, "predict_proba") else None
    if schema.layout == "documents":
        name = schema.names[0]
        variants.append(("strings", lambda: to_onnx(estimator, initial_types=[(name, StringTensorType([None, 1]))],
                                                     options=options),
                         lambda session, f: {session.get_inputs()[0].name: f[name].to_numpy().astype(object).reshape(-1, 1)}))
        return variants
    # Booleans go into the matrix as 0/1, as scikit-learn itself converts them.
    numeric = all(f.kind in ("number", "integer") or (f.kind == "boolean" and not f.nullable)
                  for f in schema.features)
    if numeric:
        for dtype, round_f32 in ((np.float32, False), (np.float64, True), (np.float64, False)):
            label = np.dtype(dtype).name + ("+f32-inputs" if round_f32 else "")

            def build(dtype: Any = dtype) -> Any:
                return to_onnx(estimator, _matrix(frame.head(1)).astype(dtype), options=options)

            def feed(session: Any, f: Any, dtype: Any = dtype, round_f32: bool = round_f32) -> dict[str, np.ndarray]:
                rows = _matrix(f)
                rows = rows.astype(np.float32).astype(dtype) if round_f32 else rows.astype(dtype)
                return {session.get_inputs()[0].name: rows}

            variants.append((label, build, feed))
    if schema.layout == "dataframe":
        for float_dtype in (np.float64, np.float32):
            head = frame.head(2).copy()
            for f in schema.features:
                if f.kind == "number" or (f.kind == "integer" and f.nullable):
                    head[f.name] = head[f.name].astype(float_dtype)
                elif f.kind == "string":
                    head[f.name] = head[f.name].astype(object)
            variants.append((f"columns-{np.dtype(float_dtype).name}",
                             lambda head=head: to_onnx(estimator, head, options=options), _column_feed))
    return variants


def compile_to_onnx(estimator: Any, schema: InputSchema, frame: Any, task: str) -> tuple[Compiled | None, dict[str, Any]]:
    """The first ONNX variant equal to ``estimator`` on every row of ``frame``, and a report of
    every variant tried (its error or its differences)."""
    import onnxruntime as ort

    from twinserve.registration import call_model

    expected, expected_proba = call_model(estimator, schema, frame)
    # A variant ONNX Runtime cannot run is recorded in the report; its own log lines would only
    # print the same failure to the user's terminal a second time.
    quiet = ort.SessionOptions()
    quiet.log_severity_level = 4
    report: dict[str, Any] = {"rows": int(len(frame)), "tried": []}
    for label, build, feed in _variants(schema, estimator, frame):
        attempt: dict[str, Any] = {"variant": label}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = build().SerializeToString()
                session = ort.InferenceSession(data, quiet, providers=["CPUExecutionProvider"])
                outputs = session.run(None, feed(session, frame))
        except Exception as exc:  # skl2onnx and onnxruntime raise many kinds for what they cannot do
            attempt["error"] = f"{type(exc).__name__}: " + " ".join(str(exc).split())[:300]
            report["tried"].append(attempt)
            continue
        if task == "regression":
            equal, worst = regression_close(outputs[0], np.asarray(expected, dtype=np.float64))
            attempt["max_relative_diff"] = worst
        else:
            labels, wanted = np.asarray(outputs[0]).reshape(-1), np.asarray(expected).reshape(-1)
            if labels.shape != wanted.shape:  # a graph answering another number of outputs than the model
                attempt["error"] = f"the graph answers {labels.size} labels for {wanted.size}"
                report["tried"].append(attempt)
                continue
            mismatches = int(np.sum(labels.astype(str) != wanted.astype(str)))
            max_diff = 0.0
            if expected_proba is not None and len(outputs) > 1:
                max_diff = float(np.max(np.abs(np.asarray(outputs[1], dtype=np.float64) - expected_proba)))
            elif expected_proba is not None:
                max_diff = float("inf")
            attempt.update(label_mismatches=mismatches, max_proba_abs_diff=max_diff)
            equal = mismatches == 0 and max_diff <= PROBA_TOLERANCE
        report["tried"].append(attempt)
        if equal:
            report.update(attempt)
            inputs = "columns" if label.startswith("columns") or label == "strings" else "matrix"
            dtype = label.split("+")[0] if inputs == "matrix" else "mixed"
            return Compiled(data, dtype, "+f32-inputs" in label, inputs, report), report
    return None, report
