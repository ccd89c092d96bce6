"""Under `make test` a skip counts as a failure unless it states a fact of the machine: the hook
in the root conftest, run on a probe suite in a fresh pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from twinserve_support.paths import REPO

PROBE = '''
import pytest
def test_missing_tool(): pytest.skip("wrk not installed")
def test_machine_fact(): pytest.skip("no writable cgroup here: read-only /sys/fs/cgroup")
@pytest.mark.skipif(True, reason="needs `make model`")
def test_missing_file(): pass
@pytest.mark.xfail(reason="known")
def test_expected_failure(): assert False
'''


def _run(tmp_path: Path, strict: bool) -> str:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "TWINSERVE_STRICT_SKIPS"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), env.get("PYTHONPATH", "")])
    if strict:
        env["TWINSERVE_STRICT_SKIPS"] = "1"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "conftest", "-p", "no:cacheprovider",
                           str(tmp_path / "test_probe.py")], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)
    return proc.stdout


def test_a_skip_fails_under_make_test_unless_it_is_a_machine_fact(tmp_path):
    out = _run(tmp_path, strict=True)
    assert "1 failed, 1 skipped, 1 xfailed, 1 error" in out, out
    assert "FAILED test_probe.py::test_missing_tool" in out and "ERROR test_probe.py::test_missing_file" in out


def test_outside_make_test_a_skip_stays_a_skip(tmp_path):
    assert "3 skipped, 1 xfailed" in _run(tmp_path, strict=False)


def test_a_missing_prerequisite_fails_the_test_naming_the_make_target(tmp_path):
    import pytest
    from twinserve_support.prerequisites import require

    assert require(tmp_path, "make model") == tmp_path
    with pytest.raises(pytest.fail.Exception, match="`make lambda-runtime` creates it"):
        require(tmp_path / "missing", "make lambda-runtime")
