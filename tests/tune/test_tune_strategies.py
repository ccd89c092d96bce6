"""Power Tuning's picks and trimmed mean, checked against its own rules (lambda/analyzer.js, utils.js),
plus the price arithmetic, the CPU-share rule and the memory list."""

from __future__ import annotations

import math

import pytest
from twinbench.cost.prices import load_prices
from twinbench.tune.cpu_share import share_for
from twinbench.tune.errors import TuneInputError
from twinbench.tune.pricing import price_size
from twinbench.tune.profiles import PROFILES, TuneProfile, parse_memory_list
from twinbench.tune.strategies import Candidate, balanced_score, pick, pick_all, trimmed_mean

# -- trimmed mean (computeAverageDuration) ---------------------------------------------------------


def test_trimmed_mean_drops_int_n_times_fraction_at_each_end():
    values = [100, 1, 2, 3, 4, 5, 6, 7, 8, 0]  # n=10, 0.2 -> 2 dropped at each end: 0, 1 and 8, 100
    assert trimmed_mean(values, 0.2) == pytest.approx(sum([2, 3, 4, 5, 6, 7]) / 6)


def test_trimmed_mean_drops_nothing_when_n_is_too_small():
    assert trimmed_mean([1, 2, 3, 100], 0.2) == pytest.approx(26.5)  # int(4 * 0.2) == 0, as Power Tuning


def test_trimmed_mean_without_discarding_is_the_mean():
    assert trimmed_mean([1, 2, 3, 10], 0.0) == 4.0


@pytest.mark.parametrize("values, fraction", [([], 0.2), ([1.0], 0.5), ([1.0, math.nan], 0.2), ([1.0], -0.1)])
def test_trimmed_mean_refuses_what_it_cannot_average(values, fraction):
    with pytest.raises(ValueError):
        trimmed_mean(values, fraction)


# -- picks (findCheapest, findFastest, findBalanced) -------------------------------------------------

SIZES = [Candidate(128, 40.0, 1.0), Candidate(512, 9.0, 1.2), Candidate(1024, 5.0, 1.5), Candidate(1769, 4.0, 2.2)]


def test_cost_and_speed_pick_the_extremes():
    picks = pick_all(SIZES)
    assert picks["cost"].memory_mb == 128 and picks["speed"].memory_mb == 1769


def test_balanced_is_analyzer_js_formula():
    # w=0.5: 128: .5*1/2.2 + .5*40/40 = .727; 512: .5*1.2/2.2 + .5*9/40 = .385; 1024: .5*1.5/2.2 + .5*5/40 = .403;
    # 1769: .5*2.2/2.2 + .5*4/40 = .55 -> 512 MB.
    p = pick(SIZES, "balanced", 0.5)
    assert p.memory_mb == 512
    assert p.score == pytest.approx(0.5 * 1.2 / 2.2 + 0.5 * 9 / 40)
    assert balanced_score(SIZES[2], 2.2, 40.0, 0.5) == pytest.approx(0.5 * 1.5 / 2.2 + 0.5 * 5 / 40)


def test_balanced_weight_zero_is_speed_and_one_is_cost():
    assert pick(SIZES, "balanced", 0.0).memory_mb == pick(SIZES, "speed").memory_mb
    assert pick(SIZES, "balanced", 1.0).memory_mb == pick(SIZES, "cost").memory_mb


def test_balanced_weight_is_clamped_like_power_tuning():
    assert pick(SIZES, "balanced", 7.0).memory_mb == pick(SIZES, "balanced", 1.0).memory_mb
    assert pick(SIZES, "balanced", -3.0).memory_mb == pick(SIZES, "balanced", 0.0).memory_mb


def test_ties_follow_power_tuning_then_the_smaller_memory():
    same_cost = [Candidate(256, 10.0, 1.0), Candidate(512, 5.0, 1.0)]
    assert pick(same_cost, "cost").memory_mb == 512  # same cost -> the faster
    same_speed = [Candidate(1024, 2.0, 1.5), Candidate(1769, 2.0, 2.0)]
    assert pick(same_speed, "speed").memory_mb == 1024  # same duration -> the cheaper
    identical = [Candidate(2048, 1.0, 1.0), Candidate(1024, 1.0, 1.0)]
    assert {pick(identical, s).memory_mb for s in ("cost", "speed", "balanced")} == {1024}


def test_pick_refuses_no_candidates_and_unknown_strategies():
    with pytest.raises(ValueError, match="nothing to pick"):
        pick([], "cost")
    with pytest.raises(ValueError, match="unknown strategy"):
        pick(SIZES, "cheapest")


# -- prices ---------------------------------------------------------------------------------------------


def test_price_per_invocation_is_request_plus_gb_seconds_from_the_table():
    prices = load_prices()
    cost = price_size(512, 10.0, architecture="x86_64", rps=0.0)
    expected = (prices.usd("lambda_usd_per_million_requests") / 1e6
                + 0.010 * 0.5 * prices.usd("lambda_x86_64_usd_per_gb_s"))
    assert cost.per_invocation_usd == pytest.approx(expected)
    assert cost.per_million_usd == pytest.approx(expected * 1e6)
    assert cost.monthly_usd == 0.0  # no traffic, no bill


def test_monthly_cost_is_the_cost_model_at_the_rate():
    cost = price_size(1024, 4.0, architecture="arm64", rps=10.0)
    requests = 10.0 * 730 * 3600
    compute = requests * 0.004 * 1.0 * load_prices().usd("lambda_arm64_usd_per_gb_s")
    assert cost.monthly_usd == pytest.approx(requests / 1e6 * 0.20 + compute, rel=1e-6)
    assert cost.monthly_usd < price_size(1024, 4.0, architecture="x86_64", rps=10.0).monthly_usd


# -- CPU share --------------------------------------------------------------------------------------------


def test_cpu_share_follows_aws_and_is_capped_by_the_machine():
    assert share_for(1769, cores=2).aws_vcpu == pytest.approx(1.0)
    assert share_for(128, cores=2).effective_vcpu == pytest.approx(128 / 1769)
    big = share_for(10240, cores=2)
    assert big.aws_vcpu == pytest.approx(10240 / 1769) and big.effective_vcpu == 2.0 and big.capped_by_machine
    assert "capped by the machine" in big.note
    mid = share_for(3008, cores=2)
    assert not mid.capped_by_machine and "single-threaded" in mid.note


# -- memory list and profiles -------------------------------------------------------------------------------


def test_memory_list_is_sorted_and_checked():
    assert parse_memory_list("1769, 128,512") == (128, 512, 1769)
    for bad, message in (("", "comma-separated"), ("128,,256", "comma-separated"), ("abc", "whole number"),
                         ("64", "outside"), ("10241", "outside"), ("128,128", "twice"), ("1.5", "whole number")):
        with pytest.raises(TuneInputError, match=message):
            parse_memory_list(bad)


def test_profiles_keep_power_tunings_minimum_of_five():
    assert PROFILES["smoke"].warm >= 5 and len(PROFILES["smoke"].memory_mb) <= 3
    with pytest.raises(TuneInputError):
        TuneProfile("x", (128,), cold=1, warmup=0, warm=4)
