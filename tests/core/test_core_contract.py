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
    ({"features": 5}, InvalidShape, "not a number"),
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


def _reference_array(rows: list[list[float | int]], spec: InputSpec) -> np.ndarray | str:
    """What the contract must produce, computed the plain way (numpy, every row): the array, or
    the error message for a value that is not finite in the model's input precision."""
    try:
        array = np.array(rows, dtype=np.float64)
    except OverflowError:
        return "too large for a float"
    limit = np.finfo(np.float32).max if spec.float32_range or spec.dtype is np.float32 else np.finfo(np.float64).max
    if not (np.isfinite(array) & (np.abs(array) <= limit)).all():
        return "is not finite"
    return array.astype(spec.dtype)


# (Integers past float64 never get this far: the JSON parser already refuses them as infinite.)
EDGE_VALUES = [0, 1, -1, 0.5, 3.4028234663852886e38, 3.4028235e38, -3.4028235e38, 3.5e38, 1.7976931348623157e308,
               -1.7976931348623157e308, 2**64 + 1, 2**128, -(2**128), 16777217, 2**53 + 1]


@pytest.mark.parametrize("spec", [SPEC, InputSpec(NAMES, 20, 10_000, np.float64),
                                  InputSpec(NAMES, 20, 10_000, np.float64, float32_range=True)],
                         ids=["float32", "float64", "float64-rounded-to-float32"])
@pytest.mark.parametrize("value", EDGE_VALUES)
@pytest.mark.parametrize("rows", [1, 9], ids=["one-row", "batch-past-the-python-check"])
def test_the_fast_range_check_agrees_with_numpy(spec, value, rows):
    """Small batches are range-checked on the Python lists, larger ones with numpy: both give what
    the plain numpy reference gives, at the edges of float32 and float64 and for huge integers."""
    spec = InputSpec(spec.feature_names, 20, 10_000, spec.dtype, spec.float32_range)
    matrix = [[1, value, 2.5]] * rows
    expected = _reference_array(matrix, spec)
    body = json.dumps({"instances": matrix} if rows > 1 else {"features": matrix[0]}).encode()
    if isinstance(expected, str):
        with pytest.raises(InvalidValue) as info:
            parse_body(body, spec)
        assert expected in info.value.message
    else:
        got = parse_body(body, spec)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


@pytest.mark.parametrize(("sent", "echoed"), [
    ("a\nb", "a\\x0ab"), ("\x1b[31mred", "\\x1b[31mred"), ("x\u2028y\u0085z\x7f", "x\\u2028y\\x85z\\x7f"),
    ("caf\u00e9 \u20ac", "caf\u00e9 \u20ac"), ("\x01" * 5_000, ("\\x01" * 25)[:99] + "\u2026"),
])
def test_an_echoed_value_is_one_printable_line_of_at_most_100_characters(sent, echoed):
    """A path or value echoed into an error message cannot break the message's line in a log or
    send an escape sequence to an operator's terminal."""
    from twinserve.errors import clip

    assert clip(sent) == echoed
    assert len(clip(sent)) <= 100


@pytest.mark.parametrize("float32_range", [True, False])
def test_typed_rows_for_a_float32_model_refuse_numbers_past_float32_as_the_matrix_path_does(float32_range):
    from twinserve.contract import Columns
    from twinserve.schema import Feature, InputSchema

    schema = InputSchema((Feature("fare"), Feature("city", "string")), "dataframe")
    spec = InputSpec(("fare", "city"), 2, 400, np.float64, float32_range=float32_range, schema=schema)
    assert isinstance(parse_body(b'{"features": {"fare": 3.4e38, "city": "x"}}', spec), Columns)
    body = b'{"instances": [{"fare": 1, "city": "x"}, {"fare": -1e39, "city": "y"}]}'
    if float32_range:
        with pytest.raises(InvalidValue, match="'fare' holds a number that is not finite in the model's input precision"):
            parse_body(body, spec)
    else:
        assert parse_body(body, spec).arrays[0][1] == -1e39
