"""End to end: `npx osls deploy` and `npx osls remove` typed at the repository root, against moto in
server mode standing in for AWS (AWS_ENDPOINT_URL; osls's SDK honours it for every service).

The story, in file order (one stack, stage ``test``):
  1. `npx osls deploy` builds and checks the package (make package-lambda, through the repo's local
     plugin) and deploys it; what was deployed matches serverless.yml: runtime, handlers, memory,
     timeout, architecture, environment, code = the checked zip, the role's only policy, log
     retention.
  2. the same deploy again: "No changes to deploy" (the Framework compares hashes of what it
     uploaded last time).
  3. scripts/deploy_lambda.sh with --param memoryMb=2048: the stack is updated, memory changed and
     MODEL_SHA256 set to the SHA-256 of model/metadata.json, which the script pins by itself.
  4. scripts/deploy_lambda.sh --params-file with the file `twinbench recommend --write` wrote for a
     short synthetic trace: memory and reserved concurrency deployed as the file says.
  5. a params file with an hourly provisioned-concurrency schedule (as `recommend --write` writes
     one): the stack updates; the template shipped (cfn-lint and checkov passed on it in the
     package build) holds both functions' Application Auto Scaling targets with the 24 hourly
     actions. moto 5.2.5 creates neither AWS::Lambda::Alias nor
     AWS::ApplicationAutoScaling::ScalableTarget from a template (skipped like the HTTP API, and so
     are the invoke permissions that then name the alias), so the schedule itself is checked in the
     template, not in moto's state.
  6. `npx osls remove`: stack, functions and deployment bucket gone.

The stand-in (tests/deploy/moto_stand_in.py) patches two places where moto differs from AWS: its
ValidateTemplate refuses cfn-lint *warnings* (AWS does not), and it keeps a function's
LastModified on updates (AWS sets it). What moto cannot check at all: it silently skips the API
Gateway v2 resources (HTTP API, stage, integrations, routes), so the HTTP API, its routes and its
access-log settings are not deployed here, and the deployment bucket's policy (TLS-only access);
osls then prints endpoints as https://None.execute-api... . moto also stores an inline policy
created by CloudFormation as a Python dict's text and gives a log group's Arn without AWS's
trailing ":*"; the checks read both forms. test_what_moto_skips pins the skipped list, so a moto
that starts creating them fails the test and this note gets updated. Nothing is invoked: moto
would need Docker to run the functions (the import smoke of make package-lambda runs them).

The package is built into a scratch LAMBDA_BUILD folder: build/lambda (what `make package-lambda`
and the benchmark use) is left alone. Takes about 3 minutes (three package builds).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

pytestmark = pytest.mark.slow

from twinserve_support.paths import REPO  # noqa: E402
from twinserve_support.process.managed import ManagedProcess, http_probe  # noqa: E402
from twinserve_support.process.net import free_port  # noqa: E402

STAND_IN = Path(__file__).resolve().with_name("moto_stand_in.py")
STAGE = "test"
REGION = "eu-west-1"
STACK = f"twinserve-{STAGE}"
FUNCTIONS = {"predict": f"{STACK}-predict", "predict-wsgi": f"{STACK}-predict-wsgi"}
# What moto[server] needs beyond moto itself to serve CloudFormation (cfn-lint) and its resources.
SERVER_EXTRAS = ("cfnlint", "openapi_spec_validator", "jsonpath_ng", "joserfc", "graphql", "py_partiql_parser",
                 "aws_xray_sdk", "antlr4", "docker", "flask_cors")
# The resource types of the generated template that moto 5.2.5 silently does not create.
MOTO_SKIPS = {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::ApiGatewayV2::Integration",
              "AWS::ApiGatewayV2::Route", "AWS::S3::BucketPolicy"}
# ... and, with provisioned concurrency on a schedule, these: the alias, its scaling targets and the
# HTTP API's invoke permissions, which then name the alias.
MOTO_SKIPS_SCHEDULED = {"AWS::Lambda::Alias", "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::Lambda::Permission"}
OSLS_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The moto stand-in on a free 127.0.0.1 port, in a scratch working directory."""
    missing = [name for name in SERVER_EXTRAS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(f"moto[server]==5.2.5 extras not installed ({', '.join(missing)}): "
                    "requirements/dev.lock must pin them (make setup)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("moto")
    stand_in = ManagedProcess([sys.executable, str(STAND_IN), "--port", str(port)], name="moto stand-in",
                              cwd=workdir, log_path=workdir / "moto.log", ready=http_probe(port, "/moto-api/"),
                              ready_timeout_s=30.0, grace_s=10.0)
    with stand_in:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lambda-build")


@pytest.fixture(scope="module")
def deploy_env(endpoint: str, build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Fake credentials for the stand-in only; no profile or config file of the machine is read."""
    scratch = tmp_path_factory.mktemp("aws-config")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "LAMBDA_")) and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(scratch / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "credentials"),
        "LAMBDA_BUILD": str(build_dir),
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
    })
    return env


@pytest.fixture(scope="module")
def aws(endpoint: str) -> dict[str, Any]:
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=REGION)
    return {name: session.client(name, endpoint_url=endpoint)
            for name in ("cloudformation", "lambda", "iam", "logs", "s3")}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "serverless.yml").read_text())


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=OSLS_TIMEOUT_S)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output[-4000:]}"
    return output


def osls(command: str, env: dict[str, str], *params: str) -> str:
    """`npx osls COMMAND --stage test --region eu-west-1 [--param=...]` at the repository root."""
    args = ["npx", "--no-install", "osls", command, "--stage", STAGE, "--region", REGION]
    return _run(args + [f"--param={p}" for p in params], env)


def _checked_zip_sha256_b64(build_dir: Path) -> str:
    digest = hashlib.sha256((build_dir / "service/.serverless/twinserve.zip").read_bytes()).digest()
    return base64.b64encode(digest).decode()


def _resolve(value: Any, params: dict[str, Any]) -> str:
    """serverless.yml's `${param:x}` with the given params; everything else as text."""
    text = str(value)
    for key, param in params.items():
        text = text.replace(f"${{param:{key}}}", str(param))
    return text


def _policy(document: Any) -> dict[str, Any]:
    """A policy document as boto3 returns it. moto stores an inline policy that CloudFormation
    created as the text of a Python dict (single quotes), which is not JSON."""
    if not isinstance(document, str):
        return document
    try:
        return json.loads(document)
    except ValueError:
        return ast.literal_eval(document)


def _stack(aws: dict[str, Any]) -> dict[str, Any]:
    return aws["cloudformation"].describe_stacks(StackName=STACK)["Stacks"][0]


@pytest.fixture(scope="module")
def first_deploy(deploy_env: dict[str, str]) -> str:
    return osls("deploy", deploy_env)


def test_first_deploy_matches_serverless_yml(first_deploy, aws, config, build_dir):
    assert f"Service deployed to stack {STACK}" in first_deploy
    assert "CloudFormation template identical to the checked one" in first_deploy
    assert _stack(aws)["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    defaults = config["params"]["default"]
    code_sha = _checked_zip_sha256_b64(build_dir)
    role_names = set()
    for key, name in FUNCTIONS.items():
        function = aws["lambda"].get_function_configuration(FunctionName=name)
        declared = config["functions"][key]
        assert function["Runtime"] == config["provider"]["runtime"] == "python3.12"
        assert function["Handler"] == declared["handler"]
        assert function["MemorySize"] == defaults["memoryMb"]
        assert function["Timeout"] == defaults["timeoutSeconds"]
        assert function["Architectures"] == [defaults["arch"]]
        # Capped by default: the function holds at most reservedConcurrency environments.
        concurrency = aws["lambda"].get_function(FunctionName=name)["Concurrency"]
        assert concurrency["ReservedConcurrentExecutions"] == defaults["reservedConcurrency"]
        expected_env = {k: _resolve(v, defaults) for k, v in
                        {**config["provider"]["environment"], **declared.get("environment", {})}.items()}
        assert expected_env["MODEL_SHA256"] == ""  # osls alone pins nothing; deploy_lambda.sh does
        assert function["Environment"]["Variables"] == expected_env
        # The code Lambda runs is byte for byte the zip that make package-lambda checked.
        assert function["CodeSha256"] == code_sha, name
        role_names.add(function["Role"].rsplit("/", 1)[-1])

    # One role for both functions, allowed nothing but writing their own two log groups' streams.
    assert len(role_names) == 1
    role = role_names.pop()
    trust = _policy(aws["iam"].get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "lambda.amazonaws.com"}]
    assert aws["iam"].list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert aws["iam"].list_role_policies(RoleName=role)["PolicyNames"] == ["write-own-logs"]
    policy = _policy(aws["iam"].get_role_policy(RoleName=role, PolicyName="write-own-logs")["PolicyDocument"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    # AWS's LogGroup Arn attribute ends in ":*"; moto's omits it. Either way: these two groups only.
    assert sorted(arn.removesuffix(":*") for arn in statement["Resource"]) == sorted(
        f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/lambda/{name}" for name in FUNCTIONS.values())

    groups = {g["logGroupName"]: g for g in aws["logs"].describe_log_groups()["logGroups"]}
    for name in FUNCTIONS.values():
        assert groups[f"/aws/lambda/{name}"]["retentionInDays"] == defaults["logRetentionDays"]
    assert groups[f"/aws/http-api/{STACK}"]["retentionInDays"] == defaults["logRetentionDays"]


def _skipped_by_moto(aws: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The template deployed last, and the types of the resources it declares (conditions that hold)
    that moto did not create."""
    template = json.loads((REPO / ".serverless/cloudformation-template-update-stack.json").read_text())
    off = {name for name, c in (template.get("Conditions") or {}).items()
           if c == {"Fn::Not": [{"Fn::Equals": ["none", "none"]}]}}  # the schedule's, without one
    declared = {name: r["Type"] for name, r in template["Resources"].items() if r.get("Condition") not in off}
    created = {r["LogicalResourceId"] for r in
               aws["cloudformation"].list_stack_resources(StackName=STACK)["StackResourceSummaries"]}
    return template, {declared[name] for name in set(declared) - created}


def test_what_moto_skips_is_the_http_api_and_the_bucket_policy(first_deploy, aws):
    _, skipped = _skipped_by_moto(aws)
    assert skipped == MOTO_SKIPS, "moto now creates (or skips) other resources: update the module docstring"


def test_second_deploy_without_changes_is_skipped(first_deploy, deploy_env, aws):
    before = _stack(aws)
    output = osls("deploy", deploy_env)
    assert "== stage" not in output, ("the package was rebuilt between two deploys: an input changed during the "
                                      "test (someone editing the work tree?) or the stamp logic is broken")
    assert "No changes to deploy. Deployment skipped." in output, output[-3000:]
    assert _stack(aws).get("LastUpdatedTime") == before.get("LastUpdatedTime")


def test_deploy_script_with_more_memory_and_the_model_pin_updates_the_stack(first_deploy, deploy_env, aws):
    metadata = REPO / deploy_env.get("MODEL_DIR", "model") / "metadata.json"
    pin = hashlib.sha256(metadata.read_bytes()).hexdigest()  # metadata.json pins every artefact
    before = _stack(aws)
    output = _run([str(REPO / "scripts/deploy_lambda.sh"), "--stage", STAGE, "--region", REGION,
                   "--param=memoryMb=2048"], deploy_env)
    assert f"Service deployed to stack {STACK}" in output
    after = _stack(aws)
    assert after["StackStatus"] == "UPDATE_COMPLETE"
    # moto sets no LastUpdatedTime on a stack; the status and the functions below show the update.
    if "LastUpdatedTime" in after:
        assert after["LastUpdatedTime"] > before.get("LastUpdatedTime", before["CreationTime"])
    for name in FUNCTIONS.values():
        function = aws["lambda"].get_function_configuration(FunctionName=name)
        assert function["MemorySize"] == 2048
        assert function["Environment"]["Variables"]["MODEL_SHA256"] == pin


def test_a_recommended_params_file_deploys_as_written(first_deploy, deploy_env, aws, tmp_path):
    # 30 minutes at 10 req/s with a 50 req/s minute every ten: searched in a few seconds, Lambda only.
    trace = tmp_path / "trace.csv"
    trace.write_text("minute,requests\n" + "".join(f"{m},{3000 if m % 10 == 0 else 600}\n" for m in range(30)))
    written = tmp_path / "rec"
    result = subprocess.run([sys.executable, "-m", "twinbench", "recommend", "--trace", str(trace), "--slo-ms", "150",
                             "--quick", "--platforms", "lambda", "--quiet", "--write", str(written)],
                            cwd=REPO, capture_output=True, text=True, timeout=OSLS_TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    params_file = written / "lambda-params.json"
    assert f"--params-file {params_file}" in result.stdout  # the deploy command it prints is the one run here
    params = json.loads(params_file.read_text())["params"]
    before = aws["lambda"].get_function_configuration(FunctionName=FUNCTIONS["predict"])
    assert params["memoryMb"] != before["MemorySize"], "the file must change what is deployed for this to test it"
    # An arm64 package needs aarch64 wheels from the package index, which this machine does not reach:
    # the architecture is kept x86_64 on the command line (a --param wins over the file); the rest is the file's.
    keep_arch = ["--param=arch=x86_64"] if params["arch"] == "arm64" else []
    output = _run([str(REPO / "scripts/deploy_lambda.sh"), "--stage", STAGE, "--region", REGION,
                   "--params-file", str(params_file), *keep_arch], deploy_env)
    assert f"Service deployed to stack {STACK}" in output
    for name in FUNCTIONS.values():
        function = aws["lambda"].get_function(FunctionName=name)
        assert function["Configuration"]["MemorySize"] == params["memoryMb"], name
        assert function["Concurrency"]["ReservedConcurrentExecutions"] == params["reservedConcurrency"], name
        assert function["Configuration"]["Architectures"] == ["x86_64" if keep_arch else params["arch"]], name


def test_a_params_file_with_an_hourly_schedule_deploys(first_deploy, deploy_env, aws, tmp_path):
    # The shape `twinbench recommend --write` gives a schedule (tests/recommend/test_pc_schedule.py
    # checks the writer; a product test does not import the bench).
    schedule = tuple([1] * 13 + [3, 3] + [1] * 9)
    text = "/".join(map(str, schedule))
    params_file = tmp_path / "lambda-params.json"
    params_file.write_text(json.dumps({"_source": "test: an hourly schedule", "params": {
        "memoryMb": 1024, "arch": "x86_64", "provisionedConcurrency": min(schedule), "provisionedSchedule": text,
        "reservedConcurrency": 100, "snapStart": False}}))
    output = _run([str(REPO / "scripts/deploy_lambda.sh"), "--stage", STAGE, "--region", REGION,
                   "--params-file", str(params_file)], deploy_env)
    assert f"Service deployed to stack {STACK}" in output
    assert _stack(aws)["StackStatus"] == "UPDATE_COMPLETE"
    template, skipped = _skipped_by_moto(aws)
    assert template["Conditions"]["ProvisionedOnSchedule"] == {"Fn::Not": [{"Fn::Equals": [text, "none"]}]}
    for target, fn in (("PredictProvisionedSchedule", "Predict"), ("PredictDashwsgiProvisionedSchedule", "PredictDashwsgi")):
        resource = template["Resources"][target]
        assert resource["DependsOn"] == [f"{fn}ProvConcLambdaAlias"]
        alias = template["Resources"][f"{fn}ProvConcLambdaAlias"]["Properties"]
        assert alias["Name"] == "provisioned"
        assert alias["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": min(schedule)}
        actions = resource["Properties"]["ScheduledActions"]
        assert [a["Schedule"] for a in actions] == [f"cron(0 {h} * * ? *)" for h in range(24)]
        hours = [a["ScalableTargetAction"]["MinCapacity"]["Fn::Select"] for a in actions]
        assert [text.split("/")[i] for i, (_, split) in enumerate(hours)] == [str(v) for v in schedule]
        assert all(split == {"Fn::Split": ["/", text]} for _, split in hours)
    assert skipped == MOTO_SKIPS | MOTO_SKIPS_SCHEDULED, "moto now creates the alias or the targets: check them"


def test_remove_deletes_the_stack(first_deploy, deploy_env, aws):
    bucket = next(r["PhysicalResourceId"] for r in
                  aws["cloudformation"].list_stack_resources(StackName=STACK)["StackResourceSummaries"]
                  if r["LogicalResourceId"] == "ServerlessDeploymentBucket")
    osls("remove", deploy_env)
    with pytest.raises(ClientError, match="does not exist"):
        aws["cloudformation"].describe_stacks(StackName=STACK)
    names = {f["FunctionName"] for f in aws["lambda"].list_functions()["Functions"]}
    assert not names & set(FUNCTIONS.values())
    assert bucket not in {b["Name"] for b in aws["s3"].list_buckets()["Buckets"]}
