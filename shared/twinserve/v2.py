"""The Open Inference Protocol V2 (REST) over the same model: what KServe, MLServer and Triton speak.

Routes under ``/v2`` (server metadata, health, model metadata and readiness, ``infer``); one
``features`` tensor ``[N, F]`` for an all-numeric model, one input per feature for a typed one.
Errors are the core's types (their statuses), rendered as ``{"error": "<message>"}`` by
:func:`twinserve.responses.error_reply`, as the specification's error responses are.
This module imports no web framework; every wrapper reaches it through ``Service.dispatch``.

Details (routes, tensor shapes and datatypes, outputs): docs/api.md, 'The V2 module (v2.py)'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from twinserve import __version__
from twinserve.contract import Batch, check_content_type, columns_from_values
from twinserve.errors import (
    InvalidShape,
    InvalidValue,
    MalformedJSON,
    MethodNotAllowed,
    ModelNotServed,
    PayloadTooLarge,
    RouteNotFound,
    TooManyRows,
    UnknownOutput,
    UnsupportedDatatype,
    UnsupportedExtension,
    clip,
)
from twinserve.metadata import classes_per_output
from twinserve.predictor import Predictor
from twinserve.responses import Reply, json_bytes

INPUT_NAME = "features"
LABEL_OUTPUT = "label"
PREDICTION_OUTPUT = "prediction"  # a regressor's numbers
PROBA_OUTPUT = "probabilities"
SERVER_NAME = "twinserve"

_FLOAT_TYPES = {"FP32": np.float32, "FP64": np.float64}
_INT_TYPES: dict[str, type[np.integer[Any]]] = {
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
}
V2_DATATYPES = (*_FLOAT_TYPES, *_INT_TYPES)  # the input datatypes of an all-number model's tensor
# A typed feature's tensor datatypes, by the feature's kind (the first is what metadata lists).
_KIND_DATATYPES = {"number": ("FP64", "FP32", *_INT_TYPES), "integer": ("INT64", *_INT_TYPES),
                   "string": ("BYTES",), "boolean": ("BOOL",)}
_NUMPY_DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64", np.dtype(np.int64): "INT64",
                    np.dtype(np.int32): "INT32"}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _label_datatype(classes: tuple[Any, ...]) -> str:
    """The V2 datatype of the label output, from the model's classes (bool is not an int here)."""
    if classes and all(type(c) is bool for c in classes):
        return "BOOL"
    if classes and all(type(c) is int for c in classes):
        return "INT64"
    if classes and all(type(c) is str for c in classes):
        return "BYTES"
    return "FP64" if classes and all(type(c) in (int, float) for c in classes) else "BYTES"


@dataclass(frozen=True)
class InferRequest:
    rows: Batch
    request_id: str | None
    outputs: tuple[str, ...]


class OpenInferenceV2:
    """The V2 surface of one served model. Built once at start; :meth:`dispatch` per request."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        meta = predictor.model.metadata
        self.model_name = meta.name
        self.model_version = meta.version
        self.spec = predictor.spec
        predictions, proba = predictor.predict_raw(predictor.example_batch())
        self.regression = meta.task == "regression"
        self.label_width: int | None = None  # a multi-output classifier's number of label columns
        outputs: list[dict[str, Any]]
        if self.regression:
            values = np.asarray(predictions)
            self.label_datatype = _NUMPY_DATATYPES.get(values.dtype, "FP64")
            shape = [-1] if values.ndim == 1 else [-1, int(values.shape[1])]
            outputs = [{"name": PREDICTION_OUTPUT, "datatype": self.label_datatype, "shape": shape}]
        else:
            # A multi-output classifier's classes come per output: its label is an [N, outputs] tensor.
            per_output = classes_per_output(meta.classes)
            self.label_width = len(meta.classes) if per_output else None
            flat = tuple(c for output in meta.classes for c in output) if per_output else meta.classes
            self.label_datatype = _label_datatype(flat)
            outputs = [{"name": LABEL_OUTPUT, "datatype": self.label_datatype,
                        "shape": [-1] if self.label_width is None else [-1, self.label_width]}]
        self.proba_datatype: str | None = None
        if proba is not None:
            self.proba_datatype = _NUMPY_DATATYPES.get(proba.dtype, "FP64")
            outputs.append({"name": PROBA_OUTPUT, "datatype": self.proba_datatype, "shape": [-1, len(meta.classes)]})
        self.output_names: tuple[str, ...] = tuple(o["name"] for o in outputs)
        input_datatype = "FP32" if self.spec.dtype is np.float32 else "FP64"
        self.typed = self.spec.typed
        if self.typed:
            inputs = [{"name": f.name, "datatype": _KIND_DATATYPES[f.kind][0], "shape": [-1],
                       "parameters": {"nullable": f.nullable}} for f in meta.schema.features]
        else:
            inputs = [{"name": INPUT_NAME, "datatype": input_datatype, "shape": [-1, self.spec.n_features],
                       "parameters": {"feature_names": list(meta.feature_names)}}]
        self.inputs = inputs
        model_doc = {
            "name": meta.name,
            "versions": [meta.version],
            "platform": predictor.model.backend.name,
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"classes": list(meta.classes), "sha256": predictor.model.artefact.sha256,
                           "estimator": meta.estimator, "task": meta.task},
        }
        self.model_metadata_body = json_bytes(model_doc)
        self.server_metadata_body = json_bytes({"name": SERVER_NAME, "version": __version__, "extensions": []})
        self.live_body = json_bytes({"live": True})
        self.ready_body = json_bytes({"ready": True})
        self.model_ready_body = json_bytes({"name": meta.name, "ready": True})
        self._class_array = np.asarray(meta.classes, dtype=object)

    # -- routing ---------------------------------------------------------------------------

    def dispatch(self, method: str, path: str, content_type: str | None, body: bytes) -> Reply:
        """Route one ``/v2...`` request. Raises ClientError subclasses (the caller renders them)."""
        parts = path.split("/")[2:]  # "", "v2", ...
        if not parts:
            return self._get(method, path, self.server_metadata_body)
        if parts[0] == "health" and len(parts) == 2 and parts[1] in ("live", "ready"):
            return self._get(method, path, self.live_body if parts[1] == "live" else self.ready_body)
        if parts[0] != "models" or len(parts) < 2:
            raise RouteNotFound(method, path)
        name, rest = parts[1], parts[2:]
        if name != self.model_name:
            raise ModelNotServed(f"model {clip(repr(name))} is not served here; this server serves {self.model_name!r}")
        if len(rest) >= 2 and rest[0] == "versions":
            if rest[1] != self.model_version:
                raise ModelNotServed(f"model {clip(repr(name))} has no version {clip(repr(rest[1]))}; "
                                     f"the served version is {self.model_version!r}")
            rest = rest[2:]
        if not rest:
            return self._get(method, path, self.model_metadata_body)
        if rest == ["ready"]:
            return self._get(method, path, self.model_ready_body)
        if rest == ["infer"]:
            if method != "POST":
                raise MethodNotAllowed(method, path, ("POST",))
            check_content_type(content_type)
            return Reply(200, self.infer(body))
        raise RouteNotFound(method, path)

    @staticmethod
    def _get(method: str, path: str, body: bytes) -> Reply:
        if method != "GET":
            raise MethodNotAllowed(method, path, ("GET",))
        return Reply(200, body)

    # -- inference ---------------------------------------------------------------------------

    def infer(self, body: bytes) -> bytes:
        """The V2 hot path: parse, predict, render. Raises ClientError subclasses."""
        request = self.parse(body)
        labels, proba = self.predictor.predict_raw(request.rows)
        n = len(labels)
        outputs: list[dict[str, Any]] = []
        for name in request.outputs:
            if name == PREDICTION_OUTPUT:
                values = np.asarray(labels)
                outputs.append({"name": name, "datatype": self.label_datatype, "shape": list(values.shape),
                                "data": values.reshape(-1)})
            elif name == LABEL_OUTPUT and self.label_width is not None:
                outputs.append({"name": LABEL_OUTPUT, "datatype": self.label_datatype, "shape": [n, self.label_width],
                                "data": [label for row in labels for label in row]})
            elif name == LABEL_OUTPUT:
                outputs.append({"name": LABEL_OUTPUT, "datatype": self.label_datatype, "shape": [n], "data": labels})
            else:
                assert proba is not None  # PROBA_OUTPUT is an output only of a model with probabilities
                outputs.append({"name": PROBA_OUTPUT, "datatype": self.proba_datatype, "shape": list(proba.shape),
                                "data": proba.reshape(-1)})
        answer: dict[str, Any] = {"model_name": self.model_name, "model_version": self.model_version}
        if request.request_id is not None:
            answer["id"] = request.request_id
        answer["outputs"] = outputs
        return json_bytes(answer)

    def parse(self, body: bytes) -> InferRequest:
        spec = self.spec
        if len(body) > spec.max_body_bytes:
            raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {spec.max_body_bytes}")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedJSON(f"body is not valid JSON ({exc}); the binary tensor data extension is not "
                                "supported: send the tensor's data as JSON (tritonclient: binary_data=False)") from None
        if not isinstance(doc, dict):
            raise InvalidShape('an inference request is a JSON object with "inputs"')
        request_id = doc.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise InvalidShape('"id" must be a string')
        inputs = doc.get("inputs")
        if self.typed:
            return InferRequest(self._typed_inputs(inputs), request_id, self._requested_outputs(doc.get("outputs")))
        if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
            raise InvalidShape(f'"inputs" must be a list of exactly one tensor object ({INPUT_NAME!r}, '
                               f"shape [N, {spec.n_features}])")
        rows = self._tensor(inputs[0])
        return InferRequest(rows, request_id, self._requested_outputs(doc.get("outputs")))

    def _requested_outputs(self, outputs: Any) -> tuple[str, ...]:
        if outputs is None:
            return self.output_names
        if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
            raise InvalidShape('"outputs" must be a list of objects with a "name"')
        names = tuple(o.get("name") for o in outputs)
        unknown = [n for n in names if n not in self.output_names]
        if unknown:
            raise UnknownOutput(f"unknown output {unknown[0]!r}; this model's outputs: {', '.join(self.output_names)}")
        return names or self.output_names

    def _typed_inputs(self, inputs: Any) -> Batch:
        """One input per feature (MLServer's pandas codec): name = feature, shape [N] or [N, 1]."""
        schema = self.predictor.model.metadata.schema
        names = schema.names
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, dict) for t in inputs):
            raise InvalidShape(f'"inputs" must be a list of one tensor per feature ({len(names)}), named by the feature')
        by_name: dict[str, dict[str, Any]] = {}
        for tensor in inputs:
            name = tensor.get("name")
            if not isinstance(name, str) or name not in names:
                raise InvalidShape(f"unknown input {clip(repr(name))}; this model's inputs are its features")
            if name in by_name:
                raise InvalidShape(f"input {clip(repr(name))} is given twice")
            by_name[name] = tensor
        missing = [n for n in names if n not in by_name]
        if missing:
            shown = ", ".join(clip(repr(n)) for n in missing[:5])
            raise InvalidShape(f"missing input(s) {shown}; send one tensor per feature")
        columns: list[list[Any]] = []
        n_rows: int | None = None
        for feature in schema.features:
            tensor = by_name[feature.name]
            parameters = tensor.get("parameters")
            if isinstance(parameters, dict) and "binary_data_size" in parameters:
                raise UnsupportedExtension("the binary tensor data extension is not supported; send the tensor's "
                                           "data as JSON (tritonclient: binary_data=False)")
            datatype = tensor.get("datatype")
            allowed = _KIND_DATATYPES[feature.kind]
            if datatype not in allowed:
                raise UnsupportedDatatype(f"input {clip(repr(feature.name))} has datatype {clip(repr(datatype))}; "
                                          f"it takes {', '.join(allowed[:2])}")
            shape = tensor.get("shape")
            if (not isinstance(shape, list) or not 1 <= len(shape) <= 2 or not all(type(d) is int for d in shape)
                    or shape[0] < 1 or (len(shape) == 2 and shape[1] != 1)):
                raise InvalidShape(f"input {clip(repr(feature.name))} must have shape [N] or [N, 1], not {clip(repr(shape))}")
            if n_rows is None:
                n_rows = shape[0]
                if n_rows > self.spec.max_rows:
                    raise TooManyRows(f"inputs have {n_rows} rows; the limit is {self.spec.max_rows}")
            elif shape[0] != n_rows:
                raise InvalidShape(f"input {clip(repr(feature.name))} has {shape[0]} rows; the others have {n_rows}")
            data = tensor.get("data")
            if isinstance(data, list) and len(data) == n_rows and all(isinstance(v, list) and len(v) == 1 for v in data):
                data = [v[0] for v in data]
            if not isinstance(data, list) or len(data) != n_rows:
                raise InvalidShape(f"input {clip(repr(feature.name))}: \"data\" must hold {n_rows} values")
            if datatype in _INT_TYPES:
                for i, value in enumerate(data):
                    if value is not None and type(value) is not int:
                        raise InvalidValue(f"input {clip(repr(feature.name))} data[{i}] is {_describe(value)}; "
                                           f"{datatype} data must be integers")
            columns.append(data)
        return columns_from_values(columns, self.spec)

    def _tensor(self, tensor: dict[str, Any]) -> np.ndarray:
        spec = self.spec
        name = tensor.get("name")
        if name != INPUT_NAME:
            raise InvalidShape(f"unknown input {clip(repr(name))}; this model's input is {INPUT_NAME!r}")
        parameters = tensor.get("parameters")
        if isinstance(parameters, dict) and "binary_data_size" in parameters:
            raise UnsupportedExtension("the binary tensor data extension is not supported; send the tensor's data "
                                       "as JSON (tritonclient: binary_data=False)")
        datatype = tensor.get("datatype")
        if datatype not in V2_DATATYPES:  # a tuple: compared by equality, so a JSON object or array is just "not in"
            raise UnsupportedDatatype(f"input datatype {datatype!r} is not supported; send FP32, FP64 or an "
                                      "integer type")
        shape = tensor.get("shape")
        if (not isinstance(shape, list) or len(shape) != 2 or not all(type(d) is int for d in shape)
                or shape[1] != spec.n_features or shape[0] < 1):
            raise InvalidShape(f"input shape must be [N, {spec.n_features}] with N >= 1, not {shape!r}")
        n = shape[0]
        if n > spec.max_rows:
            raise TooManyRows(f"input has {n} rows; the limit is {spec.max_rows}")
        flat = _flatten(tensor.get("data"), n, spec.n_features)
        integer = datatype in _INT_TYPES
        for i, value in enumerate(flat):
            kind = type(value)
            if kind is int or (kind is float and not integer):
                continue
            row, col = divmod(i, spec.n_features)
            expected = "an integer" if integer else "a finite number"
            raise InvalidValue(f"data[{i}] (row {row}, {spec.feature_names[col]!r}) is "
                               f"{_describe(value)}; {datatype} data must be {expected}")
        return self._rows(flat, datatype, n)

    def _rows(self, flat: list[Any], datatype: str, n: int) -> np.ndarray:
        spec = self.spec
        try:
            array = np.array(flat, dtype=np.float64)
        except OverflowError:
            raise InvalidValue("data holds a number too large for a float") from None
        if datatype in _INT_TYPES:
            info = np.iinfo(_INT_TYPES[datatype])
            bad = (array < info.min) | (array > info.max)
            if bad.any():
                raise InvalidValue(f"data[{int(np.argmax(bad))}] is outside the range of {datatype}")
        finite = np.isfinite(array)
        if datatype == "FP32" or spec.float32_range or spec.dtype is np.float32:
            finite &= np.abs(array) <= _FLOAT32_MAX
        if not finite.all():
            i = int(np.argmax(~finite))
            raise InvalidValue(f"data[{i}] ({spec.feature_names[i % spec.n_features]!r}) is not finite in "
                               f"{datatype} or the model's input precision")
        if datatype == "FP32":  # the client's tensor holds float32 values: read them as such
            array = array.astype(np.float32)
        return array.reshape(n, spec.n_features).astype(spec.dtype, copy=False)


def _flatten(data: Any, n: int, width: int) -> list[Any]:
    """Row-major data, flat (``n * width`` values) or nested by row (``n`` lists of ``width``)."""
    if not isinstance(data, list):
        raise InvalidShape(f'"data" must be an array of {n * width} numbers (row-major) or {n} rows of {width}')
    if len(data) == n * width and (not data or not isinstance(data[0], list)):
        return data
    if len(data) == n and all(isinstance(row, list) and len(row) == width for row in data):
        return [value for row in data for value in row]
    raise InvalidShape(f'"data" does not match shape [{n}, {width}]: send {n * width} values flat or {n} rows of '
                       f"{width}")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {str: "a string", list: "an array", dict: "an object", float: "a float"}
    return names.get(type(value), type(value).__name__)
