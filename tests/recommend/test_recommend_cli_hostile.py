"""Hostile input for ``twinbench recommend``: refused in one line (exit 2) before the search runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from twinbench.__main__ import main

BASE = ["recommend", "--rps", "1", "--minutes", "2", "--slo-ms", "100", "--quick", "--quiet"]


@pytest.mark.parametrize("extra, says", [
    (["--out", "{dir}"], "--out"),
    (["--out", "{dir}/no/such/x.json"], "no such folder"),
    (["--pareto-plot", "{dir}/no/such/x.png"], "no such folder"),
    (["--write", "{file}"], "a file is there"),
    (["--seed", "-1"], "--seed must be >= 0"),
])
def test_bad_output_or_option_is_refused_before_the_search(extra, says, tmp_path: Path, capsys):
    (tmp_path / "f.txt").write_text("x")
    code = main(BASE + [a.format(dir=tmp_path, file=tmp_path / "f.txt") for a in extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and says in err, err


@pytest.mark.parametrize("trace", ["minute,requests\n0,0\n1,0\n"])
def test_traffic_without_requests_is_bad_input_not_no_platform_meets(trace, tmp_path: Path, capsys):
    f = tmp_path / "t.csv"
    f.write_text(trace)
    code = main(["recommend", "--trace", str(f), "--slo-ms", "100", "--quick", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "has no requests" in err, err
