"""``twinbench cost``: a shape option on a profile it does not shape is refused, not silently ignored."""

from __future__ import annotations

import json

import pytest
from twinbench.__main__ import main


@pytest.mark.parametrize("argv, says", [
    (["--rps", "5", "--peak-to-mean", "nan"], "--peak-to-mean applies to --profile diurnal"),
    (["--rps", "5", "--peak-hour-utc", "3"], "--peak-hour-utc applies to --profile diurnal"),
    (["--rps", "5", "--profile", "diurnal", "--peak-to-mean", "nan"], "peak_to_mean must be within"),
])
def test_shape_options_outside_diurnal_are_bad_input(argv, says, capsys):
    assert main(["cost", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err, err


def test_diurnal_without_shape_options_uses_the_model_defaults(capsys):
    from twinbench.cost import traffic

    assert main(["cost", "--rps", "5", "--profile", "diurnal", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["traffic"]
    assert printed["description"] == traffic.diurnal(5.0).description
