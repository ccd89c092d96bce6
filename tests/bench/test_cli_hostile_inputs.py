"""Hostile options for the bench's small commands: one line on stderr and exit 2, never a traceback.

Each case is refused before anything starts (no server, no model training, no AWS or cluster call),
so the table runs in-process in a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from twinbench.__main__ import main


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    plain.chmod(0o644)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "binary.csv").write_bytes(b"minute,requests\n0,\xff\xfe\n")
    (tmp_path / "azure.csv").write_text("HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,http,1\n")
    return {"file": str(plain), "dir": str(tmp_path), "missing": str(tmp_path / "missing"),
            "pkg": str(tmp_path / "pkg"), "binary": str(tmp_path / "binary.csv"), "azure": str(tmp_path / "azure.csv")}


CW = ["collect-cloudwatch", "--function-name", "f", "--region", "us-east-1"]
KC = ["collect-kubectl", "-n", "ns", "-l", "app=x"]


@pytest.mark.parametrize("argv, says", [
    ([*CW, "--since-minutes", "nan"], "finite number > 0"),
    ([*CW, "--since-minutes", "1e309"], "finite number > 0"),
    ([*CW, "--since-minutes", "5", "--page-limit", "0"], "must be >= 1"),
    ([*CW, "--since-minutes", "5", "--period-s", "-60"], "must be >= 1"),
    (["collect-cloudwatch", "--function-name", " ", "--since-minutes", "5"], "must not be empty"),
    ([*CW, "--since-minutes", "5", "--output", "{dir}"], "is a directory"),
    ([*KC, "--kubectl", "{missing}"], "no such file or command"),
    ([*KC, "--kubectl", "{dir}"], "no such file or command"),
    ([*KC, "--kubectl", "{file}"], "cannot run"),
    ([*KC, "--request-timeout", "nan"], "not a duration"),
    ([*KC, "--since", "1e309s"], "--since"),
    ([*KC, "--watch", "--interval-s", "0"], "finite number > 0"),
    ([*KC, "--watch", "--duration-s", "inf"], "finite number > 0"),
    (["serve-lambda", "--package", "{pkg}", "--port", "70000"], "0..65535"),
    (["serve-lambda", "--package", "{pkg}", "--port", "-1"], "must be >= 0"),
    (["serve-lambda", "--package", "{pkg}", "--idle-s", "nan"], "idle_s must be a finite number"),
    (["serve-lambda", "--package", "{pkg}", "--timeout-s", "inf"], "timeout_s must be a finite number"),
    (["serve-lambda", "--overhead", "-n", "0"], "must be >= 1"),
    (["serve-lambda", "--overhead", "--warmup", "-1"], "must be >= 0"),
    (["serve-lambda", "--overhead", "--json", "{dir}"], "is a directory"),
    (["bench-core", "--work-dir", "{file}"], "is not a folder"),
    (["bench-core", "--model-dir", "{missing}"], "no registered model there"),
    (["bench-load", "--work-dir", "{file}"], "is not a folder"),
    (["bench", "--slo-ms", "nan"], "finite number > 0"),
    (["bench", "--max-connections", "0"], "must be >= 1"),
    (["bench", "--locust-port", "70000"], "0..65535"),
    (["bench", "--trace", "{binary}"], "not UTF-8"),
    (["bench", "--trace", "{azure}"], "use --azure"),
    (["bench-tune", "--memory", " "], "--memory is empty"),
    (["bench-tune", "--lambda-function", ""], "--lambda-function is empty"),
    (["bench-tune", "--payload", "{file}"], "--payload is for remote mode"),
    (["fuzz", "-n", "0"], "must be >= 1"),
    (["fuzz", "--slow-s", "nan"], "finite number > 0"),
    (["fuzz", "--wrappers", ","], "unknown wrapper"),
    (["soak", "--ramp-step-s", "-1"], "finite number >= 0"),
    (["soak", "--duration-s", "inf"], "finite number > 0"),
    (["bench-peers", "--duration-s", "nan"], "finite number > 0"),
    (["bench-peers", "--rounds", "0"], "must be >= 1"),
    (["bench-peers", "--concurrency", "1,0"], "must be >= 1"),
    (["bench-peers", "--sweep-rates", "300,100"], "ascending"),
    (["bench-peers", "--models", ","], "at least one"),
])
def test_refused_with_one_line_and_exit_2(argv, says, paths, capsys):
    try:
        code = main([a.format(**paths) for a in argv])
    except SystemExit as exc:  # argparse's own usage error
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and says in err, err


def test_a_port_env_var_that_is_not_a_port_is_one_line(paths, capsys, monkeypatch):
    monkeypatch.setenv("PORT", "abc")
    assert main(["serve-lambda", "--package", paths["pkg"]]) == 2
    assert capsys.readouterr().err.strip() == "serve-lambda: PORT='abc': 'abc' is not a whole number"


@pytest.mark.parametrize("env, command, says", [
    ({"SLO_MS": "abc"}, ["bench"], "argument --slo-ms"),
    ({"LOCUST_WORKERS": "x"}, ["bench"], "argument --locust-workers"),
    ({"PROFILE": "huge"}, ["bench"], "--profile 'huge' (from $PROFILE?)"),
    ({"GENERATOR": "wrk"}, ["bench"], "--generator 'wrk'"),
    ({"FUZZ_N": "abc"}, ["fuzz"], "argument -n"),
    ({"SOAK_S": "nan"}, ["soak"], "argument --duration-s"),
])
def test_a_bad_default_from_the_environment_is_a_usage_error(env, command, says, capsys, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        code = main(command)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and says in err, err


def test_a_run_folder_that_cannot_be_made_is_a_run_folder_error(paths):
    from twinbench.results import formats
    from twinbench.results.run_folder import RunFolder, RunFolderError

    with pytest.raises(RunFolderError, match="cannot create the run folder"), \
            RunFolder(formats.RESULTS, root=Path(paths["file"])):
        pass


@pytest.mark.parametrize("edit, says", [
    (lambda doc: {"format": doc["format"], "version": doc["version"]}, "violates its schema"),
    (lambda doc: {**doc, "scenarios": "x"}, "violates its schema"),
])
def test_report_of_a_document_it_cannot_render_is_one_line(edit, says, tmp_path, capsys):
    import json

    from twinbench.results import formats

    doc = {"format": formats.RESULTS.name, "version": formats.RESULTS.version}
    (tmp_path / "results.json").write_text(json.dumps(edit(doc)))
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err, err


def test_report_refuses_nan_in_a_document(tmp_path, capsys):
    (tmp_path / "results.json").write_text('{"format": "twinbench.results", "version": 2, "x": NaN}')
    assert main(["report", str(tmp_path)]) == 2
    assert "NaN is not a number JSON allows" in capsys.readouterr().err


def test_a_refused_collect_creates_no_output_folder(paths, capsys):
    out = Path(paths["dir"]) / "no" / "such" / "kubectl.json"
    assert main([*KC, "--kubectl", paths["missing"], "--output", str(out)]) == 2
    assert not (Path(paths["dir"]) / "no").exists()
    assert "no such file or command" in capsys.readouterr().err
