"""serverless.yml's provisioned-concurrency schedule: one Application Auto Scaling target per function
on its `provisioned` alias, one scheduled action per UTC hour, created only with a schedule.

The template `make package-lambda` renders with a schedule passes cfn-lint and checkov there (the
deploy test's scheduled step runs that build); here, what the Framework resolves (`osls print`).
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import yaml
from twinserve_support.paths import REPO

# The param's shape (docs/deploy-lambda.md): 24 counts joined by '/', or none.
HOURS, SEPARATOR, NONE = 24, "/", "none"
TARGETS = {"PredictProvisionedSchedule": "Predict", "PredictDashwsgiProvisionedSchedule": "PredictDashwsgi"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "serverless.yml").read_text())


def test_no_schedule_by_default_and_targets_exist_only_with_one(config):
    assert config["params"]["default"]["provisionedSchedule"] == NONE
    condition = config["resources"]["Conditions"]["ProvisionedOnSchedule"]
    assert condition == {"Fn::Not": [{"Fn::Equals": ["${param:provisionedSchedule}", NONE]}]}
    for name in TARGETS:
        assert config["resources"]["Resources"][name]["Condition"] == "ProvisionedOnSchedule"


def test_each_function_s_alias_is_scaled_every_utc_hour_to_that_hour_s_count(config):
    for name, fn in TARGETS.items():
        props = config["resources"]["Resources"][name]["Properties"]
        assert (props["ServiceNamespace"], props["ScalableDimension"]) == ("lambda", "lambda:function:ProvisionedConcurrency")
        assert props["ResourceId"] == {"Fn::Join": [":", ["function", {"Ref": f"{fn}LambdaFunction"}, "provisioned"]]}
        actions = props["ScheduledActions"]
        assert len(actions) == HOURS
        for hour, action in enumerate(actions):
            assert action["Schedule"] == f"cron(0 {hour} * * ? *)" and action["Timezone"] == "Etc/UTC"
            split = {"Fn::Split": [SEPARATOR, "${param:provisionedSchedule}"]}
            assert action["ScalableTargetAction"] == {"MinCapacity": {"Fn::Select": [hour, split]},
                                                      "MaxCapacity": {"Fn::Select": [hour, split]}}


def _print(*params: str) -> dict[str, Any]:
    env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}
    out = subprocess.run(["npx", "--no-install", "osls", "print", "--stage", "dev", "--region", "eu-west-1",
                          *(f"--param={p}" for p in params)], cwd=REPO, capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return yaml.safe_load(out.stdout)


def test_the_framework_resolves_the_alias_dependency_in_both_modes():
    """CloudFormation refuses a DependsOn on a resource the template lacks (the alias exists only
    with provisioned concurrency), even under a false condition: without a schedule the targets
    name the role instead."""
    schedule = SEPARATOR.join(map(str, [1] * 13 + [4, 4] + [1] * 9))
    on = _print(f"provisionedSchedule={schedule}", "provisionedConcurrency=1")["resources"]["Resources"]
    off = _print()["resources"]["Resources"]
    for name, fn in TARGETS.items():
        assert on[name]["DependsOn"] in (f"{fn}ProvConcLambdaAlias", [f"{fn}ProvConcLambdaAlias"])
        assert off[name]["DependsOn"] in ("FunctionExecutionRole", ["FunctionExecutionRole"])
