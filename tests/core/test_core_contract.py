"""The input contract, unit by unit (the wrapper tables run the same cases end to end)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from twinserve.contract import InputSpec, check_content_type, parse_body
from twinserve.errors import (
    InvalidShape,
    InvalidValue,
    MalformedJSON,
    PayloadTooLarge,
    TooManyRows,
    UnknownFeature,
    UnsupportedMediaType,
)

NAMES = ("a", "b", "c")
SPEC = InputSpec(NAMES, max_rows=2, max_body_bytes=200, dtype=np.float32)


def parse(doc) -> np.ndarray:
    return parse_body(json.dumps(doc).encode(), SPEC)


def test_single_row_batch_and_named():
    assert parse({"features": [1, 2.5, 3]}).tolist() == [[1.0, 2.5, 3.0]]
    assert parse({"features": {"c": 3, "a": 1, "b": 2}}).tolist() == [[1.0, 2.0, 3.0]]
    out = parse({"instances": [[1, 2, 3], {"a": 4, "b": 5, "c": 6}]})
    assert out.shape == (2, 3) and out.dtype == np.float32


@pytest.mark.parametrize(("doc", "error", "fragment"), [
    ({"features": [1, 2]}, InvalidShape, "has 2 values; the model expects 3"),
    ({"features": [1, 2, "3"]}, InvalidValue, "features[2] ('c') is a string"),
    ({"features": [1, False, 3]}, InvalidValue, "features[1] ('b') is a boolean"),
    ({"features": [1, None, 3]}, InvalidValue, "is null"),
    ({"features": [1, [2], 3]}, InvalidValue, "is an array"),
    ({"features": {"a": 1, "b": 2}}, InvalidShape, "missing feature(s) 'c'"),
    ({"features": {"a": 1, "b": 2, "c": 3, "d": 4}}, UnknownFeature, "'d'"),
    ({"instances": [[1, 2, 3], [1, 2]]}, InvalidShape, "instances[1] has 2 values"),
    ({"instances": [[1, 2, 3]] * 3}, TooManyRows, "3 rows; the limit is 2"),
    ({"instances": []}, InvalidShape, "empty"),
    ({"instances": {"a": 1}}, InvalidShape, "must be an array of rows"),
    ({"features": 5}, InvalidShape, "not int"),
    ({}, InvalidShape, "exactly one of"),
    ({"features": [1, 2, 1e39]}, InvalidValue, "features[2] ('c') is not finite"),
])
def test_errors_say_what_is_wrong(doc, error, fragment):
    with pytest.raises(error) as info:
        parse(doc)
    assert fragment in info.value.message


def test_float64_model_accepts_beyond_float32_range():
    spec = InputSpec(NAMES, 2, 200, np.float64)
    assert parse_body(b'{"features": [1, 2, 1e39]}', spec)[0, 2] == 1e39


@pytest.mark.parametrize(("body", "error"), [
    (b"", MalformedJSON), (b"   ", MalformedJSON), (b"{", MalformedJSON), (b"\xff\xfe", MalformedJSON),
    (b'{"features": [NaN, 1, 2]}', InvalidValue), (b'{"features": [1e999, 1, 2]}', InvalidValue),
    (b'{"features": [1, 2, 3], "pad": "' + b"x" * 300 + b'"}', PayloadTooLarge),
])
def test_raw_bodies(body, error):
    with pytest.raises(error):
        parse_body(body, SPEC)


def test_duplicate_keys_last_wins_like_json_spec_parsers():
    assert parse_body(b'{"features": [9, 9], "features": [1, 2, 3]}', SPEC).tolist() == [[1, 2, 3]]


@pytest.mark.parametrize("ct", [None, "", "application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"])
def test_json_content_types_pass(ct):
    check_content_type(ct)


@pytest.mark.parametrize("ct", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_other_content_types_fail(ct):
    with pytest.raises(UnsupportedMediaType):
        check_content_type(ct)
