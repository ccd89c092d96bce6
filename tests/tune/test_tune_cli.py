"""``twinbench bench-tune``: bad input is one line and exit 2; the local run end to end against the real
emulator; SIGTERM mid-run is exit 130 with a partial, valid document and nothing left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from twinbench.__main__ import main
from twinbench.results import formats
from twinbench.results.document import validate
from twinbench.tune.profiles import TuneProfile
from twinbench.tune.runner import TuneRequest, run_tune
from twinserve_support.paths import REPO

PACKAGE = REPO / "build" / "lambda" / "pkg"
RUNTIME = REPO / ".venv-lambda" / "bin" / "python"
needs_local_lambda = pytest.mark.skipif(not ((PACKAGE / "handler.py").exists() and RUNTIME.exists()),
                                        reason="needs `make package-lambda lambda-runtime`")


@pytest.mark.parametrize("argv, message", [
    (["--memory", "64"], "outside Lambda's 128..10240"),
    (["--memory", "128,128"], "listed twice"),
    (["--warm", "3"], "warm >= 5"),
    (["--package", "/nonexistent/pkg"], "no Lambda package"),
    (["--lambda-function", "f"], "needs --aws-region"),
    (["--lambda-function", "f", "--aws-region", "eu-west-1", "--payload", "/nonexistent.json"], "not a readable JSON"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert main(["bench-tune", "--quiet", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and err.startswith("bench-tune: ")
    assert not list(tmp_path.iterdir())  # nothing was started, nothing written


@pytest.mark.parametrize("argv", [["--rps", "-1"], ["--rps", "nan"], ["--balanced-weight", "1.5"],
                                  ["--discard-top-bottom", "0.5"], ["--profile", "huge"]])
def test_bad_numbers_are_argparse_errors_with_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench-tune", *argv])
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow
@needs_local_lambda
def test_local_run_end_to_end(tmp_path: Path):
    profile = TuneProfile("smoke", (512, 1769), cold=1, warmup=1, warm=5)
    request = TuneRequest(profile=profile, memory_mb=(512, 1769), rps=5.0, balanced_weight=0.5,
                          discard_top_bottom=0.2, out_root=tmp_path, validate=True)
    doc, folder = run_tune(request)
    assert [s["memory_mb"] for s in doc["sizes"]] == [512, 1769]
    for size in doc["sizes"]:
        assert size["cold"]["n"] == 1 and size["cold"]["init_ms"]["p50"] > 0
        assert size["warm"]["n"] == 5 and all(b >= 1 for b in size["raw"]["warm_billed_ms"])
        assert size["cpu"]["quota"]["cpu_quota_vcpu"] == pytest.approx(size["memory_mb"] / 1769, abs=1e-3)
        warm = size["generator"]["phases"]["warm"]
        assert warm["generator_cpu_s"] > 0 and warm["helper_cpu_s"] is not None
    assert doc["picks"]["cost"]["memory_mb"] in (512, 1769)
    assert (folder / "logs" / "lambda-512mb.log").exists()


@pytest.mark.slow
@needs_local_lambda
def test_sigterm_mid_run_exits_130_with_a_partial_document(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "twinbench", "bench-tune", "--profile", "smoke", "--memory", "1024,1769",
         "--cold", "1", "--warmup", "0", "--warm", "5", "--gap-ms", "200", "--out", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while "1769 MB: cold" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "1769 MB: cold" in seen, seen
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, alive
    (folder,) = tmp_path.glob("tune-*")
    doc = json.loads((folder / "tune.json").read_text())
    validate(doc, expected=formats.TUNE)
    assert doc["interrupted"] is True and [s["memory_mb"] for s in doc["sizes"]] == [1024]
    assert os.path.exists(folder / "report.md")
