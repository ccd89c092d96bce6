"""The fast version of ``make fuzz``: every wrapper, a few hundred generated
requests each, the edge cases, and slow clients — real gunicorn, real awslambdaric, 127.0.0.1 only.

``make fuzz`` runs the same code with 10,000 requests per wrapper and the slow clients for 40 s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from twinbench.local_lambda.settings import DEFAULT_PYTHON
from twinbench.measure.progress import Progress
from twinbench.reliability.fuzz.edge import edge_cases
from twinbench.reliability.fuzz.model_inputs import load_fuzz_model
from twinbench.reliability.fuzz.native import fuzz_native, native_edge_cases
from twinbench.reliability.fuzz.oracle import error_body_problem
from twinbench.reliability.fuzz.runner import fuzz_container, fuzz_wsgi_lambda
from twinbench.reliability.fuzz.settings import (
    FUZZ_BIN,
    LAMBDA_SYNC_PAYLOAD_BYTES,
    FuzzSettings,
    WrapperReport,
)
from twinserve_support.paths import REPO  # noqa: E402

PACKAGE = REPO / "build" / "lambda" / "pkg"
FAST_N = 300

needs_schemathesis = pytest.mark.skipif(
    not (FUZZ_BIN / "schemathesis").exists(), reason="no .venv-fuzz: make test creates it (mk/reliability.mk)")
needs_package = pytest.mark.skipif(
    not (PACKAGE / "wsgi_handler.py").exists() or not DEFAULT_PYTHON.exists(),
    reason="no Lambda package or .venv-lambda: make package-lambda lambda-runtime")


@pytest.fixture
def model_env(rf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture-trained model for gunicorn and the native handler (the package carries its own)."""
    monkeypatch.setenv("MODEL_PATH", str(rf_dir))
    return rf_dir


def _assert_clean(report: WrapperReport, at_least: int) -> None:
    assert report.requests >= at_least, report.to_dict()
    assert report.server_errors == 0, report.statuses
    assert report.network_errors == 0
    assert report.bad_error_bodies == 0
    assert report.crashed_workers == 0
    assert report.problems == [], report.problems


# -- pure parts ---------------------------------------------------------------------------------

def test_sized_bodies_are_exact_and_valid(rf_dir: Path):
    limit = 1_048_576
    cases = {c.name: c for c in edge_cases(load_fuzz_model(rf_dir), limit, 1000, lambda_sizes=True)}
    at = cases["body exactly at MAX_BODY_BYTES (valid rows + whitespace)"].body
    over = cases["body MAX_BODY_BYTES + 1"].body
    assert len(at) == limit and len(over) == limit + 1
    assert len(json.loads(at)["instances"]) <= 1000
    assert len(cases["body just over Lambda's 6 MB sync payload"].body) == LAMBDA_SYNC_PAYLOAD_BYTES + 1
    assert cases["100k nested arrays"].body.count(b"[") == 100_000


@pytest.mark.parametrize(("status", "content_type", "body", "bad"), [
    (422, "application/json", b'{"error": {"code": "invalid_shape", "message": "m"}}', False),
    (200, "text/plain", b"anything", False),
    (404, "text/html", b"<h1>Not Found</h1>", True),
    (400, "application/json", b'{"message": "Bad Request"}', True),
    (413, "application/json", b'{"error": {"code": 1, "message": "m"}}', True),
    (400, "application/json", b'{"error": {"code": "c", "message": "m"}, "extra": 1}', True),
])
def test_error_body_problem(status, content_type, body, bad):
    assert (error_body_problem(status, content_type, body) is not None) is bad


def test_native_handler_events_in_process(model_env: Path):
    report = WrapperReport("native-lambda")
    fuzz_native(report, FuzzSettings(n=FAST_N), Progress(quiet=True))
    _assert_clean(report, FAST_N)
    native_edge_cases(report)
    assert [c for c in report.edge_cases if c["problem"]] == []


# -- real servers ---------------------------------------------------------------------------------

@pytest.mark.slow
@needs_schemathesis
def test_container_gunicorn_schemathesis_and_edge_cases(model_env: Path, tmp_path: Path):
    settings = FuzzSettings(n=FAST_N, slow_clients=0, out_dir=tmp_path)
    report = fuzz_container(settings, tmp_path, Progress(quiet=True))
    _assert_clean(report, FAST_N)
    names = {c["case"] for c in report.edge_cases}
    assert "body exactly at MAX_BODY_BYTES (valid rows + whitespace)" in names


@pytest.mark.slow
@needs_schemathesis
@needs_package
def test_wsgi_lambda_over_http_schemathesis_and_edge_cases(tmp_path: Path):
    settings = FuzzSettings(n=FAST_N, slow_clients=0, out_dir=tmp_path)
    report = fuzz_wsgi_lambda(settings, tmp_path, Progress(quiet=True))
    _assert_clean(report, FAST_N)
    by_name = {c["case"]: c for c in report.edge_cases}
    assert by_name["body exactly at MAX_BODY_BYTES (valid rows + whitespace)"]["status"] == 200
    assert by_name["body just over Lambda's 6 MB sync payload"]["status"] == 413
