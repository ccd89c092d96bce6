"""scripts/deploy_lambda.sh: its preflight, without touching AWS.

The full `--dry-run` (preflight + package + every offline check) runs in `make lambda-deploy-dry-run`,
which `make test` calls; here only the preflight paths, which take milliseconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from twinserve_support.paths import REPO  # noqa: E402

SCRIPT = REPO / "scripts" / "deploy_lambda.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's PATH, but no AWS settings and an empty HOME: no credentials anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    env.pop("LAMBDA_STAGE", None)
    env.pop("LAMBDA_REGION", None)
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def test_help_teaches_the_modes(tmp_path):
    result = _run(["--help"], _env(tmp_path))
    assert result.returncode == 0
    for word in ("--dry-run", "--preflight", "--stage", "--region", "osls deploy"):
        assert word in result.stdout


def test_preflight_passes_without_credentials_when_nothing_is_deployed(tmp_path):
    result = _run(["--preflight", "--stage", "ci", "--region", "eu-west-1"], _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no AWS credentials found (fine for --preflight" in result.stdout
    assert "preflight: ok (stage=ci region=eu-west-1" in result.stdout


def test_real_deploy_stops_in_preflight_without_credentials(tmp_path):
    result = _run(["--stage", "dev", "--region", "eu-west-1"], _env(tmp_path))
    assert result.returncode == 2
    assert "no AWS credentials" in result.stderr
    assert "preflight failed" in result.stderr
    # It stopped before packaging: make was never called.
    assert "package-lambda" not in result.stdout + result.stderr


def test_preflight_sees_credentials_from_a_profile(tmp_path):
    result = _run(["--preflight"], _env(tmp_path, AWS_PROFILE="twinserve-deployer"))
    assert result.returncode == 0, result.stderr
    assert "AWS credentials present" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--stage", "bad stage"], "stage 'bad stage' must be"),
    (["--region", "europe"], "region 'europe' is not an AWS region"),
    (["--arch", "sparc"], "arch 'sparc' must be x86_64 or arm64"),
    (["--memory-mb", "64"], "memory '64' must be 128..10240 MB"),
])
def test_preflight_rejects_bad_settings_with_a_clear_message(tmp_path, args, message):
    result = _run(["--dry-run", *args], _env(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr


def test_preflight_names_missing_tools(tmp_path):
    # A PATH holding only what the script itself needs to start: no node, npm or make.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "sed"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    result = _run(["--dry-run"], _env(tmp_path, PATH=str(bin_dir)))
    assert result.returncode == 2
    for tool in ("node", "npm", "make"):
        assert f"'{tool}' is not on PATH" in result.stderr


def test_unknown_argument_is_a_usage_error(tmp_path):
    result = _run(["--deploy-everything"], _env(tmp_path))
    assert result.returncode == 2
    assert "unknown argument: --deploy-everything" in result.stderr


def test_script_is_strict_bash():
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "npx --no-install osls" in text and "run_osls deploy" in text and "--package" not in text
