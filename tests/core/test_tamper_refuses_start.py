"""Flip one byte of the artefact: every real entry point refuses to start, saying why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from twinserve_support.paths import REPO
from twinserve_support.process.net import free_port


@pytest.fixture()
def tampered(rf_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(rf_dir, model)
    onnx = model / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 3] ^= 0x01
    onnx.write_bytes(bytes(data))
    return model, json.loads((model / "metadata.json").read_text())["artefacts"]["serving"]["sha256"]


def test_gunicorn_master_exits_with_the_integrity_error(tampered):
    model, pinned = tampered
    env = {**os.environ, "MODEL_PATH": str(model), "PORT": str(free_port())}
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
        cwd=REPO / "services" / "predict-container", env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "ModelIntegrityError" in proc.stderr and pinned in proc.stderr and "refusing to load" in proc.stderr


@pytest.mark.parametrize("module", ["handler", "wsgi_handler"])
def test_lambda_init_fails_with_the_integrity_error(tampered, module):
    model, pinned = tampered
    env = {"MODEL_PATH": str(model), "PYTHONPATH": str(REPO / "services" / "predict-lambda")}
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "ModelIntegrityError" in proc.stderr and pinned in proc.stderr
