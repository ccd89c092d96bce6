"""Answers as the model says them: probabilities printed with the shortest digits that read
back to the backend's own value in its own dtype (float32 0.95 is ``0.95``, never
``0.949999988079071``), identically on every wrapper."""

from __future__ import annotations

import json

import numpy as np
import orjson
from twinserve.responses import json_bytes


def test_float32_prints_its_shortest_digits():
    assert json_bytes({"p": np.array([[0.95, 0.05]], dtype=np.float32)}) == b'{"p":[[0.95,0.05]]}'
    assert json_bytes(np.array([0.1], dtype=np.float64)) == b"[0.1]"
    # float64 keeps every digit it needs
    assert json_bytes(np.array([0.1], dtype=np.float32).astype(np.float64)) == b"[0.10000000149011612]"


def test_float32_digits_round_trip_exactly():
    values = np.random.default_rng(7).random(20_000, dtype=np.float32)
    printed = orjson.loads(json_bytes(values))
    assert (np.asarray(printed, dtype=np.float32) == values).all()
    # shortest: numpy's own shortest repr of each float32 has no fewer digits
    assert all(len(repr(p)) <= len(str(v)) + 2 for p, v in zip(printed[:2_000], values[:2_000], strict=True))


def test_every_wrapper_prints_the_backend_dtype(callers, rf_dir, good_body):
    from twinserve.service import Service
    from twinserve.settings import Settings

    predictor = Service.start(Settings(model_path=rf_dir)).predictor
    _, proba = predictor.predict_raw(np.asarray([json.loads(good_body)["features"]], dtype=predictor.spec.dtype))
    answers = {w: call("POST", "/predict", good_body, "application/json") for w, call in callers.items()}
    bodies = {a.body for a in answers.values()}
    assert len(bodies) == 1
    body = bodies.pop()
    assert b'"probabilities":' + json_bytes(proba) in body
    if proba.dtype == np.float32:  # the shipped ONNX forest answers float32: e.g. 0.96, not 0.9599999785423279
        printed = json.loads(body)["probabilities"][0]
        assert [str(np.float32(v)) for v in proba[0]] == [repr(v) for v in printed]
