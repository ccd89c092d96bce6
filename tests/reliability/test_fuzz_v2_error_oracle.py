"""The fuzzer's error oracle knows both error shapes: the service's own and the V2 protocol's."""

from __future__ import annotations

import pytest
from twinbench.reliability.fuzz.oracle import error_body_problem


@pytest.mark.parametrize(("path", "body", "bad"), [
    ("/v2/models/m/infer", b'{"error": "unknown input"}', False),
    ("/v2/models/m/infer", b'{"error": {"code": "c", "message": "m"}}', True),
    ("/v2", b'{"error": ""}', True),
    ("/predict", b'{"error": "unknown input"}', True),
    ("/predict", b'{"error": {"code": "c", "message": "m"}}', False),
    ("/v2x", b'{"error": "m"}', True),  # not a V2 route: the service's own error shape
])
def test_fuzz_error_oracle_knows_the_v2_error_shape(path, body, bad):
    assert (error_body_problem(422, "application/json", body, path) is not None) is bad
