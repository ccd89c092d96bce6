"""Open Inference Protocol V2 through a client we did not write: Triton's ``tritonclient.http``,
unmodified, against real gunicorn and both Lambda handlers."""

from __future__ import annotations

import numpy as np
import pytest

tritonclient_http = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402


@pytest.fixture(scope="module")
def clients(gunicorn_url, lambda_fronts):
    urls = {"gunicorn": gunicorn_url.removeprefix("http://"), **lambda_fronts}
    made = {name: tritonclient_http.InferenceServerClient(url=url, network_timeout=30.0) for name, url in urls.items()}
    yield made
    for client in made.values():
        client.close()


@pytest.fixture(scope="module")
def rows(rf_metadata) -> np.ndarray:
    row = np.asarray(rf_metadata["example_row"], dtype=np.float64)
    return np.stack([row, row * 1.1, row * 0.9])


SERVERS = ["gunicorn", "native-lambda", "wsgi-lambda"]


@pytest.mark.parametrize("server", SERVERS)
def test_health_and_metadata(clients, rf_metadata, server):
    client = clients[server]
    name = rf_metadata["name"]
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(name)
    assert client.is_model_ready(name, model_version=rf_metadata["version"])
    assert not client.is_model_ready("no-such-model")
    meta = client.get_model_metadata(name)
    assert meta["name"] == name and meta["versions"] == [rf_metadata["version"]]
    (tensor,) = meta["inputs"]
    assert tensor["shape"] == [-1, len(rf_metadata["feature_names"])] and tensor["datatype"] in ("FP32", "FP64")
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert client.get_server_metadata()["name"] == "twinserve"


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
def test_infer_matches_predict(clients, rf_metadata, rows, server, datatype):
    client = clients[server]
    tensor = tritonclient_http.InferInput("features", list(rows.shape), datatype)
    data = rows.astype(np.float32 if datatype == "FP32" else np.float64)
    tensor.set_data_from_numpy(data, binary_data=False)
    outputs = [tritonclient_http.InferRequestedOutput(n, binary_data=False) for n in ("label", "probabilities")]
    result = client.infer(rf_metadata["name"], [tensor], outputs=outputs, request_id="req-7")
    labels, proba = result.as_numpy("label"), result.as_numpy("probabilities")
    assert result.get_response()["id"] == "req-7"
    assert labels.shape == (3,) and proba.shape == (3, 2)
    assert set(labels.tolist()) <= set(rf_metadata["classes"])
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (np.asarray(rf_metadata["classes"])[proba.argmax(axis=1)] == labels).all()


def test_default_outputs_when_client_asks_binary(clients, rf_metadata, rows):
    """With no outputs named, tritonclient asks for binary outputs; JSON answers are still read."""
    tensor = tritonclient_http.InferInput("features", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=False)
    result = clients["gunicorn"].infer(rf_metadata["name"], [tensor])
    assert result.as_numpy("label").shape == (3,)


@pytest.mark.parametrize("server", SERVERS)
def test_errors_reach_the_client_as_messages(clients, rf_metadata, rows, server):
    client = clients[server]
    wrong = tritonclient_http.InferInput("features", [1, 3], "FP64")
    wrong.set_data_from_numpy(np.zeros((1, 3)), binary_data=False)
    with pytest.raises(InferenceServerException, match=r"shape must be \[N, 30\]"):
        client.infer(rf_metadata["name"], [wrong])
    tensor = tritonclient_http.InferInput("features", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=True)
    with pytest.raises(InferenceServerException, match="binary tensor data extension is not supported"):
        client.infer(rf_metadata["name"], [tensor])
    with pytest.raises(InferenceServerException, match="not served here"):
        client.get_model_metadata("no-such-model")
