"""Reserved concurrency: the search offers no reservation the deploy script would refuse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from twinbench.recommend import space, write
from twinbench.recommend.space import LambdaChoice
from twinserve_support.lambda_caps import ACCOUNT_CONCURRENCY_DEFAULT, UNRESERVED_MINIMUM

REPO = Path(__file__).resolve().parents[2]


def _functions_in_serverless_yml() -> int:
    return len(yaml.safe_load((REPO / "serverless.yml").read_text())["functions"])


def test_every_listed_function_reserves_and_the_count_is_read_not_assumed(tmp_path):
    assert space.reserving_functions() == _functions_in_serverless_yml()
    doc = yaml.safe_load((REPO / "serverless.yml").read_text())
    doc["functions"]["third"] = dict(doc["functions"]["predict"])
    doc["functions"]["unreserved"] = {"handler": "handler.handler"}
    three = tmp_path / "serverless.yml"
    three.write_text(yaml.safe_dump(doc))
    assert space.reserving_functions(three) == _functions_in_serverless_yml() + 1


def test_the_space_never_offers_more_than_each_function_s_share():
    n = space.reserving_functions()
    counts = np.full(60, 600_000)  # 10,000 req/s: the search wants every environment it can have
    dims = space.lambda_space(counts, 100.0, 100, ACCOUNT_CONCURRENCY_DEFAULT, functions=n)
    share = (ACCOUNT_CONCURRENCY_DEFAULT - UNRESERVED_MINIMUM) // n
    assert max(dims["reserved_concurrency"]) == share
    assert all(r * n <= ACCOUNT_CONCURRENCY_DEFAULT - UNRESERVED_MINIMUM for r in dims["reserved_concurrency"])


def test_the_largest_reservation_written_passes_the_deploy_preflight(tmp_path):
    assert shutil.which("bash"), "bash is missing"
    dims = space.lambda_space(np.full(60, 600_000), 100.0, 100, ACCOUNT_CONCURRENCY_DEFAULT,
                              functions=space.reserving_functions())
    make = space.lambda_maker(100, 1000.0, 100)
    choice: LambdaChoice = make(memory_mb=1024, architecture="x86_64", provisioned_concurrency=0,
                                reserved_concurrency=max(dims["reserved_concurrency"]), snapstart=False)
    path = write.write_lambda_params(choice, tmp_path, "test")
    assert json.loads(path.read_text())["params"]["reservedConcurrency"] == max(dims["reserved_concurrency"])
    out = subprocess.run(["bash", "scripts/deploy_lambda.sh", "--preflight", "--params-file", str(path),
                          "--param", "modelSha256=none"], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ})
    assert out.returncode == 0, out.stderr


def test_an_unreadable_serverless_yml_is_a_parameter_error(tmp_path):
    bad = tmp_path / "serverless.yml"
    bad.write_text("functions: [")
    with pytest.raises(space.ParameterError):
        space.reserving_functions(bad)
