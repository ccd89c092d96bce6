"""serverless.yml's function settings resolved as the Framework resolves them (checked against `osls print`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from twinserve_support.paths import REPO
from twinserve_support.serverless_config import ServerlessConfigError, parse_param_overrides, resolve_function

YML = """service: x
params:
  default: {memoryMb: 1024, arch: x86_64, t: 10}
  prod: {memoryMb: 3008}
provider:
  name: aws
  runtime: python3.12
  architecture: ${param:arch}
  memorySize: ${param:memoryMb}
  timeout: ${param:t}
functions:
  predict: {handler: handler.handler}
  big: {handler: handler.handler, memorySize: 4096, timeout: "${param:missing, 20}"}
  broken: {handler: h.h, memorySize: "${ssm:/x}"}
"""


@pytest.fixture
def yml(tmp_path: Path) -> Path:
    path = tmp_path / "serverless.yml"
    path.write_text(YML)
    return path


def test_default_stage_and_param_precedence(yml: Path):
    assert resolve_function("predict", path=yml).memory_mb == 1024
    assert resolve_function("predict", "prod", path=yml).memory_mb == 3008
    f = resolve_function("predict", "prod", {"memoryMb": "512", "arch": "arm64"}, path=yml)
    assert (f.memory_mb, f.architecture, f.timeout_s, f.runtime) == (512, "arm64", 10.0, "python3.12")


def test_function_level_values_and_fallbacks(yml: Path):
    big = resolve_function("big", path=yml)
    assert (big.memory_mb, big.timeout_s) == (4096, 20.0)


@pytest.mark.parametrize(("function", "overrides", "message"), [
    ("broken", {}, "does not know"), ("nope", {}, "no function"), ("predict", {"memoryMb": "64"}, "128..10240"),
    ("predict", {"arch": "sparc"}, "neither"), ("predict", {"memoryMb": "lots"}, "not a number")])
def test_unresolvable_values_are_errors_not_defaults(yml: Path, function, overrides, message):
    with pytest.raises(ServerlessConfigError, match=message):
        resolve_function(function, overrides=overrides, path=yml)


def test_param_overrides_parse_like_the_makefile_passes_them():
    assert parse_param_overrides("memoryMb=512 arch=arm64,x=") == {"memoryMb": "512", "arch": "arm64", "x": ""}
    with pytest.raises(ServerlessConfigError):
        parse_param_overrides("memoryMb")


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"memoryMb": "512", "arch": "arm64", "timeoutSeconds": "7"}])
def test_matches_what_osls_print_resolves_for_the_real_serverless_yml(params):
    osls = REPO / "node_modules" / ".bin" / "osls"
    if not osls.exists():
        pytest.skip("node_modules is not installed (make package-lambda installs it)")
    argv = [str(osls), "print", "--format", "json", "--stage", "dev"] + [f"--param={k}={v}" for k, v in params.items()]
    printed = json.loads(subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True, timeout=120).stdout)
    ours = resolve_function("predict", "dev", params)
    function = printed["functions"]["predict"]
    provider = printed["provider"]
    assert ours.memory_mb == function.get("memorySize", provider["memorySize"])
    assert ours.timeout_s == function.get("timeout", provider["timeout"])
    assert ours.architecture == function.get("architecture", provider["architecture"])
    assert ours.runtime == provider["runtime"]
