"""Explicit arrival times through the models (simulate/replay.py) and the calibration's pure parts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from twinbench.simulate import calibrate, engine
from twinbench.simulate.errors import ProfileError
from twinbench.simulate.hpa import DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, HpaSpec
from twinbench.simulate.inputs import default_inputs
from twinbench.simulate.params import KubeParams, LambdaParams, ServiceTime
from twinbench.simulate.replay import (
    check_arrivals,
    profile_of,
    replay_kube,
    replay_lambda,
    simulate_arrivals,
)


@pytest.mark.parametrize("bad", [[], [float("nan")], [-1.0], [0.0, float("inf")], ["x"]])
def test_bad_arrivals_are_refused(bad):
    with pytest.raises(ProfileError):
        check_arrivals(bad)


def test_profile_counts_each_minute_and_keeps_the_span():
    p = profile_of([0.5, 59.9, 60.0, 185.0])
    assert p.counts.tolist() == [2, 1, 0, 1]


def test_init_sequence_is_taken_in_order():
    # Gaps of 20 s against a 10-s keep-alive: every request is a cold start with the next INIT.
    t = [0.0, 20.0, 40.0]
    out = replay_lambda(t, [5.0, 5.0, 5.0], LambdaParams(keep_alive_s=10.0), ServiceTime.constant("i", 1.0),
                        init_sequence_ms=[100.0, 200.0, 300.0])
    assert out.cold.tolist() == [True, True, True]
    assert out.latency_ms.tolist() == pytest.approx([105.0, 205.0, 305.0])


def test_reserved_concurrency_throttles_during_init():
    # Two environments allowed; three requests inside the first INIT: the third gets a 429.
    out = replay_lambda([0.0, 0.01, 0.02], [5.0] * 3, LambdaParams(reserved_concurrency=2),
                        ServiceTime.constant("i", 500.0))
    assert out.latency_ms.tolist()[2] == -1.0 and out.result["throttled"] == 1


def test_one_pod_queues_fifo():
    spec = HpaSpec(1, 1, 0.7, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)
    out = replay_kube([0.0, 0.0, 0.0], [10.0] * 3, KubeParams(workers=1, min_nodes=1), spec, 1, stretch=1.0)
    assert out.latency_ms.tolist() == pytest.approx([10.0, 20.0, 30.0])


def test_simulate_arrivals_gives_the_engine_document():
    inp = default_inputs()
    cfg = engine.SimulationConfig(profile_of([0.0]), LambdaParams(), KubeParams(),
                                  HpaSpec(1, 3, 0.7, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN),
                                  inp.lambda_duration, inp.lambda_init, inp.container_service)
    doc = simulate_arrivals(cfg, np.linspace(0.0, 119.0, 240)).to_document(per_minute=False)
    assert doc["profile"]["requests"] == 240 and doc["profile"]["minutes"] == 2
    assert doc["platforms"]["lambda"]["requests"] == 240 == doc["platforms"]["kubernetes"]["requests"]
    assert doc["platforms"]["lambda"]["cold_starts"] >= 1


def test_tolerances_accept_and_reject():
    count = calibrate.Tolerance("count", 2, 0.2)
    assert count.accepts(10, 12) and not count.accepts(10, 13) and count.accepts(100, 120)
    factor = calibrate.Tolerance("factor", factor=2.0)
    assert factor.accepts(10.0, 19.9) and factor.accepts(10.0, 5.1) and not factor.accepts(10.0, 21.0)


def test_lone_requests_are_those_that_found_the_pod_idle():
    arrivals = np.array([0.0, 0.001, 1.0])
    latency = np.array([5.0, 5.0, 3.0])  # the second arrives while the first is in flight
    ok = np.array([True, True, True])
    assert calibrate.lone_requests(arrivals, latency, ok).tolist() == [5.0, 3.0]


@pytest.mark.parametrize("args", [["--targets", "gpu"], ["--keep-alive-s", "nan"], ["--keep-alive-s", "2"],
                                  ["--concurrency", "0"], ["--sim-keep-alive-s", "-1"],
                                  ["--out", "/nonexistent-dir/x.json"]])
def test_calibrate_cli_bad_input_exits_2_with_one_line(args):
    proc = subprocess.run([sys.executable, "-m", "twinbench", "calibrate", *args], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
