"""The OpenAPI 3 description of the API, built from the model's metadata so the row length and
feature names in the contract are the served model's own. Every wrapper serves it at
``/openapi.json``; ``make fuzz`` drives schemathesis from it."""

from __future__ import annotations

from typing import Any

from twinserve.metadata import ModelMetadata

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


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


FLOAT32_MAX = 3.4028234663852886e38


def build_openapi(metadata: ModelMetadata, max_rows: int, float32_inputs: bool = False) -> dict[str, Any]:
    n = metadata.n_features
    number: dict[str, Any] = {"type": "number"}
    if float32_inputs:  # the model rounds inputs to float32: larger magnitudes are refused (422)
        number = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
    row = {"type": "array", "items": number, "minItems": n, "maxItems": n}
    named = {
        "type": "object",
        "properties": {name: number for name in metadata.feature_names},
        "required": list(metadata.feature_names),
        "additionalProperties": False,
    }
    any_row = {"oneOf": [{"$ref": "#/components/schemas/Row"}, {"$ref": "#/components/schemas/NamedRow"}]}
    errors = {
        "400": _error_response("malformed JSON or body"),
        "413": _error_response("too many rows or body too large"),
        "415": _error_response("content type is not JSON"),
        "422": _error_response("valid JSON that breaks the input contract"),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "twinserve prediction API",
            "version": metadata.version,
            "description": f"Model {metadata.name} ({metadata.estimator}), {n} features.",
        },
        "paths": {
            "/predict": {
                "post": {
                    "operationId": "predict",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
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
            "/health": {"get": {"operationId": "health", "responses": {"200": {"description": "process is up"}}}},
            "/ready": {"get": {"operationId": "ready", "responses": {"200": {"description": "model loaded and self-tested"}}}},
            "/openapi.json": {"get": {"operationId": "openapi", "responses": {"200": {"description": "this document"}}}},
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
