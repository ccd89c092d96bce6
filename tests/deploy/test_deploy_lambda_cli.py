"""scripts/deploy_lambda.sh's arguments and preflight, the CPython 3.12 finder, and the root plugin's
guards: everything that must fail fast, with one line and exit 2, before any AWS call.

The paths that deploy are exercised against moto in test_deploy_moto.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from twinserve_support.paths import REPO  # noqa: E402

DEPLOY = REPO / "scripts" / "deploy_lambda.sh"
FIND_PYTHON = REPO / "scripts" / "lambda_package_python.sh"
PLUGIN = REPO / ".serverless_plugins" / "twinserve-package.js"
BASH = shutil.which("bash") or "/bin/bash"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's PATH, but no AWS or LAMBDA settings and an empty HOME: no credentials anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDA_"))}
    env["HOME"] = str(tmp_path)
    env.update(extra)
    return env


def _run(script: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(script), *args], env=env, capture_output=True, text=True, timeout=60)


def test_help_documents_param_remove_and_exit_codes_without_code(tmp_path):
    result = _run(DEPLOY, ["--help"], _env(tmp_path))
    assert result.returncode == 0
    for words in ("--param", "--remove", "osls remove", "provisionedConcurrency=2", "CPython 3.12",
                  "Exit status: 0", "2 bad usage"):
        assert words in result.stdout, words
    assert "set -euo pipefail" not in result.stdout


@pytest.mark.parametrize("args", [["--stage"], ["--stage", "--region", "eu-west-1"], ["--region"],
                                  ["--param"], ["--memory-mb"], ["--stage="]])
def test_an_option_without_its_value_is_a_usage_error(tmp_path, args):
    result = _run(DEPLOY, [*args], _env(tmp_path))
    assert result.returncode == 2
    assert "needs a value" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("region", ["us-east-9", "eu-west-0"])
def test_region_must_be_in_botocores_lambda_regions(tmp_path, region):
    result = _run(DEPLOY, ["--preflight", "--region", region], _env(tmp_path))
    assert result.returncode == 2
    assert f"region '{region}' is not an AWS region with Lambda in botocore's list" in result.stderr


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "cn-north-1", "ap-southeast-7"])
def test_real_regions_pass(tmp_path, region):
    result = _run(DEPLOY, ["--preflight", "--region", region], _env(tmp_path))
    assert result.returncode == 0, result.stderr


def test_params_pass_in_both_spellings(tmp_path):
    args = ["--preflight", '--param=provisionedConcurrency=2', "--param", "reservedConcurrency=3",
            "--arch=arm64", "--memory-mb", "2048"]
    result = _run(DEPLOY, args, _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert ("params=provisionedConcurrency=2 reservedConcurrency=3 arch=arm64 memoryMb=2048"
            in result.stdout)


@pytest.mark.parametrize(("param", "message"), [
    ("memoryMB=2048", "param 'memoryMB' is not defined in serverless.yml"),
    ("memoryMb=64", "memory '64' must be 128..10240 MB"),
    ("arch=sparc", "arch 'sparc' must be x86_64 or arm64"),
    ("provisionedConcurrency=2 3", "must be key=value without spaces or quotes"),
    ("=2", "must be key=value"),
])
def test_bad_params_stop_the_preflight(tmp_path, param, message):
    result = _run(DEPLOY, ["--dry-run", "--param", param], _env(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr


def test_remove_needs_credentials_and_stops_before_osls(tmp_path):
    result = _run(DEPLOY, ["--remove", "--stage", "dev"], _env(tmp_path))
    assert result.returncode == 2
    assert "no AWS credentials" in result.stderr
    assert "osls" not in result.stdout


def test_preflight_refuses_a_python_that_is_not_cpython_312(tmp_path):
    result = _run(DEPLOY, ["--preflight"], _env(tmp_path, LAMBDA_PYTHON="/bin/true"))
    assert result.returncode == 2
    assert "LAMBDA_PYTHON=/bin/true is not a runnable CPython 3.12" in result.stderr
    assert "pyenv install 3.12" in result.stderr


def test_finder_prints_a_cpython_312():
    result = subprocess.run([BASH, str(FIND_PYTHON), "--which"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.fail(f"this machine should have CPython 3.12 (make package-lambda needs it): {result.stderr}")
    python = result.stdout.strip()
    version = subprocess.run([python, "-c", "import platform, sys; print(platform.python_implementation(), "
                              "sys.version_info[:2])"], capture_output=True, text=True, timeout=30).stdout
    assert version.strip() == "CPython (3, 12)"


def test_finder_without_any_312_says_how_to_install_one(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "sort"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run([str(bin_dir / "bash"), str(FIND_PYTHON), "--which"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "no CPython 3.12 found" in line and "pyenv install 3.12" in line and "LAMBDA_PYTHON=" in line


def _plugin_run(service_dir: Path, options: dict) -> subprocess.CompletedProcess[str]:
    """Load the local plugin with a minimal stand-in of osls's serverless object; print its state."""
    script = f"""
const Plugin = require({json.dumps(str(PLUGIN))});
class ServerlessError extends Error {{}}
const options = {json.dumps(options)};
const sls = {{ serviceDir: {json.dumps(str(service_dir))}, classes: {{ Error: ServerlessError }},
  getProvider: () => ({{ getStage: () => options.stage || 'dev', getRegion: () => options.region || 'eu-west-1' }}),
  pluginManager: {{ hooks: {{ 'before:package:createDeploymentArtifacts': [
    {{ pluginName: 'ServerlessPythonRequirements', hook: () => {{}} }},
    {{ pluginName: 'Other', hook: () => {{}} }}] }} }} }};
const plugin = new Plugin(sls, options, {{ log: {{ notice() {{}}, debug() {{}} }} }});
const out = {{ hooks: Object.keys(plugin.hooks).sort() }};
if (plugin.hooks.initialize) {{
  plugin.hooks.initialize();
  out.remaining = sls.pluginManager.hooks['before:package:createDeploymentArtifacts'].map((h) => h.pluginName);
  try {{ out.params = plugin.cliParams(); }} catch (e) {{ out.error = e.message; }}
}}
console.log(JSON.stringify(out));
"""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (make package-lambda needs Node 20)")
    return subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30)


def _plugin(service_dir: Path, options: dict) -> dict:
    result = _plugin_run(service_dir, options)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_plugin_is_idle_in_the_staged_service(tmp_path):
    assert _plugin(tmp_path, {}) == {"hooks": []}


def test_plugin_at_the_root_takes_over_packaging_and_unhooks_pip():
    state = _plugin(REPO, {"param": ["memoryMb=2048", "provisionedConcurrency=2"]})
    assert state["hooks"] == sorted(["initialize", "before:package:createDeploymentArtifacts",
                                     "after:package:createDeploymentArtifacts", "after:package:finalize",
                                     "before:deploy:function:packageFunction"])
    assert state["remaining"] == ["Other"]
    assert state["params"] == ["memoryMb=2048", "provisionedConcurrency=2"]


def test_plugin_refuses_a_param_make_could_not_carry():
    state = _plugin(REPO, {"param": ["modelSha256=abc def"]})
    assert "must be key=value without spaces or quotes" in state["error"]


@pytest.mark.parametrize(("options", "message"), [
    ({"stage": "Prod"}, "stage \"Prod\" must be 1-16 characters of a-z, 0-9 and '-'"),
    ({"stage": "dev$(id)"}, "stage \"dev$(id)\" must be"),
    ({"stage": "dev LAMBDA_BUILD=/"}, "must be 1-16 characters"),
    ({"region": "eu-west-1 x=1"}, "region \"eu-west-1 x=1\" is not an AWS region name like eu-west-1"),
    ({"region": "europe"}, "is not an AWS region name"),
])
def test_plugin_refuses_a_stage_or_region_make_must_not_see(options, message):
    result = _plugin_run(REPO, options)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("twinserve-package: ") and message in line


def test_plugin_accepts_well_formed_stage_and_region():
    assert "error" not in _plugin(REPO, {"stage": "prod-2", "region": "us-gov-west-1"})


@pytest.mark.parametrize(("args", "message"), [
    (["--stage", "Prod"], "stage 'Prod' must be 1-16 characters of a-z, 0-9 and '-'"),
    (["--stage", "dev;id"], "stage 'dev;id' must be"),
    (["--region", "eu-west-1 x"], "region 'eu-west-1 x' is not an AWS region name like eu-west-1"),
    (["--region", "$(id)"], "is not an AWS region name"),
    (["--account-concurrency", "ten"], "--account-concurrency 'ten' must be a whole number >= 1"),
])
def test_stage_and_region_are_refused_in_one_line_before_anything_runs(tmp_path, args, message):
    result = _run(DEPLOY, ["--preflight", *args], _env(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert message in line


@pytest.mark.parametrize(("params", "message"), [
    (["reservedConcurrency=451"], "reserved concurrency 451 x 2 function(s) = 902 exceeds the account limit 1000"),
    (["reservedConcurrency=0"], "0 turns the function off"),
    (["reservedConcurrency=many"], "reservedConcurrency: 'many' is not a number"),
    (["provisionedConcurrency=101"], "provisionedConcurrency 101 exceeds reservedConcurrency 100"),
    (["throttleRateLimit=0"], "throttle rate must be finite and > 0"),
])
def test_caps_the_account_cannot_grant_stop_the_preflight(tmp_path, params, message):
    args = ["--preflight"] + [f"--param={p}" for p in params]
    result = _run(DEPLOY, args, _env(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr


def test_the_account_limit_decides_how_much_may_be_reserved(tmp_path):
    ok = _run(DEPLOY, ["--preflight", "--param=reservedConcurrency=950", "--account-concurrency", "2000"],
              _env(tmp_path))
    assert ok.returncode == 0, ok.stderr
    small = _run(DEPLOY, ["--preflight", "--account-concurrency=250"], _env(tmp_path))
    assert small.returncode == 2
    assert "exceeds the account limit 250 minus the 100 AWS keeps unreserved (150)" in small.stderr


def _model_dir(tmp_path: Path, text: str = '{"artefacts": {}}\n') -> Path:
    model = tmp_path / "some-model"
    model.mkdir()
    (model / "metadata.json").write_text(text)
    return model


def test_model_pin_is_the_sha256_of_metadata_json(tmp_path):
    import hashlib

    model = _model_dir(tmp_path)
    result = _run(DEPLOY, ["--preflight"], _env(tmp_path, MODEL_DIR=str(model)))
    assert result.returncode == 0, result.stderr
    expected = hashlib.sha256((model / "metadata.json").read_bytes()).hexdigest()
    assert f"modelSha256={expected}" in result.stdout


def test_model_pin_can_be_given_or_dropped(tmp_path):
    model = _model_dir(tmp_path)
    given = _run(DEPLOY, ["--preflight", "--param", "modelSha256=" + "AB" * 32], _env(tmp_path, MODEL_DIR=str(model)))
    assert given.returncode == 0, given.stderr
    assert "modelSha256=" + "ab" * 32 in given.stdout
    dropped = _run(DEPLOY, ["--preflight", "--param=modelSha256=none"], _env(tmp_path, MODEL_DIR=str(tmp_path / "none")))
    assert dropped.returncode == 0, dropped.stderr
    assert "modelSha256" not in dropped.stdout.split("preflight: ok", 1)[1].splitlines()[0]
    assert "no model pin" in dropped.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--param", "modelSha256=abc"], "modelSha256 'abc' must be 64 hex digits or none"),
    ([], "metadata.json to pin: run 'make model'"),
])
def test_model_pin_problems_stop_with_exit_2(tmp_path, args, message):
    result = _run(DEPLOY, ["--preflight", *args], _env(tmp_path, MODEL_DIR=str(tmp_path / "missing")))
    assert result.returncode == 2
    assert message in result.stderr
