"""What the Makefile hands the tools: `make recommend` needs SLO_MS (the bench's default does not
count), and a TRACE/OUT path with spaces or quotes reaches the tool as one argument. Read with
`make -n` (nothing runs), the shell lines then run or split as the shell would."""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest
from twinserve_support.paths import REPO

ODD_PATH = "/tmp/my traces/it's a; trace.csv"


def dry_run(*args: str, **env: str) -> list[str]:
    """The shell lines `make -n -s` prints, with no SLO_MS or MAKEFLAGS inherited from the caller."""
    base = {k: v for k, v in os.environ.items() if k not in ("SLO_MS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(["make", "-n", "-s", *args], cwd=REPO, env={**base, **env}, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.replace("\\\n", " ").splitlines()


def check_line(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("test -n"))


@pytest.mark.parametrize(("args", "env", "code"), [
    ((), {}, 2),
    (("SLO_MS=",), {}, 2),
    (("SLO_MS=150",), {}, 0),
    ((), {"SLO_MS": "90"}, 0),
])
def test_recommend_needs_an_slo_ms_of_the_users(args, env, code):
    done = subprocess.run(["bash", "-c", check_line(dry_run("recommend", *args, **env))], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == code
    assert ("give SLO_MS=<ms>" in done.stderr) == (code == 2)


def tool_argv(lines: list[str], tool: str) -> list[str]:
    line = next(line for line in lines if f"twinbench {tool}" in line)
    return shlex.split(line)


@pytest.mark.parametrize(("target", "extra"), [
    ("cost", ()), ("cost", ("RPS=20",)), ("simulate", ()), ("recommend", ("SLO_MS=150", f"OUT={ODD_PATH}")),
])
def test_a_trace_path_with_spaces_and_quotes_is_one_argument(target, extra):
    argv = tool_argv(dry_run(target, f"TRACE={ODD_PATH}", *extra), target)
    assert argv[argv.index("--trace") + 1] == ODD_PATH
    if target == "recommend":
        assert argv[argv.index("--out") + 1] == ODD_PATH and argv[argv.index("--slo-ms") + 1] == "150"
