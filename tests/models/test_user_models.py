"""Your model, whatever its shape: registered with `make model-import SRC=... SAMPLE=...` and served by
the container (real gunicorn), the native Lambda handler and the WSGI Lambda handler (imported as
Lambda imports them, in a fresh interpreter), with answers equal to scikit-learn's on the sample
rows, byte-identical across wrappers, and a 422 naming the feature for a value the model cannot take.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import requests
from model_shapes import EXPECTED_BACKENDS, SHAPES, write_shape
from twinserve.onnx_compile import PROBA_TOLERANCE, regression_close
from twinserve.registration import call_model
from twinserve.schema import InputSchema
from twinserve_support.paths import REPO
from twinserve_support.process.managed import ManagedProcess, http_probe
from twinserve_support.process.net import free_port

pytestmark = pytest.mark.slow

# Runs in a fresh interpreter: both handlers imported as Lambda imports them (init loads the model).
_LAMBDA_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from twinserve_support.sample_events import event_for
import handler, wsgi_handler
answers = {"native": [], "wsgi": []}
for body in json.loads(sys.stdin.read()):
    body = body.encode()
    for name, module, path in (("native", handler, "/predict"), ("wsgi", wsgi_handler, "/wsgi/predict")):
        result = module.handler(event_for("http_api_v2.json", "POST", path, body, "application/json"), None)
        answers[name].append([result["statusCode"], result["body"]])
print(json.dumps(answers))
"""


@dataclass
class Served:
    name: str
    model_dir: Path
    metadata: dict
    samples: list[dict]
    estimator: object
    answers: dict[str, list[tuple[int, bytes]]]
    bodies: list[bytes]
    v2: dict | None  # tritonclient's answer for the sample rows (None: the rows hold a null)
    lambda_stderr: str  # what both Lambda handlers wrote to stderr while answering


def _bad_bodies(metadata: dict, samples: list[dict]) -> list[tuple[bytes, str]]:
    """(body, the feature name the 422 must name): a wrong kind, a missing feature, a null the model cannot take."""
    schema = InputSchema.from_dict(metadata["input_schema"])
    row = dict(samples[0])
    first = schema.features[0]
    wrong = {"number": "a string", "integer": "a string", "string": 12.5, "boolean": "yes"}[first.kind]
    cases = [(json.dumps({"features": {**row, first.name: wrong}}).encode(), first.name),
             (json.dumps({"features": {k: v for k, v in row.items() if k != first.name}}).encode(), first.name)]
    strict = [f for f in schema.features if not f.nullable]
    if strict:
        cases.append((json.dumps({"instances": [row, {**row, strict[-1].name: None}]}).encode(), strict[-1].name))
    return cases


_UNSEEN = "a value never seen in training"


def _unseen_category_bodies(metadata: dict, samples: list[dict]) -> list[tuple[bytes, str]]:
    """(body, feature): the first sample row with one string feature set to a value the model
    never saw, one body per string feature of a DataFrame model."""
    schema = InputSchema.from_dict(metadata["input_schema"])
    if schema.layout != "dataframe":
        return []
    return [(json.dumps({"features": {**samples[0], f.name: _UNSEEN}}).encode(), f.name)
            for f in schema.features if f.kind == "string"]


def _null_row(samples: list[dict]) -> list[dict]:
    """The sample row holding the most nulls, if any: sent alone, each such column is all nulls,
    which a batch with values beside them does not show (pandas types such a column differently)."""
    most = max(samples, key=lambda row: list(row.values()).count(None))
    return [most] if None in most.values() else []


@pytest.fixture(scope="module", params=sorted(SHAPES))
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    src, sample = write_shape(name, folder)
    model_dir = folder / "registered"
    done = subprocess.run(["make", "-s", "--no-print-directory", "model-import", f"SRC={src}", f"SAMPLE={sample}",
                           f"MODEL_DIR={model_dir}"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metadata = json.loads((model_dir / "metadata.json").read_text())
    samples = json.loads((model_dir / "samples.json").read_text())["rows"]
    bodies = [json.dumps({"features": samples[0]}).encode(),
              json.dumps({"instances": samples}).encode()]
    bodies += [body for body, _ in _bad_bodies(metadata, samples)]
    bodies += [body for body, _ in _unseen_category_bodies(metadata, samples)]
    bodies += [json.dumps({"features": row}).encode() for row in _null_row(samples)]

    child = subprocess.run([sys.executable, "-c", _LAMBDA_CHILD, str(REPO / "services" / "predict-lambda")],
                           input=json.dumps([b.decode() for b in bodies]), capture_output=True, text=True,
                           env={**os.environ, "MODEL_PATH": str(model_dir), "API_GATEWAY_BASE_PATH": "wsgi"},
                           timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    lambda_answers = json.loads(child.stdout.strip().splitlines()[-1])
    answers = {k: [(status, body.encode()) for status, body in v] for k, v in lambda_answers.items()}

    port = free_port()
    env = {**os.environ, "MODEL_PATH": str(model_dir), "PORT": str(port), "HOST": "127.0.0.1",
           "METRICS_PORT": str(free_port()), "WEB_CONCURRENCY": "2", "GUNICORN_ACCESS_LOG": ""}
    server = ManagedProcess([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
                            name="gunicorn", env=env, cwd=REPO / "services" / "predict-container",
                            log_path=folder / "gunicorn.log", ready=http_probe(port, "/ready"),
                            ready_timeout_s=120.0, grace_s=30.0)
    with server, requests.Session() as session:
        answers["gunicorn"] = []
        for body in bodies:
            response = session.post(f"http://127.0.0.1:{port}/predict", data=body, timeout=30,
                                    headers={"Content-Type": "application/json"})
            answers["gunicorn"].append((response.status_code, response.content))
        v2 = _v2_infer(f"127.0.0.1:{port}", metadata, samples)
    yield Served(name, model_dir, metadata, samples, joblib.load(src), answers, bodies, v2, child.stderr)


_V2_TYPES = {"number": ("FP64", np.float64), "integer": ("INT64", np.int64), "string": ("BYTES", object),
             "boolean": ("BOOL", np.bool_)}


def _v2_infer(address: str, metadata: dict, samples: list[dict]) -> dict | None:
    """The sample rows without a null, through tritonclient.http unmodified: one tensor per feature
    for a typed model, one [N, F] tensor for an all-number one."""
    import tritonclient.http as triton

    schema = InputSchema.from_dict(metadata["input_schema"])
    rows = [r for r in samples if all(v is not None for v in r.values())][:20]
    if not rows:
        return None
    client = triton.InferenceServerClient(url=address, network_timeout=30.0)
    try:
        model = client.get_model_metadata(metadata["name"])
        if schema.numeric_matrix:
            tensor = triton.InferInput("features", [len(rows), len(schema.names)], "FP64")
            tensor.set_data_from_numpy(np.asarray([[r[n] for n in schema.names] for r in rows], dtype=np.float64),
                                       binary_data=False)
            inputs = [tensor]
        else:
            inputs = []
            for feature in schema.features:
                datatype, dtype = _V2_TYPES[feature.kind]
                tensor = triton.InferInput(feature.name, [len(rows)], datatype)
                tensor.set_data_from_numpy(np.asarray([r[feature.name] for r in rows], dtype=dtype), binary_data=False)
                inputs.append(tensor)
        result = client.infer(metadata["name"], inputs)
        output = "prediction" if metadata["task"] == "regression" else "label"
        return {"metadata": model, "rows": rows, "output": result.as_numpy(output)}
    finally:
        client.close()


def test_every_wrapper_answers_byte_identically(served: Served):
    reference = served.answers["gunicorn"]
    assert [status for status, _ in reference[:2]] == [200, 200], reference[:2]
    for wrapper in ("native", "wsgi"):
        assert served.answers[wrapper] == reference, wrapper


def test_answers_equal_scikit_learn_on_the_sample_rows(served: Served):
    schema = InputSchema.from_dict(served.metadata["input_schema"])
    frame = pd.DataFrame(served.samples, columns=list(schema.names))
    for feature in schema.features:  # the dtypes the model was fitted with, as the server builds them
        if feature.kind in ("string", "boolean") and feature.nullable:  # NaN where missing, as pandas reads the CSV
            frame[feature.name] = frame[feature.name].astype(object).where(frame[feature.name].notna(), np.nan)
        elif feature.kind == "string":
            frame[feature.name] = frame[feature.name].astype(object)
    expected, expected_proba = call_model(served.estimator, schema, frame)
    document = json.loads(served.answers["gunicorn"][1][1])
    # Labels (classes, outlier flags, cluster ids) come back as the values predict gives, -1 not -1.0.
    assert served.metadata["task"] == ("regression" if np.asarray(expected).dtype.kind == "f" else "classification")
    if served.name in EXPECTED_BACKENDS:
        assert served.metadata["backend"] == EXPECTED_BACKENDS[served.name], served.metadata["equivalence"]
    onnx = served.metadata["backend"] == "onnxruntime"
    if served.metadata["task"] == "regression":
        actual = np.asarray(document["predictions"], dtype=np.float64)
        if onnx:
            assert regression_close(actual, np.asarray(expected, dtype=np.float64))[0]
        else:
            assert np.array_equal(actual, np.asarray(expected, dtype=np.float64))
        assert "classes" not in document and "probabilities" not in document
    else:
        assert document["predictions"] == np.asarray(expected).tolist()
        assert [type(v) for v in document["predictions"]] == [type(v) for v in np.asarray(expected).tolist()]
        assert document["classes"] == served.metadata["classes"]
        if expected_proba is None:
            assert "probabilities" not in document
        else:
            gap = np.max(np.abs(np.asarray(document["probabilities"]) - expected_proba))
            assert gap <= (PROBA_TOLERANCE if onnx else 0.0), gap
    assert document["model"]["sha256"] == served.metadata["artefacts"]["serving" if onnx else "source"]["sha256"]


def test_a_row_with_a_null_sent_alone_is_answered_as_in_the_batch(served: Served):
    # Both equal scikit-learn on the CSV's rows (NaN where missing): the batch is checked above.
    rows = _null_row(served.samples)
    if not rows:
        return
    alone = json.loads(served.answers["gunicorn"][-1][1])
    batch = json.loads(served.answers["gunicorn"][1][1])
    index = served.samples.index(rows[0])
    assert alone["predictions"] == [batch["predictions"][index]]
    if "probabilities" in batch:  # sums may round apart with the batch size (BLAS, float32 ONNX): ulps, no more
        onnx = served.metadata["backend"] == "onnxruntime"
        gap = np.max(np.abs(np.asarray(alone["probabilities"]) - [batch["probabilities"][index]]))
        assert gap <= (PROBA_TOLERANCE if onnx else 1e-12), gap


def test_serving_writes_no_runtime_warnings_per_request(served: Served):
    # ONNX Runtime warns on stderr when a graph's declared output shape differs from the answer's
    # (a multi-output regressor): one log line per request would drown the function's logs.
    assert "onnxruntime" not in served.lambda_stderr, served.lambda_stderr[-2000:]


def test_a_value_the_model_cannot_take_gets_a_422_naming_the_feature(served: Served):
    cases = _bad_bodies(served.metadata, served.samples)
    for (status, body), (_, feature) in zip(served.answers["gunicorn"][2:2 + len(cases)], cases, strict=True):
        assert status == 422, body
        assert repr(feature) in json.loads(body)["error"]["message"], body


def test_an_unknown_category_is_refused_where_scikit_learn_refuses_it(served: Served):
    # Whatever wraps the encoder (a grid search, a calibrated model), a value it refuses must not
    # reach a backend that would answer it anyway (an ONNX graph maps it to some category).
    cases = _unseen_category_bodies(served.metadata, served.samples)
    end = len(served.answers["gunicorn"]) - len(_null_row(served.samples))
    answers = served.answers["gunicorn"][end - len(cases):end]
    schema = InputSchema.from_dict(served.metadata["input_schema"])
    for (status, body), (_, feature) in zip(answers, cases, strict=True):
        frame = pd.DataFrame([{**served.samples[0], feature: _UNSEEN}], columns=list(schema.names))
        try:
            call_model(served.estimator, schema, frame)
            refused = False
        except ValueError:
            refused = True
        if refused:
            assert status == 422 and repr(feature) in json.loads(body)["error"]["message"], body
        else:
            assert status == 200, body


def test_tritonclient_infers_with_one_tensor_per_feature(served: Served):
    if served.v2 is None:
        pytest.fail("the sample rows all hold a null; the shapes here must have one without")
    schema = InputSchema.from_dict(served.metadata["input_schema"])
    listed = served.v2["metadata"]["inputs"]
    if schema.numeric_matrix:
        assert [i["name"] for i in listed] == ["features"]
    else:
        assert [i["name"] for i in listed] == list(schema.names)
    rows = served.v2["rows"]
    document = json.loads(served.answers["gunicorn"][1][1])  # /predict on every sample row
    by_row = {json.dumps(r, sort_keys=True): p for r, p in zip(served.samples, document["predictions"], strict=True)}
    expected = [by_row[json.dumps(r, sort_keys=True)] for r in rows]
    got = served.v2["output"].tolist()
    got = [v.decode() if isinstance(v, bytes) else v for v in got]
    if served.metadata["task"] == "regression":
        # Both print the backend's own dtype; tritonclient reads FP32 data as float32.
        dtype = served.v2["output"].dtype
        assert np.array_equal(np.asarray(got, dtype=dtype), np.asarray(expected, dtype=dtype))
    else:
        assert got == expected
