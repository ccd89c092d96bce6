"""``make fuzz`` on a model with typed inputs (numbers with missing values, strings, an integer
class): the per-feature edge cases and the native handler's events are derived from its schema and
hold the same invariants as on an all-number model; nothing is left out with a note."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from model_shapes import write_shape  # noqa: E402
from twinbench.measure.progress import Progress  # noqa: E402
from twinbench.reliability.fuzz.edge import edge_cases  # noqa: E402
from twinbench.reliability.fuzz.model_inputs import CLIENT, OK, load_fuzz_model  # noqa: E402
from twinbench.reliability.fuzz.native import fuzz_native, native_edge_cases  # noqa: E402
from twinbench.reliability.fuzz.runner import fuzz_container  # noqa: E402
from twinbench.reliability.fuzz.settings import FUZZ_BIN, FuzzSettings, WrapperReport  # noqa: E402
from twinserve_support.paths import REPO  # noqa: E402
from twinserve_support.prerequisites import require  # noqa: E402

FAST_N = 300


@pytest.fixture(scope="module")
def typed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DataFrame pipeline of ``model_shapes`` registered as a user registers it."""
    folder = tmp_path_factory.mktemp("typed")
    src, sample = write_shape("dataframe-pipeline", folder)
    model_dir = folder / "registered"
    done = subprocess.run(["make", "-s", "--no-print-directory", "model-import", f"SRC={src}", f"SAMPLE={sample}",
                           f"MODEL_DIR={model_dir}"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return model_dir


@pytest.fixture
def typed_env(typed_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODEL_PATH", str(typed_dir))
    return typed_dir


def _assert_clean(report: WrapperReport, at_least: int) -> None:
    assert report.requests >= at_least, report.to_dict()
    assert report.server_errors == 0 and report.network_errors == 0 and report.crashed_workers == 0, report.statuses
    assert report.bad_error_bodies == 0 and report.problems == [], report.problems
    assert not [n for n in report.notes if "typed" in n], report.notes


def test_each_feature_gets_the_values_of_its_kind(typed_dir: Path):
    model = load_fuzz_model(typed_dir)
    assert not model.positional and len(model.rows) > 1
    cases = {c.name: c for c in edge_cases(model, 1_048_576, 1000)}
    assert cases["'age' (number): NaN token"].expect == CLIENT
    assert cases["'age' (number): null"].expect == OK  # nullable: taken as missing
    assert cases["'sex' (string): null"].expect == CLIENT
    assert json.loads(cases["'sex' (string): 100k-character string"].body)["features"]["sex"] == "x" * 100_000
    assert b'"pclass": 2.0' in cases["'pclass' (integer): an integer written as a float"].body
    assert cases["'age' (number): integer with 100k digits"].body.count(b"9") >= 100_000


def test_native_handler_events_and_edge_cases_on_a_typed_model(typed_env: Path):
    report = WrapperReport("native-lambda")
    fuzz_native(report, FuzzSettings(n=FAST_N), Progress(quiet=True))
    _assert_clean(report, FAST_N)
    assert report.statuses["200"] > 0  # rows drawn from the schema get through, not only refusals
    native_edge_cases(report)
    by_case = {c["case"]: c for c in report.edge_cases}
    assert [c for c in report.edge_cases if c["problem"]] == []
    assert by_case["'age' (number): null"]["status"] == 200
    assert by_case["'age' (number): NaN token"]["status"] in CLIENT
    assert by_case["every registered row in one body"]["status"] == 200


@pytest.mark.slow
def test_container_fuzz_on_a_typed_model_runs_every_part(typed_env: Path, tmp_path: Path):
    require(FUZZ_BIN / "schemathesis", "make .venv-fuzz/.stamp")
    report = fuzz_container(FuzzSettings(n=FAST_N, slow_clients=0, out_dir=tmp_path), tmp_path, Progress(quiet=True))
    _assert_clean(report, FAST_N)
    names = {c["case"] for c in report.edge_cases}
    assert {"'age' (number): 1e400 (overflows float64)", "'sex' (string): lone surrogate escape",
            "'pclass' (integer): a fraction", "'age' (number): null"} <= names
    assert [c for c in report.edge_cases if c["problem"]] == []
