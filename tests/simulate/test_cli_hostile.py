"""Hostile options and files for ``twinbench simulate``: exit 2 and one line, never a traceback.

In-process (``main``), so the whole table runs in a few seconds; the subprocess view of the same
contract is in test_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from twinbench.cli import simulate as simulate_cli
from twinbench.simulate.errors import InputsError
from twinbench.simulate.overlay import read_lambda_params

TRACE = "minute,requests\n0,60\n2,120\n"
AZURE = "HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,abc,http,1,2\no,a,abd,http,3,4\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "trace.csv").write_text(TRACE)
    (tmp_path / "azure.csv").write_text(AZURE)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "configMapGenerator:\n- name: x\n  literals: [\"WEB_CONCURRENCY=0\"]\n")
    return {"trace": str(tmp_path / "trace.csv"), "azure": str(tmp_path / "azure.csv"),
            "overlay": str(overlay), "dir": str(tmp_path), "missing_dir": str(tmp_path / "no" / "x.json")}


@pytest.mark.parametrize("argv, says", [
    (["--rps", "1", "--seed", "-1"], "--seed must be >= 0"),
    (["--rps", "1", "--slo-pct", "nan"], "--slo-pct must be in (0, 100)"),
    (["--rps", "1", "--error-budget", "-1"], "--error-budget must be a fraction"),
    (["--azure", "{azure}", "--jobs", "2", "--top", "-1"], "--top must be >= 1"),
    (["--azure", "{azure}", "--top", "0"], "--top must be >= 1"),
    (["--azure", "{azure}", "--jobs", "2", "--seed", "-3"], "--seed must be >= 0"),
    (["--rps", "2", "--trace", "{trace}"], "--rps is for constant/diurnal traffic"),
    (["--rps", "2", "--azure", "{azure}"], "--rps is for constant/diurnal traffic"),
    (["--rps", "1", "--overlay", "{overlay}"], "workers must be"),
    (["--rps", "1", "--out", "{dir}"], "cannot write"),
    (["--rps", "1", "--out", "{missing_dir}"], "cannot write"),
    (["--rps", "300000"], "more than the simulator takes in one minute"),
])
def test_bad_option_is_one_line_and_exit_2(argv, says, files, capsys):
    code = simulate_cli.main([a.format(**files) for a in argv] + ["--minutes", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and says in err, err


@pytest.mark.parametrize("params, says", [
    ({"memoryMb": 1e309}, "memoryMb must be a whole number"),
    ({"memoryMb": 1.5}, "memoryMb must be a whole number"),
    ({"memoryMb": True}, "memoryMb must be a whole number"),
    ({"reservedConcurrency": "abc"}, "reservedConcurrency must be a whole number"),
    ({"throttleBurstLimit": [1]}, "throttleBurstLimit must be a whole number"),
    ({"arch": "sparc"}, "arch must be one of"),
    ({"arch": 5}, "arch must be one of"),
    ({"snapStart": "maybe"}, "snapStart must be true or false"),
    ({"params": 5}, "not a parameters file"),
])
def test_bad_lambda_params_file_is_an_inputs_error(params, says, tmp_path):
    f = tmp_path / "lambda-params.json"
    f.write_text(json.dumps(params))  # json.dumps writes 1e309 as Infinity, which json.loads reads back
    with pytest.raises(InputsError, match=says):
        read_lambda_params(f)


def test_good_lambda_params_file_reads(tmp_path):
    f = tmp_path / "lambda-params.json"
    f.write_text(json.dumps({"params": {"memoryMb": 2048, "arch": "arm64", "snapStart": True,
                                        "reservedConcurrency": "10"}}))
    p = read_lambda_params(f)
    assert (p.memory_mb, p.architecture, p.snapstart, p.reserved_concurrency) == (2048, "arm64", True, 10)


@pytest.mark.parametrize("argv, says", [
    (["--seed", "-1"], "--seed: must be >= 0"),
    (["--concurrency", "0"], "--concurrency: must be >= 1"),
    (["--out", "{dir}"], "is a directory"),
])
def test_calibrate_refuses_bad_options_before_the_replay(argv, says, files, capsys):
    from twinbench.__main__ import main

    try:
        code = main(["calibrate", *(a.format(**files) for a in argv)])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and says in err, err


def test_ctrl_c_is_exit_130_and_one_line(monkeypatch, capsys):
    from twinbench.__main__ import main

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate_cli, "run", interrupted)
    assert main(["simulate", "--rps", "1"]) == 130
    assert capsys.readouterr().err.strip() == "twinbench simulate: interrupted"


def test_a_profile_past_the_simulators_bounds_is_a_profile_error():
    import numpy as np
    from twinbench.simulate.errors import ProfileError
    from twinbench.simulate.profiles import (
        MAX_SIMULATED_MINUTE,
        MAX_SIMULATED_REQUESTS,
        MinuteCounts,
        check_simulatable,
    )

    minutes = MAX_SIMULATED_REQUESTS // MAX_SIMULATED_MINUTE + 1
    with pytest.raises(ProfileError, match="more than one simulation runs"):
        check_simulatable(MinuteCounts("long", np.full(minutes, MAX_SIMULATED_MINUTE)))
    within = MinuteCounts("ok", np.full(3, MAX_SIMULATED_MINUTE))
    assert check_simulatable(within) is within


def test_an_idle_profile_does_not_miss_the_slo():
    from twinbench.simulate.slo import Slo, check_slo

    check = check_slo({"requests": 0, "throttled": 0, "rejected": 0, "slo_latency_ms": None}, Slo(10.0))
    assert check.meets and check.binding == () and check.error_fraction == 0.0
    missed = check_slo({"requests": 5, "throttled": 0, "rejected": 0, "slo_latency_ms": None}, Slo(10.0))
    assert not missed.meets and missed.binding == ("latency",)
