"""SnapStart end to end as far as this machine can check: the handler's runtime hooks, the
serverless.yml param, the simulator's restore path and its prices."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from twinbench.cost.prices import load_prices
from twinbench.simulate import engine
from twinbench.simulate.errors import ParameterError
from twinbench.simulate.params import LambdaParams

from .conftest import base_config

REPO = Path(__file__).resolve().parents[2]


def test_handler_registers_hooks_that_run():
    assert (REPO / "model" / "metadata.json").exists(), "make test trains model/ before pytest: run make model"
    code = ("import handler, snapshot_restore_py as s\n"
            "assert len(s._before_snapshot_registry) == 1 and len(s._after_restore_registry) == 1\n"
            "for f, a, k in s._before_snapshot_registry + s._after_restore_registry: f(*a, **k)\n"
            "print('ok')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("services/predict-lambda", "shared")),
           "MODEL_PATH": str(REPO / "model")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_serverless_yml_offers_snapstart_as_a_boolean_param():
    doc = yaml.safe_load((REPO / "serverless.yml").read_text())
    assert doc["params"]["default"]["snapStart"] is False
    assert doc["functions"]["predict"]["snapStart"] == "${self:custom.snapStart.${param:snapStart}}"
    assert doc["custom"]["snapStart"] == {"true": True, "false": False}


def test_prices_are_dated_and_sourced():
    prices = load_prices()
    for key in ("lambda_snapstart_cache_usd_per_gb_s", "lambda_snapstart_restore_usd_per_gb"):
        p = prices.prices[key]
        assert p.usd > 0 and p.as_of and p.source.startswith("https://")


def test_snapstart_never_with_provisioned_concurrency():
    with pytest.raises(ParameterError):
        LambdaParams(snapstart=True, provisioned_concurrency=1)


def test_restores_bill_no_init_and_are_charged(traces):
    plain = engine.simulate(base_config("--trace", str(traces["sparse"]), "--platforms", "lambda"))
    snap = engine.simulate(base_config("--trace", str(traces["sparse"]), "--platforms", "lambda", "--snapstart",
                                       "--restore-ms", "400"))
    a, b = plain.lambda_, snap.lambda_
    assert b["cold_starts"] == a["cold_starts"] > 0 and b["restores"] == b["cold_starts"]
    assert b["billed_ms"] < a["billed_ms"]  # INIT not billed per restore
    names = {i["name"] for i in b["cost"]["items"]}
    assert {"SnapStart cache (1 published version)", "SnapStart restores"} <= names
