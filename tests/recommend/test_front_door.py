"""The Lambda front door as a search choice: the deployable doors only, cheapest feasible, written and read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from twinbench.recommend import space, write
from twinbench.recommend.search import evaluate_lambda, evaluate_lambda_doors, lambda_floor
from twinbench.simulate import engine, external, overlay
from twinbench.simulate.slo import Slo

from .conftest import base_config

REPO = Path(__file__).resolve().parents[2]
SLO = Slo(150.0, 99.0, 0.001)


def _prices_with_function_url_at(tmp_path: Path, usd: float) -> Path:
    """The pinned table with the Function URL's per-million price changed (to make the HTTP API the cheaper door)."""
    doc = json.loads((REPO / "scripts/twinbench/cost/prices.json").read_text(encoding="utf-8"))
    doc["prices"]["lambda_function_url_usd_per_million_requests"]["usd"] = usd
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(doc))
    return path


def test_only_the_doors_serverless_yml_deploys_are_offered():
    assert space.FRONT_DOORS == ("http-api", "function-url")
    assert "rest" not in space.FRONT_DOORS  # serverless.yml deploys no REST API


def test_under_the_throttle_the_function_url_wins_on_price_and_the_reprice_is_exact(traces):
    base = replace(base_config("--trace", str(traces["steady"]), "--seed", "1"), slo=SLO)
    c = space.LambdaChoice(1024, throttle_rate_rps=1000.0, throttle_burst=100)
    best = evaluate_lambda_doors(base, c, SLO, 1024)
    http = evaluate_lambda(base, c, SLO, 1024)
    url = evaluate_lambda(base, space.with_front_door(c, "function-url"), SLO, 1024)
    assert http.extra["route_throttled"] == 0 and http.feasible and url.feasible
    assert best.choice.front_door == "function-url"
    # no request route-throttled: the repriced HTTP API run is the Function URL's simulation
    assert best.cost_usd_per_month == pytest.approx(url.cost_usd_per_month, rel=1e-9)
    assert best.cost_usd_per_month < http.cost_usd_per_month
    assert best.extra["front_door_costs_usd_per_month"]["http-api"] == pytest.approx(http.cost_usd_per_month, abs=1e-4)


def test_the_http_api_wins_when_it_is_the_cheaper_feasible_door(traces, tmp_path):
    prices = _prices_with_function_url_at(tmp_path, 5.0)
    base = replace(base_config("--trace", str(traces["steady"]), "--seed", "1"), slo=SLO, prices_path=str(prices))
    best = evaluate_lambda_doors(base, space.LambdaChoice(1024, throttle_rate_rps=1000.0, throttle_burst=100), SLO, 1024)
    assert best.choice.front_door == "http-api" and best.feasible


def test_route_throttling_that_breaks_the_error_budget_sends_the_search_to_the_function_url(traces, tmp_path):
    """10 req/s through a 2 req/s route: the HTTP API answers 429s, the Function URL has no route throttling."""
    prices = _prices_with_function_url_at(tmp_path, 5.0)  # the HTTP API cheaper, yet infeasible
    base = replace(base_config("--trace", str(traces["steady"]), "--seed", "1"), slo=SLO, prices_path=str(prices))
    c = space.LambdaChoice(1024, throttle_rate_rps=2.0, throttle_burst=2)
    http = evaluate_lambda(base, c, SLO, 1024)
    assert http.extra["route_throttled"] > 0 and not http.feasible
    best = evaluate_lambda_doors(base, c, SLO, 1024)
    assert best.choice.front_door == "function-url" and best.feasible
    assert best.choice.throttle_rate_rps is None and best.extra["route_throttled"] == 0


def test_the_cost_floor_stays_below_every_door(traces):
    base = replace(base_config("--trace", str(traces["steady"]), "--seed", "1"), slo=SLO)
    prices = external.load_price_table(base.prices_path)
    c = space.LambdaChoice(512)
    floor = lambda_floor(base, prices, space.FRONT_DOORS)(c)
    for door in space.FRONT_DOORS:
        assert floor <= evaluate_lambda(base, space.with_front_door(c, door), SLO, 1024).cost_usd_per_month


@pytest.mark.parametrize("door", space.FRONT_DOORS)
def test_the_written_door_passes_the_preflight_reads_back_and_is_simulated(door, traces, tmp_path):
    c = space.with_front_door(space.LambdaChoice(1024, throttle_rate_rps=1000.0, throttle_burst=100), door)
    path = write.write_lambda_params(c, tmp_path, "test")
    doc = json.loads(path.read_text())
    assert doc["params"]["frontDoor"] == door
    assert doc["params"].get("functionUrl") is (True if door == "function-url" else None)
    assert ("--sigv4" in doc["_call"]) == (door == "function-url")
    assert overlay.read_lambda_params(path).front_door == door
    out = subprocess.run(["bash", "scripts/deploy_lambda.sh", "--preflight", "--params-file", str(path),
                          "--param", "modelSha256=none"], cwd=REPO, capture_output=True, text=True, env={**os.environ})
    assert out.returncode == 0, out.stderr
    lam = base_config("--trace", str(traces["steady"]), "--lambda-params", str(path)).lambda_params
    assert lam.front_door == door
    assert (lam.throttle_rate_rps is None) == (door == "function-url")
    # an option still wins over the file
    given = base_config("--trace", str(traces["steady"]), "--lambda-params", str(path), "--front-door", "rest")
    assert given.lambda_params.front_door == "rest"


def test_the_preflight_refuses_a_function_url_door_without_the_url(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"params": {"frontDoor": "function-url"}}))
    out = subprocess.run(["bash", "scripts/deploy_lambda.sh", "--preflight", "--params-file", str(path),
                          "--param", "modelSha256=none"], cwd=REPO, capture_output=True, text=True, env={**os.environ})
    assert out.returncode == 2 and "functionUrl=true" in out.stderr


@pytest.mark.parametrize("value", ["rest", "nope"])
def test_a_bad_front_door_in_a_params_file_is_one_line_exit_2(value, traces, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"params": {"frontDoor": value}}))
    proc = subprocess.run([sys.executable, "-m", "twinbench", "simulate", "--trace", str(traces["steady"]),
                           "--lambda-params", str(path), "--quiet"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "scripts")})
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "frontDoor" in proc.stderr


def test_engine_prices_each_offered_door():
    assert all(d in engine.FRONT_DOOR_PRICE_KEYS for d in space.FRONT_DOORS)


def test_the_search_keeps_the_public_door_unless_told_it_may_choose_the_function_url(traces):
    """A Function URL is IAM-only (callers sign): cheaper, but not the same product, so the search
    takes it only from --front-doors."""
    from twinbench.recommend.run import recommend

    base = replace(base_config("--trace", str(traces["steady"]), "--seed", "1", "--platforms", "lambda"), slo=SLO)
    by_default = recommend(base, SLO, quick=True, platforms=("lambda",)).searches["lambda"].best
    allowed = recommend(base, SLO, quick=True, platforms=("lambda",), doors=space.FRONT_DOORS).searches["lambda"].best
    assert by_default.choice.front_door == "http-api"
    assert allowed.choice.front_door == "function-url"
    assert allowed.cost_usd_per_month < by_default.cost_usd_per_month


@pytest.mark.parametrize("value", ["rest", "", "http-api,nope"])
def test_a_bad_front_doors_option_is_one_line_exit_2(value, traces):
    proc = subprocess.run([sys.executable, "-m", "twinbench", "recommend", "--trace", str(traces["steady"]),
                           "--slo-ms", "150", "--quick", "--front-doors", value], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO / "scripts")}, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "--front-doors" in proc.stderr
