"""`twinbench bench` refuses unknown choices as a usage error: one line, exit 2, nothing started."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from twinserve_support.paths import REPO


@pytest.mark.parametrize("args", [["--targets", "nope"], ["--scenarios", "cold,nope"], ["--targets", ","]])
def test_an_unknown_choice_is_a_usage_error(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "scripts"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "twinbench", "bench", *args, "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "choose from" in proc.stderr
    assert "Traceback" not in proc.stderr and not any(tmp_path.iterdir())
