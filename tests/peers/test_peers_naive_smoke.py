"""The naive baseline really runs: the blog's Flask app under gunicorn (2 sync workers) answers.

Also checks what bench-peers relies on: readiness by prediction, the keep-alive probe (sync
workers close the connection), and -- when wrk is installed -- that the Lua script's JSON summary
line comes back from a real 1 s wrk run.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from twinbench.measure import wrk
from twinbench.peers import servers
from twinserve_support.process.net import http_status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def naive_model(model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> servers.ModelFiles:
    root = tmp_path_factory.mktemp("peers")
    model_dir = root / "rf"
    shutil.copytree(model_dirs["rf"], model_dir)
    return servers.prepare_model("rf", root, sys.executable, log=lambda _: None)


@pytest.fixture(scope="module")
def naive_server(naive_model: servers.ModelFiles, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("peers-work")
    [spec] = servers.build_specs(naive_model, work, ["naive"], Path(sys.executable).parent, Path("/nonexistent"))
    with servers.ServerProcess(spec, work / "naive.log", ready_timeout_s=60) as server:
        yield server


def test_joblib_copy_is_the_same_estimator(naive_model: servers.ModelFiles) -> None:
    import joblib
    import numpy as np
    import skops.io
    from twinserve.trusted_types import TRUSTED_SKOPS_TYPES

    original = skops.io.load(naive_model.model_dir / "model.skops", trusted=sorted(TRUSTED_SKOPS_TYPES))
    copy = joblib.load(naive_model.joblib_path)
    rows = np.array([naive_model.example_row] * 3) * np.array([[1.0], [0.5], [2.0]])
    assert (original.predict_proba(rows) == copy.predict_proba(rows)).all()


def test_naive_app_under_gunicorn_predicts_and_closes_connections(naive_server: servers.ServerProcess,
                                                                 naive_model: servers.ModelFiles) -> None:
    answer = servers.probe(naive_server.spec)
    assert answer["status"] == 200
    assert set(answer["answer"]) == {"prediction"}
    assert servers.predicted_label("naive", answer["answer"]) in (0, 1)
    assert answer["keep_alive"] is False  # gunicorn sync workers: Connection: close
    assert naive_server.spec.argv[1:3] == ["-w", "2"]


def test_naive_app_rejects_what_the_blog_never_checked(naive_server: servers.ServerProcess) -> None:
    status = http_status(naive_server.spec.port, "/predict", "POST", json.dumps({"x": 1}).encode())
    assert status == 500  # KeyError in the blog's code: the baseline is kept as written


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (make bench-peers installs it)")
def test_wrk_lua_summary_line_from_a_real_run(naive_server: servers.ServerProcess, tmp_path: Path) -> None:
    script = tmp_path / "naive.lua"
    script.write_text(wrk.wrk_lua_script(naive_server.spec.body))
    step = wrk.run_wrk("wrk", naive_server.spec.base_url + "/predict", script, concurrency=2, duration_s=1)
    assert step["source"] == "wrk done() json"
    assert step["ok"] > 0 and step["rps"] > 0
    assert 0 < step["p50_ms"] <= step["p99_ms"]
    assert step["wrk_cpu_s"] >= 0
