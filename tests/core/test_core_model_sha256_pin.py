"""MODEL_SHA256: the deployment's pin of the model folder's metadata.json (which pins every artefact).

Whoever can replace the model folder can rewrite metadata.json with it; the pin set by the
deployment's configuration (Kubernetes ConfigMap, serverless.yml param) cannot be changed
from there. A mismatch must stop the start with one line naming both hashes; a match serves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from twinserve.errors import ModelIntegrityError, ModelLoadError, ModelPinMismatch
from twinserve.integrity import sha256_file
from twinserve.model_store import load_model
from twinserve.settings import ENV_MODEL_SHA256, Settings
from twinserve_support.paths import REPO
from twinserve_support.process.net import free_port

WRONG = "0123456789abcdef" * 4
START_TIMEOUT_S = 60.0


@pytest.fixture()
def model_copy(rf_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the session's trained model, safe to tamper with."""
    return Path(shutil.copytree(rf_dir, tmp_path / "model"))


def pin_of(model_dir: Path) -> str:
    """The deployment's pin: the SHA-256 of metadata.json, which pins every artefact in turn."""
    return sha256_file(model_dir / "metadata.json")


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),
    ({ENV_MODEL_SHA256: ""}, None),  # a ConfigMap key that is present but empty
    ({ENV_MODEL_SHA256: "  "}, None),
    ({ENV_MODEL_SHA256: WRONG}, WRONG),
])
def test_settings_read_the_pin_from_the_environment(environ, expected):
    assert ENV_MODEL_SHA256 == "MODEL_SHA256"
    assert Settings.from_env({"MODEL_PATH": "/m", **environ}).model_sha256 == expected


# ------------------------------------------------------------------------ the core
def test_a_matching_pin_loads(model_copy):
    loaded = load_model(Settings(model_path=model_copy, model_sha256=pin_of(model_copy)))
    assert loaded.artefact.path == "model.onnx"


def test_upper_case_pin_is_accepted(model_copy):
    pin = pin_of(model_copy).upper()
    assert load_model(Settings(model_path=model_copy, model_sha256=pin)).artefact.path == "model.onnx"


def test_a_mismatching_pin_refuses_with_both_hashes_on_one_line(model_copy):
    actual = pin_of(model_copy)
    with pytest.raises(ModelPinMismatch) as info:
        load_model(Settings(model_path=model_copy, model_sha256=WRONG))
    error = info.value
    assert isinstance(error, ModelIntegrityError), "the existing integrity path must catch it"
    assert error.code == "model_integrity" and error.status == 503
    assert (error.expected_sha256, error.actual_sha256) == (WRONG, actual)
    assert WRONG in error.message and actual in error.message and "MODEL_SHA256" in error.message
    assert "\n" not in error.message


def test_the_pin_overrides_a_rewritten_metadata_json(model_copy):
    """The attack the pin exists for: artefact and metadata.json replaced together."""
    original = pin_of(model_copy)
    onnx = model_copy / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 3] ^= 0x01
    onnx.write_bytes(bytes(data))
    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata["artefacts"]["serving"]["sha256"] = sha256_file(onnx)  # consistent again
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    load_model(Settings(model_path=model_copy))  # metadata.json alone is fooled
    with pytest.raises(ModelPinMismatch):
        load_model(Settings(model_path=model_copy, model_sha256=original))


@pytest.mark.parametrize("edit", ["reorder features", "extend the trust list", "open a category"])
def test_the_pin_covers_what_metadata_json_decides(model_copy, edit):
    """Not only the artefact: a reordered feature list or an extended trust list refuses to start."""
    original = pin_of(model_copy)
    metadata = json.loads((model_copy / "metadata.json").read_text())
    if edit == "reorder features":
        metadata["feature_names"] = metadata["feature_names"][::-1]
    elif edit == "extend the trust list":
        metadata["trusted_types"] = ["builtins.eval"]
    else:
        metadata["input_schema"]["features"][0]["nullable"] = True
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelPinMismatch):
        load_model(Settings(model_path=model_copy, model_sha256=original))


def test_a_stale_artefact_hash_in_metadata_is_refused_even_with_a_matching_pin(model_copy):
    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata["artefacts"]["serving"]["sha256"] = WRONG
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelIntegrityError) as info:
        load_model(Settings(model_path=model_copy, model_sha256=pin_of(model_copy)))
    assert not isinstance(info.value, ModelPinMismatch) and "metadata.json pins" in info.value.message


def test_the_pin_applies_whichever_artefact_is_served(model_copy):
    loaded = load_model(Settings(model_path=model_copy, serving_backend="sklearn", model_sha256=pin_of(model_copy)))
    assert loaded.artefact.path == "model.skops"
    # The served artefact's own hash is not the pin.
    with pytest.raises(ModelPinMismatch):
        load_model(Settings(model_path=model_copy, serving_backend="sklearn",
                            model_sha256=sha256_file(model_copy / "model.skops")))


@pytest.mark.parametrize("bad", ["abc", "sha256:" + "a" * 64, "g" * 64, "a" * 63, "a" * 65])
def test_a_malformed_pin_is_a_load_error_naming_the_variable(model_copy, bad):
    with pytest.raises(ModelLoadError) as info:
        load_model(Settings(model_path=model_copy, model_sha256=bad))
    assert not isinstance(info.value, ModelIntegrityError)
    assert "MODEL_SHA256 must be a SHA-256 as 64 hexadecimal digits" in info.value.message


# ------------------------------------------------------------ real entry points
def gunicorn(model_dir: Path, pin: str, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "MODEL_PATH": str(model_dir), "MODEL_SHA256": pin, "PORT": str(port),
           "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "GUNICORN_ACCESS_LOG": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
        cwd=REPO / "services" / "predict-container", env=env, text=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture()
def stopped() -> Iterator[list[subprocess.Popen[str]]]:
    """Every gunicorn a test starts is stopped (SIGTERM, then SIGKILL after 20 s)."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.mark.slow
def test_gunicorn_refuses_to_start_on_a_mismatching_pin(model_copy, stopped):
    actual = pin_of(model_copy)
    proc = gunicorn(model_copy, WRONG, free_port())
    stopped.append(proc)
    _, stderr = proc.communicate(timeout=START_TIMEOUT_S)
    assert proc.returncode != 0
    last = [line for line in stderr.splitlines() if line.strip()][-1]
    assert "ModelPinMismatch" in last and WRONG in last and actual in last, last


@pytest.mark.slow
def test_gunicorn_serves_with_a_matching_pin(model_copy, stopped, good_body):
    port = free_port()
    proc = gunicorn(model_copy, pin_of(model_copy), port)
    stopped.append(proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "gunicorn exited"
        try:
            if requests.get(f"{url}/ready", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "gunicorn did not become ready"
        time.sleep(0.2)
    answer = requests.post(f"{url}/predict", data=good_body, timeout=5,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text


@pytest.mark.slow
def test_lambda_init_refuses_a_mismatching_pin(model_copy):
    env = {"MODEL_PATH": str(model_copy), "MODEL_SHA256": WRONG,
           "PYTHONPATH": str(REPO / "services" / "predict-lambda")}
    proc = subprocess.run([sys.executable, "-c", "import handler"], env=env, capture_output=True,
                          text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode != 0
    assert "ModelPinMismatch" in proc.stderr and WRONG in proc.stderr
