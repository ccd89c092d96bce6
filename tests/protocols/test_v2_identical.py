"""Open Inference Protocol V2: every wrapper answers byte-for-byte the same, as /predict does,
and the answers follow the specification (shapes, datatypes, the error shape)."""

from __future__ import annotations

import json

import pytest


def _infer(rows, datatype="FP64", nested=False, **extra) -> bytes:
    data = rows if nested else [v for row in rows for v in row]
    tensor = {"name": "features", "shape": [len(rows), len(rows[0])], "datatype": datatype, "data": data}
    return json.dumps({"inputs": [tensor], **extra}).encode()


def _cases(meta: dict) -> dict[str, tuple[str, str, bytes, int]]:
    name, version = meta["name"], meta["version"]
    row = meta["example_row"]
    rows = [row, [v * 1.1 for v in row]]
    infer = f"/v2/models/{name}/infer"
    bool_row = [True] + row[1:]
    return {
        "server-metadata": ("GET", "/v2", b"", 200),
        "live": ("GET", "/v2/health/live", b"", 200),
        "ready": ("GET", "/v2/health/ready", b"", 200),
        "model-metadata": ("GET", f"/v2/models/{name}", b"", 200),
        "model-ready": ("GET", f"/v2/models/{name}/ready", b"", 200),
        "version-ready": ("GET", f"/v2/models/{name}/versions/{version}/ready", b"", 200),
        "infer-fp64-flat": ("POST", infer, _infer(rows), 200),
        "infer-fp32-nested": ("POST", infer, _infer(rows, "FP32", nested=True, id="abc"), 200),
        "infer-int64": ("POST", infer, _infer([[round(v) for v in row]], "INT64"), 200),
        "infer-version": ("POST", f"/v2/models/{name}/versions/{version}/infer", _infer(rows[:1]), 200),
        "infer-one-output": ("POST", infer, _infer(rows, outputs=[{"name": "probabilities"}]), 200),
        "unknown-model": ("POST", "/v2/models/nope/infer", _infer(rows), 404),
        "unknown-version": ("GET", f"/v2/models/{name}/versions/0/ready", b"", 404),
        "unknown-route": ("GET", "/v2/nothing", b"", 404),
        "get-infer": ("GET", infer, b"", 405),
        "post-ready": ("POST", "/v2/health/ready", b"{}", 405),
        "malformed-json": ("POST", infer, b"{", 400),
        "no-inputs": ("POST", infer, b"{}", 422),
        "wrong-shape": ("POST", infer, json.dumps({"inputs": [{"name": "features", "shape": [1, 3],
                                                               "datatype": "FP64", "data": [1, 2, 3]}]}).encode(), 422),
        "data-shape-mismatch": ("POST", infer, json.dumps({"inputs": [{"name": "features", "shape": [2, 30],
                                                                       "datatype": "FP64", "data": row}]}).encode(), 422),
        "bool-value": ("POST", infer, _infer([bool_row]), 422),
        "float-in-int": ("POST", infer, _infer([row], "INT32"), 422),
        "fp32-overflow": ("POST", infer, _infer([[1e39] + row[1:]], "FP32"), 422),
        "bytes-datatype": ("POST", infer, _infer([row], "BYTES"), 400),
        "datatype-not-a-string": ("POST", infer, _infer([row], {"FP64": 1}), 400),  # found by make fuzz: was a 500
        "datatype-a-list": ("POST", infer, _infer([row], ["FP64"]), 400),
        "unknown-output": ("POST", infer, _infer([row], outputs=[{"name": "nope"}]), 400),
        "binary-extension": ("POST", infer, json.dumps({"inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP64",
                                                                    "parameters": {"binary_data_size": 240}}]}).encode(), 400),
        "wrong-input-name": ("POST", infer, json.dumps({"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64",
                                                                    "data": row}]}).encode(), 422),
        "too-many-rows": ("POST", infer, json.dumps({"inputs": [{"name": "features", "shape": [1001, 30],
                                                                 "datatype": "FP64", "data": []}]}).encode(), 413),
    }


CASE_NAMES = list(_cases({"name": "m", "version": "v", "example_row": [0.0] * 30}))


@pytest.mark.parametrize("case", CASE_NAMES)
def test_v2_identical_across_wrappers(callers, rf_metadata, case):
    method, path, body, status = _cases(rf_metadata)[case]
    content_type = "application/json" if body else None
    answers = {w: call(method, path, body, content_type) for w, call in callers.items()}
    reference = answers["gunicorn"]
    assert reference.status == status, reference.body
    for wrapper, answer in answers.items():
        assert (answer.status, answer.body) == (reference.status, reference.body), wrapper
    document = reference.json()
    if status >= 400:
        assert set(document) == {"error"} and isinstance(document["error"], str) and document["error"]
    if status == 405:
        assert all(a.headers.get("allow") for a in answers.values())


def test_infer_document(callers, rf_metadata):
    _, path, body, _ = _cases(rf_metadata)["infer-fp32-nested"]
    document = callers["gunicorn"]("POST", path, body, "application/json").json()
    assert document["model_name"] == rf_metadata["name"] and document["model_version"] == rf_metadata["version"]
    assert document["id"] == "abc"
    label, proba = document["outputs"]
    assert label["name"] == "label" and label["datatype"] == "INT64" and label["shape"] == [2]
    assert proba["name"] == "probabilities" and proba["shape"] == [2, 2] and len(proba["data"]) == 4


def test_infer_agrees_with_predict(callers, rf_metadata):
    row = rf_metadata["example_row"]
    call = callers["gunicorn"]
    predicted = call("POST", "/predict", json.dumps({"features": row}).encode(), "application/json").json()
    inferred = call("POST", f"/v2/models/{rf_metadata['name']}/infer", _infer([row]), "application/json").json()
    outputs = {o["name"]: o["data"] for o in inferred["outputs"]}
    assert outputs["label"] == predicted["predictions"]
    assert outputs["probabilities"] == predicted["probabilities"][0]
