"""arm64's durations: the measured (x86_64) ones divided by a speed factor, 1.0 when unknown, and
the recommendation says which it used."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest
from twinbench.cli import simulate as simulate_cli
from twinbench.recommend.document import arm64_assumption
from twinbench.simulate import engine
from twinbench.simulate.errors import ParameterError
from twinbench.simulate.params import ARM64_SPEED_FACTOR_UNKNOWN, LambdaParams


def base_config(*argv: str) -> engine.SimulationConfig:
    parser = argparse.ArgumentParser()
    simulate_cli.add_arguments(parser)
    return simulate_cli.build_config(parser.parse_args(list(argv)))


def _p50(config: engine.SimulationConfig, **lambda_params: object) -> float:
    lp = replace(config.lambda_params, **lambda_params)
    return engine.simulate(replace(config, lambda_params=lp, platforms=("lambda",))).lambda_["latency_ms"]["p50"]


def test_unknown_is_equal_and_a_factor_scales_only_arm64():
    config = base_config("--rps", "5", "--minutes", "10", "--seed", "3")
    assert LambdaParams().arm64_speed_factor == ARM64_SPEED_FACTOR_UNKNOWN == 1.0
    x86 = _p50(config)
    assert _p50(config, architecture="arm64") == pytest.approx(x86)
    assert _p50(config, architecture="arm64", arm64_speed_factor=2.0) == pytest.approx(x86 / 2.0, rel=0.02)
    assert _p50(config, arm64_speed_factor=2.0) == pytest.approx(x86)  # x86_64 is the measured one


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_a_factor_must_be_finite_and_positive(bad):
    with pytest.raises(ParameterError, match="arm64 speed factor"):
        LambdaParams(arm64_speed_factor=bad)


def test_the_recommendation_labels_it_as_not_measured():
    unknown = arm64_assumption(1.0)
    assert unknown["measured"] is False and "not measured here" in unknown["text"] and "equal" in unknown["text"]
    given = arm64_assumption(1.25)
    assert given["measured"] is False and "/ 1.25" in given["text"]


def test_the_written_document_carries_the_assumption():
    from twinbench.recommend.run import recommend
    from twinbench.simulate.slo import Slo

    config = base_config("--rps", "2", "--minutes", "5", "--platforms", "lambda")
    rec = recommend(config, Slo(500.0), quick=True, platforms=("lambda",))
    assert rec.doc["inputs"]["arm64"]["speed_factor"] == 1.0
