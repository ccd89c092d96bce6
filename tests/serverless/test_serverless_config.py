"""Invariants of the Lambda deployment that no linter checks: serverless.yml, the npm pins, and the
template check that `make package-lambda` runs on the generated CloudFormation.

The packaging itself (osls, pip, checkov, import smoke) runs in `make package-lambda`, not here: it
takes about a minute and needs the network for wheels.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest
import yaml
from lambda_package_tool import (
    EXPECTED_FUNCTIONS,
    HANDLER_FILES,
    LAMBDA_SRC,
    _function_env,
    template_problems,
)
from twinserve_support.paths import REPO  # noqa: E402

SERVERLESS_YML = REPO / "serverless.yml"
PINNED = {
    "osls": "4.3.1",
    "serverless-python-requirements": "6.1.2",
    "serverless-wsgi": "3.1.0",
    "serverless-offline": "14.8.2",
}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(SERVERLESS_YML.read_text())


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _http_routes(function: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["httpApi"]["method"].upper(), e["httpApi"]["path"]) for e in function.get("events", []) if "httpApi" in e}


def test_runtime_is_python312_with_parameterised_arch_and_memory(config):
    provider = config["provider"]
    assert provider["name"] == "aws"
    assert provider["runtime"] == "python3.12"
    assert provider["architecture"] == "${param:arch}"
    assert provider["memorySize"] == "${param:memoryMb}"
    defaults = config["params"]["default"]
    assert defaults["arch"] == "x86_64"
    assert defaults["memoryMb"] == 1024
    assert "${opt:stage" in provider["stage"] and "${opt:region" in provider["region"]
    assert isinstance(provider["logRetentionInDays"], str) and defaults["logRetentionDays"] > 0


def test_concurrency_is_capped_and_function_url_off_by_default(config):
    defaults = config["params"]["default"]
    # Capped by default: an uncapped function can take the account's whole concurrency.
    assert isinstance(defaults["reservedConcurrency"], int) and defaults["reservedConcurrency"] >= 1
    assert defaults["provisionedConcurrency"] == 0
    assert defaults["functionUrl"] is False
    for function in config["functions"].values():
        # No fallback: a missing param is an error, never an unset (uncapped) function.
        assert function["reservedConcurrency"] == "${param:reservedConcurrency}"
        assert function["provisionedConcurrency"] == "${param:provisionedConcurrency}"
        assert function["url"] == "${self:custom.functionUrl.${param:functionUrl}}"
    # Enabled means SigV4 (IAM) auth; a public Function URL is never generated.
    assert config["custom"]["functionUrl"] == {"true": {"authorizer": "aws_iam"}, "false": False}


def test_http_api_routes_are_throttled_by_default(config):
    defaults = config["params"]["default"]
    assert defaults["throttleRateLimit"] > 0 and defaults["throttleBurstLimit"] > 0
    settings = config["resources"]["extensions"]["HttpApiStage"]["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == "${param:throttleRateLimit}"
    assert settings["ThrottlingBurstLimit"] == "${param:throttleBurstLimit}"
    # The extension replaces the generated DefaultRouteSettings whole: keep what osls wrote there.
    assert settings["DetailedMetricsEnabled"] is False


def test_reserved_concurrency_leaves_the_account_its_unreserved_minimum(config):
    from twinserve_support.lambda_caps import check_reserved_concurrency

    defaults = config["params"]["default"]
    check_reserved_concurrency(defaults["reservedConcurrency"], functions=len(config["functions"]))


def test_no_checkov_skip_for_reserved_concurrency(config):
    skips = {s["id"] for node in _walk(config) if "checkov" in node for s in node["checkov"]["skip"]}
    assert "CKV_AWS_115" not in skips


def test_both_functions_with_their_handlers_and_routes(config):
    functions = config["functions"]
    assert set(functions) == {"predict", "predict-wsgi"}
    assert functions["predict"]["handler"] == "handler.handler"
    assert functions["predict-wsgi"]["handler"] == "wsgi_handler.handler"
    assert _http_routes(functions["predict"]) == {("POST", "/predict"), ("GET", "/health")}
    assert _http_routes(functions["predict-wsgi"]) == {("POST", "/wsgi/predict"), ("GET", "/wsgi/health")}


def test_wsgi_prefix_is_stripped_for_flask(config):
    prefix = config["functions"]["predict-wsgi"]["environment"]["API_GATEWAY_BASE_PATH"]
    for _method, path in _http_routes(config["functions"]["predict-wsgi"]):
        assert path.startswith(f"/{prefix}/"), path


def test_handler_modules_exist_and_define_handler(config):
    for function in config["functions"].values():
        module, attr = function["handler"].rsplit(".", 1)
        source = REPO / LAMBDA_SRC / f"{module}.py"
        assert source.exists(), f"serverless.yml names {function['handler']}, but {source} is missing"
        tree = ast.parse(source.read_text())
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        names |= {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                  for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        assert attr in names, f"{source} defines no {attr!r}"
    assert set(HANDLER_FILES) == {f["handler"].rsplit(".", 1)[0] + ".py" for f in config["functions"].values()}


def test_native_handler_imports_no_flask():
    source = REPO / LAMBDA_SRC / "handler.py"
    assert source.exists(), f"{source} is missing"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"flask", "werkzeug", "serverless_wsgi", "twinserve_flask", "sklearn"}


def test_iam_is_least_privilege(config):
    """No wildcard action, no bare '*' resource, and nothing but writing the functions' own logs."""
    role_name = config["provider"]["iam"]["role"]
    assert isinstance(role_name, str), "use the explicit role in resources, not the framework default"
    role = config["resources"]["Resources"][role_name]
    assert role["Type"] == "AWS::IAM::Role"
    actions: set[str] = set()
    for node in _walk(config):
        if "Effect" in node and node.get("Effect") == "Allow" and "Action" in node:
            assert "NotAction" not in node and "NotResource" not in node
            for action in _as_list(node["Action"]):
                assert action != "*" and not action.endswith(":*"), action
                actions.add(action)
            for resource in _as_list(node.get("Resource", [])):
                assert resource != "*", node
    assert actions == {"sts:AssumeRole", "logs:CreateLogStream", "logs:PutLogEvents"}
    log_policy = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
    assert log_policy["Resource"] == [{"Fn::GetAtt": ["PredictLogGroup", "Arn"]},
                                      {"Fn::GetAtt": ["PredictDashwsgiLogGroup", "Arn"]}]


def test_every_checkov_skip_has_a_reason(config):
    skips = [s for node in _walk(config) if "checkov" in node for s in node["checkov"]["skip"]]
    assert skips, "expected the documented skips"
    for skip in skips:
        assert skip["id"].startswith("CKV_"), skip
        assert len(skip.get("comment", "")) > 30, f"{skip['id']} needs a written reason"


def test_requirements_packaging_settings(config):
    requirements = config["custom"]["pythonRequirements"]
    assert requirements["fileName"] == "requirements.txt"
    assert requirements["useStaticCache"] is False
    assert requirements["layer"] is False
    assert requirements["dockerizePip"] is False
    assert requirements["slim"] is True and requirements["strip"] is False
    assert requirements["slimPatternsAppendDefaults"] is False  # keeps the .pyc
    args = requirements["pipCmdExtraArgs"]
    assert "--only-binary=:all:" in args and "--python-version=3.12" in args and "--implementation=cp" in args
    platforms = config["custom"]["pipPlatform"]
    assert platforms == {"x86_64": "manylinux_2_28_x86_64", "arm64": "manylinux_2_28_aarch64"}
    assert "--platform=${self:custom.pipPlatform.${param:arch}}" in args


def test_lambda_requirements_exclude_scikit_learn():
    requirements = REPO / LAMBDA_SRC / "requirements.txt"
    assert requirements.exists(), f"{requirements} is missing"
    # Requirement lines only: not comments, options, or a hashed lock's indented --hash continuations.
    lines = [line for line in requirements.read_text().splitlines()
             if line.strip() and not line[0].isspace() and not line.startswith(("#", "-"))]
    names = {line.split("==")[0].strip().lower() for line in lines}
    assert {"numpy", "onnxruntime", "serverless-wsgi"} <= names
    assert not names & {"scikit-learn", "scipy", "joblib", "skops"}
    for line in lines:
        assert "==" in line, f"unpinned: {line}"


def test_package_patterns_are_an_allow_list(config):
    patterns = config["package"]["patterns"]
    assert patterns[0] == "!**"
    assert {"*.py", "__pycache__/*.pyc", "twinserve/**", "twinserve_flask/**", "model/**"} <= set(patterns)


def test_npm_pins_are_exact_and_locked():
    package = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    assert package["devDependencies"] == PINNED
    for name, version in PINNED.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    npmrc = (REPO / ".npmrc").read_text().splitlines()
    assert "legacy-peer-deps=true" in npmrc


def test_plugins_are_pinned_and_wsgi_plugin_is_not_listed(config):
    package = json.loads((REPO / "package.json").read_text())
    assert config["plugins"][0] == "./.serverless_plugins/twinserve-package"
    assert {p for p in config["plugins"] if not p.startswith("./")} <= set(package["devDependencies"])
    # Its package hooks would overwrite our wsgi_handler.py and then delete it.
    assert "serverless-wsgi" not in config["plugins"]


def test_smoke_reads_function_environment_like_yaml(config):
    expected = dict(config["provider"]["environment"]) | config["functions"]["predict-wsgi"].get("environment", {})
    assert _function_env(SERVERLESS_YML, "predict-wsgi") == {k: str(v) for k, v in expected.items()}
    assert _function_env(SERVERLESS_YML, "predict") == {k: str(v) for k, v in config["provider"]["environment"].items()}


def _template(statements: list[dict], runtime: str = "python3.12") -> dict:
    resources = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": statements}}]}},
        "HttpApiStage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
            "DefaultRouteSettings": {"ThrottlingRateLimit": 1000, "ThrottlingBurstLimit": 100}}},
    }
    for name in EXPECTED_FUNCTIONS:
        resources[name] = {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": runtime, "Architectures": ["x86_64"], "ReservedConcurrentExecutions": 100}}
    return {"Resources": resources}


def test_template_check_accepts_scoped_log_permissions():
    ok = {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": [{"Fn::GetAtt": ["PredictLogGroup", "Arn"]}]}
    assert template_problems(_template([ok])) == []


@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::bucket"},
    {"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::bucket"},
    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
    {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "arn:aws:s3:::bucket"},
])
def test_template_check_rejects_wildcards(statement):
    assert template_problems(_template([statement]))


def test_template_check_rejects_other_runtimes_and_missing_functions():
    assert template_problems(_template([], runtime="python3.11"))
    assert template_problems({"Resources": {}})


@pytest.mark.parametrize("value", [None, 0, "0", "", True, "none"])
def test_template_check_requires_reserved_concurrency(value):
    template = _template([])
    props = template["Resources"][EXPECTED_FUNCTIONS[0]]["Properties"]
    if value is None:
        del props["ReservedConcurrentExecutions"]
    else:
        props["ReservedConcurrentExecutions"] = value
    problems = template_problems(template)
    assert problems and all("ReservedConcurrentExecutions" in p for p in problems)


def test_template_check_accepts_caps_given_as_text():
    """A --param value reaches the template as a string; CloudFormation reads it as a number."""
    template = _template([])
    template["Resources"][EXPECTED_FUNCTIONS[0]]["Properties"]["ReservedConcurrentExecutions"] = "5"
    template["Resources"]["HttpApiStage"]["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"] = "50.5"
    assert template_problems(template) == []


@pytest.mark.parametrize("key", ["ThrottlingRateLimit", "ThrottlingBurstLimit"])
def test_template_check_requires_route_throttling(key):
    template = _template([])
    del template["Resources"]["HttpApiStage"]["Properties"]["DefaultRouteSettings"][key]
    assert any(key in p for p in template_problems(template))
    del template["Resources"]["HttpApiStage"]
    assert any("HTTP API stage" in p for p in template_problems(template))


@pytest.mark.slow  # reads the template make package-lambda built
def test_the_built_template_carries_the_caps():
    template_path = REPO / "build/lambda/service/.serverless/cloudformation-template-update-stack.json"
    assert template_path.exists(), "no Lambda template: make test runs make package-lambda first"
    template = json.loads(template_path.read_text())
    defaults = yaml.safe_load(SERVERLESS_YML.read_text())["params"]["default"]
    for name in EXPECTED_FUNCTIONS:
        assert template["Resources"][name]["Properties"]["ReservedConcurrentExecutions"] == defaults["reservedConcurrency"]
    route = template["Resources"]["HttpApiStage"]["Properties"]["DefaultRouteSettings"]
    assert route["ThrottlingRateLimit"] == defaults["throttleRateLimit"]
    assert route["ThrottlingBurstLimit"] == defaults["throttleBurstLimit"]


@pytest.mark.slow  # reads the package make package-lambda built
def test_the_zip_leaves_out_the_container_only_modules():
    """The WSGI handler needs the Flask app and the fast path, not the container's gunicorn worker,
    request framing, access log and metrics, unread-body layer or gunicorn entry (checked on the zip make test builds)."""
    import zipfile

    zip_path = REPO / "build/lambda/service/.serverless/twinserve.zip"
    assert zip_path.exists(), "no Lambda zip: make test runs make package-lambda first"
    with zipfile.ZipFile(zip_path) as archive:
        modules = {n.split("/")[-1] for n in archive.namelist() if n.startswith("twinserve_flask/") and n.endswith(".py")}
    assert modules == {"__init__.py", "factory.py", "fastpath.py"}
    shipped = set(modules)
    for module in ("factory.py", "fastpath.py"):
        tree = ast.parse((REPO / "services/predict-container/twinserve_flask" / module).read_text())
        imported = {f"{node.module.split('.')[-1]}.py" for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("twinserve_flask")}
        assert imported <= shipped, imported - shipped
