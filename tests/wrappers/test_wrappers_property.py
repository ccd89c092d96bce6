"""Whatever the client sends, the answer is 2xx or 4xx with a JSON error body — never 5xx."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=35) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=60,
)
documents = st.one_of(
    json_values,
    st.fixed_dictionaries({"features": json_values}),
    st.fixed_dictionaries({"instances": json_values}),
    st.fixed_dictionaries({"features": st.lists(st.floats() | st.integers() | st.booleans(), min_size=28, max_size=32)}),
)
FAST_WRAPPERS = ("native-http-v2", "native-rest-v1", "native-function-url", "wsgi-http-v2")
COMMON = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(answer) -> None:
    assert 200 <= answer.status < 500, answer.body
    document = json.loads(answer.body)
    if answer.status >= 400:
        assert set(document) == {"error"} and set(document["error"]) == {"code", "message"}


@COMMON
@given(doc=documents)
def test_arbitrary_json(callers, doc):
    body = json.dumps(doc).encode()
    for wrapper in FAST_WRAPPERS:
        _check(callers[wrapper]("POST", "/predict", body, "application/json"))


@COMMON
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes(callers, body):
    for wrapper in ("native-http-v2-base64", "native-rest-v1", "wsgi-http-v2"):
        if wrapper == "native-rest-v1":
            body = body.decode("utf-8", "replace").encode()
        _check(callers[wrapper]("POST", "/predict", body, "application/json"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents, raw=st.binary(max_size=200))
def test_real_gunicorn(callers, doc, raw):
    _check(callers["gunicorn"]("POST", "/predict", json.dumps(doc).encode(), "application/json"))
    _check(callers["gunicorn"]("POST", "/predict", raw, "application/json"))
