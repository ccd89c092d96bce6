"""A model file from an attacker must never run: the service refuses to start and the
payload's marker file never appears. Each payload is first proven live (it does write the
marker when loaded the unsafe way), so the refusals below are not vacuous."""

from __future__ import annotations

import io
import json
import pickle
import shutil

import joblib
import pytest
import skops.io as sio
from hostile.payload import MARKER_ENV, PickleBomb, skops_bomb
from twinserve.errors import ModelIntegrityError, ModelLoadError, UntrustedModel
from twinserve.integrity import sha256_bytes
from twinserve.service import Service
from twinserve.settings import Settings


@pytest.fixture()
def marker(tmp_path, monkeypatch):
    path = tmp_path / "PWNED"
    monkeypatch.setenv(MARKER_ENV, str(path))
    return path


def _plant(rf_dir, tmp_path, name: str, payload: bytes, fmt: str, pin: bool):
    """Replace the source artefact with ``payload``; drop the ONNX form so the source is what loads.
    ``pin`` rewrites metadata.json to the payload's hash too (an attacker who controls the folder)."""
    model = tmp_path / "model"
    shutil.copytree(rf_dir, model)
    (model / "model.onnx").unlink()
    (model / "model.skops").unlink()
    (model / name).write_bytes(payload)
    meta = json.loads((model / "metadata.json").read_text())
    meta["artefacts"].pop("serving")
    meta["artefacts"]["source"]["path"], meta["artefacts"]["source"]["format"] = name, fmt
    if pin:
        meta["artefacts"]["source"]["sha256"] = meta["sha256"] = sha256_bytes(payload)
    (model / "metadata.json").write_text(json.dumps(meta))
    return model


def _pickle_payload() -> bytes:
    buffer = io.BytesIO()
    joblib.dump(PickleBomb(), buffer)
    return buffer.getvalue()


def test_pickle_payload_is_live(marker):
    joblib.load(io.BytesIO(_pickle_payload()))
    assert marker.exists()


def test_skops_payload_is_live(marker):
    data = sio.dumps(skops_bomb())
    sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert marker.exists()


def test_pinned_pickle_refused_without_opt_in(rf_dir, tmp_path, marker):
    model = _plant(rf_dir, tmp_path, "model.joblib", _pickle_payload(), "joblib", pin=True)
    with pytest.raises(ModelLoadError, match="MODEL_FORMAT=joblib"):
        Service.start(Settings(model_path=model))
    assert not marker.exists()


def test_swapped_pickle_refused_even_with_opt_in(rf_dir, tmp_path, marker):
    model = _plant(rf_dir, tmp_path, "model.joblib", _pickle_payload(), "joblib", pin=False)
    with pytest.raises(ModelIntegrityError):
        Service.start(Settings(model_path=model, model_format="joblib"))
    assert not marker.exists()


@pytest.mark.parametrize("pin", [True, False], ids=["pinned", "swapped"])
def test_skops_payload_refused(rf_dir, tmp_path, marker, pin):
    model = _plant(rf_dir, tmp_path, "model.skops", sio.dumps(skops_bomb()), "skops", pin=pin)
    with pytest.raises(UntrustedModel if pin else ModelIntegrityError) as info:
        Service.start(Settings(model_path=model))
    if pin:
        assert "hostile.payload.SkopsBomb" in info.value.message
    assert not marker.exists()


def test_raw_pickle_disguised_as_skops_refused(rf_dir, tmp_path, marker):
    model = _plant(rf_dir, tmp_path, "model.skops", pickle.dumps(PickleBomb()), "skops", pin=True)
    with pytest.raises((UntrustedModel, ModelLoadError)):
        Service.start(Settings(model_path=model))
    assert not marker.exists()
