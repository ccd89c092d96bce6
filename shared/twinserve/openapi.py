"""The OpenAPI 3 description of the API, built from the model's metadata so the row length and
feature names in the contract are the served model's own. Every wrapper serves it at
``/openapi.json``; ``make fuzz`` drives schemathesis from it, so a route missing here is a route
the fuzzer never tries. The Open Inference Protocol V2 routes are described with the served
model's name and version as the only allowed path values, its one input tensor and its outputs."""

from __future__ import annotations

from typing import Any

from twinserve.metadata import ModelMetadata
from twinserve.routes import HEALTH, OPENAPI, PREDICT, READY
from twinserve.samples import example_rows
from twinserve.schema import Feature
from twinserve.v2 import INPUT_NAME, V2_DATATYPES, OpenInferenceV2

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _error_response(description: str, schema: str = "Error") -> dict[str, Any]:
    """A documented error answer: twinserve's ``Error`` shape, or ``V2Error`` on the V2 routes."""
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


FLOAT32_MAX = 3.4028234663852886e38


_V2_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_V2_NOT_SERVED = "no such model or version here"


def _v2_get(operation_id: str, description: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    responses = {"200": {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}}
    if parameters:
        responses["404"] = _error_response(_V2_NOT_SERVED, "V2Error")
    return {"get": {"operationId": operation_id, "parameters": parameters, "responses": responses}}


def _feature_schema(feature: Feature, number: dict[str, Any]) -> dict[str, Any]:
    """One feature's JSON schema: its type, the known categories (an enum where the model refuses
    any other), nullable where the model takes a missing value."""
    schema: dict[str, Any] = dict(number) if feature.kind == "number" else {
        "integer": {"type": "integer"}, "string": {"type": "string"}, "boolean": {"type": "boolean"}}[feature.kind]
    if feature.categories is not None:
        if feature.closed:
            schema["enum"] = list(feature.categories) + ([None] if feature.nullable else [])
        else:
            schema["x-known-values"] = list(feature.categories)
    if feature.nullable:
        schema["nullable"] = True
    return schema


def _v2_typed_tensor(v2: OpenInferenceV2, max_rows: int) -> dict[str, Any]:
    """A typed model's V2 input: one tensor per feature, shape [N] or [N, 1]."""
    return {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "enum": [i["name"] for i in v2.inputs]},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": max_rows},
                      "minItems": 1, "maxItems": 2},
            "datatype": {"type": "string", "enum": ["BYTES", "BOOL", *V2_DATATYPES]},
            "parameters": {"type": "object"},
            "data": {"type": "array", "items": {"nullable": True}},
        },
    }


def _v2_paths(v2: OpenInferenceV2, max_rows: int, example_row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The V2 routes and their schemas: (paths, component schemas)."""
    n = v2.spec.n_features
    name_param = {"name": "model_name", "in": "path", "required": True, "schema": {"type": "string", "enum": [v2.model_name]}}
    version_param = {"name": "model_version", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": [v2.model_version]}}
    number = {"type": "number"}
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "enum": [INPUT_NAME]},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": max_rows},
                      "minItems": 2, "maxItems": 2},
            "datatype": {"type": "string", "enum": list(V2_DATATYPES)},
            "parameters": {"type": "object"},
            "data": {"type": "array", "items": {"oneOf": [number, {"type": "array", "items": number, "minItems": n, "maxItems": n}]}},
        },
    }
    request = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2InputTensor"},
                       "minItems": len(v2.inputs), "maxItems": len(v2.inputs)},
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                    "properties": {"name": {"type": "string", "enum": list(v2.output_names)}}}},
        },
    }
    if v2.typed:
        tensor = _v2_typed_tensor(v2, max_rows)
    body: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/V2InferenceRequest"}}
    if v2.typed and isinstance(example_row, dict):
        body["example"] = {"inputs": [{"name": i["name"], "shape": [1], "datatype": i["datatype"],
                                       "data": [example_row[i["name"]]]} for i in v2.inputs]}
    elif example_row is not None:
        body["example"] = {"inputs": [{"name": INPUT_NAME, "shape": [1, n], "datatype": "FP64", "data": example_row}]}
    infer_responses = {
        "200": {"description": "output tensors", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/V2InferenceResponse"}}}},
        "400": _error_response("malformed JSON, unknown datatype or output, or an unsupported extension", "V2Error"),
        "404": _error_response(_V2_NOT_SERVED, "V2Error"),
        "413": _error_response("too many rows or body too large", "V2Error"),
        "415": _error_response("content type is not JSON", "V2Error"),
        "422": _error_response("a tensor that breaks the input contract (shape, values)", "V2Error"),
    }
    paths: dict[str, Any] = {
        "/v2": _v2_get("v2ServerMetadata", "server metadata", []),
        "/v2/health/live": _v2_get("v2ServerLive", "the server is live", []),
        "/v2/health/ready": _v2_get("v2ServerReady", "the server is ready", []),
    }
    for prefix, parameters, suffix in (("/v2/models/{model_name}", [name_param], ""),
                                       ("/v2/models/{model_name}/versions/{model_version}", [name_param, version_param],
                                        "Version")):
        paths[prefix] = _v2_get(f"v2ModelMetadata{suffix}", "model metadata: input and output tensors", parameters)
        paths[prefix + "/ready"] = _v2_get(f"v2ModelReady{suffix}", "the model is ready", parameters)
        paths[prefix + "/infer"] = {"post": {
            "operationId": f"v2Infer{suffix}",
            "parameters": parameters,
            "requestBody": {"required": True, "content": {"application/json": body}},
            "responses": infer_responses,
        }}
    schemas = {
        "V2Error": _V2_ERROR,
        "V2InputTensor": tensor,
        "V2InferenceRequest": request,
        "V2InferenceResponse": {
            "type": "object",
            "required": ["model_name", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": {"type": "object", "required": ["name", "datatype", "shape", "data"]}},
            },
        },
    }
    return paths, schemas


def build_openapi(metadata: ModelMetadata, max_rows: int, float32_inputs: bool = False,
                  v2: OpenInferenceV2 | None = None, samples: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    n = metadata.n_features
    schema = metadata.schema
    number: dict[str, Any] = {"type": "number"}
    if float32_inputs:  # the model rounds inputs to float32: larger magnitudes are refused (422)
        number = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
    features = {f.name: _feature_schema(f, number) for f in schema.features}
    row = {"type": "array", "items": number if schema.numeric_matrix else {}, "minItems": n, "maxItems": n}
    named = {
        "type": "object",
        "properties": features,
        "required": list(metadata.feature_names),
        "additionalProperties": False,
    }
    examples = example_rows(metadata, samples or [])
    if samples:
        named["example"] = {name: samples[0][name] for name in schema.names}
    any_row = {"oneOf": [{"$ref": "#/components/schemas/Row"}, {"$ref": "#/components/schemas/NamedRow"}]}
    errors = {
        "400": _error_response("malformed JSON or body"),
        "413": _error_response("too many rows or body too large"),
        "415": _error_response("content type is not JSON"),
        "422": _error_response("valid JSON that breaks the input contract"),
    }
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "twinserve prediction API",
            "version": metadata.version,
            "description": f"Model {metadata.name} ({metadata.estimator}, {metadata.task}), {n} features.",
        },
        "paths": {
            PREDICT.path: {
                "post": {
                    "operationId": PREDICT.operation,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "example": {"instances": examples[:2]},
                                "schema": {
                                    "oneOf": [
                                        {"type": "object", "required": ["features"], "not": {"required": ["instances"]}, "properties": {"features": any_row}},
                                        {
                                            "type": "object",
                                            "required": ["instances"],
                                            "not": {"required": ["features"]},
                                            "properties": {"instances": {"type": "array", "items": any_row, "minItems": 1, "maxItems": max_rows}},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "predictions", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Prediction"}}}},
                        **errors,
                    },
                }
            },
            HEALTH.path: {"get": {"operationId": HEALTH.operation, "responses": {"200": {"description": "process is up"}}}},
            READY.path: {"get": {"operationId": READY.operation,
                                 "responses": {"200": {"description": "model loaded and self-tested"}}}},
            OPENAPI.path: {"get": {"operationId": OPENAPI.operation, "responses": {"200": {"description": "this document"}}}},
        },
        "components": {
            "schemas": {
                "Row": row,
                "NamedRow": named,
                "Error": _ERROR,
                "Prediction": {
                    "type": "object",
                    "required": ["predictions", "model"],
                    "properties": {
                        "predictions": {"type": "array"},
                        "probabilities": {"type": "array", "items": {"type": "array", "items": number}},
                        "classes": {"type": "array"},
                        "model": {"type": "object", "required": ["name", "version", "sha256"]},
                    },
                },
            }
        },
    }
    if v2 is not None:
        paths, schemas = _v2_paths(v2, max_rows, examples[0] if examples else None)
        document["paths"].update(paths)
        document["components"]["schemas"].update(schemas)
    return document
